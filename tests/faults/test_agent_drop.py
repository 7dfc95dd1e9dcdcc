"""An agent's connection drops mid-chat (the socket is cut, not closed by the console).

Within the grace period the agent comes back to the same chat and finds what the customer wrote meanwhile;
past it, the customer is told and the next agent gets the chat with everything, and the late agent can no longer
write into it. The clean-close variants are ``tests/handoff/test_sla.py``.
"""

from __future__ import annotations

from pathlib import Path

from tests.handoff.helpers import Client, FakeRasa, Running, make_settings, start_gateway


async def _cut(agent: Client) -> None:
    """Abort the transport (no Socket.IO disconnect packet), like a laptop losing its network."""
    await agent.sio.eio.disconnect(abort=True)


async def _chat(gateway: Running, agent: Client) -> tuple[Client, str]:
    customer = await gateway.customer()
    await customer.say("human")
    await customer.wait_for("agent_joined")
    sid = str(customer.of("session_confirm")[-1])
    await agent.wait_for("assigned", lambda d: d["conversation_id"] == sid)
    return customer, sid


async def test_agent_back_within_grace_keeps_the_chat_and_sees_what_was_said(tmp_path: Path, rasa: FakeRasa) -> None:
    gateway = await start_gateway(make_settings(tmp_path / "handoff.db", rasa.url, agent_grace_seconds=30.0,
                                                sla_check_interval_seconds=0.1))
    try:
        lena = await gateway.add_agent("lena@example.com", name="Lena Park")
        agent = await gateway.agent_client(lena)
        customer, sid = await _chat(gateway, agent)
        await _cut(agent)
        acks = [await customer.say("hello?"), await customer.say("my invoice INV-1071 is wrong")]
        back = await gateway.agent_client(lena)
        assert [c["id"] for c in back.of("queue_snapshot")[0]["mine"]] == [sid]
        detail = await gateway.gw.conversation_detail(sid)  # what the console reloads after reconnecting
        assert [(m["seq"], m["text"]) for m in detail["messages"] if m["seq"] in {a["seq"] for a in acks}] == [
            (acks[0]["seq"], "hello?"), (acks[1]["seq"], "my invoice INV-1071 is wrong")
        ]
        ack = await back.call("agent_message", {"conversation_id": sid, "text": "Sorry, I'm back."})
        assert "seq" in ack
        await customer.wait_for("bot_uttered", lambda m: m.get("text") == "Sorry, I'm back.")
        await customer.say("ok")
        await back.wait_for("customer_message", lambda d: d["message"]["text"] == "ok")
        await gateway.gw.idle()
        assert not customer.of("agent_left")
        assert not [m for m in customer.of("bot_uttered") if "disconnected" in (m.get("text") or "")]
    finally:
        await gateway.stop()


async def test_agent_gone_past_grace_hands_the_chat_on_with_everything(tmp_path: Path, rasa: FakeRasa) -> None:
    gateway = await start_gateway(make_settings(tmp_path / "handoff.db", rasa.url, agent_grace_seconds=0.5,
                                                sla_check_interval_seconds=0.1, auto_assign=False))
    try:
        lena = await gateway.add_agent("lena@example.com", name="Lena Park")
        omar = await gateway.add_agent("omar@example.com", name="Omar Haddad")
        agent = await gateway.agent_client(lena)
        customer = await gateway.customer()
        await customer.say("human")
        await customer.wait_for("conversation_state", lambda d: d["state"] == "queued")
        sid = str(customer.of("session_confirm")[-1])
        assert (await agent.call("claim", {"conversation_id": sid}))["ok"] is True
        await customer.wait_for("agent_joined")
        await _cut(agent)
        during = await customer.say("is anyone there?")
        await customer.wait_for("agent_left", timeout=10)
        await customer.wait_for("conversation_state", lambda d: d["state"] == "queued", timeout=10)
        told = await customer.wait_for("bot_uttered", lambda m: "disconnected" in (m.get("text") or ""))
        assert told["seq"] > during["seq"]
        second = await gateway.agent_client(omar)
        assert (await second.call("claim", {"conversation_id": sid}))["ok"] is True
        handed = await second.wait_for("assigned", lambda d: d["conversation_id"] == sid)
        texts = [m.get("text") for m in handed["conversation"]["messages"]]
        assert "human" in texts and "is anyone there?" in texts
        # Lena comes back late: the chat is not hers any more, and she cannot write into it.
        late = await gateway.agent_client(lena)
        assert sid not in [c["id"] for c in late.of("queue_snapshot")[0]["mine"]]
        refused = await late.call("agent_message", {"conversation_id": sid, "text": "I'm back"})
        assert refused.get("code") == "forbidden"
        assert not [m for m in customer.of("bot_uttered") if m.get("text") == "I'm back"]
    finally:
        await gateway.stop()
