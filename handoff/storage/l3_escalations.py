"""L3 escalation rows: the L3 queue, who has which escalation, its SLA flags and what L3 sent back (handoff.domain.l3)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handoff.domain.l3 import OPEN_L3, L3Status
from handoff.domain.priority import rank_of
from handoff.domain.records import L3EscalationRecord
from handoff.storage.models import Agent, L3Escalation, utcnow
from handoff.storage.rows import record_sla_progress, to_record

_OPEN = [str(s) for s in OPEN_L3]


async def _records(s: AsyncSession, rows: Iterable[L3Escalation]) -> list[L3EscalationRecord]:
    """Records with the names of the agents who escalated, claimed and returned each (one query for the names)."""
    rows = list(rows)
    ids = {i for r in rows for i in (r.escalated_by, r.claimed_by, r.returned_by) if i is not None}
    names: dict[int, str] = {}
    if ids:
        names = {i: n for i, n in (await s.execute(select(Agent.id, Agent.name).where(Agent.id.in_(ids)))).all()}
    return [
        to_record(
            L3EscalationRecord,
            r,
            escalated_by_name=names.get(r.escalated_by) if r.escalated_by else None,
            claimed_by_name=names.get(r.claimed_by) if r.claimed_by else None,
            returned_by_name=names.get(r.returned_by) if r.returned_by else None,
        )
        for r in rows
    ]


async def create(
    s: AsyncSession,
    *,
    conversation_id: str,
    handoff_id: int | None,
    escalated_by: int,
    ready: dict[str, Any],
    impact_scope: str,
    impact_urgency: str,
    impact_note: str | None,
    priority: str,
    sla_deadline: datetime,
    now: datetime,
) -> L3EscalationRecord:
    """A new escalation, waiting in the L3 queue."""
    row = L3Escalation(
        conversation_id=conversation_id,
        handoff_id=handoff_id,
        status=L3Status.WAITING.value,
        priority=priority,
        priority_rank=rank_of(priority),
        impact_scope=impact_scope,
        impact_urgency=impact_urgency,
        impact_note=impact_note,
        ready=ready,
        escalated_by=escalated_by,
        escalated_at=now,
        sla_deadline=sla_deadline,
        sla_warned=False,
        sla_breached=False,
        last_activity_at=now,
        stale_alerted=False,
    )
    s.add(row)
    await s.flush()
    return (await _records(s, [row]))[0]


async def waiting(s: AsyncSession) -> list[L3EscalationRecord]:
    """The L3 queue: escalations nobody has claimed, most urgent first, then the nearest deadline."""
    rows = await s.scalars(
        select(L3Escalation)
        .where(L3Escalation.status == L3Status.WAITING.value)
        .order_by(L3Escalation.priority_rank, L3Escalation.sla_deadline, L3Escalation.id)
    )
    return await _records(s, rows)


async def open_escalations(s: AsyncSession) -> list[L3EscalationRecord]:
    """Waiting and claimed escalations (the SLA and staleness checks)."""
    rows = await s.scalars(select(L3Escalation).where(L3Escalation.status.in_(_OPEN)).order_by(L3Escalation.id))
    return await _records(s, rows)


async def escalations_for(s: AsyncSession, conversation_id: str) -> list[L3EscalationRecord]:
    """Every escalation of a conversation, oldest first."""
    rows = await s.scalars(
        select(L3Escalation).where(L3Escalation.conversation_id == conversation_id).order_by(L3Escalation.id)
    )
    return await _records(s, rows)


async def _open_row(s: AsyncSession, conversation_id: str) -> L3Escalation | None:
    return (
        await s.scalars(
            select(L3Escalation)
            .where(L3Escalation.conversation_id == conversation_id, L3Escalation.status.in_(_OPEN))
            .order_by(L3Escalation.id.desc())
            .limit(1)
        )
    ).first()


async def mark_claimed(s: AsyncSession, conversation_id: str, agent_id: int) -> None:
    """An L3 engineer took the conversation's open escalation (a claim, an auto-assignment or a transfer in L3)."""
    row = await _open_row(s, conversation_id)
    if row is None:
        return
    now = utcnow()
    row.status = L3Status.CLAIMED.value
    row.claimed_by = agent_id
    row.claimed_at = row.claimed_at or now
    row.last_activity_at = now
    row.stale_alerted = False
    await s.flush()


async def touch(s: AsyncSession, conversation_id: str) -> None:
    """The L3 engineer did something the customer or L2 can see (a message, a note): not stale."""
    row = await _open_row(s, conversation_id)
    if row is not None and row.status == L3Status.CLAIMED.value:
        row.last_activity_at = utcnow()
        row.stale_alerted = False
        await s.flush()


async def close(
    s: AsyncSession, conversation_id: str, status: L3Status, agent_id: int, outcome: dict[str, Any] | None = None
) -> L3EscalationRecord | None:
    """Returned to L2 (with the outcome) or resolved in L3; None when the conversation has no open escalation."""
    row = await _open_row(s, conversation_id)
    if row is None:
        return None
    row.status = status.value
    row.returned_by = agent_id
    row.returned_at = utcnow()
    if outcome is not None:
        row.outcome = outcome
    await s.flush()
    return (await _records(s, [row]))[0]


async def record_sla(s: AsyncSession, escalation_id: int, **progress: Any) -> None:
    """Record SLA progress on an escalation (``warned``, ``breached``, ``stale``, a raised ``priority``)."""
    await record_sla_progress(s, L3Escalation, escalation_id, **progress)
