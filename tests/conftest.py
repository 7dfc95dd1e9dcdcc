"""Fixtures shared by every suite: the real bot servers are started once per test run, on demand."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers import BotServers, start_bot_servers


@pytest.fixture(scope="session")
def bot_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotServers]:
    """The real action server and Rasa server with the trained model (one pair for the whole run)."""
    servers = start_bot_servers(tmp_path_factory.mktemp("bot"))
    yield servers
    servers.stop()
