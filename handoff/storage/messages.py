"""Message rows: numbered per conversation (``seq``), deduplicated by the client's id, with a relay status."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from handoff.domain.records import MessageRecord
from handoff.domain.states import WITH_AN_AGENT, MessageStatus
from handoff.storage.models import Conversation, Message, utcnow
from handoff.storage.rows import to_record


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
    return to_record(MessageRecord, existing, duplicate=True) if existing is not None else None


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
    return to_record(MessageRecord, row)


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
    return [to_record(MessageRecord, r) for r in rows]


async def last_messages(s: AsyncSession, conversation_id: str, count: int) -> list[MessageRecord]:
    """The last ``count`` messages, oldest first."""
    rows = list(
        await s.scalars(
            select(Message).where(Message.conversation_id == conversation_id).order_by(Message.seq.desc()).limit(count)
        )
    )
    return [to_record(MessageRecord, r) for r in reversed(rows)]


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
    return [to_record(MessageRecord, r) for r in rows]


async def has_customer_message_before(s: AsyncSession, conversation_id: str, seq: int) -> bool:
    """Whether the customer wrote in the conversation before message ``seq``."""
    earlier = (
        await s.execute(
            select(Message.id)
            .where(Message.conversation_id == conversation_id, Message.sender == "customer", Message.seq < seq)
            .limit(1)
        )
    ).first()
    return earlier is not None
