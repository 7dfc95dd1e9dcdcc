"""Repository functions: take an ``AsyncSession``, return plain records.

Every state change of a conversation writes an :class:`~handoff.storage.models.Event` row in the same
transaction (callers use ``Database.write()``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from handoff.domain.records import (
    AgentRecord,
    CannedReplyRecord,
    ContactRecord,
    ConversationRecord,
    EventRecord,
    HandoffRecord,
    MessageRecord,
    NoteRecord,
    QueueItem,
    iso,
)
from handoff.domain.states import (
    OPEN_HANDOFF,
    WITH_AN_AGENT,
    WITH_PEOPLE,
    EventType,
    HandoffStatus,
    MessageStatus,
    Move,
    State,
)
from handoff.storage.models import Agent, CannedReply, Contact, Conversation, Event, Handoff, Message, Note, utcnow


class StoreError(Exception):
    """A refused operation; ``code`` is machine-readable and ``message`` is safe to show."""

    def __init__(self, code: str, message: str) -> None:
        """Keep code and message."""
        super().__init__(message)
        self.code = code
        self.message = message


# ---------------------------------------------------------------- converters


def _conv(row: Conversation) -> ConversationRecord:
    return ConversationRecord(
        id=row.id,
        state=row.state,
        customer_id=row.customer_id,
        customer_email=row.customer_email,
        customer_name=row.customer_name,
        verified=bool(row.verified),
        assigned_agent_id=row.assigned_agent_id,
        team=row.team,
        last_seq=row.last_seq,
        follow_up_email=row.follow_up_email,
        created_at=row.created_at,
        updated_at=row.updated_at,
        language=row.language,
    )


def _msg(row: Message, duplicate: bool = False) -> MessageRecord:
    return MessageRecord(
        id=row.id,
        conversation_id=row.conversation_id,
        seq=row.seq,
        sender=row.sender,
        text=row.text,
        payload=row.payload,
        agent_id=row.agent_id,
        client_id=row.client_id,
        status=row.status,
        created_at=row.created_at,
        duplicate=duplicate,
    )


def _handoff(row: Handoff) -> HandoffRecord:
    return HandoffRecord(
        id=row.id,
        conversation_id=row.conversation_id,
        status=row.status,
        reason=row.reason,
        priority=row.priority,
        priority_rank=row.priority_rank,
        sla_deadline=row.sla_deadline,
        skills=list(row.skills or []),
        summary=dict(row.summary or {}),
        agent_id=row.agent_id,
        resolution_code=row.resolution_code,
        l3=row.l3,
        sla_warned=bool(row.sla_warned),
        sla_breached=bool(row.sla_breached),
        created_at=row.created_at,
        assigned_at=row.assigned_at,
        closed_at=row.closed_at,
    )


def _agent(row: Agent, load: int = 0) -> AgentRecord:
    return AgentRecord(
        id=row.id,
        email=row.email,
        name=row.name,
        role=row.role,
        team=row.team,
        skills=list(row.skills or []),
        languages=list(row.languages or []),
        capacity=row.capacity,
        status=row.status,
        last_seen_at=row.last_seen_at,
        load=load,
    )


def _contact(row: Contact) -> ContactRecord:
    return ContactRecord(
        id=row.id,
        email=row.email,
        name=row.name,
        tier=row.tier,
        plan=row.plan,
        mrr=float(row.mrr or 0.0),
        renewal_date=row.renewal_date,
        status=row.status,
    )


def _event(row: Event) -> EventRecord:
    return EventRecord(
        id=row.id,
        conversation_id=row.conversation_id,
        type=row.type,
        actor=row.actor,
        reason=row.reason,
        data=dict(row.data or {}),
        created_at=row.created_at,
    )


# ---------------------------------------------------------------- events


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
    await _conversation_row(s, conversation_id, lock=True)
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
    return [_event(r) for r in rows]


# ---------------------------------------------------------------- conversations


async def get_conversation(s: AsyncSession, conversation_id: str) -> ConversationRecord | None:
    """The conversation, or None."""
    row = await s.get(Conversation, conversation_id)
    return _conv(row) if row else None


async def conversations_by_id(s: AsyncSession, ids: Iterable[str]) -> dict[str, ConversationRecord]:
    """The conversations with these ids (unknown ids are left out)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = await s.scalars(select(Conversation).where(Conversation.id.in_(wanted)))
    return {r.id: _conv(r) for r in rows}


