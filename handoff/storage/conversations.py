"""Conversation rows: creation, identity and language, the state moves, and the lists agents and tasks read.

Every state change of a conversation writes an :class:`~handoff.storage.models.Event` row in the same
transaction (callers use ``Database.write()``); :func:`apply_move` is the one writer of a conversation's state.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handoff.domain.records import ConversationRecord, iso
from handoff.domain.states import WITH_PEOPLE, EventType, Move, State
from handoff.storage.events import add_event
from handoff.storage.models import Agent, Conversation, Handoff, utcnow
from handoff.storage.rows import StoreError, conversation_row, to_record


async def get_conversation(s: AsyncSession, conversation_id: str) -> ConversationRecord | None:
    """The conversation, or None."""
    row = await s.get(Conversation, conversation_id)
    return to_record(ConversationRecord, row) if row else None


async def conversations_by_id(s: AsyncSession, ids: Iterable[str]) -> dict[str, ConversationRecord]:
    """The conversations with these ids (unknown ids are left out)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = await s.scalars(select(Conversation).where(Conversation.id.in_(wanted)))
    return {r.id: to_record(ConversationRecord, r) for r in rows}


async def create_conversation(s: AsyncSession, conversation_id: str) -> ConversationRecord:
    """A new conversation in ``bot`` state."""
    now = utcnow()
    row = Conversation(id=conversation_id, state=State.BOT.value, last_seq=0, created_at=now, updated_at=now)
    s.add(row)
    await add_event(s, conversation_id, EventType.CREATED, "customer")
    await s.flush()
    return to_record(ConversationRecord, row)


async def set_identity(
    s: AsyncSession,
    conversation_id: str,
    customer_id: str,
    email: str | None,
    name: str | None,
    *,
    actor: str = "customer",
) -> bool:
    """Bind a verified identity to the conversation; True when it changed.

    ``actor`` says who verified it: ``customer`` (the host page's signature) or ``bot`` (an emailed code, checked
    by the action server). The same identity again only fills in an email or name still missing.
    """
    row = await conversation_row(s, conversation_id)
    if row.customer_id == customer_id and row.verified:
        if email and not row.customer_email:
            row.customer_email = email
        if name and not row.customer_name:
            row.customer_name = name
        return False
    row.customer_id, row.customer_email, row.customer_name, row.verified = customer_id, email, name, True
    await add_event(s, conversation_id, EventType.IDENTITY_VERIFIED, actor, data={"customer_id": customer_id})
    return True


async def set_follow_up_email(s: AsyncSession, conversation_id: str, email: str) -> None:
    """Remember where to follow up when no agent is available."""
    row = await conversation_row(s, conversation_id)
    row.follow_up_email = email
    await add_event(s, conversation_id, EventType.FOLLOW_UP_REQUESTED, "customer", data={"email": email})


async def set_language(s: AsyncSession, conversation_id: str, language: str, messages: int) -> bool:
    """Record the conversation's decided language (an event when it changes); True when it changed."""
    row = await conversation_row(s, conversation_id)
    if row.language == language:
        return False
    previous, row.language = row.language, language
    data = {"language": language, "messages": messages, "previous": previous}
    await add_event(s, conversation_id, EventType.LANGUAGE_DETECTED, "system", data=data)
    return True


async def transition(
    s: AsyncSession,
    conversation_id: str,
    move: Move,
    *,
    actor: str,
    reason: str | None = None,
    data: dict[str, Any] | None = None,
) -> ConversationRecord:
    """Make ``move`` (``handoff.domain.states``) and record its event; refused unless the state allows the move."""
    row = await conversation_row(s, conversation_id, lock=True)
    old = apply_move(row, move)
    await add_event(s, conversation_id, move.transition.event, actor, reason, {"from": old, "to": row.state, **(data or {})})
    await s.flush()
    return to_record(ConversationRecord, row)


def apply_move(row: Conversation, move: Move) -> str:
    """The one place a conversation's state is written; returns the state it left (storage-internal)."""
    if not move.allowed(row.state):
        allowed = ", ".join(str(state) for state in move.transition.allowed_from)
        raise StoreError("invalid_state", f"conversation is {row.state}, expected one of {allowed}")
    old = row.state
    row.state = move.transition.to.value
    row.updated_at = utcnow()
    return old


async def clear_assignment(s: AsyncSession, conversation_id: str) -> None:
    """Forget the assigned agent (after resolve, hand-back, or an L3 escalation)."""
    row = await conversation_row(s, conversation_id)
    row.assigned_agent_id = None


