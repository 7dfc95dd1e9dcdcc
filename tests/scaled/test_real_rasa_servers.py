"""Two real Rasa servers sharing a PostgreSQL tracker store and a RedisLockStore behind one gateway."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from redis import asyncio as aioredis

from bot.launcher import BotServers, start_shared_store_rasa_servers, stop_processes
from tests.handoff.helpers import Client, Running, make_settings, start_gateway
from tests.scaled.infra import PG_DSN, drop_database, needs_pg, needs_redis

pytestmark = [needs_pg, needs_redis, pytest.mark.timeout(600)]

BOT = 30.0


@pytest.fixture
async def tracker_db() -> AsyncIterator[str]:
    """A fresh PostgreSQL database for Rasa's SQL tracker store (dropped at the end)."""
    name = f"rasa_tracker_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(PG_DSN)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    yield name
    await drop_database(f"postgresql://postgres@127.0.0.1:5432/{name}")


@pytest.fixture
async def lock_prefix() -> AsyncIterator[str]:
    """A RedisLockStore key prefix of our own (its keys are deleted at the end)."""
    prefix = f"rasatest{uuid.uuid4().hex[:10]}"
    yield prefix
    client = aioredis.Redis.from_url("redis://127.0.0.1:6379/0")
    keys = [k async for k in client.scan_iter(f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.fixture
def two_rasa_servers(
    tmp_path: Path, bot_servers: BotServers, tracker_db: str, lock_prefix: str
) -> Iterator[list[tuple[str, subprocess.Popen[bytes]]]]:
    """Two Rasa servers on the session's action server, with the shared stores."""
    servers = start_shared_store_rasa_servers(tmp_path, bot_servers, tracker_db, lock_prefix)
    try:
        yield servers
    finally:
        stop_processes([process for _, process in servers if process.poll() is None])


async def _reply(customer: Client, ack: dict[str, Any], fragment: str) -> None:
    await customer.wait_for(
        "bot_uttered",
        lambda m: m["seq"] > ack["seq"] and fragment.lower() in (m.get("text") or "").lower(),
        timeout=BOT,
    )


async def test_one_rasa_killed_the_other_answers_with_the_shared_tracker(
    tmp_path: Path, bot_servers: BotServers, two_rasa_servers: list[tuple[str, subprocess.Popen[bytes]]]
) -> None:
    urls = tuple(url for url, _ in two_rasa_servers)
    settings = make_settings(
        tmp_path / "handoff.db", urls[0], rasa_urls=urls, rasa_token=bot_servers.token,
        vouch_secret=bot_servers.vouch_secret, rasa_timeout=BOT, rasa_health_interval_seconds=0.5,
    )
    gateway: Running = await start_gateway(settings)
    try:
        customer = await gateway.customer()
        # The conversation has its server (the one that keeps its tracker in memory); when that one dies, the other
        # answers, knowing the context from the shared tracker store.
        await _reply(customer, await customer.say("I forgot my password"), "email address")
        await _reply(customer, await customer.say("ana.ortiz@example.com"), "reset link")

        own = gateway.gw.rasa._order(str(customer.of("session_confirm")[-1]))[0]
        _, process = two_rasa_servers[urls.index(own)]
        process.kill()
        process.wait(20)
        for _ in range(2):
            ack = await customer.say("the reset link never came")
            await customer.wait_for("bot_uttered", lambda m, seq=ack["seq"]: m["seq"] > seq, timeout=BOT)
        assert own not in gateway.gw.rasa.healthy
        texts = " ".join((m.get("text") or "") for m in customer.of("bot_uttered")).lower()
        assert "unavailable" not in texts and "not reachable" not in texts
    finally:
        await gateway.stop()