async def create_conversation(s: AsyncSession, conversation_id: str) -> ConversationRecord:
    """A new conversation in ``bot`` state."""
    now = utcnow()
    row = Conversation(id=conversation_id, state=State.BOT.value, last_seq=0, created_at=now, updated_at=now)
    s.add(row)
    await add_event(s, conversation_id, EventType.CREATED, "customer")
    await s.flush()
    return _conv(row)


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
    row = await _conversation_row(s, conversation_id)
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
    row = await _conversation_row(s, conversation_id)
    row.follow_up_email = email
    await add_event(s, conversation_id, EventType.FOLLOW_UP_REQUESTED, "customer", data={"email": email})


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


async def set_language(s: AsyncSession, conversation_id: str, language: str, messages: int) -> bool:
    """Record the conversation's decided language (an event when it changes); True when it changed."""
    row = await _conversation_row(s, conversation_id)
    if row.language == language:
        return False
    previous, row.language = row.language, language
    data = {"language": language, "messages": messages, "previous": previous}
    await add_event(s, conversation_id, EventType.LANGUAGE_DETECTED, "system", data=data)
    return True


async def _conversation_row(s: AsyncSession, conversation_id: str, lock: bool = False) -> Conversation:
    stmt = select(Conversation).where(Conversation.id == conversation_id)
    if lock:
        stmt = stmt.with_for_update()
    row = (await s.scalars(stmt)).first()
    if row is None:
        raise StoreError("not_found", f"conversation {conversation_id} not found")
    return row


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
    row = await _conversation_row(s, conversation_id, lock=True)
    old = _apply(row, move)
    await add_event(s, conversation_id, move.transition.event, actor, reason, {"from": old, "to": row.state, **(data or {})})
    await s.flush()
    return _conv(row)


def _apply(row: Conversation, move: Move) -> str:
    """The one place a conversation's state is written; returns the state it left."""
    if not move.allowed(row.state):
        allowed = ", ".join(str(state) for state in move.transition.allowed_from)
        raise StoreError("invalid_state", f"conversation is {row.state}, expected one of {allowed}")
    old = row.state
    row.state = move.transition.to.value
    row.updated_at = utcnow()
    return old


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
    return [_conv(r).as_dict() for r in rows]


async def bot_conversations(s: AsyncSession, since: datetime, limit: int = 50) -> list[ConversationRecord]:
    """Live bot conversations (active since ``since``), for agents to watch."""
    rows = await s.scalars(
        select(Conversation)
        .where(Conversation.state == State.BOT.value, Conversation.updated_at >= since, Conversation.last_seq > 0)
        .order_by(Conversation.updated_at.desc())
        .limit(limit)
    )
    return [_conv(r) for r in rows]


# ---------------------------------------------------------------- messages


async def append_message(
    s: AsyncSession,
    conversation_id: str,
    sender: str,
    text: str | None,
    *,
    payload: dict[str, Any] | None = None,
    agent_id: int | None = None,
    client_id: str | None = None,
    status: str = MessageStatus.DONE,
) -> MessageRecord:
    """Store a message with the next sequence number; a repeated ``client_id`` returns the original."""
    existing = await _by_client_id(s, conversation_id, client_id)
    if existing is not None:
        return existing
    seq, _state = await _next_seq(s, conversation_id)
    return await _insert_message(s, conversation_id, seq, sender, text, payload, agent_id, client_id, status)


async def append_customer_message(
    s: AsyncSession, conversation_id: str, text: str, client_id: str | None, pending: str
) -> MessageRecord:
    """Store a customer message routed by the conversation's state: ``human`` if a person has it, else ``pending``.

    Deciding the route in the insert's transaction saves the relay path a read and a write: with a human in
    the conversation, publishing the stored message is its delivery. The state is read after the conversation
    row was updated, i.e. under its row lock on PostgreSQL and the write lock on SQLite, so a concurrent claim
    or hand-back is either before or after it, never half-seen.
    """
    existing = await _by_client_id(s, conversation_id, client_id)
    if existing is not None:
        return existing
    seq, state = await _next_seq(s, conversation_id)
    status = MessageStatus.HUMAN if state in WITH_AN_AGENT else pending
    return await _insert_message(s, conversation_id, seq, "customer", text, None, None, client_id, status)


