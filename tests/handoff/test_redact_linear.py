"""Redaction runs on every customer message, on the gateway's event loop: no pattern may backtrack quadratically.

Each pattern of :mod:`contract.redact` gets its worst cases (long runs of what it almost matches: spaces after a
keyword, digits with separators, token characters without a boundary, a keyword repeated), built at n = 500 and at
8n = 4,000 characters (the gateway accepts 4 KB messages). Linear time grows about 8x from one to the other,
quadratic backtracking about 64x ("password" + 4,080 spaces took 468 ms before the fix). The test compares growth,
never an absolute time, with the best of several repeats: a loaded machine slows both sizes alike.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable

import pytest

from contract import redact as redaction
from contract.redact import CLASSES, redact

N = 500
GROWTH = 8  # the big input is 8x the small one: ~8x time when linear, ~64x when quadratic
MAX_RATIO = 20  # generous for noise, far below quadratic
REPEATS = 9  # single calls, best of: one call without a preemption (2 cores, shared) is enough
ATTEMPTS = 3  # a ratio over the bound is measured again (a busy neighbour), a quadratic pattern fails every time


def fill(unit: str, size: int, prefix: str = "", suffix: str = "") -> str:
    """``prefix`` + ``unit`` repeated + ``suffix``, ``size`` characters in all."""
    body = unit * (size // len(unit) + 1)
    return prefix + body[: max(0, size - len(prefix) - len(suffix))] + suffix


Builder = Callable[[int], str]

# (pattern attribute of contract.redact, what the input is, builder of the input at a size)
WORST_CASES: list[tuple[str, str, Builder]] = [
    ("_PASSWORD", "issue: 'password' + spaces", lambda n: "password" + " " * n),
    ("_PASSWORD", "'pw' + newlines", lambda n: "pw" + "\n" * n),
    ("_PASSWORD", "'password:' + spaces", lambda n: "password:" + " " * n),
    ("_PASSWORD", "'password is' + spaces", lambda n: "password is" + " " * n),
    ("_PASSWORD", "'password -' + spaces", lambda n: "password -" + " " * n),
    ("_PASSWORD", "unclosed quote", lambda n: fill(" a", n, prefix='password "')),
    ("_PASSWORD", "'pw pw pw'", lambda n: fill("pw ", n)),
    ("_PASSWORD", "'passwordpassword'", lambda n: fill("password", n)),
    ("_PASSWORD", "'password! password!'", lambda n: fill("password! ", n)),
    ("_SECRET_LOOKING", "long password value", lambda n: "password: " + "x" * n),
    ("_CARD", "1 1 1", lambda n: fill("1 ", n)),
    ("_CARD", "1-1-1", lambda n: fill("1-", n)),
    ("_CARD", "digits", lambda n: "1" * n),
    ("_CARD", "digits in words", lambda n: fill("a1111111111111111", n)),
    ("_GROUPED_CARD", "1111.1111.", lambda n: fill("1111.", n)),
    ("_GROUPED_CARD", "1111/1111/", lambda n: fill("1111/", n)),
    ("_GROUPED_CARD", "1111  1111  ", lambda n: fill("1111  ", n)),
    ("_GROUPED_CARD", "1.1.1", lambda n: fill("1.", n)),
    ("_GROUPED_CARD", "4111.111111.", lambda n: fill("4111.111111 ", n)),
    ("_IBAN", "DE89 DE89", lambda n: fill("DE89 ", n)),
    ("_IBAN", "DE89 + groups", lambda n: fill(" AB12", n, prefix="DE89")),
    ("_IBAN", "DE89 + run", lambda n: "DE89" + "A" * n),
    ("_CVV", "'cvv' + spaces", lambda n: "cvv" + " " * n),
    ("_CVV", "'cvv cvv'", lambda n: fill("cvv ", n)),
    ("_CVV", "'security code' + spaces", lambda n: "security code" + " " * n),
    ("_CVV", "'digits on the back' repeated", lambda n: fill("the 3 digits on the back ", n)),
    ("_TOKEN_PARAM", "?token= repeated", lambda n: fill("?token=", n)),
    ("_TOKEN_PARAM", "?token=& repeated", lambda n: fill("?token=&", n)),
    ("_RESET_PATH", "/reset/ + letters", lambda n: "/reset/" + "a" * n),
    ("_RESET_PATH", "/reset/ repeated", lambda n: fill("/reset/", n)),
    ("_RESET_CODE", "'reset' + spaces", lambda n: "reset" + " " * n),
    ("_RESET_CODE", "'reset link' + spaces", lambda n: "reset link" + " " * n),
    ("_RESET_CODE", "'otp' + spaces", lambda n: "otp" + " " * n),
    ("_RESET_CODE", "'reset code' repeated", lambda n: fill("reset code ", n)),
    ("_RESET_CODE", "otp:otp-otp-", lambda n: fill("otp-", n, prefix="otp:")),
    ("_SECRET_KV", "'token' + spaces", lambda n: "token" + " " * n),
    ("_SECRET_KV", "'token:' + spaces", lambda n: "token:" + " " * n),
    ("_SECRET_KV", "'token is' + spaces", lambda n: "token is" + " " * n),
    ("_SECRET_KV", "'token token'", lambda n: fill("token ", n)),
    ("_BEARER", "'bearer' + spaces", lambda n: "bearer" + " " * n),
    ("_BEARER", "'bearer bearer'", lambda n: fill("bearer ", n)),
    ("_JWT", "eyJ-eyJ-", lambda n: fill("eyJ-", n)),
    ("_JWT", "eyJ segments", lambda n: fill("eyJaaaaa.", n)),
    ("_JWT", "eyJ + letters", lambda n: "eyJ" + "a" * n),
    ("_PREFIXED_KEY", "sk- + letters + a word character", lambda n: "sk-" + "a" * n + "\u00e9"),
    ("_PREFIXED_KEY", "xoxb- + digits", lambda n: "xoxb-" + "1" * n),
    ("_PREFIXED_KEY", "SG. segments", lambda n: fill("SG.aaaaaaaaaa.", n)),
    ("_PREFIXED_KEY", "whsec_ runs", lambda n: fill("whsec_a+", n, suffix="-")),
    ("_OPAQUE", "letters", lambda n: "a" * n),
    ("_OPAQUE", "letters and digits + a word character", lambda n: fill("a1", n, suffix="\u00e9")),
    ("_OPAQUE", "a1-a1-", lambda n: fill("a1-", n)),
    ("_HEX", "hex", lambda n: fill("0123456789abcdef", n)),
    ("_UUID", "uuid-like", lambda n: fill("0123abcd-", n)),
    ("_BASE64", "base64 + a word character", lambda n: fill("aB1+", n, suffix="\u00e9")),
    ("_BASE64", "one case switch", lambda n: fill("a1/", n, prefix="aB")),
    ("_BASE64", "slashes", lambda n: fill("/", n, suffix=":")),
    ("_BASE64", "plus signs", lambda n: fill(" +", n, suffix=":")),
]


def _seconds(text: str) -> float:
    start = time.perf_counter()
    redact(text, CLASSES)
    return time.perf_counter() - start


def growth(make: Builder) -> float:
    """Best time of ``redact`` on the 8n input over its best time on the n input (single calls, interleaved)."""
    small, big = make(N), make(N * GROWTH)
    ratios = []
    for _ in range(ATTEMPTS):
        best_small = best_big = math.inf
        for _ in range(REPEATS):
            best_small = min(best_small, _seconds(small))
            best_big = min(best_big, _seconds(big))
        ratios.append(best_big / best_small)
        if ratios[-1] < MAX_RATIO:
            break
    return min(ratios)


def test_the_issue_input_is_linear() -> None:
    """The exact input of the report: "password" followed by spaces, up to the 4 KB message limit."""
    ratio = growth(lambda n: "password" + " " * n)
    assert ratio < MAX_RATIO, f"redact('password' + ' ' * n): 8x the input took {ratio:.0f}x the time"


@pytest.mark.parametrize(("pattern", "make"), [pytest.param(p, m, id=f"{p}: {what}") for p, what, m in WORST_CASES])
def test_each_pattern_is_linear_on_its_worst_case(pattern: str, make: Builder) -> None:
    assert len(make(N * GROWTH)) / len(make(N)) > GROWTH - 0.5
    ratio = growth(make)
    assert ratio < MAX_RATIO, f"{pattern}: 8x the input took {ratio:.0f}x the time"


def test_every_pattern_has_a_worst_case() -> None:
    """A pattern added to contract.redact without its worst case here fails this test."""
    patterns = {name for name, value in vars(redaction).items() if isinstance(value, re.Pattern)}
    assert patterns == {pattern for pattern, _, _ in WORST_CASES}
