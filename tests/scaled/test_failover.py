"""Failures in scaled mode: Redis restarted, a deaf Socket.IO listener, a gateway killed mid-conversation."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from redis import asyncio as aioredis

from bot.launcher import ROOT, wait_until_up
from handoff.domain.records import AgentRecord
from handoff.storage import messages as message_store
from handoff.storage.db import Database
from handoff.transport import scaling
from handoff.transport.appkeys import SIO
from tests.handoff.helpers import IDENTITY_SECRET, RASA_TOKEN, TOKEN_SECRET, VOUCH_SECRET, Client, FakeRasa
from tests.scaled.conftest import GatewayFactory
from tests.scaled.infra import REDIS_URL, free_port, live_chat, needs_pg, needs_redis, own_redis, wait_until

pytestmark = [needs_pg, needs_redis]


async def _exchange(customer: Client, agent: Client, sid: str, text: str) -> None:
    """One message each way across the two gateways."""
    await customer.say(f"customer {text}")
    await agent.wait_for("customer_message", lambda d: d["message"]["text"] == f"customer {text}")
    await agent.call("agent_message", {"conversation_id": sid, "text": f"agent {text}"})
    await customer.wait_for("bot_uttered", lambda m: m.get("text") == f"agent {text}")


async def _run_id(url: str) -> str:
    """The Redis server process's id: a restarted server has a new one, and none of the old subscriptions."""
    client = aioredis.Redis.from_url(url)
    try:
        return str((await client.info("server"))["run_id"])
    finally:
        await client.aclose()


async def _subscribers(url: str, channel: str) -> int:
    client = aioredis.Redis.from_url(url)
    try:
        result = await client.pubsub_numsub(channel)
        return int(result[0][1])
    finally:
        await client.aclose()


async def test_both_gateways_resubscribe_after_redis_restarts(cluster: GatewayFactory, tmp_path: Path) -> None:
    with own_redis(tmp_path) as redis:
        a = await cluster(redis_url=redis.url)
        b = await cluster(redis_url=redis.url)
        channel = f"{a.settings.redis_channel}:socketio"
        customer, agent, sid = await live_chat(a, b)
        await _exchange(customer, agent, sid, "before")
        before = await _run_id(redis.url)
        redis.kill()
        redis.start()  # same port, empty: no subscriptions survive
        # A new server proves it; a count of zero would race the gateways, which subscribe again within ~1 s.
        assert await _run_id(redis.url) != before
        await wait_until(lambda: _numsub_is(redis.url, channel, 2), 30)
        await _exchange(customer, agent, sid, "after restart")
        for gw in (a, b):
            assert scaling.listener_alive(gw.app[SIO].manager)


async def _numsub_is(url: str, channel: str, expected: int) -> bool:
    return await _subscribers(url, channel) == expected


async def test_a_dead_listener_is_restarted_by_the_watchdog(cluster: GatewayFactory) -> None:
    """python-socketio #1581: the listener task ends for good and the worker goes deaf; ours comes back."""
    a = await cluster()
    b = await cluster()
    customer, agent, sid = await live_chat(a, b)
    manager: Any = a.app[SIO].manager
    dead = manager.thread
    dead.cancel()  # what a CancelledError inside the redis read does: `_thread` breaks out of its loop
    await wait_until(lambda: dead.done())
    await wait_until(lambda: scaling.listener_alive(manager) and scaling.listener_subscribed(manager), 10)
    assert manager.thread is not dead
    await _exchange(customer, agent, sid, "after the listener died")