async def _by_client_id(s: AsyncSession, conversation_id: str, client_id: str | None) -> MessageRecord | None:
    """The message already stored under this client id (a retried send), if any."""
    if not client_id:
        return None
    existing = (
        await s.scalars(select(Message).where(Message.conversation_id == conversation_id, Message.client_id == client_id))
    ).first()
    return _msg(existing, duplicate=True) if existing is not None else None


# Prebuilt and run on the session's connection, not through the ORM: the ORM's UPDATE path left about thirty
# objects in reference cycles per message, which only the cyclic garbage collector frees (long pauses under
# load). In-session objects are then brought up to date here, as the ORM would have done.
_TAKE_NEXT_SEQ = (
    update(Conversation)
    .where(Conversation.id == bindparam("conversation_id"))
    .values(last_seq=Conversation.last_seq + 1, updated_at=bindparam("now"))
)
_SET_MESSAGE_STATUS = update(Message).where(Message.id == bindparam("message_id")).values(status=bindparam("status"))


async def _core_update(s: AsyncSession, stmt: Any, params: dict[str, Any]) -> None:
    """Run a prebuilt UPDATE on the session's connection, after flushing what the session has pending."""
    await s.flush()  # a Core statement does not flush the session itself
    await (await s.connection()).execute(stmt, params)


def _sync_loaded(s: AsyncSession, entity: type, key: str, **values: Any) -> None:
    """After a Core UPDATE: set ``values`` on the row's object if this session holds it (as the ORM would)."""
    loaded = s.identity_map.get(identity_key(entity, key))
    if loaded is not None:
        for name, value in values.items():
            set_committed_value(loaded, name, value)


async def _next_seq(s: AsyncSession, conversation_id: str) -> tuple[int, str]:
    """Take the conversation's next sequence number (locking its row); returns it with the state."""
    now = utcnow()
    await _core_update(s, _TAKE_NEXT_SEQ, {"conversation_id": conversation_id, "now": now})
    seq, state = (
        await s.execute(select(Conversation.last_seq, Conversation.state).where(Conversation.id == conversation_id))
    ).one()
    _sync_loaded(s, Conversation, conversation_id, last_seq=int(seq), updated_at=now)
    return int(seq), str(state)


async def _insert_message(
    s: AsyncSession,
    conversation_id: str,
    seq: int,
    sender: str,
    text: str | None,
    payload: dict[str, Any] | None,
    agent_id: int | None,
    client_id: str | None,
    status: str,
) -> MessageRecord:
    row = Message(
        id=uuid.uuid4().hex,
        conversation_id=conversation_id,
        seq=seq,
        sender=sender,
        agent_id=agent_id,
        text=text,
        payload=payload,
        client_id=client_id or None,
        status=str(status),
        created_at=utcnow(),
    )
    s.add(row)
    await s.flush()
    return _msg(row)


async def set_message_status(s: AsyncSession, message_id: str, status: str) -> None:
    """Mark a customer message as relayed (or routed to humans)."""
    status = str(status)
    await _core_update(s, _SET_MESSAGE_STATUS, {"message_id": message_id, "status": status})
    _sync_loaded(s, Message, message_id, status=status)


async def messages_after(s: AsyncSession, conversation_id: str, last_seq: int = 0, limit: int = 1000) -> list[MessageRecord]:
    """Messages with ``seq > last_seq`` in order."""
    rows = await s.scalars(
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.seq > last_seq)
        .order_by(Message.seq)
        .limit(limit)
    )
    return [_msg(r) for r in rows]


async def last_messages(s: AsyncSession, conversation_id: str, count: int) -> list[MessageRecord]:
    """The last ``count`` messages, oldest first."""
    rows = list(
        await s.scalars(
            select(Message).where(Message.conversation_id == conversation_id).order_by(Message.seq.desc()).limit(count)
        )
    )
    return [_msg(r) for r in reversed(rows)]


def pending_status(instance: str) -> str:
    """Status of a customer message acknowledged by gateway ``instance`` and not relayed yet (fits String(16))."""
    return f"{MessageStatus.PENDING}:{instance}"


