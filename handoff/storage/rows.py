"""What the record modules share: the refusal they raise, row -> record conversion, the conversation row lookup."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any, TypeVar, get_origin, get_type_hints

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handoff.domain.priority import rank_of
from handoff.storage.models import Conversation

R = TypeVar("R")


class StoreError(Exception):
    """A refused operation; ``code`` is machine-readable and ``message`` is safe to show."""

    def __init__(self, code: str, message: str) -> None:
        """Keep code and message."""
        super().__init__(message)
        self.code = code
        self.message = message


def _normaliser(hint: Any) -> Callable[[Any], Any] | None:
    """How a column value becomes the record field's type: NULL JSON lists/dicts empty, flags bool, MRR float."""
    if hint is bool:
        return bool
    if hint is float:
        return lambda value: float(value or 0.0)
    if get_origin(hint) is list:
        return lambda value: list(value or [])
    if get_origin(hint) is dict:
        return lambda value: dict(value or {})
    return None  # optional fields (``X | None``) and the rest are taken as stored


_Plan = tuple[tuple[str, Callable[[Any], Any] | None], ...]
_plans: dict[tuple[type, type], _Plan] = {}


def _plan(record_type: type, row_type: type) -> _Plan:
    """The record's fields the row has (by name), each with its normaliser; worked out once per pair of types."""
    plan = _plans.get((record_type, row_type))
    if plan is None:
        hints = get_type_hints(record_type)
        plan = tuple(
            (field.name, _normaliser(hints[field.name])) for field in fields(record_type) if hasattr(row_type, field.name)
        )
        _plans[(record_type, row_type)] = plan
    return plan


def to_record(record_type: type[R], row: Any, **given: Any) -> R:
    """The plain record of an ORM row: each field read from the column of its name; ``given`` fields as passed.

    Fields the row has no column for (``MessageRecord.duplicate``, ``AgentRecord.load``) keep their default
    unless given. No ORM object leaves the storage package.
    """
    values = {
        name: getattr(row, name) if normalise is None else normalise(getattr(row, name))
        for name, normalise in _plan(record_type, type(row))
        if name not in given
    }
    return record_type(**values, **given)


async def conversation_row(s: AsyncSession, conversation_id: str, lock: bool = False) -> Conversation:
    """The conversation's ORM row (``lock``: ``SELECT ... FOR UPDATE``); StoreError ``not_found`` when missing."""
    stmt = select(Conversation).where(Conversation.id == conversation_id)
    if lock:
        stmt = stmt.with_for_update()
    row = (await s.scalars(stmt)).first()
    if row is None:
        raise StoreError("not_found", f"conversation {conversation_id} not found")
    return row


async def record_sla_progress(
    s: AsyncSession,
    table: type[Any],
    row_id: int,
    *,
    warned: bool | None = None,
    breached: bool | None = None,
    stale: bool | None = None,
    priority: str | None = None,
) -> None:
    """Set the SLA flags given (a hand-off's or an L3 escalation's: the same columns); a raised priority's rank too."""
    row = await s.get(table, row_id)
    if row is None:
        return
    if warned is not None:
        row.sla_warned = warned
    if breached is not None:
        row.sla_breached = breached
    if stale is not None:
        row.stale_alerted = stale
    if priority is not None:
        row.priority, row.priority_rank = priority, rank_of(priority)
    await s.flush()
