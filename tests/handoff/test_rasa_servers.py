"""Several Rasa servers behind one gateway (``RASA_URLS``): round-robin, failover, health checks."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from handoff.settings import Settings
from handoff.usecases.rasa_client import RasaClient, RasaUnavailable
from tests.handoff.helpers import FakeRasa


@pytest.fixture
async def two_rasas() -> AsyncIterator[tuple[FakeRasa, FakeRasa]]:
    """Two fake Rasa servers."""
    first, second = FakeRasa(), FakeRasa()
    await first.start()
    await second.start()
    yield first, second
    await first.stop()
    await second.stop()


def test_rasa_urls_setting_takes_precedence_over_rasa_url() -> None:
    env = {"RASA_URL": "http://one:5005", "RASA_URLS": "http://a:5005, http://b:5005"}
    assert Settings.from_env(env).rasa_servers == ("http://a:5005", "http://b:5005")
    assert Settings.from_env({"RASA_URL": "http://one:5005"}).rasa_servers == ("http://one:5005",)


async def test_round_robin_then_failover_then_recovery(two_rasas: tuple[FakeRasa, FakeRasa]) -> None:
    first, second = two_rasas
    async with aiohttp.ClientSession() as http:
        client = RasaClient(http, [first.url, second.url], timeout=2)
        for i in range(4):
            await client.send_message(f"c{i}", "hello", {})
        assert len(first.messages) == 2 and len(second.messages) == 2

        await first.stop()  # killed: connection refused
        for i in range(4):
            replies = await client.send_message(f"d{i}", "hello", {})
            assert replies == [{"recipient_id": f"d{i}", "text": "Hi! How can I help?"}]
        assert len(second.messages) == 6
        assert client.healthy == {second.url}

        second.down = True  # answers 503: both unusable now, the caller gets a clear error
        with pytest.raises(RasaUnavailable):
            await client.send_message("e", "hello", {})

        second.down = False
        before = len(first.messages)
        await first.start()  # back (on a new port: point the client at it, as a restarted server would be)
        client.base_urls[0] = first.url
        await client.check_health()
        assert client.healthy == {first.url, second.url}
        await client.send_message("f1", "hello", {})
        await client.send_message("f2", "hello", {})
        assert len(first.messages) == before + 1


async def test_gateway_keeps_answering_when_one_rasa_dies(two_rasas: tuple[FakeRasa, FakeRasa], gateway_factory) -> None:  # type: ignore[no-untyped-def]
    first, second = two_rasas
    gateway = await gateway_factory(rasa_urls=(first.url, second.url), rasa_health_interval_seconds=0.1)
    customer = await gateway.customer()
    await customer.say("one")
    await customer.say("two")
    await customer.wait_for("bot_uttered", lambda m: m.get("text") == "echo: two")
    assert len(first.messages) == 1 and len(second.messages) == 1
    await first.stop()
    for text in ("three", "four", "five"):
        await customer.say(text)
        await customer.wait_for("bot_uttered", lambda m, t=text: m.get("text") == f"echo: {t}")  # type: ignore[misc]
    assert [m["message"] for m in second.messages] == ["two", "three", "four", "five"]
    assert not [m for m in customer.of("bot_uttered") if "unavailable" in (m.get("text") or "").lower()]
