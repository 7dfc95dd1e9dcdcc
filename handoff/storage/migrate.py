"""Alembic from code: ``upgrade``/``downgrade`` the store, at startup or from the CLI."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from handoff.storage.db import Database

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(url: str, connection: Connection | None = None) -> Config:
    """An Alembic config pointing at ``handoff/storage/migrations`` (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


async def upgrade(db: Database, revision: str = "head") -> None:
    """Upgrade the store to ``revision`` inside one write transaction."""
    async with db.engine.execution_options(sqlite_immediate=True).begin() as conn:
        await conn.run_sync(lambda sync: command.upgrade(alembic_config(db.url, sync), revision))


async def downgrade(db: Database, revision: str = "base") -> None:
    """Downgrade the store to ``revision``."""
    async with db.engine.execution_options(sqlite_immediate=True).begin() as conn:
        await conn.run_sync(lambda sync: command.downgrade(alembic_config(db.url, sync), revision))
