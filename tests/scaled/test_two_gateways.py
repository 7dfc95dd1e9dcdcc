"""Two gateways on one PostgreSQL database and one Redis: a customer on A, agents on B."""

from __future__ import annotations

import asyncio

from handoff.storage import conversations as conversation_store
from handoff.storage import events as event_store
from handoff.storage import handoffs as handoff_store
from handoff.storage import messages as message_store
from handoff.storage.rows import StoreError
from tests.handoff.helpers import Client, Running
from tests.handoff.test_queue_position import check_queue_positions
from tests.scaled.conftest import GatewayFactory
from tests.scaled.infra import needs_pg, needs_redis

pytestmark = [needs_pg, needs_redis]


async def _queued(gateway: Running) -> tuple[Client, str]:
    c = await gateway.customer()
    await c.say("hello")
    await c.wait_for("bot_uttered")
    await c.say("human")
    await c.wait_for("conversation_state", lambda d: d["state"] == "queued")
    return c, str(c.of("session_confirm")[-1])


async def test_claim_race_across_two_gateways_has_one_winner(cluster: GatewayFactory) -> None:
    a = await cluster(auto_assign=False)
    b = await cluster(auto_assign=False)
    agents = [await a.add_agent(f"racer{i}@example.com") for i in range(50)]
    clients = await asyncio.gather(*((a if i % 2 else b).agent_client(ag) for i, ag in enumerate(agents)))
    _, sid = await _queued(a)
    results = await asyncio.gather(*(c.call("claim", {"conversation_id": sid}, timeout=30) for c in clients))
    winners = [i for i, r in enumerate(results) if r.get("ok")]
    assert len(winners) == 1
    assert {r["code"] for r in results if not r.get("ok")} == {"already_claimed"}
    async with a.gw.db.read() as s:
        conv = await conversation_store.get_conversation(s, sid)
        assigned = [e for e in await event_store.events_for(s, sid) if e.type == "assigned"]
    assert conv is not None and conv.assigned_agent_id == agents[winners[0]].id and len(assigned) == 1


async def test_store_claims_use_skip_locked_on_postgresql(cluster: GatewayFactory) -> None:
    a = await cluster(auto_assign=False)
    b = await cluster(auto_assign=False)
    agents = [await a.add_agent(f"tx{i}@example.com") for i in range(50)]
    _, sid = await _queued(a)

    assert not a.gw.db.is_sqlite and a.gw.db._write_lock is None
    outcomes = await asyncio.gather(*(_claim(a if i % 2 else b, sid, ag.id) for i, ag in enumerate(agents)))
    assert outcomes.count("won") == 1 and set(outcomes) == {"won", "already_claimed"}


async def test_a_claim_waits_for_a_message_being_stored_instead_of_failing(cluster: GatewayFactory) -> None:
    """SKIP LOCKED skips rows locked by anything: a message write is not a rival claim, the claim must win."""
    a = await cluster(auto_assign=False)
    agent = await a.add_agent("patient@example.com")
    _, sid = await _queued(a)
    async with a.gw.db.write() as s:
        await message_store.append_message(s, sid, "bot", "still here")  # holds the conversation's row lock
        claim = asyncio.create_task(_claim(a, sid, agent.id))
        await asyncio.sleep(0.5)
        assert not claim.done()
    assert await claim == "won"
    async with a.gw.db.read() as s:
        conv = await conversation_store.get_conversation(s, sid)
    assert conv is not None and conv.state == "assigned" and conv.assigned_agent_id == agent.id


async def _claim(gw: Running, sid: str, agent_id: int) -> str:
    try:
        async with gw.gw.db.write() as s:
            await handoff_store.claim(s, sid, agent_id, is_postgres=not gw.gw.db.is_sqlite)
        return "won"
    except StoreError as exc:
        return exc.code


async def test_customer_on_a_and_agent_on_b_through_a_whole_handoff(cluster: GatewayFactory) -> None:
    a = await cluster()
    b = await cluster()
    lena = await b.add_agent("lena@example.com", name="Lena Park", skills=["general"], capacity=1)
    agent = await b.agent_client(lena)
    watcher = await a.agent_client(await a.add_agent("lead@example.com", role="lead"))
    await watcher.call("presence", {"status": "away"})  # watches the queue, takes no work
    customer, sid = await _queued(a)

    # Auto-assigned by gateway A to an agent whose socket lives on gateway B.
    assigned = await agent.wait_for("assigned")
    assert assigned["conversation_id"] == sid and assigned["by"] == "auto"
    assert (await customer.wait_for("agent_joined"))["name"] == "Lena Park"
    await watcher.wait_for("conversation_updated", lambda d: d["conversation_id"] == sid and d["state"] == "assigned")

    # Messages and typing both ways across the gateways.
    await customer.say("my reset link never arrives")
    got = await agent.wait_for("customer_message")
    assert got["conversation_id"] == sid and got["message"]["text"] == "my reset link never arrives"
    await customer.call("typing", {"on": True})
    assert (await agent.wait_for("typing"))["from"] == "customer"
    ack = await agent.call("agent_message", {"conversation_id": sid, "text": "Unlocking it now."})
    msg = await customer.wait_for("bot_uttered", lambda m: m["metadata"].get("sender") == "agent")
    assert msg["text"] == "Unlocking it now." and msg["seq"] == ack["seq"]
    await agent.call("typing", {"conversation_id": sid, "on": True})
    assert (await customer.wait_for("typing", lambda d: d["from"] == "agent"))["on"] is True

    # Queue updates: a second customer on A waits (Lena is at capacity); agents on B see it queued.
    second, sid2 = await _queued(a)
    update = await second.wait_for("queue_update")
    assert update["position"] == 1
    await agent.wait_for("queue_snapshot", lambda d: [q["conversation_id"] for q in d["queue"]] == [sid2])

    # Resolve on B: the customer on A sees it and gets the CSAT question.
    result = await agent.call("resolve", {"conversation_id": sid, "resolution_code": "solved"})
    assert result.get("ok") is True, result
    await customer.wait_for("conversation_state", lambda d: d["state"] == "resolved")
    # Lena has capacity again: the second customer (on A) is assigned to her (on B).
    assert (await agent.wait_for("assigned", lambda d: d["conversation_id"] == sid2))["by"] == "auto"
    assert (await second.wait_for("agent_joined"))["name"] == "Lena Park"


async def test_queue_positions_are_counted_right_on_postgresql(cluster: GatewayFactory) -> None:
    await check_queue_positions(await cluster())