async def mark_stale(s: AsyncSession, conversation_id: str, minutes: float) -> None:
    """Flag an L1 conversation as stale (alert once)."""
    row = await conversation_row(s, conversation_id)
    row.stale_alerted = True
    await add_event(s, conversation_id, EventType.STALE_ALERT, "system", "l1_stale", {"minutes": minutes})


async def list_conversations(
    s: AsyncSession, state: str | None = None, reason: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Conversations (newest first), optionally filtered by state and hand-off reason."""
    stmt = select(Conversation).order_by(Conversation.updated_at.desc()).limit(limit)
    if state:
        stmt = stmt.where(Conversation.state == state)
    if reason:
        stmt = stmt.where(Conversation.id.in_(select(Handoff.conversation_id).where(Handoff.reason == reason)))
    rows = list(await s.scalars(stmt))
    return [to_record(ConversationRecord, r).as_dict() for r in rows]


async def bot_conversations(s: AsyncSession, since: datetime, limit: int = 50) -> list[ConversationRecord]:
    """Live bot conversations (active since ``since``), for agents to watch."""
    rows = await s.scalars(
        select(Conversation)
        .where(Conversation.state == State.BOT.value, Conversation.updated_at >= since, Conversation.last_seq > 0)
        .order_by(Conversation.updated_at.desc())
        .limit(limit)
    )
    return [to_record(ConversationRecord, r) for r in rows]


async def stale_bot_conversations(s: AsyncSession, older_than: datetime) -> list[ConversationRecord]:
    """Bot conversations started before ``older_than``, active since, not yet flagged."""
    rows = await s.scalars(
        select(Conversation).where(
            Conversation.state == State.BOT.value,
            Conversation.stale_alerted.is_(False),
            Conversation.created_at < older_than,
            Conversation.updated_at >= older_than,
        )
    )
    return [to_record(ConversationRecord, r) for r in rows]


async def conversations_of_agent(s: AsyncSession, agent_id: int) -> list[ConversationRecord]:
    """Conversations the agent owns."""
    rows = await s.scalars(
        select(Conversation).where(
            Conversation.assigned_agent_id == agent_id, Conversation.state.in_([state.value for state in WITH_PEOPLE])
        )
    )
    return [to_record(ConversationRecord, r) for r in rows]


async def dropped_assignments(s: AsyncSession, seen_before: datetime) -> list[ConversationRecord]:
    """Assigned conversations whose agent is offline since before ``seen_before``."""
    rows = await s.scalars(
        select(Conversation)
        .join(Agent, Agent.id == Conversation.assigned_agent_id)
        .where(
            Conversation.state == State.ASSIGNED.value,
            Agent.status == "offline",
            Agent.last_seen_at < seen_before,
        )
    )
    return [to_record(ConversationRecord, r) for r in rows]


async def customer_conversations(s: AsyncSession, customer_id: str, limit: int = 10) -> list[dict[str, Any]]:
    """A verified customer's conversations, newest first, each with its latest hand-off (reason, outcome)."""
    rows = list(
        await s.scalars(
            select(Conversation)
            .where(Conversation.customer_id == customer_id, Conversation.verified.is_(True))
            .order_by(Conversation.created_at.desc())
            .limit(limit)
        )
    )
    result: list[dict[str, Any]] = []
    for row in rows:
        handoff = (
            await s.scalars(select(Handoff).where(Handoff.conversation_id == row.id).order_by(Handoff.id.desc()))
        ).first()
        result.append(
            {
                "id": row.id,
                "state": row.state,
                "created_at": iso(row.created_at),
                "updated_at": iso(row.updated_at),
                "handoff_reason": handoff.reason if handoff else None,
                "handoff_status": handoff.status if handoff else None,
                "resolution_code": handoff.resolution_code if handoff else None,
                "problem": (handoff.summary or {}).get("problem") if handoff else None,
            }
        )
    return result


async def customer_has_other_conversation(
    s: AsyncSession, customer_id: str, conversation_id: str, started_from: datetime, started_until: datetime
) -> bool:
    """Whether the verified customer started another conversation than this one in [``started_from``, ``started_until``]."""
    earlier = (
        await s.execute(
            select(Conversation.id)
            .where(
                Conversation.customer_id == customer_id,
                Conversation.verified.is_(True),
                Conversation.id != conversation_id,
                Conversation.created_at >= started_from,
                Conversation.created_at <= started_until,
            )
            .limit(1)
        )
    ).first()
    return earlier is not None