async def take_over_pending(s: AsyncSession, status: str | None, new_status: str) -> list[MessageRecord]:
    """Re-own messages pending with ``status`` (None: any pending one) as ``new_status``; returned in order.

    On PostgreSQL rows another transaction is taking over right now are skipped, not waited for.
    """
    match = Message.status.like(f"{MessageStatus.PENDING}%") if status is None else Message.status == str(status)
    rows = list(
        await s.scalars(
            select(Message)
            .where(match)
            .order_by(Message.conversation_id, Message.seq)
            .with_for_update(skip_locked=True)
        )
    )
    for row in rows:
        row.status = new_status
    await s.flush()
    return [_msg(r) for r in rows]


# ---------------------------------------------------------------- hand-offs and queue


async def create_handoff(
    s: AsyncSession,
    conversation_id: str,
    *,
    reason: str,
    priority: str,
    priority_rank: int,
    sla_deadline: datetime,
    skills: Sequence[str],
    summary: dict[str, Any],
    actor: str = "bot",
    event_data: dict[str, Any] | None = None,
) -> HandoffRecord:
    """Queue the conversation for a human: state ``bot`` -> ``queued`` plus a Handoff row."""
    await transition(
        s,
        conversation_id,
        Move.HAND_OFF,
        actor=actor,
        reason=reason,
        data={"priority": priority, "skills": list(skills), **(event_data or {})},
    )
    row = Handoff(
        conversation_id=conversation_id,
        status=HandoffStatus.OPEN.value,
        reason=reason,
        priority=priority,
        priority_rank=priority_rank,
        sla_deadline=sla_deadline,
        skills=list(skills),
        summary=summary,
        created_at=utcnow(),
    )
    s.add(row)
    await s.flush()
    return _handoff(row)


async def current_handoff(s: AsyncSession, conversation_id: str) -> HandoffRecord | None:
    """The open hand-off of the conversation, if any."""
    row = await _current_handoff_row(s, conversation_id)
    return _handoff(row) if row else None


async def _current_handoff_row(s: AsyncSession, conversation_id: str) -> Handoff | None:
    return (
        await s.scalars(
            select(Handoff)
            .where(Handoff.conversation_id == conversation_id, Handoff.status.in_([status.value for status in OPEN_HANDOFF]))
            .order_by(Handoff.id.desc())
        )
    ).first()


async def handoffs_for(s: AsyncSession, conversation_id: str) -> list[HandoffRecord]:
    """All hand-offs of a conversation, oldest first."""
    rows = await s.scalars(select(Handoff).where(Handoff.conversation_id == conversation_id).order_by(Handoff.id))
    return [_handoff(r) for r in rows]


async def list_handoffs(s: AsyncSession, status: str | None = None, limit: int = 200) -> list[HandoffRecord]:
    """Hand-offs, newest first."""
    stmt = select(Handoff).order_by(Handoff.id.desc()).limit(limit)
    if status:
        stmt = stmt.where(Handoff.status == status)
    return [_handoff(r) for r in await s.scalars(stmt)]


async def queue(s: AsyncSession) -> list[QueueItem]:
    """Queued conversations ordered by priority, then SLA deadline, then age.

    Only the columns the queue shows, and the summary's ``problem`` read in SQL: agents get the queue again
    after every change, and loading each hand-off's whole summary made a long queue the gateway's main cost.
    """
    rows = (
        await s.execute(
            select(
                Conversation.id,
                Conversation.customer_name,
                Handoff.reason,
                Handoff.priority,
                Handoff.sla_deadline,
                Handoff.skills,
                Handoff.summary["problem"].as_string(),
                Handoff.created_at,
            )
            .join(Handoff, Handoff.conversation_id == Conversation.id)
            .where(Conversation.state == State.QUEUED.value, Handoff.status == HandoffStatus.OPEN.value)
            .order_by(Handoff.priority_rank, Handoff.sla_deadline, Handoff.id)
        )
    ).all()
    now = utcnow()
    return [
        QueueItem(
            position=i + 1,
            conversation_id=cid,
            customer_name=name,
            reason=reason,
            priority=priority,
            sla_deadline=deadline,
            skills=list(skills or []),
            problem=problem,
            waiting_seconds=int((now - created).total_seconds()),
        )
        for i, (cid, name, reason, priority, deadline, skills, problem, created) in enumerate(rows)
    ]


