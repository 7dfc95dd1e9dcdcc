"""Fixtures for scaled mode: a throwaway PostgreSQL database, a private Redis channel, gateways sharing both."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from redis import asyncio as aioredis

from tests.handoff.helpers import FakeRasa, Running, make_settings, start_gateway
from tests.scaled.infra import REDIS_URL, START_PG, START_REDIS, create_database, drop_database, pg_up, redis_up


@pytest.fixture(scope="session")
def postgresql_running() -> None:
    """Scaled mode needs the machine's PostgreSQL on 127.0.0.1:5432 (CI has it)."""
    if not pg_up():
        pytest.fail(f"PostgreSQL is not running on 127.0.0.1:5432; start it: {START_PG}")


@pytest.fixture(scope="session")
def redis_running() -> None:
    """Scaled mode needs the machine's Redis on 127.0.0.1:6379 (CI has it)."""
    if not redis_up():
        pytest.fail(f"Redis is not running on 127.0.0.1:6379; start it: {START_REDIS}")


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A fresh PostgreSQL database (dropped at the end)."""
    url = await create_database()
    yield url
    await drop_database(url)


@pytest.fixture
async def redis_channel() -> AsyncIterator[str]:
    """A channel/key prefix of our own on the shared Redis; its keys are deleted at the end."""
    channel = f"handoff-test-{uuid.uuid4().hex[:10]}"
    yield channel
    client = aioredis.Redis.from_url(REDIS_URL)
    keys = [k async for k in client.scan_iter(f"{channel}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


GatewayFactory = Callable[..., Awaitable[Running]]


@pytest.fixture
async def cluster(
    tmp_path: Path, rasa: FakeRasa, pg_url: str, redis_channel: str
) -> AsyncIterator[GatewayFactory]:
    """Start gateways on the same PostgreSQL database and Redis channel; all stopped at the end."""
    started: list[Running] = []

    async def factory(**overrides: Any) -> Running:
        values: dict[str, Any] = {
            "database_url": pg_url,
            "redis_url": REDIS_URL,
            "redis_channel": redis_channel,
            "redis_check_interval_seconds": 0.2,
            **overrides,
        }
        settings = make_settings(tmp_path / "unused.db", rasa.url, **values)
        running = await start_gateway(settings)
        started.append(running)
        return running

    yield factory
    for running in reversed(started):
        await running.stop()
