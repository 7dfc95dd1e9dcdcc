"""Event rows: the append-only lifecycle of conversations (state changes, CSAT, language votes, bot signals)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from handoff.domain.records import EventRecord
from handoff.domain.states import EventType
from handoff.storage.models import Event
from handoff.storage.rows import conversation_row, to_record


async def add_event(
    s: AsyncSession,
    conversation_id: str | None,
    type_: EventType,
    actor: str,
    reason: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Append a lifecycle event; a type that is not an ``EventType`` is refused (ValueError), never stored."""
    type_ = EventType(type_)
    s.add(Event(conversation_id=conversation_id, type=type_.value, actor=actor, reason=reason, data=data or {}))


async def add_csat(s: AsyncSession, conversation_id: str, data: dict[str, Any]) -> bool:
    """Record a rating, once per resolution (the first after the latest ``resolved``); False when already rated.

    The conversation row is locked first, so two ratings sent at once (two tabs, two gateways) cannot both count.
    """
    await conversation_row(s, conversation_id, lock=True)
    resolved = (
        select(func.coalesce(func.max(Event.id), 0))
        .where(Event.conversation_id == conversation_id, Event.type == EventType.RESOLVED.value)
        .scalar_subquery()
    )
    rated = await s.scalar(
        select(func.count())
        .select_from(Event)
        .where(Event.conversation_id == conversation_id, Event.type == EventType.CSAT.value, Event.id > resolved)
    )
    if rated:
        return False
    await add_event(s, conversation_id, EventType.CSAT, "customer", data=data)
    return True


async def events_for(s: AsyncSession, conversation_id: str) -> list[EventRecord]:
    """Every event of a conversation, oldest first."""
    rows = await s.scalars(select(Event).where(Event.conversation_id == conversation_id).order_by(Event.id))
    return [to_record(EventRecord, r) for r in rows]


async def add_language_vote(s: AsyncSession, conversation_id: str, language: str, confidence: float, seq: int) -> None:
    """One customer message that is evidence of a language (handoff.domain.language.vote)."""
    data = {"language": language, "confidence": round(confidence, 3), "seq": seq}
    await add_event(s, conversation_id, EventType.LANGUAGE_VOTE, "system", data=data)


async def language_votes(s: AsyncSession, conversation_id: str) -> list[tuple[str, float]]:
    """The conversation's language votes, oldest first."""
    rows = await s.scalars(
        select(Event)
        .where(Event.conversation_id == conversation_id, Event.type == EventType.LANGUAGE_VOTE.value)
        .order_by(Event.id)
    )
    votes = []
    for r in rows:
        data = r.data or {}
        language, confidence = data.get("language"), data.get("confidence")
        if isinstance(language, str) and isinstance(confidence, (int, float)):
            votes.append((language, float(confidence)))
    return votes


async def early_offer_declined_this_case(s: AsyncSession, conversation_id: str) -> bool:
    """Whether the customer declined the early offer since the latest hand-off (one indexed query).

    The gateway tells Rasa with every relayed message (metadata ``person_declined``), so the bot's three-strike
    rule does not hand off a customer who just said "No, keep going".
    """
    latest_queued = (
        select(func.coalesce(func.max(Event.id), 0))
        .where(Event.conversation_id == conversation_id, Event.type == EventType.QUEUED.value)
        .scalar_subquery()
    )
    found = await s.scalar(
        select(Event.id)
        .where(
            Event.conversation_id == conversation_id,
            Event.type == EventType.EARLY_OFFER_DECLINED.value,
            Event.id > latest_queued,
        )
        .limit(1)
    )
    return found is not None


async def latest_queued_and_first_replies(
    s: AsyncSession, conversation_id: str, limit: int = 20
) -> list[tuple[str, dict[str, Any] | None, datetime]]:
    """The conversation's latest ``queued`` and ``first_reply`` events, newest first: (type, data, created_at)."""
    rows = (
        await s.execute(
            select(Event.type, Event.data, Event.created_at)
            .where(
                Event.conversation_id == conversation_id,
                Event.type.in_((EventType.QUEUED.value, EventType.FIRST_REPLY.value)),
            )
            .order_by(Event.id.desc())
            .limit(limit)
        )
    ).all()
    return [(type_, data, created_at) for type_, data, created_at in rows]