async def queue_position(s: AsyncSession, conversation_id: str) -> int | None:
    """1-based place of a queued conversation in ``queue``'s order, counted in SQL (None when not queued).

    A hand-off tells its customer their place: with this, a long queue costs one count, not a load of every
    queued hand-off and its summary.
    """
    open_queued = (Conversation.state == State.QUEUED.value, Handoff.status == HandoffStatus.OPEN.value)
    mine = (
        await s.execute(
            select(Handoff.priority_rank, Handoff.sla_deadline, Handoff.id)
            .join(Conversation, Handoff.conversation_id == Conversation.id)
            .where(Conversation.id == conversation_id, *open_queued)
        )
    ).first()
    if mine is None:
        return None
    rank, deadline, hid = mine
    ahead = or_(
        Handoff.priority_rank < rank,
        and_(
            Handoff.priority_rank == rank,
            or_(Handoff.sla_deadline < deadline, and_(Handoff.sla_deadline == deadline, Handoff.id < hid)),
        ),
    )
    count = (
        await s.execute(
            select(func.count())
            .select_from(Handoff)
            .join(Conversation, Handoff.conversation_id == Conversation.id)
            .where(*open_queued, ahead)
        )
    ).scalar_one()
    return int(count) + 1


async def claim(
    s: AsyncSession, conversation_id: str, agent_id: int, *, is_postgres: bool, actor: str | None = None
) -> tuple[ConversationRecord, HandoffRecord]:
    """Atomically assign a queued conversation (or an L3 escalation) to ``agent_id``.

    PostgreSQL: ``SELECT ... FOR UPDATE SKIP LOCKED``. A row that is locked is not always a rival claim: every
    message stored in the conversation locks it for a moment too (the bot's queue notice right after a hand-off,
    say). So a skipped row is then waited for, and its state decides: a rival that won has made it ``assigned``.
    SQLite: the caller's ``BEGIN IMMEDIATE`` transaction serialises claimers.
    """
    stmt = select(Conversation).where(Conversation.id == conversation_id)
    row = (await s.scalars(stmt.with_for_update(skip_locked=True) if is_postgres else stmt)).first()
    if row is None and is_postgres:
        row = (await s.scalars(stmt.with_for_update())).first()
    if row is None:
        raise StoreError("not_found", f"conversation {conversation_id} not found")
    agent = await s.get(Agent, agent_id)
    if agent is None:
        raise StoreError("not_found", "agent not found")
    handoff = await _current_handoff_row(s, conversation_id)
    l3_claim = row.state == State.ESCALATED_L3 and agent.role in ("l3", "lead") and row.assigned_agent_id is None
    move = Move.CLAIM_L3 if l3_claim else Move.CLAIM
    if not l3_claim and (row.state != State.QUEUED or handoff is None):
        if row.state in (State.ASSIGNED, State.ESCALATED_L3):
            raise StoreError("already_claimed", "conversation already claimed by another agent")
        raise StoreError("invalid_state", f"conversation is {row.state}, not queued")
    old = _apply(row, move)
    row.assigned_agent_id = agent_id
    row.team = agent.team
    if handoff is not None:
        handoff.agent_id = agent_id
        if handoff.status == HandoffStatus.OPEN:
            handoff.status = HandoffStatus.ASSIGNED.value
        handoff.assigned_at = handoff.assigned_at or row.updated_at
    await add_event(
        s,
        conversation_id,
        move.transition.event,
        actor or f"agent:{agent_id}",
        "claim" if actor is None else "auto_assign",
        {"from": old, "to": row.state, "agent_id": agent_id},
    )
    await s.flush()
    if handoff is None:
        raise StoreError("invalid_state", "no open hand-off")
    return _conv(row), _handoff(handoff)


async def requeue(
    s: AsyncSession,
    conversation_id: str,
    *,
    actor: str,
    reason: str,
    skills: Sequence[str] | None = None,
    team: str | None = None,
    data: dict[str, Any] | None = None,
) -> ConversationRecord:
    """``assigned`` -> ``queued`` (transfer to a team, agent dropped)."""
    await transition(s, conversation_id, Move.TRANSFER, actor=actor, reason=reason, data=data)
    row = await _conversation_row(s, conversation_id)
    row.assigned_agent_id = None
    row.team = team
    handoff = await _current_handoff_row(s, conversation_id)
    if handoff is not None:
        handoff.status = HandoffStatus.OPEN.value
        handoff.agent_id = None
        if skills:
            handoff.skills = list(skills)
    await s.flush()
    return _conv(row)