def _spawn_gateway(tmp_path: Path, pg_url: str, channel: str, rasa_url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": pg_url,
        "REDIS_URL": REDIS_URL,
        "REDIS_CHANNEL": channel,
        "REDIS_CHECK_INTERVAL": "0.5",
        "RASA_URL": rasa_url,
        "RASA_TIMEOUT": "2",
        "HANDOFF_PORT": str(port),
        "TOKEN_SECRET": TOKEN_SECRET,
        "IDENTITY_SECRET": IDENTITY_SECRET,
        "VOUCH_SECRET": VOUCH_SECRET,
        "RASA_TOKEN": RASA_TOKEN,
        "HANDOFF_LOG_LEVEL": "WARNING",
    }
    log = (tmp_path / f"gateway-{port}.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "handoff"], cwd=ROOT, env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    wait_until_up(f"{url}/healthz", process, tmp_path / f"gateway-{port}.log")
    return process, url


async def test_gateway_killed_mid_conversation_customer_reconnects_to_b_and_loses_nothing(
    cluster: GatewayFactory, tmp_path: Path, pg_url: str, redis_channel: str, rasa: FakeRasa
) -> None:
    b = await cluster()
    process, a_url = _spawn_gateway(tmp_path, pg_url, redis_channel, rasa.url)
    try:
        lena: AgentRecord = await b.add_agent("lena@example.com", name="Lena Park")
        agent = await b.agent_client(lena)
        customer = Client("/")
        await customer.connect(a_url)
        sid = await customer.session()
        await customer.say("hello")
        await customer.say("human")
        await customer.wait_for("agent_joined")
        await agent.wait_for("assigned", lambda d: d["conversation_id"] == sid)
        await _exchange(customer, agent, sid, "one")
        seen = [m["seq"] for m in customer.of("bot_uttered") if "seq" in m]
        last_seq = max(seen)

        process.send_signal(signal.SIGKILL)
        process.wait(10)
        # While the customer is away, the agent (on B) keeps writing.
        await agent.call("agent_message", {"conversation_id": sid, "text": "are you still there?"})

        again = Client("/")
        await again.connect(b.url)
        b.clients.append(again)
        assert await again.session(sid, last_seq=last_seq) == sid
        history = (await again.wait_for("history"))["messages"]
        assert [m["text"] for m in history if m.get("sender") == "agent"] == ["are you still there?"]
        await again.wait_for("conversation_state", lambda d: d["state"] == "assigned")
        await _exchange(again, agent, sid, "two")

        # Nothing lost: every stored message to the customer was seen live before the kill or replayed after it,
        # and every customer message was stored once.
        stored = [(seq, sender) for seq, sender, _ in await _stored(pg_url, sid)]
        to_customer = {seq for seq, sender in stored if sender != "customer"}
        received = set(seen) | {m["seq"] for m in history} | {m["seq"] for m in again.of("bot_uttered") if "seq" in m}
        assert to_customer <= received
        assert [seq for seq, _ in stored] == list(range(1, len(stored) + 1))
        assert sum(1 for _, sender in stored if sender == "customer") == 4  # hello, human, one, two
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        await customer.close()


async def test_a_live_gateway_delivers_what_a_killed_one_acknowledged(
    cluster: GatewayFactory, tmp_path: Path, pg_url: str, redis_channel: str, rasa: FakeRasa
) -> None:
    """A acks a bot-mode message and dies before Rasa answers: B sees A's heartbeat stop and relays it."""
    b = await cluster()
    process, a_url = _spawn_gateway(tmp_path, pg_url, redis_channel, rasa.url)
    customer = Client("/")
    try:
        await customer.connect(a_url)
        sid = await customer.session()
        rasa.delay = 1.5  # within A's Rasa timeout (2 s): A is waiting for the reply when it dies
        ack = await customer.say("where is my parcel")
        await wait_until(lambda: any(m["message"] == "where is my parcel" for m in rasa.messages), 10)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        rasa.delay = 0.0
        assert next(status for seq, _, status in await _stored(pg_url, sid) if seq == ack["seq"]).startswith("pending:")

        again = Client("/")
        await again.connect(b.url)
        b.clients.append(again)
        assert await again.session(sid, last_seq=ack["seq"]) == sid
        # A's heartbeat expires (15 s), then B takes the message over and relays it.
        reply = await again.wait_for("bot_uttered", lambda m: m.get("text") == "echo: where is my parcel", timeout=45)
        assert reply["seq"] > ack["seq"]
        statuses = await _stored(pg_url, sid)
        assert [status for seq, _, status in statuses if seq == ack["seq"]] == ["done"]
        assert [seq for seq, _, _ in statuses] == list(range(1, len(statuses) + 1))  # the reply stored once
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        await customer.close()


async def _stored(pg_url: str, sid: str) -> list[tuple[int, str, str]]:
    """(seq, sender, status) of every stored message of the conversation."""
    db = Database(pg_url)
    try:
        async with db.read() as s:
            return [(m.seq, m.sender, m.status) for m in await message_store.messages_after(s, sid, 0)]
    finally:
        await db.dispose()
