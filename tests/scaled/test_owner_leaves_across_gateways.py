"""A lead on gateway B resolves a conversation owned by an agent with sockets on A and B: none of the owner's sockets
receives the customer's messages afterwards (Redis manager, PostgreSQL)."""

from __future__ import annotations

from tests.scaled.conftest import GatewayFactory
from tests.scaled.infra import needs_pg, needs_redis

pytestmark = [needs_pg, needs_redis]


async def test_a_lead_on_another_gateway_takes_the_conversation_off_every_owner_socket(cluster: GatewayFactory) -> None:
    a = await cluster(auto_assign=False)
    b = await cluster(auto_assign=False)
    lena = await a.add_agent("lena@example.com", name="Lena", role="l2", skills=["general"])
    omar = await a.add_agent("omar@example.com", name="Omar", role="lead", skills=["general"])
    wes = await a.add_agent("wes@example.com", name="Wes", role="lead", skills=["general"])
    owner_a, owner_b = await a.agent_client(lena), await b.agent_client(lena)
    lead_b = await b.agent_client(omar)
    watch_a, watch_b = await a.agent_client(wes), await b.agent_client(wes)
    for c in (owner_a, owner_b, lead_b, watch_a, watch_b):
        await c.call("presence", {"status": "away"})
    customer = await a.customer()
    await customer.say("human")
    await customer.wait_for("conversation_state", lambda d: d["state"] == "queued")
    sid = customer.of("session_confirm")[-1]
    assert (await owner_a.call("claim", {"conversation_id": sid}))["ok"] is True
    for watcher in (watch_a, watch_b):  # controls: what they get, the owner's sockets on their gateway got too
        assert (await watcher.call("watch", {"conversation_id": sid}))["ok"] is True
    await customer.say("before")
    for c in (owner_a, owner_b, watch_a, watch_b):
        await c.wait_for("customer_message", lambda d: d["message"]["text"] == "before")

    assert (await lead_b.call("resolve", {"conversation_id": sid, "resolution_code": "fixed"}))["ok"] is True
    await customer.say("after")
    for watcher in (watch_a, watch_b):
        await watcher.wait_for("customer_message", lambda d: d["message"]["text"] == "after")
    for name, c in (("owner on A", owner_a), ("owner on B", owner_b), ("lead on B", lead_b)):
        await c.call("snapshot", {})
        assert not [d for d in c.of("customer_message") if d["message"]["text"] == "after"], name
    for c in (owner_a, owner_b):
        assert (await c.wait_for("conversation_removed", lambda d: d["conversation_id"] == sid))["by"] == "Omar"
