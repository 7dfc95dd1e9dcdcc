"""A gateway restart loses no conversation, queue entry or message; agents get a grace period."""

from __future__ import annotations

from handoff.storage import messages as message_store
from tests.handoff.helpers import Client


async def test_restart_mid_conversation_keeps_everything(gateway_factory, rasa) -> None:  # type: ignore[no-untyped-def]
    first = await gateway_factory(auto_assign=False)
    queued = await first.customer()
    await queued.say("hello")
    await queued.wait_for("bot_uttered")
    await queued.say("human")
    await queued.wait_for("conversation_state", lambda d: d["state"] == "queued")
    queued_id = queued.of("session_confirm")[-1]
    chatting = await first.customer()
    await chatting.say("hello")
    await chatting.wait_for("bot_uttered")
    chatting_id = chatting.of("session_confirm")[-1]
    seen = max(m["seq"] for m in chatting.of("bot_uttered"))
    await first.stop()

    second = await gateway_factory(auto_assign=False)
    c = Client("/")
    await c.connect(second.url)
    second.clients.append(c)
    assert await c.session(chatting_id, last_seq=0) == chatting_id
    history = await c.wait_for("history")
    assert [m["seq"] for m in history["messages"]] == list(range(1, seen + 1))
    await c.say("still there?")
    assert (await c.wait_for("bot_uttered"))["text"] == "echo: still there?"

    q = Client("/")
    await q.connect(second.url)
    second.clients.append(q)
    assert await q.session(queued_id) == queued_id
    assert await q.wait_for("conversation_state") == {"state": "queued"}
    assert (await q.wait_for("queue_update"))["position"] == 1
    agent = await second.add_agent("lena@example.com")
    a = await second.agent_client(agent)
    snapshot = a.of("queue_snapshot")[0]
    assert [i["conversation_id"] for i in snapshot["queue"]] == [queued_id]
    assert (await a.call("claim", {"conversation_id": queued_id}))["ok"] is True


async def test_pending_message_is_delivered_after_restart(gateway_factory, rasa) -> None:  # type: ignore[no-untyped-def]
    first = await gateway_factory()
    c = await first.customer()
    sid = c.of("session_confirm")[-1]
    async with first.gw.db.write() as s:  # as if the process died between ack and relay
        await message_store.append_customer_message(s, sid, "lost in flight?", None, first.gw.pending_status)
    await first.stop()
    second = await gateway_factory()
    await second.gw.idle()
    assert rasa.messages[-1]["message"] == "lost in flight?"
    async with second.gw.db.read() as s:
        statuses = {m.text: m.status for m in await message_store.messages_after(s, sid, 0)}
    assert statuses["lost in flight?"] == "done"
