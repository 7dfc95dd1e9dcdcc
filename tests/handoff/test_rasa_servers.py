"""Several Rasa servers behind one gateway (``RASA_URLS``): each conversation to its server, failover, health checks."""

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


async def test_conversations_spread_each_stays_on_its_server_then_failover_then_recovery(
    two_rasas: tuple[FakeRasa, FakeRasa],
) -> None:
    first, second = two_rasas
    async with aiohttp.ClientSession() as http:
        client = RasaClient(http, [first.url, second.url], timeout=2)
        for i in range(40):
            for _ in range(3):
                await client.send_message(f"c{i}", "hello", {})
        on_first = {m["sender"] for m in first.messages}
        on_second = {m["sender"] for m in second.messages}
        assert not on_first & on_second, "every message of a conversation went to the same server"
        assert len(on_first) >= 10 and len(on_second) >= 10, "conversations spread over both"
        assert len(first.messages) == 3 * len(on_first)

        await first.stop()  # killed: connection refused; its conversations move, the others stay
        moved, stayed = sorted(on_first)[0], sorted(on_second)[0]
        for sender in (moved, stayed):
            replies = await client.send_message(sender, "hello", {})
            assert replies == [{"recipient_id": sender, "text": "Hi! How can I help?"}]
        assert [m["sender"] for m in second.messages[-2:]] == [moved, stayed]
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
        senders = [f"f{i}" for i in range(20)]
        for sender in senders:
            await client.send_message(sender, "hello", {})
        assert before < len(first.messages) < before + 20, "the restarted server takes its share again"


async def test_gateway_keeps_answering_when_one_rasa_dies(two_rasas: tuple[FakeRasa, FakeRasa], gateway_factory) -> None:  # type: ignore[no-untyped-def]
    first, second = two_rasas
    gateway = await gateway_factory(rasa_urls=(first.url, second.url), rasa_health_interval_seconds=0.1)
    customer = await gateway.customer()
    await customer.say("one")
    await customer.say("two")
    await customer.wait_for("bot_uttered", lambda m: m.get("text") == "echo: two")
    own, other = (first, second) if first.messages else (second, first)
    assert [m["message"] for m in own.messages] == ["one", "two"] and not other.messages, "one server per conversation"
    await own.stop()
    for text in ("three", "four", "five"):
        await customer.say(text)
        await customer.wait_for("bot_uttered", lambda m, t=text: m.get("text") == f"echo: {t}")  # type: ignore[misc]
    assert [m["message"] for m in other.messages] == ["three", "four", "five"]
    assert not [m for m in customer.of("bot_uttered") if "unavailable" in (m.get("text") or "").lower()]
