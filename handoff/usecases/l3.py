"""The L3 tier's operations: escalate with the definition of ready, the L3 queue's assignment and SLA, return to L2.

The rules are ``handoff.domain.l3``; the rows ``handoff.storage.l3_escalations``. An escalation leaves the L2 agent's
hands for the L3 queue (auto-assigned to the least-loaded online L3 engineer when there is one), is claimed, and
comes back to the L2 agent who escalated it with the resolution, the root cause, a workaround and an update the
customer reads at once.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from contract.redact import redact, redact_value
from handoff.domain import events as ev
from handoff.domain.l3 import (
    DOR_FIELDS,
    RETURN_FIELDS,
    L3Status,
    choose_engineer,
    l3_deadline,
    l3_priority,
    stale_minutes,
)
from handoff.domain.priority import bump, sla_warning_due
from handoff.domain.records import AgentRecord, L3EscalationRecord, iso
from handoff.domain.states import EventType, HandoffStatus, Move, State
from handoff.storage import agents as agent_store
from handoff.storage import conversations as conversation_store
from handoff.storage import events as event_store
from handoff.storage import handoffs as handoff_store
from handoff.storage import l3_escalations as l3_escalation_store
from handoff.storage import messages as message_store
from handoff.storage import notes as note_store
from handoff.storage.models import utcnow
from handoff.storage.rows import StoreError
from handoff.usecases.agent_access import Refused, owned, release
from handoff.usecases.gateway import Gateway, agent_room

log = logging.getLogger(__name__)

ESCALATED_TEXT = "I've escalated this to our engineering team (L3) with everything we found. We'll keep you updated here."


async def escalate(gw: Gateway, agent: AgentRecord, data: dict[str, Any]) -> dict[str, Any]:
    """L2 -> L3 with the definition of ready and the customer impact (both checked by the payload validation).

    ``to_agent_id`` names an L3 engineer to take it at once; otherwise it waits in the L3 queue (or goes to the
    least-loaded online engineer when auto-assignment is on).
    """
    conv = await owned(gw, agent, data["conversation_id"], ev.ESCALATE_L3)
    if not Move.ESCALATE_L3.allowed(conv.state):
        raise Refused("invalid_state", "only an assigned conversation can be escalated to L3")
    ready: dict[str, Any] = {f: redact_value(data[f]) for f in DOR_FIELDS}
    impact = {
        "impact_scope": data["impact_scope"],
        "impact_urgency": data["impact_urgency"],
        "impact_note": redact(data.get("impact_note") or "").strip() or None,
    }
    now = utcnow()
    async with gw.db.write() as s:
        target = await agent_store.get_agent(s, data["to_agent_id"]) if data.get("to_agent_id") is not None else None
        if data.get("to_agent_id") is not None and (target is None or target.role != "l3"):
            raise Refused("invalid_value", "to_agent_id must be an L3 engineer")
        handoff = await handoff_store.current_handoff(s, conv.id)
        fast_lane = bool(((handoff.summary if handoff else {}).get("customer") or {}).get("fast_lane"))
        priority = l3_priority(impact["impact_urgency"], impact["impact_scope"], fast_lane)
        await conversation_store.transition(
            s,
            conv.id,
            Move.ESCALATE_L3,
            actor=f"agent:{agent.id}",
            reason="l3",
            data={"l3": ready, **impact, "priority": priority},
        )
        await handoff_store.close_handoff(s, conv.id, HandoffStatus.ESCALATED_L3, l3={**ready, **impact})
        await conversation_store.clear_assignment(s, conv.id)
        escalation = await l3_escalation_store.create(
            s,
            conversation_id=conv.id,
            handoff_id=handoff.id if handoff else None,
            escalated_by=agent.id,
            ready=ready,
            priority=priority,
            sla_deadline=l3_deadline(now, priority, gw.settings.l3_sla_minutes),
            now=now,
            **impact,
        )
    await release(gw, conv, agent, State.ESCALATED_L3)
    await gw.set_state(conv.id, State.ESCALATED_L3)
    await gw.say(conv.id, ESCALATED_TEXT)
    if target is not None:
        await _assign(gw, conv.id, target.id, auto=False)
    else:
        await assign_waiting(gw)
    await gw.broadcast_queue()
    return {"ok": True, "state": State.ESCALATED_L3, "escalation_id": escalation.id, "priority": priority}


async def _assign(gw: Gateway, conversation_id: str, engineer_id: int, *, auto: bool) -> bool:
    try:
        await gw.assign(conversation_id, engineer_id, auto=auto)
    except StoreError as exc:
        log.info("L3 assignment of %s skipped: %s", conversation_id, exc.message)
        return False
    return True


async def assign_waiting(gw: Gateway) -> int:
    """Give waiting escalations to online L3 engineers with free capacity (auto-assignment on); how many."""
    if not gw.settings.auto_assign:
        return 0
    assigned = 0
    async with gw.db.read() as s:
        queue = await l3_escalation_store.waiting(s)
    for escalation in queue:
        async with gw.db.read() as s:
            engineer = choose_engineer(await agent_store.agents_with_load(s))
        if engineer is None:
            break
        assigned += await _assign(gw, escalation.conversation_id, engineer.id, auto=True)
    return assigned


async def return_to_l2(gw: Gateway, agent: AgentRecord, data: dict[str, Any]) -> dict[str, Any]:
    """L3 -> the L2 agent who escalated: resolution, root cause, workaround; the customer gets the update at once.

    The conversation is assigned to that agent again (the queue when they no longer exist or cannot take it).
    """
    conv = await owned(gw, agent, data["conversation_id"], ev.RETURN_L2)
    if not Move.RETURN_TO_L2.allowed(conv.state):
        raise Refused("invalid_state", "only a conversation with L3 can be returned to L2")
    outcome: dict[str, str | None] = {f: redact(str(data.get(f) or "")).strip() or None for f in RETURN_FIELDS}
    async with gw.db.write() as s:
        escalations = await l3_escalation_store.escalations_for(s, conv.id)
        current = next((e for e in reversed(escalations) if e.status in (L3Status.WAITING, L3Status.CLAIMED)), None)
        owner = await agent_store.get_agent(s, current.escalated_by) if current and current.escalated_by else None
        if owner is not None and owner.role not in ("l2", "lead"):
            owner = None
        await conversation_store.transition(
            s,
            conv.id,
            Move.RETURN_TO_L2,
            actor=f"agent:{agent.id}",
            reason="l3_return",
            data={**outcome, "to_agent_id": owner.id if owner else None},
        )
        await l3_escalation_store.close(s, conv.id, L3Status.RETURNED, agent.id, outcome)
        await note_store.add_note(s, conv.id, agent.id, _return_note(outcome))
        if owner is not None:
            await handoff_store.reassign(s, conv.id, owner.id)
        else:
            await handoff_store.requeue(
                s, conv.id, actor=f"agent:{agent.id}", reason="l3_return_unowned", skills=["technical"]
            )
    await release(gw, conv, agent, State.ASSIGNED if owner else State.QUEUED)
    async with gw.sequencer.lock(conv.id):
        async with gw.db.write() as s:
            update = await message_store.append_message(
                s,
                conv.id,
                "agent",
                outcome["customer_update"],
                payload={"metadata": {"sender": "agent", "agent_name": agent.name}},
                agent_id=agent.id,
            )
        await gw.publish(update)
    await gw.to_customer(conv.id, ev.AGENT_LEFT, {"name": agent.name})
    if owner is not None:
        await gw.join_agent(owner.id, conv.id)
        await gw.to_customer(conv.id, ev.AGENT_JOINED, {"name": owner.name})
        await gw.set_state(conv.id, State.ASSIGNED)
        await gw.say(conv.id, f"{owner.name} is back with you to finish this.")
        detail = await gw.conversation_detail(conv.id)
        await gw.to_agents(
            ev.ASSIGNED,
            {"conversation_id": conv.id, "conversation": detail, "by": "l3_return", "note": outcome["root_cause"]},
            agent_room(owner.id),
        )
    else:
        await gw.set_state(conv.id, State.QUEUED)
        await gw.say(conv.id, "Someone from our support team will be with you shortly to finish this.")
        await gw.try_auto_assign(conv.id)
    await gw.broadcast_queue()
    return {"ok": True, "state": State.ASSIGNED if owner else State.QUEUED, "to_agent_id": owner.id if owner else None}


def _return_note(outcome: dict[str, Any]) -> str:
    lines = [
        f"L3 resolution: {outcome['resolution']}",
        f"Root cause: {outcome['root_cause']}",
        f"Workaround: {outcome['workaround'] or 'none'}",
        f"Told the customer: {outcome['customer_update']}",
    ]
    return "\n".join(lines)


async def check_sla(gw: Gateway, now: datetime) -> int:
    """One pass over open escalations: warn (priority up) and breach while waiting; stale once claimed."""
    changed = 0
    async with gw.db.read() as s:
        escalations = await l3_escalation_store.open_escalations(s)
    for e in escalations:
        if e.status == L3Status.WAITING:
            changed += await _check_waiting(gw, e, now)
        elif e.status == L3Status.CLAIMED:
            changed += await _check_claimed(gw, e, now)
    return changed


async def _check_waiting(gw: Gateway, e: L3EscalationRecord, now: datetime) -> int:
    changed = 0
    payload = {"conversation_id": e.conversation_id, "tier": "l3", "sla_deadline": iso(e.sla_deadline)}
    priority = e.priority
    if not e.sla_warned and sla_warning_due(e.escalated_at, e.sla_deadline, now, gw.settings.sla_warn_fraction):
        level = priority = bump(e.priority)
        async with gw.db.write() as s:
            await l3_escalation_store.record_sla(s, e.id, warned=True, priority=level)
            await event_store.add_event(
                s, e.conversation_id, EventType.L3_SLA_WARNING, "system", e.priority, {"raised_to": level}
            )
        await gw.to_agents(ev.SLA_WARNING, {**payload, "priority": level})
        changed += 1
    if not e.sla_breached and now >= e.sla_deadline:
        async with gw.db.write() as s:
            await l3_escalation_store.record_sla(s, e.id, breached=True)
            await event_store.add_event(s, e.conversation_id, EventType.L3_SLA_BREACH, "system", priority)
        log.warning("conversation %s: L3 SLA breached", e.conversation_id)
        await gw.to_agents(ev.SLA_BREACHED, {**payload, "priority": priority})
        changed += 1
    return changed


async def _check_claimed(gw: Gateway, e: L3EscalationRecord, now: datetime) -> int:
    minutes = round(stale_minutes(e.last_activity_at, now), 1)
    if e.stale_alerted or minutes < gw.settings.l3_stale_minutes:
        return 0
    async with gw.db.write() as s:
        await l3_escalation_store.record_sla(s, e.id, stale=True)
        await event_store.add_event(
            s, e.conversation_id, EventType.STALE_ALERT, "system", "l3_stale", {"minutes": minutes, "agent_id": e.claimed_by}
        )
    await gw.to_agents(ev.STALE_ALERT, {"conversation_id": e.conversation_id, "tier": "l3", "minutes": minutes})
    log.info("conversation %s: L3 escalation untouched for %.1f min", e.conversation_id, minutes)
    return 1
