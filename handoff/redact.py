"""Redaction of card numbers (Luhn-checked), passwords and tokens from free text."""

from __future__ import annotations

import re
from typing import Any

_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
_PASSWORD = re.compile(r"(?i)\b(password|passwd|pwd|passcode|pin|passphrase)(\s*(?:is|was|:|=)\s*)(\"[^\"]*\"|'[^']*'|\S+)")
_SECRET_KV = re.compile(
    r"(?i)\b(api[_ -]?key|token|secret|access[_ -]?key|otp|2fa code|client[_ -]?secret)"
    r"(\s*(?:is|was|:|=)\s*)(\S+)"
)
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_PREFIXED_KEY = re.compile(r"\b(?:sk|pk|rk|ghp|gho|xox[abp])[_-][A-Za-z0-9_-]{10,}")
_OPAQUE = re.compile(r"\b(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{32,}\b")

REDACTED = "[REDACTED]"


def luhn_ok(digits: str) -> bool:
    """Luhn checksum of a digit string."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    if 13 <= len(digits) <= 19 and luhn_ok(digits):
        return f"[REDACTED CARD ending {digits[-4:]}]"
    return match.group(0)


def redact(text: str) -> str:
    """Replace card numbers, passwords and tokens in ``text``."""
    text = _CARD.sub(_card, text)
    text = _PASSWORD.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    text = _SECRET_KV.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = _JWT.sub(REDACTED, text)
    text = _PREFIXED_KEY.sub(REDACTED, text)
    return _OPAQUE.sub(REDACTED, text)


def redact_value(value: Any) -> Any:
    """Redact every string inside a JSON-like value."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(v) for v in value]
    return value
