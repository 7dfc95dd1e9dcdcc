"""Claims are atomic: exactly one winner among 50 concurrent claimers."""

from __future__ import annotations

import asyncio

from handoff.storage import conversations as conversation_store
from handoff.storage import events as event_store
from handoff.storage import handoffs as handoff_store
from handoff.storage.rows import StoreError
from tests.handoff.helpers import Running


async def test_fifty_agents_claim_at_once_one_wins(gateway_factory) -> None:  # type: ignore[no-untyped-def]
    gateway: Running = await gateway_factory(auto_assign=False)
    agents = [await gateway.add_agent(f"a{i}@example.com") for i in range(50)]
    clients = await asyncio.gather(*(gateway.agent_client(a) for a in agents))
    _, sid = await gateway.queued_customer()
    results = await asyncio.gather(*(c.call("claim", {"conversation_id": sid}, timeout=30) for c in clients))
    winners = [r for r in results if r.get("ok")]
    losers = [r for r in results if "error" in r]
    assert len(winners) == 1 and len(losers) == 49
    assert {r["code"] for r in losers} == {"already_claimed"}
    async with gateway.gw.db.read() as s:
        events = [e for e in await event_store.events_for(s, sid) if e.type == "assigned"]
        conv = await conversation_store.get_conversation(s, sid)
    assert len(events) == 1 and conv is not None and conv.state == "assigned"
    winner_index = results.index(winners[0])
    assert conv.assigned_agent_id == agents[winner_index].id


async def test_store_level_claims_in_parallel_transactions(gateway_factory) -> None:  # type: ignore[no-untyped-def]
    gateway: Running = await gateway_factory(auto_assign=False)
    agents = [await gateway.add_agent(f"b{i}@example.com") for i in range(50)]
    _, sid = await gateway.queued_customer()
    db = gateway.gw.db

    async def claim(agent_id: int) -> str:
        try:
            async with db.write() as s:
                await handoff_store.claim(s, sid, agent_id, is_postgres=not db.is_sqlite)
            return "won"
        except StoreError as exc:
            return exc.code

    outcomes = await asyncio.gather(*(claim(a.id) for a in agents))
    assert outcomes.count("won") == 1
    assert set(outcomes) == {"won", "already_claimed"}
