"""The leak scan: Luhn-valid card numbers in files a test run wrote (SQLite files, logs, reports, screenshots).

Bytes, not text: a SQLite page, a Rasa tracker store, a subprocess log or a PNG is read as it is on disk, so a card
number stored in any of them is found whatever the file format. ``tests/conftest.py`` runs it at the end of every
pytest session over the run's outputs and fails the run on a finding.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from contract.redact import GROUPED_CARD_PATTERN, card_digits

# 13-19 digits, single spaces or dashes between them; not part of a longer run of digits or letters, and not the
# fraction of a decimal or a timestamp ("0.1234...", "09.626644" glued to the next SQLite column).
CARD_BYTES = re.compile(rb"(?<![0-9A-Za-z])(?<![0-9][.:,])(?:[0-9][ -]?){12,18}[0-9](?![0-9A-Za-z])")
# The groups redaction also knows: dots, slashes or two spaces between them ("4111.1111.1111.1111"), same pattern.
GROUPED_CARD_BYTES = re.compile(GROUPED_CARD_PATTERN.encode("ascii"))
MAX_BYTES = 512 * 1024 * 1024  # larger files are reported as unscanned rather than silently skipped


@dataclass(frozen=True)
class Finding:
    """One card number in one file, shown masked."""

    path: Path
    offset: int
    excerpt: str

    def __str__(self) -> str:
        return f"{self.path} @ byte {self.offset}: {self.excerpt}"


def _printable(raw: bytes) -> str:
    return "".join(chr(b) if 32 <= b < 127 else "." for b in raw)


def _mask(number: bytes) -> str:
    digits = re.sub(rb"\D", b"", number).decode()
    return f"<card {len(digits)} digits ending {digits[-4:]}>"


def scan_bytes(data: bytes) -> list[tuple[int, bytes]]:
    """(offset, match) of every Luhn-valid 13-19 digit number in ``data``, in the order they appear."""
    found: dict[int, bytes] = {}
    for pattern in (CARD_BYTES, GROUPED_CARD_BYTES):
        for match in pattern.finditer(data):
            if card_digits(match.group(0).decode("ascii")):
                found.setdefault(match.start(), match.group(0))
    return sorted(found.items())


def files_under(roots: Iterable[Path], since: float | None = None) -> list[Path]:
    """Regular files under ``roots`` (a root may be a file), modified at or after ``since`` when given."""
    result = []
    for root in roots:
        if not root.exists():
            continue
        for path in [root] if root.is_file() else sorted(root.rglob("*")):
            if path.is_symlink() or not path.is_file():
                continue
            if since is not None and path.stat().st_mtime < since:
                continue
            result.append(path)
    return result


def scan_files(paths: Iterable[Path]) -> list[Finding]:
    """Every card number in the files, with a masked excerpt of its surroundings."""
    findings = []
    for path in paths:
        try:
            if path.stat().st_size > MAX_BYTES:
                findings.append(Finding(path, 0, f"not scanned: larger than {MAX_BYTES} bytes"))
                continue
            data = path.read_bytes()
        except OSError:  # a file removed while we walked (a SQLite journal): nothing left to leak
            continue
        for offset, number in scan_bytes(data):
            before = _printable(data[max(0, offset - 40):offset])
            after = _printable(data[offset + len(number):offset + len(number) + 40])
            findings.append(Finding(path, offset, f"...{before}{_mask(number)}{after}..."))
    return findings
