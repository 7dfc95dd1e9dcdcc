"""Alembic stairway on PostgreSQL: the same migrations as SQLite, upgrade -> downgrade -> upgrade, no drift."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from handoff.storage import migrate
from handoff.storage.db import Database
from handoff.storage.models import Base
from tests.scaled.infra import create_database, drop_database, needs_pg

pytestmark = needs_pg


async def _tables(db: Database) -> set[str]:
    async with db.engine.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


async def test_stairway_on_postgresql() -> None:
    url = await create_database()
    db = Database(url)
    try:
        assert not db.is_sqlite and db._write_lock is None
        await migrate.upgrade(db)
        expected = set(Base.metadata.tables)
        assert expected <= await _tables(db)
        await migrate.downgrade(db, "base")
        assert await _tables(db) <= {"alembic_version"}
        await migrate.upgrade(db)
        assert expected <= await _tables(db)
        async with db.engine.connect() as conn:
            diff = await conn.run_sync(lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata))
        assert diff == []
    finally:
        await db.dispose()
        await drop_database(url)
