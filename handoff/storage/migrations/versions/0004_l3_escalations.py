"""L3 escalations: the definition of ready, customer impact, the L3 SLA and the return to L2 (handoff.domain.l3).

Conversations already with L3 when this runs keep their place: each gets its row, from the hand-off's L3 data
(impact ``not_recorded``: it was not asked then; the SLA to be claimed counted from the escalation with the default
normal L3 window).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

import json
from datetime import datetime, timedelta

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
    _backfill()


NOT_RECORDED = "not_recorded"
DEFAULT_NORMAL_L3_SLA = timedelta(minutes=480)


def _backfill() -> None:
    """One row per conversation already escalated to L3, waiting or claimed as it is."""
    bind = op.get_bind()
    found = bind.execute(
        sa.text(
            "SELECT c.id, c.assigned_agent_id, c.updated_at, h.id, h.l3, h.priority, h.priority_rank "
            "FROM conversations c LEFT JOIN handoffs h ON h.conversation_id = c.id AND h.status = 'escalated_l3' "
            "WHERE c.state = 'escalated_l3' ORDER BY c.id, h.id"
        )
    ).fetchall()
    latest = {row[0]: row for row in found}  # the newest escalated hand-off of each conversation
    agents = {row[0] for row in bind.execute(sa.text("SELECT id FROM agents"))}
    rows = []
    for conversation_id, engineer, updated, handoff_id, l3, priority, rank in latest.values():
        updated_at = datetime.fromisoformat(updated) if isinstance(updated, str) else updated  # SQLite: text
        ready = json.loads(l3) if isinstance(l3, str) else dict(l3 or {})
        escalated_by = ready.pop("escalated_by", None)
        rows.append(
            {
                "conversation_id": conversation_id,
                "handoff_id": handoff_id,
                "status": "claimed" if engineer is not None else "waiting",
                "priority": priority or "normal",
                "priority_rank": rank if rank is not None else 2,
                "impact_scope": NOT_RECORDED,
                "impact_urgency": NOT_RECORDED,
                "impact_note": None,
                "ready": ready,
                "escalated_by": escalated_by if escalated_by in agents else None,
                "escalated_at": updated_at,
                "sla_deadline": updated_at + DEFAULT_NORMAL_L3_SLA,
                "sla_warned": False,
                "sla_breached": False,
                "claimed_by": engineer,
                "claimed_at": updated_at if engineer is not None else None,
                "last_activity_at": updated_at,
                "stale_alerted": False,
            }
        )
    if rows:
        types = {"ready": sa.JSON(), "escalated_at": sa.DateTime(), "sla_deadline": sa.DateTime(),
                 "claimed_at": sa.DateTime(), "last_activity_at": sa.DateTime(), "sla_warned": sa.Boolean(),
                 "sla_breached": sa.Boolean(), "stale_alerted": sa.Boolean()}
        table = sa.table("l3_escalations", *(sa.column(name, types.get(name)) for name in rows[0]))
        op.bulk_insert(table, rows)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("l3_escalations", schema=None) as batch_op:
        batch_op.drop_index("ix_l3_conversation")
        batch_op.drop_index("ix_l3_status_rank")
    op.drop_table("l3_escalations")
