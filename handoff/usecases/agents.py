"""Agent operations: presence, claim, messages, notes, transfer, L3 escalation, resolve, hand-back.

Each takes the acting agent (from a verified token) and a validated payload; the Socket.IO namespace
and the REST views both call these.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from contract.redact import redact
from handoff.domain import access
from handoff.domain import events as ev
from handoff.domain.l3 import L3_TEAM, L3_TRANSFER_TO_L2, L3Status, transfer_refusal
from handoff.domain.records import AgentRecord
from handoff.domain.routing import TEAMS
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
from handoff.usecases import l3, signals
from handoff.usecases.agent_access import Refused, conversation, owned, readable, release, require
from handoff.usecases.conversations import reply_payload, start_handoff
from handoff.usecases.gateway import Gateway, agent_room, conv_room
from handoff.usecases.rasa_client import RasaUnavailable

log = logging.getLogger(__name__)

CSAT_QUICK_REPLIES = [{"content_type": "text", "title": str(n), "payload": f'/csat{{"score": {n}}}'} for n in range(1, 6)]


async def connected(gw: Gateway, agent: AgentRecord, sid: str) -> dict[str, Any] | None:
    """A socket of the agent connected: keep the agent's status (a new session is away), rejoin own rooms, snapshot.

    Signing in is not going to work: a new session starts ``away`` and only going online (``presence``) pulls
    conversations. A socket joining a live session (another tab) keeps ``online``/``away``; one coming back after the
    last socket dropped turns ``offline`` into ``away``, which also ends the grace period (the agent keeps their
    conversations, see :func:`requeue_dropped`). ``None`` when the socket closed while this ran (its disconnect may
    have been handled first): the socket is forgotten again, so an agent is never left present by a socket that no
    longer exists.
    """
    await gw.sockets.add(agent.id, sid)
    async with gw.db.write() as s:
        current = await agent_store.get_agent(s, agent.id)
        status = current.status if current is not None and current.status in ("online", "away") else "away"
        await agent_store.set_agent_status(s, agent.id, status)
        mine = await conversation_store.conversations_of_agent(s, agent.id)
    rooms = [agent_room(agent.id), "agents", access.role_room(agent.role), *(conv_room(c.id) for c in mine)]
    try:
        if not gw.sio.manager.is_connected(sid, ev.AGENT_NS):
            raise KeyError(sid)
        for room in rooms:
            await gw.sio.enter_room(sid, room, namespace=ev.AGENT_NS)
    except KeyError:
        await disconnected(gw, agent.id, sid)
        return None
    return access.snapshot_for(agent.role, await gw.snapshot(agent.id))


async def disconnected(gw: Gateway, agent_id: int, sid: str) -> None:
    """A socket closed; the last one sets the agent offline (the grace period starts)."""
    if await gw.sockets.remove(agent_id, sid):
        return
    async with gw.db.write() as s:
        await agent_store.set_agent_status(s, agent_id, "offline")
    await gw.broadcast_queue()


async def presence(gw: Gateway, agent: AgentRecord, data: dict[str, Any]) -> dict[str, Any]:
    """Online / away; going online pulls work from the queue."""
    async with gw.db.write() as s:
        await agent_store.set_agent_status(s, agent.id, data["status"])
    if data["status"] == "online":
        await gw.drain_queue()
        await l3.assign_waiting(gw)
    await gw.broadcast_queue()
    return {"ok": True, "status": data["status"]}


async def claim(gw: Gateway, agent: AgentRecord, data: dict[str, Any]) -> dict[str, Any]:
    """Take a queued conversation (exactly one winner)."""
    require(agent, ev.CLAIM, await conversation(gw, data["conversation_id"]))
    try:
        conv, _ = await gw.assign(data["conversation_id"], agent.id)
    except StoreError as exc:
        raise Refused(exc.code, exc.message) from exc
    return {"ok": True, "conversation_id": conv.id, "state": conv.state}


async def send_message(gw: Gateway, agent: AgentRecord, data: dict[str, Any]) -> dict[str, Any]:
    """Agent -> customer (``bot_uttered`` with the agent's name)."""
    conv = await owned(gw, agent, data["conversation_id"], ev.AGENT_MESSAGE)
    payload = {"metadata": {"sender": "agent", "agent_name": agent.name}}
    async with gw.sequencer.lock(conv.id):
        async with gw.db.write() as s:
            m = await message_store.append_message(
                s,
                conv.id,
                "agent",
                redact(data["text"]),  # a card read back or a key pasted by an agent is no more stored than a customer's
                payload=payload,
                agent_id=agent.id,
                client_id=data.get("client_id"),
            )
            if not m.duplicate:
                await signals.mark_first_reply(s, conv.id, agent.id)
                if conv.state == State.ESCALATED_L3:
                    await l3_escalation_store.touch(s, conv.id)
        if not m.duplicate:
            await gw.publish(m)
    return {"id": m.id, "seq": m.seq}


async def typing(gw: Gateway, agent: AgentRecord, data: dict[str, Any]) -> None:
    """Typing indicator to the customer."""
    conv = await owned(gw, agent, data["conversation_id"], ev.TYPING)
    await gw.to_customer(conv.id, ev.TYPING, {"from": "agent", "on": data["on"]})


async def note(gw: Gateway, agent: AgentRecord, data: dict[str, Any]) -> dict[str, Any]:
    """Private note, visible to agents only."""
    conv = await readable(gw, agent, data["conversation_id"], ev.NOTE)
    async with gw.db.write() as s:
        n = await note_store.add_note(s, conv.id, agent.id, redact(data["text"]))
        if conv.state == State.ESCALATED_L3 and conv.assigned_agent_id == agent.id:
            await l3_escalation_store.touch(s, conv.id)
    await gw.to_agents(
        ev.NOTE_ADDED,
        {"conversation_id": n.conversation_id, "note": n.as_dict(), "agent_name": agent.name},
        conv_room(n.conversation_id),
    )
    return {"ok": True, "id": n.id}


async def watch(gw: Gateway, agent: AgentRecord, sid: str, data: dict[str, Any]) -> dict[str, Any]:
    """Follow a conversation live (e.g. a bot conversation, to barge in)."""
    await readable(gw, agent, data["conversation_id"], ev.WATCH)
    try:
        detail = await gw.conversation_detail(data["conversation_id"])
    except StoreError as exc:
        raise Refused(exc.code, exc.message) from exc
    await gw.sio.enter_room(sid, conv_room(data["conversation_id"]), namespace=ev.AGENT_NS)
    async with gw.db.write() as s:
        await event_store.add_event(s, data["conversation_id"], EventType.WATCHED, f"agent:{agent.id}")
    return {"ok": True, "conversation": detail}


async def barge_in(gw: Gateway, agent: AgentRecord, data: dict[str, Any]) -> dict[str, Any]:
    """Take over a live bot conversation: a hand-off (reason ``barge_in``) claimed by this agent at once."""
    conv = await readable(gw, agent, data["conversation_id"], ev.BARGE_IN)
    if conv.state != State.BOT:
        raise Refused("invalid_state", f"conversation is {conv.state}; only a bot conversation can be taken over")
    await start_handoff(gw, conv.id, "barge_in", None, actor=f"agent:{agent.id}", auto_assign=False)
    return await claim(gw, agent, {"conversation_id": conv.id})


async def flag_context_loss(gw: Gateway, agent: AgentRecord, data: dict[str, Any]) -> dict[str, Any]:
    """"Had to ask the customer again": one ``context_loss`` event per hand-off, for the context-loss metric."""
    await readable(gw, agent, data["conversation_id"], ev.FLAG_CONTEXT_LOSS)
    note = redact(data.get("note") or "")
    async with gw.db.write() as s:
        handoffs = await handoff_store.handoffs_for(s, data["conversation_id"])
        if not handoffs:
            raise Refused("invalid_state", "this conversation was never handed to a person")
        handoff_id = handoffs[-1].id
        events_ = await event_store.events_for(s, data["conversation_id"])
        if any(e.type == EventType.CONTEXT_LOSS and e.data.get("handoff_id") == handoff_id for e in events_):
            return {"ok": True, "handoff_id": handoff_id, "already_flagged": True}
        await event_store.add_event(
            s,
            data["conversation_id"],
            EventType.CONTEXT_LOSS,
            f"agent:{agent.id}",
            "had_to_ask_again",
            {"handoff_id": handoff_id, "agent_id": agent.id, "note": note},
        )
    return {"ok": True, "handoff_id": handoff_id, "already_flagged": False}


def _check_transfer(state: str, target_role: str) -> None:
    """Refuse a transfer that would skip the definition of ready, or leave L3 without the root cause."""
    reason = transfer_refusal(state, target_role)
    if reason is not None:
        raise Refused("definition_of_ready", reason)


async def transfer(gw: Gateway, agent: AgentRecord, data: dict[str, Any]) -> dict[str, Any]:
    """To another agent (stays assigned) or back to the queue of a team."""
    conv = await owned(gw, agent, data["conversation_id"], ev.TRANSFER)
    to_agent, to_team = data.get("to_agent_id"), data.get("to_team")
    if (to_agent is None) == (to_team is None):
        raise Refused("invalid_payload", "transfer: give exactly one of to_agent_id or to_team")
    note_text = redact(data["note"]) if data.get("note") else None
    if to_agent is not None:
        async with gw.db.write() as s:
            target = await agent_store.get_agent(s, to_agent)
            if target is None:
                raise Refused("not_found", f"agent {to_agent} not found")
            _check_transfer(conv.state, target.role)
            await handoff_store.transfer_to_agent(s, conv.id, agent.id, to_agent, note_text)
            if note_text:
                await note_store.add_note(s, conv.id, agent.id, f"Transfer note: {note_text}")
        await release(gw, conv, agent, "assigned")
        await gw.join_agent(target.id, conv.id)
        await gw.to_customer(conv.id, ev.AGENT_LEFT, {"name": agent.name})
        await gw.to_customer(conv.id, ev.AGENT_JOINED, {"name": target.name})
        await gw.say(conv.id, f"{target.name} is taking over your conversation.")
        detail = await gw.conversation_detail(conv.id)
        await gw.to_agents(
            ev.ASSIGNED,
            {"conversation_id": conv.id, "conversation": detail, "by": "transfer", "note": note_text},
            agent_room(target.id),
        )
        await gw.broadcast_queue()
        return {"ok": True, "to_agent_id": target.id}
    team = str(to_team)
    if team not in TEAMS:
        raise Refused("invalid_value", f"transfer: to_team must be one of {list(TEAMS)}")
    _check_transfer(conv.state, "l3" if team == L3_TEAM else "l2")
    if conv.state == State.ESCALATED_L3:
        raise Refused("invalid_state", L3_TRANSFER_TO_L2)
    async with gw.db.write() as s:
        await handoff_store.requeue(
            s,
            conv.id,
            actor=f"agent:{agent.id}",
            reason="transfer_to_team",
            skills=[team] if team in ("billing", "technical") else ["general"],
            team=team,
            data={"to_team": team, "note": note_text},
        )
        if note_text:
            await note_store.add_note(s, conv.id, agent.id, f"Transfer note: {note_text}")
    await release(gw, conv, agent, "queued")
    await gw.to_customer(conv.id, ev.AGENT_LEFT, {"name": agent.name})
    await gw.set_state(conv.id, State.QUEUED)
    await gw.say(conv.id, f"I'm transferring you to our {team} team; someone will be with you shortly.")
    if not await gw.try_auto_assign(conv.id, exclude_agent_id=agent.id):
        await gw.broadcast_queue()
    return {"ok": True, "to_team": team}


async def resolve(gw: Gateway, agent: AgentRecord, data: dict[str, Any]) -> dict[str, Any]:
    """Close the conversation with a resolution code and ask for CSAT; ``avoidable``: the bot could have handled it."""
    conv = await owned(gw, agent, data["conversation_id"], ev.RESOLVE)
    async with gw.db.write() as s:
        await conversation_store.transition(
            s,
            conv.id,
            Move.RESOLVE,
            actor=f"agent:{agent.id}",
            reason=data["resolution_code"],
            data={"avoidable": True} if data.get("avoidable") is True else None,
        )
        await handoff_store.close_handoff(s, conv.id, HandoffStatus.RESOLVED, resolution_code=data["resolution_code"])
        if conv.state == State.ESCALATED_L3:
            await l3_escalation_store.close(s, conv.id, L3Status.RESOLVED, agent.id)
        await conversation_store.clear_assignment(s, conv.id)
    await release(gw, conv, agent, "resolved")
    await gw.to_customer(conv.id, ev.AGENT_LEFT, {"name": agent.name})
    await gw.set_state(conv.id, State.RESOLVED)
    await gw.say(
        conv.id,
        "This conversation is resolved. How did we do? (1 = poor, 5 = great)",
        quick_replies=CSAT_QUICK_REPLIES,
    )
    await gw.drain_queue()
    await gw.broadcast_queue()
    return {"ok": True, "state": State.RESOLVED}


async def handback(gw: Gateway, agent: AgentRecord, data: dict[str, Any]) -> dict[str, Any]:
    """Return the conversation to the bot with a coaching note; Rasa resumes and greets the customer.

    What the agent leaves open for the customer (``open_question``) and the agent's name go to the bot as the
    hand-back intent's entities, so it resumes with the open question instead of repeating the answer that failed.
    """
    conv = await owned(gw, agent, data["conversation_id"], ev.HANDBACK)
    if not Move.HAND_BACK.allowed(conv.state):
        raise Refused("invalid_state", "only an assigned conversation can be handed back")
    coaching_note = redact(data.get("coaching_note") or "")
    open_question = redact((data.get("open_question") or "").strip())
    entities = {**({"open_question": open_question} if open_question else {}), "agent_name": agent.name}
    try:
        replies = await gw.rasa.handback(conv.id, entities)
    except RasaUnavailable as exc:
        log.warning("hand-back of %s failed: %s", conv.id, exc)
        raise Refused("bot_unavailable", "the bot is unavailable; the conversation stays with you") from exc
    async with gw.db.write() as s:
        await conversation_store.transition(
            s,
            conv.id,
            Move.HAND_BACK,
            actor=f"agent:{agent.id}",
            reason="handback",
            data={
                "coaching_note": coaching_note,
                "open_question": open_question,
                # "solved" is the return path working; "wrong_escalation" (or not said) is a bounceback.
                "handback_reason": data.get("handback_reason") or "unspecified",
            },
        )
        await handoff_store.close_handoff(s, conv.id, HandoffStatus.HANDED_BACK)
        await conversation_store.clear_assignment(s, conv.id)
    await release(gw, conv, agent, "bot")
    await gw.to_customer(conv.id, ev.AGENT_LEFT, {"name": agent.name})
    await gw.set_state(conv.id, State.BOT)
    async with gw.sequencer.lock(conv.id):
        stored = []
        async with gw.db.write() as s:
            for reply in replies:
                converted = reply_payload(reply)
                if converted is not None:
                    stored.append(await message_store.append_message(s, conv.id, "bot", converted[0], payload=converted[1]))
        for m in stored:
            await gw.publish(m)
    await gw.drain_queue()
    await gw.broadcast_queue()
    return {"ok": True, "state": State.BOT}


async def requeue_dropped(gw: Gateway) -> int:
    """Conversations whose agent stayed away past the grace period go back to the queue."""
    cutoff = utcnow() - timedelta(seconds=gw.settings.agent_grace_seconds)
    async with gw.db.read() as s:
        dropped = await conversation_store.dropped_assignments(s, cutoff)
    for conv in dropped:
        async with gw.db.write() as s:
            agent = await agent_store.get_agent(s, conv.assigned_agent_id) if conv.assigned_agent_id else None
            try:
                await handoff_store.requeue(
                    s,
                    conv.id,
                    actor="system",
                    reason="agent_dropped",
                    data={"agent_id": conv.assigned_agent_id},
                )
            except StoreError:
                continue
        log.info("conversation %s back to queue: agent %s dropped", conv.id, conv.assigned_agent_id)
        await gw.to_customer(conv.id, ev.AGENT_LEFT, {"name": agent.name if agent else "agent"})
        await gw.set_state(conv.id, State.QUEUED)
        await gw.say(
            conv.id,
            "Your agent got disconnected. You're back in the queue; the next agent will see everything so far.",
        )
        await gw.try_auto_assign(conv.id)
    if dropped:
        await gw.broadcast_queue()
    return len(dropped)
