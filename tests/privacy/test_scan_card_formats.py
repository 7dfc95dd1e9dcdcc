"""The leak scan knows every card format redaction knows: dots, slashes or two spaces between the groups too."""

from __future__ import annotations

import pytest

from contract.redact import find_cards, redact
from tests.privacy.scan import scan_bytes


@pytest.mark.parametrize("card", ["4111.1111.1111.1111", "4111/1111/1111/1111", "4111  1111  1111  1111",
                                  "3782.822463.10005", "4111 1111 1111 1111", "5555-5555-5555-4444"])
def test_a_card_redaction_removes_is_a_leak_the_scan_finds(card: str) -> None:
    line = f"INFO relayed text: my card is {card} thanks\n"
    assert find_cards(line) == [card]
    assert redact(line) != line
    data = b"\x00\x13SQLite page" + line.encode() + b"\xff"
    assert scan_bytes(data) == [(data.index(card.encode()), card.encode())]


def test_grouped_look_alikes_are_not_findings() -> None:
    clean = (
        b"ref 4111.1111.1111.1112 (Luhn fails); 2024/11/30; version 1.2.3.4; ip 192.168.100.200; "
        b"2026-11-27 11:10:09.626644; {\"ratio\": 1234.5678}; /api/2024/1111/1111/1112 (Luhn fails); "
        b"[REDACTED CARD ending 1111]"
    )
    assert scan_bytes(clean) == []
