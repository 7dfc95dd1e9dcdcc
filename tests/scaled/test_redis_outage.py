"""Messages sent while Redis (the gateways' Socket.IO bus) is down, between two gateways.

``tests/scaled/test_failover.py`` restarts Redis and checks messages before and after; this checks the ones sent
during the outage: acknowledged means stored, and each must reach the other side once Redis is back.
"""

from __future__ import annotations

from pathlib import Path

from redis import asyncio as aioredis

from handoff.storage import messages as message_store
from handoff.transport.scaling import PeerCount
from tests.scaled.conftest import GatewayFactory
from tests.scaled.infra import live_chat, needs_pg, needs_redis, own_redis, wait_until

pytestmark = [needs_pg, needs_redis]


async def _subscribed(url: str, channel: str) -> bool:
    client = aioredis.Redis.from_url(url)
    try:
        return int((await client.pubsub_numsub(channel))[0][1]) == 2
    finally:
        await client.aclose()


async def test_messages_during_a_redis_outage_are_stored_and_delivered_after(
    cluster: GatewayFactory, tmp_path: Path
) -> None:
    with own_redis(tmp_path) as redis:
        a = await cluster(redis_url=redis.url)
        b = await cluster(redis_url=redis.url)
        customer, agent, sid = await live_chat(a, b)

        redis.kill()
        during = await customer.call(
            "user_uttered", {"message": "sent while redis is down", "session_id": sid, "client_id": "d1"}, 30
        )
        reply = await agent.call("agent_message", {"conversation_id": sid, "text": "agent while redis is down"}, 30)
        redis.start()
        await wait_until(lambda: _subscribed(redis.url, f"{a.settings.redis_channel}:socketio"), 30)
        # Acknowledged = stored (PostgreSQL was up all along) ...
        assert "seq" in during and "seq" in reply
        async with a.gw.db.read() as s:
            stored = {m.seq: m.text for m in await message_store.messages_after(s, sid)}
        assert stored[during["seq"]] == "sent while redis is down" and stored[reply["seq"]] == "agent while redis is down"
        # ... and delivered across the gateways without anyone having to reload.
        await agent.wait_for("customer_message", lambda d: d["message"]["seq"] == during["seq"], timeout=8)
        await customer.wait_for("bot_uttered", lambda m: m.get("seq") == reply["seq"], timeout=8)


def test_the_outbox_waits_for_every_gateway_seen_before_redis_restarted() -> None:
    """A restarted Redis is empty: the first gateway to stamp again must not count itself as everyone."""
    peers = PeerCount(ttl=30)
    assert peers.update(2, now=100.0) == 2
    # Redis was down for longer than the TTL (no round reached it): the first round after still waits for both.
    assert peers.update(1, now=200.0) == 2
    assert peers.update(2, now=201.0) == 2  # the other gateway has stamped again
    assert peers.update(3, now=203.0) == 3
    assert peers.update(2, now=220.0) == 3  # one missing: still waited for within the TTL ...
    assert peers.update(2, now=249.0) == 3
    assert peers.update(2, now=251.0) == 2  # ... and no longer once it has been missing for the whole TTL
    assert peers.update(1, now=252.0) == 2
    assert peers.update(2, now=253.0) == 2  # back before the TTL: the clock of the missing one starts again
    assert peers.update(1, now=270.0) == 2
    assert peers.update(1, now=301.0) == 1
