"""Login failure rows: failed agent logins by account and client address, counted by the lockout rules."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from handoff.storage.models import LoginFailure


async def serialize_attempts(s: AsyncSession, email: str) -> None:
    """Make attempts on one account wait for each other until the end of the transaction.

    PostgreSQL: a transaction advisory lock per account. SQLite needs nothing: its write transactions
    (``BEGIN IMMEDIATE``) already run one at a time.
    """
    if s.get_bind().dialect.name == "postgresql":
        lock_id = int.from_bytes(hashlib.sha256(f"login:{email}".encode()).digest()[:8], "big", signed=True)
        await s.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id})


async def count_failures(
    s: AsyncSession, since: datetime, *, email: str | None = None, ip: str | None = None
) -> tuple[int, datetime | None]:
    """How many failures after ``since`` (of the account ``email``, from the address ``ip``), and the newest's time."""
    where = []
    if email is not None:
        where.append(LoginFailure.email == email)
    if ip is not None:
        where.append(LoginFailure.ip == ip)
    count, newest = (
        await s.execute(
            select(func.count(LoginFailure.id), func.max(LoginFailure.created_at)).where(
                *where, LoginFailure.created_at > since
            )
        )
    ).one()
    return int(count), newest


async def add_failure(s: AsyncSession, email: str, ip: str, at: datetime) -> None:
    """Record a failed (or not yet checked) login to ``email`` from ``ip``."""
    s.add(LoginFailure(email=email, ip=ip, created_at=at))


async def delete_failures_before(s: AsyncSession, cutoff: datetime) -> None:
    """Forget every failure older than ``cutoff`` (no rule counts them any more)."""
    await s.execute(delete(LoginFailure).where(LoginFailure.created_at < cutoff))


async def delete_failures_of(s: AsyncSession, email: str, ip: str) -> None:
    """Forget the account's failures from this address."""
    await s.execute(delete(LoginFailure).where(LoginFailure.email == email, LoginFailure.ip == ip))
