"""Fixtures shared by every suite: the real bot servers are started once per test run, on demand.

The suites are split by the environment they import: the bot's side (Rasa, rasa_sdk, the actions) runs in .venv
on Python 3.10, everything else (the gateway, the browser, the journeys, the faults) in .venv-gateway on a current
Python. `make test` runs pytest once in each; every test file belongs to exactly one side (:data:`BOT_SIDE`).
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bot.launcher import ROOT, BotServers, start_bot_servers
from tests.privacy.scan import Finding, files_under, scan_files

if TYPE_CHECKING:
    from tests.handoff.helpers import FakeRasa

# The suites that import rasa, rasa_sdk or the actions: they run where Rasa is installed, the rest where it is not.
BOT_SIDE = ("tests/actions", "tests/bot", "tests/contract")
ON_BOT_SIDE = importlib.util.find_spec("rasa") is not None


def side_of(path: Path) -> str:
    """``bot``, ``gateway`` or ``both`` (a folder holding suites of both sides) for a path under tests/."""
    relative = path.resolve().relative_to(ROOT).as_posix()
    if any(relative == suite or relative.startswith(suite + "/") for suite in BOT_SIDE):
        return "bot"
    if any(suite.startswith(relative + "/") for suite in BOT_SIDE):
        return "both"
    return "gateway"


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Collect only this environment's side; the other side's run collects the rest."""
    if not collection_path.resolve().is_relative_to(ROOT / "tests"):
        return None
    side = side_of(collection_path)
    if side == "both":
        return None
    return True if (side == "bot") != ON_BOT_SIDE else None


@pytest.fixture(scope="session")
def bot_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotServers]:
    """The real action server and Rasa server with the trained model (one pair for the whole run)."""
    servers = start_bot_servers(tmp_path_factory.mktemp("bot"))
    yield servers
    servers.stop()


@pytest.fixture
async def rasa() -> AsyncIterator[FakeRasa]:
    """A scripted fake Rasa server, for gateway tests that need no trained model."""
    from tests.handoff.helpers import FakeRasa

    fake = FakeRasa()
    await fake.start()
    yield fake
    await fake.stop()


# ---------------------------------------------------------------- the leak scan of everything the run wrote

_STARTED = pytest.StashKey[float]()
_BASETEMP = pytest.StashKey[Path]()
_LEAKS = pytest.StashKey[list[Finding]]()


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_STARTED] = time.time()


@pytest.fixture(scope="session", autouse=True)
def _run_outputs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Remember the run's basetemp: every tmp_path, the bot servers' tracker store, backend and logs are under it."""
    request.config.stash[_BASETEMP] = tmp_path_factory.getbasetemp()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when a Luhn-valid card number is in any file it wrote (bytes: SQLite files and logs too).

    Scanned: the pytest basetemp (gateway and Rasa SQLite files, subprocess logs, exports, review files), and what
    this run wrote under var/ and reports/ (screenshots, reports). Test inputs (sources, corpus) are not outputs.
    """
    stash = session.config.stash
    written = files_under([stash[_BASETEMP]]) if _BASETEMP in stash else []
    written += files_under([ROOT / "var", ROOT / "reports"], since=stash.get(_STARTED, time.time()) - 1)
    stash[_LEAKS] = scan_files(written)
    if stash[_LEAKS] and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    leaks = config.stash.get(_LEAKS, [])
    if leaks:
        terminalreporter.section(f"LEAK: card numbers in {len({f.path for f in leaks})} file(s) written by this run",
                                 sep="!", red=True, bold=True)
        for finding in leaks[:100]:
            terminalreporter.write_line(str(finding), red=True)
