"""Agent login throttling that slows an attacker, not the team; counted from rows, so every gateway agrees.

Three rules over the failed logins of the last ``login_failure_window_seconds``:

- **pair** (account, client address): after ``login_max_failures`` failures of an account from one address, that
  address may not try that account for ``login_lockout_seconds`` after its latest failure (``locked_out``). The
  account's owner elsewhere is not concerned.
- **account**: from ``login_max_failures`` failures of an account from all addresses together, every attempt on it
  waits an exponential back-off after its latest failure: ``login_backoff_seconds`` (1 s), then 2 s, 4 s ...
  capped at ``login_backoff_max_seconds`` (60 s) (``too_many_attempts``, with Retry-After). Guessing from many
  addresses gets about one try a minute; the owner, even during an attack, is delayed by at most that back-off
  and is never locked out.
- **address**: from ``login_ip_max_failures`` failures from one address (any accounts), an account with failures of
  its own from that address waits the same kind of back-off (by the address's count) after its own latest failure
  there. An account without failures from there is never held back: a colleague's correct password behind the same
  NAT is not refused for other accounts' failures, and a colleague's typo costs at most the capped back-off.

A refused attempt is neither verified nor counted: retrying sooner gains nothing and extends nothing. An attempt that
passes is recorded as a failure *before* its password is checked, in the same write transaction as the checks
(serialized per account), and the record is removed if the password was right: parallel requests cannot squeeze
several guesses into one back-off slot, and an attempt cut short still counts. A successful login removes that
account's failures from that address only; failures from elsewhere keep counting until they age out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from handoff.settings import Settings
from handoff.storage import login_failures as login_failure_store
from handoff.storage.models import utcnow

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True)
class Lock:
    """Why this attempt is refused and in how many seconds to come back."""

    code: str
    message: str
    retry_after: int


def normalize(email: str) -> str:
    """The key failures are counted under (case and surrounding spaces do not make a new account)."""
    return email.strip().lower()[:320]


def backoff_seconds(settings: Settings, failures: int, threshold: int) -> float:
    """Delay after the latest failure once ``failures`` reached ``threshold``: the first delay, doubling, capped."""
    if failures < threshold:
        return 0.0
    first, cap = settings.login_backoff_seconds, settings.login_backoff_max_seconds
    return min(first * 2.0 ** min(failures - threshold, 64), cap)


def _seconds(until: datetime, now: datetime) -> int:
    return math.ceil((until - now).total_seconds())


async def check(s: AsyncSession, settings: Settings, email: str, ip: str, now: datetime | None = None) -> Lock | None:
    """The longest refusal that applies to a login to ``email`` from ``ip`` now, if any."""
    now = now or utcnow()
    key, address = normalize(email), ip[:64]
    since = now - timedelta(seconds=settings.login_failure_window_seconds)
    pair, pair_newest = await login_failure_store.count_failures(s, since, email=key, ip=address)
    account, account_newest = await login_failure_store.count_failures(s, since, email=key)
    locks: list[Lock] = []
    if pair >= settings.login_max_failures and pair_newest is not None:
        wait = _seconds(pair_newest + timedelta(seconds=settings.login_lockout_seconds), now)
        minutes = max(1, math.ceil(wait / 60))
        locks.append(
            Lock(
                "locked_out",
                f"this account is locked for your network after {pair} failed logins; "
                f"try again in {minutes} minute{'s' if minutes > 1 else ''}",
                wait,
            )
        )
    if account >= settings.login_max_failures and account_newest is not None:
        delay = backoff_seconds(settings, account, settings.login_max_failures)
        wait = _seconds(account_newest + timedelta(seconds=delay), now)
        locks.append(
            Lock(
                "too_many_attempts",
                f"too many failed logins for this account; wait {max(wait, 1)} s before the next try",
                wait,
            )
        )
    if pair and pair_newest is not None:  # never for an account without failures of its own from this address
        address_count, _ = await login_failure_store.count_failures(s, since, ip=address)
        if address_count >= settings.login_ip_max_failures:
            # From the account's own latest failure here: other accounts' failures go on, this wait does not.
            delay = backoff_seconds(settings, address_count, settings.login_ip_max_failures)
            wait = _seconds(pair_newest + timedelta(seconds=delay), now)
            locks.append(
                Lock(
                    "too_many_attempts",
                    f"logins from this network slowed after {address_count} failed logins; "
                    f"wait {max(wait, 1)} s before the next try",
                    wait,
                )
            )
    return max((lock for lock in locks if lock.retry_after > 0), key=lambda lock: lock.retry_after, default=None)


async def begin_attempt(s: AsyncSession, settings: Settings, email: str, ip: str) -> Lock | None:
    """Refuse the attempt, or count it as a failure until :func:`succeeded` (call in a write transaction).

    Attempts on one account are serialized (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: a transaction advisory lock),
    so two parallel requests never both pass the checks on the same failures.
    """
    key = normalize(email)
    await login_failure_store.serialize_attempts(s, key)
    now = utcnow()
    lock = await check(s, settings, email, ip, now)
    if lock is not None:
        return lock
    await login_failure_store.add_failure(s, key, ip[:64], now)
    keep = max(settings.login_failure_window_seconds, settings.login_lockout_seconds)
    await login_failure_store.delete_failures_before(s, now - timedelta(seconds=keep))
    return None


async def succeeded(s: AsyncSession, email: str, ip: str) -> None:
    """The password was right: forget the account's failures from this address (this attempt's record included)."""
    await login_failure_store.delete_failures_of(s, normalize(email), ip[:64])
