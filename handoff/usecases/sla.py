"""SLA timers (background task): warn before a breach, raise priority, record breaches, stale alerts (L2 and L3).

Also returns conversations of agents who stayed disconnected past the grace period to the queue.
Everything is derived from the store, so a restarted gateway picks up where it left off.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from handoff.domain import events as ev
from handoff.domain.priority import bump, sla_warning_due
from handoff.domain.records import iso
from handoff.domain.states import EventType
from handoff.storage import conversations as conversation_store
from handoff.storage import events as event_store
from handoff.storage import handoffs as handoff_store
from handoff.storage.models import utcnow
from handoff.usecases import agents, l3
from handoff.usecases.gateway import Gateway

log = logging.getLogger(__name__)


async def check_once(gw: Gateway) -> int:
    """One pass over open hand-offs; returns how many things changed."""
    now = utcnow()
    changed = 0
    async with gw.db.read() as s:
        candidates = await handoff_store.sla_candidates(s)
    for h in candidates:
        payload = {
            "conversation_id": h.conversation_id,
            "priority": h.priority,
            "sla_deadline": iso(h.sla_deadline),
        }
        if h.status == "open":
            if not h.sla_warned and sla_warning_due(h.created_at, h.sla_deadline, now, gw.settings.sla_warn_fraction):
                level = bump(h.priority)
                async with gw.db.write() as s:
                    await handoff_store.update_handoff_sla(s, h.id, warned=True, priority=level)
                    raised = {"raised_to": level}
                    await event_store.add_event(s, h.conversation_id, EventType.SLA_WARNING, "system", h.priority, raised)
                log.info("conversation %s: SLA warning, priority %s -> %s", h.conversation_id, h.priority, level)
                await gw.to_agents(ev.SLA_WARNING, {**payload, "priority": level})
                changed += 1
            if not h.sla_breached and now >= h.sla_deadline:
                async with gw.db.write() as s:
                    await handoff_store.update_handoff_sla(s, h.id, breached=True)
                    await event_store.add_event(s, h.conversation_id, EventType.SLA_BREACH, "system", h.priority)
                log.warning("conversation %s: SLA breached", h.conversation_id)
                await gw.to_agents(ev.SLA_BREACHED, payload)
                changed += 1
        elif h.status == "assigned" and h.assigned_at is not None:
            minutes = (now - h.assigned_at).total_seconds() / 60
            if minutes >= gw.settings.l2_stale_minutes:
                async with gw.db.write() as s:
                    if await handoff_store.stale_alerted(s, h.id):
                        continue
                    await handoff_store.update_handoff_sla(s, h.id, stale=True)
                    await event_store.add_event(
                        s,
                        h.conversation_id,
                        EventType.STALE_ALERT,
                        "system",
                        "l2_stale",
                        {"minutes": round(minutes, 1)},
                    )
                await gw.to_agents(
                    ev.STALE_ALERT,
                    {"conversation_id": h.conversation_id, "tier": "l2", "minutes": round(minutes, 1)},
                )
                changed += 1
    async with gw.db.read() as s:
        stale = await conversation_store.stale_bot_conversations(s, now - timedelta(minutes=gw.settings.l1_stale_minutes))
    for conv in stale:
        async with gw.db.write() as s:
            await conversation_store.mark_stale(s, conv.id, gw.settings.l1_stale_minutes)
        await gw.to_agents(
            ev.STALE_ALERT,
            {"conversation_id": conv.id, "tier": "l1", "minutes": gw.settings.l1_stale_minutes},
        )
        changed += 1
    changed += await l3.check_sla(gw, now)
    changed += await agents.requeue_dropped(gw)
    if changed:
        await gw.broadcast_queue()
    return changed


async def run(gw: Gateway, stop: asyncio.Event) -> None:
    """Check every interval until ``stop`` is set; errors are logged, never fatal."""
    while not stop.is_set():
        try:
            await check_once(gw)
        except Exception:
            log.exception("SLA check failed")
        try:
            await asyncio.wait_for(stop.wait(), gw.settings.sla_check_interval_seconds)
        except asyncio.TimeoutError:
            pass
