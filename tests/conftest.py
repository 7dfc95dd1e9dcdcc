"""Fixtures shared by every suite: the real bot servers are started once per test run, on demand."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.handoff.helpers import FakeRasa
from tests.privacy.scan import Finding, files_under, scan_files
from tests.servers import ROOT, BotServers, start_bot_servers


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
