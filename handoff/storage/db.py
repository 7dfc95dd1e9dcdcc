"""Database engine and transactions: SQLite (WAL, busy timeout, BEGIN IMMEDIATE) or PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import AsyncAdaptedQueuePool

BUSY_TIMEOUT_MS = 10000
SQLITE_POOL_SIZE = 8
PG_POOL_SIZE = 10
PG_MAX_OVERFLOW = 30
# What a transaction raises when the database is away for a moment (connection lost, server restarting): a caller
# that can wait may run the transaction again.
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError)


class Database:
    """Owns the async engine; hands out read and write transactions.

    On SQLite every write transaction starts with ``BEGIN IMMEDIATE``: a deferred transaction that reads
    then writes fails with SQLITE_BUSY under concurrent writers instead of waiting its turn. Writers of this
    process also queue on an asyncio lock (SQLite has one writer anyway; the busy handler would otherwise
    make them sleep-poll, which costs tail latency under load), and connections are pooled: SQLAlchemy 1.4
    defaults to NullPool for SQLite files, i.e. a new aiosqlite thread and the PRAGMAs for every transaction.
    """

    def __init__(self, url: str) -> None:
        """Create the engine for ``url`` (the SQLite folder is created if missing)."""
        parsed = make_url(url)
        self.url = url
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        kwargs: dict[str, Any] = {"future": True}
        if self.is_sqlite:
            database = parsed.database or ""
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": BUSY_TIMEOUT_MS / 1000}
            if database and database != ":memory:":
                kwargs.update(poolclass=AsyncAdaptedQueuePool, pool_size=SQLITE_POOL_SIZE, max_overflow=32)
        else:
            # Many conversations write at once and a request may read on a second connection while it holds
            # a write transaction: more than SQLAlchemy's 5 + 10, and well under PostgreSQL's 100 for 2 gateways.
            kwargs.update(pool_pre_ping=True, pool_size=PG_POOL_SIZE, max_overflow=PG_MAX_OVERFLOW, pool_timeout=60)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            _install_sqlite_hooks(self.engine)
            write_engine = self.engine.execution_options(sqlite_immediate=True)
        else:
            write_engine = self.engine
        self._read = sessionmaker(self.engine, class_=AsyncSession, expire_on_commit=False)
        self._write = sessionmaker(write_engine, class_=AsyncSession, expire_on_commit=False)
        self._write_lock = asyncio.Lock() if self.is_sqlite else None

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read-only transaction (rolled back at the end)."""
        async with self._read() as session, session.begin():
            yield session

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A write transaction, committed on success and rolled back on error (never nest two)."""
        if self._write_lock is None:
            async with self._write() as session, session.begin():
                yield session
            return
        async with self._write_lock, self._write() as session, session.begin():
            yield session

    async def ping(self) -> None:
        """A round trip to the database (``SELECT 1`` in a read transaction); raises when it is unreachable."""
        async with self.read() as session:
            await session.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


def _install_sqlite_hooks(engine: AsyncEngine) -> None:
    """Set WAL and busy_timeout on connect and emit our own BEGIN (the driver's would be deferred)."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
