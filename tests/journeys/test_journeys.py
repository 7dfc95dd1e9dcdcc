"""Customer journeys end to end: the real gateway in front of the real Rasa server, action server and model.

One gateway (and one agent console, online, so hand-offs wait in the queue with their summary) serves the whole
module; each journey is a new customer with its own conversation. See tests/journeys/harness.py for what is checked.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from bot.launcher import BotServers
from tests.handoff.helpers import Client, Running
from tests.handoff.test_end_to_end import LENA, _start, agent_socket
from tests.journeys.catalogue import JOURNEYS
from tests.journeys.harness import Journey, JourneyRun

pytestmark = pytest.mark.rasa


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory, bot_servers: BotServers) -> AsyncIterator[Running]:
    """A gateway on the session's bot servers; hand-offs stay queued (no auto-assignment)."""
    running = await _start(tmp_path_factory.mktemp("journeys"), bot_servers, auto_assign=False)
    yield running
    await running.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def agent(stack: Running) -> Client:
    """Lena's console, online: she receives every hand-off card (the summary) and claims none."""
    return await agent_socket(stack, *LENA)


def test_there_are_enough_journeys() -> None:
    assert len(JOURNEYS) >= 40
    assert len({j.name for j in JOURNEYS}) == len(JOURNEYS), "journey names are test ids: keep them unique"


@pytest.mark.timeout(120)
@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("journey", JOURNEYS, ids=[j.name for j in JOURNEYS])
async def test_journey(journey: Journey, stack: Running, agent: Client, bot_servers: BotServers) -> None:
    await JourneyRun(journey, stack, agent, bot_servers.backend_db).run()
