"""Recall and precision of contract.redact on the corpus (tests/privacy/corpus.py), and on generated card numbers."""

from __future__ import annotations

import base64
import json
import re
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from bot.launcher import ROOT
from contract.redact import CLASSES, iban_ok, luhn_ok, redact
from tests.privacy.corpus import NEGATIVES, POSITIVES

REPORT = ROOT / "reports" / "privacy" / "redaction_corpus.json"


def test_corpus_is_big_enough_and_honest() -> None:
    per_class = Counter(kind for kind, _, _ in POSITIVES)
    assert set(per_class) == set(CLASSES) and min(per_class.values()) >= 12, per_class
    assert len(POSITIVES) >= 60 and len(NEGATIVES) >= 40
    assert all(secret in text for _, text, secret in POSITIVES), "each secret is really in its message"
    for text in NEGATIVES:  # a look-alike 13-19 digit number must really fail the checksum, whatever its separators
        for written in re.findall(r"\d(?:(?:[ ./-]| {2})?\d)*", text):
            digits = re.sub(r"\D", "", written)
            assert not (13 <= len(digits) <= 19 and luhn_ok(digits)), text
        for written in re.findall(r"[A-Z]{2}\d{2}(?: ?[A-Z0-9]{1,4})+", text):  # and a look-alike IBAN its checksum
            assert not iban_ok(written), text


def test_recall_is_total_and_precision_is_reported() -> None:
    missed = [(kind, text, redact(text)) for kind, text, secret in POSITIVES if secret in redact(text)]
    # Each positive is counted for its class: that class alone removes it (HANDOFF_REDACT=iban catches IBANs).
    missed += [(kind, text, redact(text, {kind})) for kind, text, secret in POSITIVES if secret in redact(text, {kind})]
    unmarked = [text for _, text, _ in POSITIVES if "[REDACTED" not in redact(text)]
    altered = [(text, redact(text)) for text in NEGATIVES if redact(text) != text]
    found = len(POSITIVES) - len(missed)
    recall = found / len(POSITIVES)
    precision = found / (found + len(altered))
    per_class = {
        kind: {"cases": sum(1 for k, _, _ in POSITIVES if k == kind),
               "missed": sum(1 for k, _, _ in missed if k == kind)}
        for kind in CLASSES
    }
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps({"positives": len(POSITIVES), "negatives": len(NEGATIVES), "recall": recall,
                                  "precision": precision, "false_positives": len(altered), "per_class": per_class},
                                 indent=2) + "\n")
    assert missed == [], f"recall {recall:.3f}: {missed}"
    assert unmarked == [], "a redaction says so ([REDACTED...])"
    assert altered == [], f"precision {precision:.3f}: look-alikes changed: {altered}"


def _with_check_digit(body: str) -> str:
    return next(body + d for d in "0123456789" if luhn_ok(body + d))


@given(
    body=st.text("0123456789", min_size=12, max_size=18).filter(lambda b: b[0] != "0"),
    separator=st.sampled_from(["", " ", "-"]),
    group=st.sampled_from([4, 3, 5]),
)
def test_any_luhn_valid_number_is_redacted_and_any_other_is_kept(body: str, separator: str, group: int) -> None:
    number = _with_check_digit(body)
    written = separator.join(number[i:i + group] for i in range(0, len(number), group))
    out = redact(f"card {written} please")
    assert number[:-4] not in out.replace(" ", "").replace("-", "") and out.endswith(f"ending {number[-4:]}] please")
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
    wrong_written = separator.join(wrong[i:i + group] for i in range(0, len(wrong), group))
    assert redact(f"order {wrong_written} please") == f"order {wrong_written} please"


@given(
    body=st.text("0123456789", min_size=12, max_size=18).filter(lambda b: b[0] != "0"),
    separator=st.sampled_from([".", "/", "  "]),
    layout=st.sampled_from([(4, 4, 4, 4, 4), (4, 6, 5, 4)]),
)
def test_grouped_card_numbers_are_redacted_and_any_other_is_kept(body: str, separator: str, layout: tuple[int, ...]) -> None:
    """Dots, slashes or two spaces between the groups a card is printed in (4-4-4-4, Amex 4-6-5), Luhn as ever."""

    def grouped(number: str) -> str:
        groups, start = [], 0
        for size in layout:
            if start < len(number):
                groups.append(number[start:start + size])
                start += size
        groups[-1] += number[start:]
        return separator.join(groups)

    number = _with_check_digit(body)
    out = redact(f"card {grouped(number)} please")
    assert out == f"card [REDACTED CARD ending {number[-4:]}] please", out
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
    assert redact(f"order {grouped(wrong)} please") == f"order {grouped(wrong)} please"


@given(
    before=st.sampled_from(["I paid", "room", "order", "call me at extension", "code", "the back is", "code:"]),
    number=st.integers(100, 9999),
    keyword=st.sampled_from(["cvv", "CVC:", "cvv2 =", "security code is", "the 3 digits on the back are"]),
)
def test_a_3_or_4_digit_number_is_a_cvv_only_when_introduced_as_one(before: str, number: int, keyword: str) -> None:
    assert redact(f"{before} {number} thanks") == f"{before} {number} thanks"
    assert redact(f"{keyword} {number} thanks") == f"{keyword} [REDACTED] thanks"


@given(st.binary(min_size=24, max_size=24))
def test_conversation_ids_in_log_lines_stay_readable(raw: bytes) -> None:
    conversation_id = base64.urlsafe_b64encode(raw).decode().rstrip("=")  # secrets.token_urlsafe(24), the gateway's
    line = f"conversation {conversation_id} queued: reason=customer_request"
    assert redact(line) == line