async def transfer_to_agent(
    s: AsyncSession, conversation_id: str, from_agent: int, to_agent: int, note: str | None
) -> ConversationRecord:
    """Hand the conversation to another agent (it stays ``assigned``)."""
    row = await _conversation_row(s, conversation_id, lock=True)
    target = await s.get(Agent, to_agent)
    if target is None:
        raise StoreError("not_found", f"agent {to_agent} not found")
    row.assigned_agent_id = to_agent
    row.team = target.team
    row.updated_at = utcnow()
    handoff = await _current_handoff_row(s, conversation_id)
    if handoff is not None:
        handoff.agent_id = to_agent
    await add_event(
        s,
        conversation_id,
        EventType.TRANSFERRED,
        f"agent:{from_agent}",
        "to_agent",
        {"from_agent": from_agent, "to_agent": to_agent, "note": note},
    )
    await s.flush()
    return _conv(row)


async def close_handoff(
    s: AsyncSession,
    conversation_id: str,
    status: HandoffStatus,
    *,
    resolution_code: str | None = None,
    l3: dict[str, Any] | None = None,
) -> HandoffRecord | None:
    """Set the open hand-off's final status (resolved, handed_back) or L3 data."""
    row = await _current_handoff_row(s, conversation_id)
    if row is None:
        return None
    row.status = HandoffStatus(status).value
    if resolution_code is not None:
        row.resolution_code = resolution_code
    if l3 is not None:
        row.l3 = l3
    if status not in OPEN_HANDOFF:
        row.closed_at = utcnow()
    await s.flush()
    return _handoff(row)


async def clear_assignment(s: AsyncSession, conversation_id: str) -> None:
    """Forget the assigned agent (after resolve, hand-back, or an L3 escalation)."""
    row = await _conversation_row(s, conversation_id)
    row.assigned_agent_id = None


async def update_handoff_sla(
    s: AsyncSession,
    handoff_id: int,
    *,
    warned: bool | None = None,
    breached: bool | None = None,
    stale: bool | None = None,
    priority: tuple[str, int] | None = None,
) -> None:
    """Record SLA progress on a hand-off."""
    row = await s.get(Handoff, handoff_id)
    if row is None:
        return
    if warned is not None:
        row.sla_warned = warned
    if breached is not None:
        row.sla_breached = breached
    if stale is not None:
        row.stale_alerted = stale
    if priority is not None:
        row.priority, row.priority_rank = priority


async def sla_candidates(s: AsyncSession) -> list[HandoffRecord]:
    """Open or assigned hand-offs (the SLA task decides what to do with them)."""
    waiting_or_assigned = (HandoffStatus.OPEN.value, HandoffStatus.ASSIGNED.value)
    rows = await s.scalars(select(Handoff).where(Handoff.status.in_(waiting_or_assigned)))
    return [_handoff(r) for r in rows]


async def stale_alerted(s: AsyncSession, handoff_id: int) -> bool:
    """Whether the L2 stale-case alert was already raised."""
    row = await s.get(Handoff, handoff_id)
    return bool(row and row.stale_alerted)


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
    return [_conv(r) for r in rows]


async def mark_stale(s: AsyncSession, conversation_id: str, minutes: float) -> None:
    """Flag an L1 conversation as stale (alert once)."""
    row = await _conversation_row(s, conversation_id)
    row.stale_alerted = True
    await add_event(s, conversation_id, EventType.STALE_ALERT, "system", "l1_stale", {"minutes": minutes})


# ---------------------------------------------------------------- agents


async def create_agent(
    s: AsyncSession,
    *,
    email: str,
    name: str,
    password_hash: str,
    role: str = "l2",
    team: str = "general",
    skills: Sequence[str] = ("general",),
    languages: Sequence[str] = ("en",),
    capacity: int = 3,
) -> AgentRecord:
    """Create (or update, by email) an agent."""
    row = (await s.scalars(select(Agent).where(Agent.email == email.lower()))).first()
    if row is None:
        row = Agent(email=email.lower(), status="offline", created_at=utcnow())
        s.add(row)
    row.name, row.password_hash, row.role, row.team = name, password_hash, role, team
    row.skills, row.languages, row.capacity = list(skills), list(languages), capacity
    await s.flush()
    return _agent(row)


async def agent_credentials(s: AsyncSession, email: str) -> tuple[AgentRecord, str] | None:
    """The agent and its password hash, for login."""
    row = (await s.scalars(select(Agent).where(Agent.email == email.lower()))).first()
    return (_agent(row), row.password_hash) if row else None


