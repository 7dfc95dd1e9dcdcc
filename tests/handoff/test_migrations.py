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
