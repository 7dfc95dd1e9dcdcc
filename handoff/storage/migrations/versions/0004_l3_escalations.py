"""L3 escalations: the definition of ready, customer impact, the L3 SLA and the return to L2 (handoff.domain.l3).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "l3_escalations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.String(length=64), nullable=False),
        sa.Column("handoff_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("priority_rank", sa.Integer(), nullable=False),
        sa.Column("impact_scope", sa.String(length=32), nullable=False),
        sa.Column("impact_urgency", sa.String(length=16), nullable=False),
        sa.Column("impact_note", sa.Text(), nullable=True),
        sa.Column("ready", sa.JSON(), nullable=False),
        sa.Column("escalated_by", sa.Integer(), nullable=True),
        sa.Column("escalated_at", sa.DateTime(), nullable=False),
        sa.Column("sla_deadline", sa.DateTime(), nullable=False),
        sa.Column("sla_warned", sa.Boolean(), nullable=False),
        sa.Column("sla_breached", sa.Boolean(), nullable=False),
        sa.Column("claimed_by", sa.Integer(), nullable=True),
        sa.Column("claimed_at", sa.DateTime(), nullable=True),
        sa.Column("last_activity_at", sa.DateTime(), nullable=False),
        sa.Column("stale_alerted", sa.Boolean(), nullable=False),
        sa.Column("returned_by", sa.Integer(), nullable=True),
        sa.Column("returned_at", sa.DateTime(), nullable=True),
        sa.Column("outcome", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"]),
        sa.ForeignKeyConstraint(["handoff_id"], ["handoffs.id"]),
        sa.ForeignKeyConstraint(["escalated_by"], ["agents.id"]),
        sa.ForeignKeyConstraint(["claimed_by"], ["agents.id"]),
        sa.ForeignKeyConstraint(["returned_by"], ["agents.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("l3_escalations", schema=None) as batch_op:
        batch_op.create_index("ix_l3_status_rank", ["status", "priority_rank", "sla_deadline"], unique=False)
        batch_op.create_index("ix_l3_conversation", ["conversation_id", "id"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("l3_escalations", schema=None) as batch_op:
        batch_op.drop_index("ix_l3_conversation")
        batch_op.drop_index("ix_l3_status_rank")
    op.drop_table("l3_escalations")