async def get_agent(s: AsyncSession, agent_id: int) -> AgentRecord | None:
    """The agent, or None."""
    row = await s.get(Agent, agent_id)
    return _agent(row) if row else None


async def set_agent_status(s: AsyncSession, agent_id: int, status: str) -> None:
    """Online / away / offline, with last_seen_at."""
    row = await s.get(Agent, agent_id)
    if row is None:
        return
    if row.status != status:
        await add_event(s, None, EventType.PRESENCE, f"agent:{agent_id}", status, {"agent_id": agent_id})
    row.status = status
    row.last_seen_at = utcnow()


async def agents_with_load(s: AsyncSession) -> list[AgentRecord]:
    """Every agent with its number of assigned conversations."""
    loads = dict(
        (
            await s.execute(
                select(Conversation.assigned_agent_id, func.count())
                .where(Conversation.state.in_([state.value for state in WITH_AN_AGENT]))
                .group_by(Conversation.assigned_agent_id)
            )
        ).all()
    )
    rows = await s.scalars(select(Agent).order_by(Agent.id))
    return [_agent(r, int(loads.get(r.id, 0))) for r in rows]


async def count_online_agents(s: AsyncSession) -> int:
    """How many agents are online."""
    return int((await s.execute(select(func.count()).select_from(Agent).where(Agent.status == "online"))).scalar_one())


async def conversations_of_agent(s: AsyncSession, agent_id: int) -> list[ConversationRecord]:
    """Conversations the agent owns."""
    rows = await s.scalars(
        select(Conversation).where(
            Conversation.assigned_agent_id == agent_id, Conversation.state.in_([state.value for state in WITH_PEOPLE])
        )
    )
    return [_conv(r) for r in rows]


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
    return [_conv(r) for r in rows]


# ---------------------------------------------------------------- contacts


async def upsert_contact(
    s: AsyncSession,
    *,
    id: str,
    email: str,
    name: str,
    tier: str,
    plan: str,
    mrr: float,
    renewal_date: date | None,
    status: str,
) -> None:
    """Insert or update a contact record."""
    row = await s.get(Contact, id)
    if row is None:
        row = Contact(id=id, created_at=utcnow())
        s.add(row)
    row.email, row.name, row.tier, row.plan = email, name, tier, plan
    row.mrr, row.renewal_date, row.status = mrr, renewal_date, status


async def get_contact(s: AsyncSession, customer_id: str) -> ContactRecord | None:
    """The contact record, or None."""
    row = await s.get(Contact, customer_id)
    return _contact(row) if row else None


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


async def average_mrr(s: AsyncSession) -> float:
    """Average MRR over paying contacts (0 when there are none)."""
    value = (await s.execute(select(func.avg(Contact.mrr)).where(Contact.mrr > 0))).scalar()
    return float(value or 0.0)


# ---------------------------------------------------------------- notes and canned replies


async def add_note(s: AsyncSession, conversation_id: str, agent_id: int, text: str) -> NoteRecord:
    """Store a private note."""
    row = Note(conversation_id=conversation_id, agent_id=agent_id, text=text, created_at=utcnow())
    s.add(row)
    await s.flush()
    return NoteRecord(row.id, row.conversation_id, row.agent_id, row.text, row.created_at)


async def notes_for(s: AsyncSession, conversation_id: str) -> list[NoteRecord]:
    """Notes of a conversation, oldest first."""
    rows = await s.scalars(select(Note).where(Note.conversation_id == conversation_id).order_by(Note.id))
    return [NoteRecord(r.id, r.conversation_id, r.agent_id, r.text, r.created_at) for r in rows]


async def canned_replies(s: AsyncSession, team: str | None = None) -> list[CannedReplyRecord]:
    """Canned replies, optionally of one team."""
    stmt = select(CannedReply).order_by(CannedReply.team, CannedReply.id)
    if team:
        stmt = stmt.where(CannedReply.team == team)
    return [CannedReplyRecord(r.id, r.team, r.title, r.text) for r in await s.scalars(stmt)]


async def add_canned_reply(s: AsyncSession, team: str, title: str, text: str) -> CannedReplyRecord:
    """Store a canned reply for a team."""
    row = CannedReply(team=team, title=title, text=text, created_at=utcnow())
    s.add(row)
    await s.flush()
    return CannedReplyRecord(row.id, row.team, row.title, row.text)
