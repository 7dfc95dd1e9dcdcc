"""Fixtures shared by every suite: the real bot servers are started once per test run, on demand."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.handoff.helpers import FakeRasa
from tests.servers import BotServers, start_bot_servers


@pytest.fixture(scope="session")
def bot_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotServers]:
    """The real action server and Rasa server with the trained model (one pair for the whole run)."""
    servers = start_bot_servers(tmp_path_factory.mktemp("bot"))
    yield servers
    servers.stop()


@pytest.fixture
async def rasa() -> AsyncIterator[FakeRasa]:
    """A scripted fake Rasa server, for gateway tests that need no trained model."""
    fake = FakeRasa()
    await fake.start()
    yield fake
    await fake.stop()
