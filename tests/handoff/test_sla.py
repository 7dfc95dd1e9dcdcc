"""SLA timers and the agent grace period."""

from __future__ import annotations

import asyncio

from handoff.storage import conversations as conversation_store
from handoff.storage import events as event_store
from handoff.storage import handoffs as handoff_store
from tests.handoff.helpers import Running


async def test_sla_warning_raises_priority_then_breach_is_recorded(gateway_factory) -> None:  # type: ignore[no-untyped-def]
    gateway: Running = await gateway_factory(
        sla_minutes={"urgent": 0.01, "high": 0.01, "normal": 0.01, "low": 0.01},
        sla_check_interval_seconds=0.1,
    )
    lena = await gateway.add_agent("lena@example.com")
    agent = await gateway.agent_client(lena)
    await agent.call("presence", {"status": "away"})
    c = await gateway.customer()
    await c.say("human")
    await c.wait_for("conversation_state", lambda d: d["state"] == "queued")
    sid = c.of("session_confirm")[-1]
    warning = await agent.wait_for("sla_warning")
    breach = await agent.wait_for("sla_breached", timeout=5)
    assert warning["conversation_id"] == breach["conversation_id"] == sid
    async with gateway.gw.db.read() as s:
        types = [e.type for e in await event_store.events_for(s, sid)]
        handoff = await handoff_store.current_handoff(s, sid)
    assert types.count("sla_warning") == 1 and types.count("sla_breach") == 1
    assert handoff is not None and handoff.sla_breached
    assert handoff.priority_rank < 2  # raised from normal


async def test_agent_dropping_returns_conversation_to_queue_after_grace(gateway_factory) -> None:  # type: ignore[no-untyped-def]
    gateway: Running = await gateway_factory(agent_grace_seconds=0.3, sla_check_interval_seconds=0.1)
    lena = await gateway.add_agent("lena@example.com", name="Lena Park")
    agent = await gateway.agent_client(lena)
    c = await gateway.customer()
    await c.say("human")
    await c.wait_for("agent_joined")  # auto-assigned
    sid = c.of("session_confirm")[-1]
    await agent.close()
    left = await c.wait_for("agent_left", timeout=5)
    assert left["name"] == "Lena Park"
    await c.wait_for("conversation_state", lambda d: d["state"] == "queued", timeout=5)
    await c.wait_for("bot_uttered", lambda m: "disconnected" in (m.get("text") or ""))
    async with gateway.gw.db.read() as s:
        conv = await conversation_store.get_conversation(s, sid)
    assert conv is not None and conv.state == "queued" and conv.assigned_agent_id is None


async def test_agent_returning_within_grace_keeps_the_conversation(gateway_factory) -> None:  # type: ignore[no-untyped-def]
    gateway: Running = await gateway_factory(agent_grace_seconds=2.0, sla_check_interval_seconds=0.1)
    lena = await gateway.add_agent("lena@example.com")
    agent = await gateway.agent_client(lena)
    c = await gateway.customer()
    await c.say("human")
    await c.wait_for("agent_joined")
    sid = c.of("session_confirm")[-1]
    await agent.close()
    await asyncio.sleep(0.3)
    back = await gateway.agent_client(lena)
    assert any(m["id"] == sid for m in back.of("queue_snapshot")[0]["mine"])
    await asyncio.sleep(2.2)
    assert not c.of("agent_left")
    ack = await back.call("agent_message", {"conversation_id": sid, "text": "still here"})
    assert ack["seq"] > 0
