"""Login lockout: failed agent logins per email and per client IP, counted from rows so every gateway agrees.

After ``login_max_failures`` failures for an email (or ``login_ip_max_failures`` from one IP) within
``login_failure_window_seconds``, logins are refused for ``login_lockout_seconds`` after the latest failure,
even with the right password. A successful login clears the email's failures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from handoff.models import LoginFailure, utcnow
from handoff.settings import Settings


@dataclass(frozen=True)
class Lock:
    """Why logins are refused and for how many more seconds."""

    code: str
    message: str
    retry_after: int


def normalize(email: str) -> str:
    """The key failures are counted under (case and surrounding spaces do not make a new account)."""
    return email.strip().lower()[:320]


async def check(s: AsyncSession, settings: Settings, email: str, ip: str, now: datetime | None = None) -> Lock | None:
    """The lock on ``email`` or ``ip``, if any."""
    now = now or utcnow()
    since = now - timedelta(seconds=settings.login_failure_window_seconds)
    rules = (
        (LoginFailure.email, normalize(email), settings.login_max_failures, "locked_out", "this account is locked"),
        (LoginFailure.ip, ip[:64], settings.login_ip_max_failures, "too_many_attempts", "logins from this network paused"),
    )
    for column, key, limit, code, what in rules:
        count, newest = (
            await s.execute(
                select(func.count(LoginFailure.id), func.max(LoginFailure.created_at)).where(
                    column == key, LoginFailure.created_at > since
                )
            )
        ).one()
        if count >= limit and newest is not None:
            remaining = (newest + timedelta(seconds=settings.login_lockout_seconds) - now).total_seconds()
            if remaining > 0:
                minutes = max(1, math.ceil(remaining / 60))
                return Lock(
                    code,
                    f"{what} after {count} failed logins; try again in {minutes} minute{'s' if minutes > 1 else ''}",
                    math.ceil(remaining),
                )
    return None


async def record_failure(s: AsyncSession, settings: Settings, email: str, ip: str) -> None:
    """Count one failed login; rows older than anything the rules look at are dropped."""
    now = utcnow()
    s.add(LoginFailure(email=normalize(email), ip=ip[:64], created_at=now))
    keep = max(settings.login_failure_window_seconds, settings.login_lockout_seconds)
    await s.execute(delete(LoginFailure).where(LoginFailure.created_at < now - timedelta(seconds=keep)))


async def clear(s: AsyncSession, email: str) -> None:
    """Forget the email's failures after a successful login."""
    await s.execute(delete(LoginFailure).where(LoginFailure.email == normalize(email)))
