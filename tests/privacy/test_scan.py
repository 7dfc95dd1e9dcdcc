"""The leak scan itself: it finds card numbers in any file format, ignores look-alikes, and fails a pytest run."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.launcher import ROOT
from tests.privacy.scan import files_under, scan_bytes, scan_files

CARD = "4111 1111 1111 1111"  # the Visa test number


@pytest.fixture
def outside() -> Iterator[Path]:
    """A directory outside the run's basetemp (removed at the end), so a planted card does not fail this run."""
    with tempfile.TemporaryDirectory(prefix="leak-scan-") as name:
        yield Path(name)


def test_finds_cards_in_sqlite_logs_and_json(outside: Path) -> None:
    db = outside / "store.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE messages (id INTEGER PRIMARY KEY, at TEXT, text TEXT)")
        conn.execute("INSERT INTO messages (at, text) VALUES (?, ?)", ("2026-11-27 11:10:09.626644", "hello"))
        conn.execute("INSERT INTO messages (at, text) VALUES (?, ?)", ("2026-11-27 11:10:10.000001", f"card {CARD}"))
    conn.close()
    (outside / "logs").mkdir()
    (outside / "logs" / "gateway.log").write_text("INFO relayed text: charge 5555-5555-5555-4444 now\n")
    (outside / "export.json").write_text('{"text": "amex 378282246310005"}')
    found = scan_files(files_under([outside]))
    assert {(f.path.name, f.excerpt.split("<")[1].split(">")[0]) for f in found} == {
        ("store.db", "card 16 digits ending 1111"),
        ("gateway.log", "card 16 digits ending 4444"),
        ("export.json", "card 15 digits ending 0005"),
    }
    assert all(CARD not in f.excerpt and "5555-5555" not in f.excerpt for f in found), "excerpts are masked"


def test_look_alikes_are_not_findings() -> None:
    clean = (
        b"order 4111 1111 1111 1112 (Luhn fails); 2026-11-27 11:10:09.6266442026-11-27 11:10:10.123; "
        b'{"confidence": 0.4111111111111111}; id 123e4567-e89b-12d3-a456-426614174000; phone +44 20 7946 0958; '
        b"[REDACTED CARD ending 1111]; token 9f8e7d6c5b4a4111111111111111"
    )
    assert scan_bytes(clean) == []


def test_files_older_than_the_run_are_left_out(outside: Path) -> None:
    old = outside / "old.log"
    old.write_text(f"card {CARD}")
    assert files_under([outside], since=old.stat().st_mtime + 10) == []
    assert files_under([outside]) == [old]


def test_a_planted_card_fails_the_pytest_run(outside: Path) -> None:
    """The real hook (tests/conftest.py as a plugin) on a run whose only test writes a card to its tmp_path."""
    (outside / "test_planted.py").write_text(
        "def test_writes_a_card(tmp_path):\n"
        f"    (tmp_path / 'transcript.txt').write_text('customer: my card is {CARD}')\n"
    )
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-q", "-p", "no:cacheprovider",
         "--rootdir", str(outside), "--basetemp", str(outside / "basetemp"), "-c", "/dev/null",
         str(outside / "test_planted.py")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == pytest.ExitCode.TESTS_FAILED, run.stdout + run.stderr
    assert "1 passed" in run.stdout, run.stdout
    assert "LEAK: card numbers in 1 file(s) written by this run" in run.stdout, run.stdout
    assert "transcript.txt @ byte 21: ...customer: my card is <card 16 digits ending 1111>..." in run.stdout
    assert CARD not in run.stdout + run.stderr
