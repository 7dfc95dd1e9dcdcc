"""Alembic stairway: upgrade -> downgrade -> upgrade on a fresh SQLite file."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect

from handoff.storage import migrate
from handoff.storage.db import Database
from handoff.storage.models import Base


async def _tables(db: Database) -> set[str]:
    async with db.engine.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


async def test_upgrade_downgrade_upgrade(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'stairway.db'}")
    try:
        await migrate.upgrade(db)
        expected = set(Base.metadata.tables)
        assert expected <= await _tables(db)
        await migrate.downgrade(db, "base")
        assert await _tables(db) <= {"alembic_version"}
        await migrate.upgrade(db)
        assert expected <= await _tables(db)
    finally:
        await db.dispose()


async def test_models_match_the_migrations(tmp_path: Path) -> None:
    """No model change without a migration (autogenerate finds nothing to do)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'diff.db'}")
    try:
        await migrate.upgrade(db)
        async with db.engine.connect() as conn:
            diff = await conn.run_sync(lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata))
        assert diff == []
    finally:
        await db.dispose()


async def test_conversations_already_with_l3_keep_their_place_after_the_upgrade(tmp_path: Path) -> None:
    """Migration 0004 gives each conversation escalated before it an L3 escalation row (waiting or claimed)."""
    from datetime import datetime

    from sqlalchemy import text

    from handoff.storage import l3_escalations as l3_escalation_store

    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'l3.db'}")
    try:
        await migrate.upgrade(db, "0003")
        at = datetime(2026, 11, 30, 9, 0, 0)
        async with db.engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO agents (id, email, name, password_hash, role, team, skills, languages, capacity, "
                    "status, created_at) VALUES (7, 'sam@example.com', 'Sam', 'x', 'l3', 'l3', '[]', '[\"en\"]', 3, "
                    "'away', :at)"
                ),
                {"at": at},
            )
            for cid, engineer in (("waiting-one", None), ("claimed-one", 7)):
                await conn.execute(
                    text(
                        "INSERT INTO conversations (id, state, verified, assigned_agent_id, last_seq, stale_alerted, "
                        "created_at, updated_at) VALUES (:id, 'escalated_l3', 0, :engineer, 3, 0, :at, :at)"
                    ),
                    {"id": cid, "engineer": engineer, "at": at},
                )
                l3 = '{"repro_steps": "1. sync", "logs": "E-504", "environment": "web", "timestamps": "09:00Z", ' \
                     '"escalated_by": 2}'
                await conn.execute(
                    text(
                        "INSERT INTO handoffs (conversation_id, status, reason, priority, priority_rank, sla_deadline, "
                        "skills, summary, l3, sla_warned, sla_breached, stale_alerted, created_at) VALUES "
                        "(:id, 'escalated_l3', 'technical_issue', 'high', 1, :at, '[]', '{}', :l3, 0, 0, 0, :at)"
                    ),
                    {"id": cid, "at": at, "l3": l3},
                )
        await migrate.upgrade(db)
        async with db.read() as s:
            waiting = await l3_escalation_store.waiting(s)
            claimed = await l3_escalation_store.escalations_for(s, "claimed-one")
        assert [e.conversation_id for e in waiting] == ["waiting-one"]
        assert waiting[0].ready == {"repro_steps": "1. sync", "logs": "E-504", "environment": "web", "timestamps": "09:00Z"}
        assert waiting[0].priority == "high" and waiting[0].impact_scope == "not_recorded"
        assert claimed[0].status == "claimed" and claimed[0].claimed_by == 7 and claimed[0].claimed_by_name == "Sam"
        assert waiting[0].escalated_by is None, "agent 2 does not exist: no dangling reference"
    finally:
        await db.dispose()
