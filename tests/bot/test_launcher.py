"""The launcher both environments import: nothing of either side at import time, and a clear error on a dead server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.launcher import ROOT, free_port, wait_until_up

_LOADED_BY_IMPORT = """
import sys
before = set(sys.modules)
import bot.launcher
loaded = {name.split(".")[0] for name in set(sys.modules) - before}
print(" ".join(sorted(loaded - set(sys.stdlib_module_names))))
"""


def test_importing_the_launcher_loads_only_the_standard_library_and_contract() -> None:
    # Run here, where Rasa is installed: an import of it (or of the gateway's stack) would succeed and be loaded.
    done = subprocess.run([sys.executable, "-c", _LOADED_BY_IMPORT], cwd=ROOT, capture_output=True, text=True,
                          check=True, timeout=60)
    assert set(done.stdout.split()) == {"bot", "contract"}


def test_a_server_that_exits_before_answering_fails_with_its_log(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    process = subprocess.Popen([sys.executable, "-c", "print('port already taken'); raise SystemExit(3)"],
                               stdout=log.open("wb"), stderr=subprocess.STDOUT)
    with pytest.raises(RuntimeError, match=r"exited early:\nport already taken"):
        wait_until_up(f"http://127.0.0.1:{free_port()}/health", process, log, seconds=30)
