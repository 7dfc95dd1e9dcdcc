"""Hand-off rows and the queue: creating, claiming, transferring and closing hand-offs, and their SLA flags."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from handoff.domain.records import ConversationRecord, HandoffRecord, QueueItem
from handoff.domain.states import OPEN_HANDOFF, EventType, HandoffStatus, Move, State
from handoff.storage import l3_escalations as l3_escalation_store
from handoff.storage.conversations import apply_move, transition
from handoff.storage.events import add_event
from handoff.storage.models import Agent, Conversation, Handoff, utcnow
from handoff.storage.rows import StoreError, conversation_row, record_sla_progress, to_record


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
    return to_record(HandoffRecord, row)


async def current_handoff(s: AsyncSession, conversation_id: str) -> HandoffRecord | None:
    """The open hand-off of the conversation, if any."""
    row = await _current_handoff_row(s, conversation_id)
    return to_record(HandoffRecord, row) if row else None


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
    return [to_record(HandoffRecord, r) for r in rows]


async def list_handoffs(s: AsyncSession, status: str | None = None, limit: int = 200) -> list[HandoffRecord]:
    """Hand-offs, newest first."""
    stmt = select(Handoff).order_by(Handoff.id.desc()).limit(limit)
    if status:
        stmt = stmt.where(Handoff.status == status)
    return [to_record(HandoffRecord, r) for r in await s.scalars(stmt)]


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
    old = apply_move(row, move)
    row.assigned_agent_id = agent_id
    if l3_claim:  # the L2 team keeps following the escalation it sent
        await l3_escalation_store.mark_claimed(s, conversation_id, agent_id)
    else:
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
    return to_record(ConversationRecord, row), to_record(HandoffRecord, handoff)


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
    row = await conversation_row(s, conversation_id)
    row.assigned_agent_id = None
    row.team = team
    handoff = await _current_handoff_row(s, conversation_id)
    if handoff is not None:
        handoff.status = HandoffStatus.OPEN.value
        handoff.agent_id = None
        if skills:
            handoff.skills = list(skills)
    await s.flush()
    return to_record(ConversationRecord, row)


async def transfer_to_agent(
    s: AsyncSession, conversation_id: str, from_agent: int, to_agent: int, note: str | None
) -> ConversationRecord:
    """Hand the conversation to another agent (it stays ``assigned``)."""
    row = await conversation_row(s, conversation_id, lock=True)
    target = await s.get(Agent, to_agent)
    if target is None:
        raise StoreError("not_found", f"agent {to_agent} not found")
    row.assigned_agent_id = to_agent
    if row.state == State.ESCALATED_L3:  # from one L3 engineer to another; the L2 team keeps following it
        await l3_escalation_store.mark_claimed(s, conversation_id, to_agent)
    else:
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
    return to_record(ConversationRecord, row)


async def reassign(s: AsyncSession, conversation_id: str, agent_id: int) -> ConversationRecord:
    """Give an assigned conversation to ``agent_id`` with its open hand-off (L3's return to the L2 owner).

    The move that brought it back wrote the event; this only records who has it now.
    """
    row = await conversation_row(s, conversation_id, lock=True)
    agent = await s.get(Agent, agent_id)
    if agent is None:
        raise StoreError("not_found", f"agent {agent_id} not found")
    row.assigned_agent_id = agent_id
    row.team = agent.team
    handoff = await _current_handoff_row(s, conversation_id)
    if handoff is not None:
        handoff.agent_id = agent_id
        handoff.status = HandoffStatus.ASSIGNED.value
    await s.flush()
    return to_record(ConversationRecord, row)


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
    return to_record(HandoffRecord, row)


async def update_handoff_sla(s: AsyncSession, handoff_id: int, **progress: Any) -> None:
    """Record SLA progress on a hand-off (``warned``, ``breached``, ``stale``, a raised ``priority``)."""
    await record_sla_progress(s, Handoff, handoff_id, **progress)


async def sla_candidates(s: AsyncSession) -> list[HandoffRecord]:
    """Open or assigned hand-offs (the SLA task decides what to do with them)."""
    waiting_or_assigned = (HandoffStatus.OPEN.value, HandoffStatus.ASSIGNED.value)
    rows = await s.scalars(select(Handoff).where(Handoff.status.in_(waiting_or_assigned)))
    return [to_record(HandoffRecord, r) for r in rows]


async def stale_alerted(s: AsyncSession, handoff_id: int) -> bool:
    """Whether the L2 stale-case alert was already raised."""
    row = await s.get(Handoff, handoff_id)
    return bool(row and row.stale_alerted)
