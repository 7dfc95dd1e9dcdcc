"""Redaction of secrets typed into a chat: card numbers (Luhn-checked), passwords, tokens and API keys.

The one implementation for the whole project: pure Python (no rasa, no aiohttp), so the gateway (transcripts,
summaries, what it relays to Rasa) and the action server (hand-off payloads, form answers) share it.
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "[REDACTED]"

# 13-19 digits, optionally grouped by single spaces or dashes.
_CARD = re.compile(r"(?<![\w-])(?:\d[ -]?){12,18}\d(?![\w-])")
# "password is hunter2", "pwd: hunter2", "passcode hunter2". Without "is", ":" or "=" only a word that looks like a
# secret (a digit or a symbol) counts, so "password reset link" stays readable.
_PASSWORD = re.compile(
    r"(?i)\b(pass(?:word|wd|code|phrase)?|pwd|pw|pin)\b(\s+-\s+|\s*(?:(?:is|was)\b|[:=])?\s*)([\"']?)(\S{3,})",
)
_SECRET_LOOKING = re.compile(r"\d|[^\w'\u2019.,!?;:-]")
# Words after "password is" that describe the password instead of being it ("my password is not working").
_NOT_A_PASSWORD = frozenset({
    "not", "wrong", "incorrect", "invalid", "expired", "correct", "right", "still", "the", "too", "being", "now",
    "reset", "changed", "locked", "blocked", "rejected", "working", "broken", "fine", "okay", "lost", "forgotten",
    "never", "always", "definitely", "also", "just", "same", "different", "case", "required", "missing", "and",
})
_SECRET_KV = re.compile(
    r"(?i)\b(api[_ -]?key|token|secret|access[_ -]?key|otp|2fa code|client[_ -]?secret)(\s*(?:is|was|:|=)\s*)([^\s&]+)"
)
_TOKEN_PARAM = re.compile(r"(?i)([?&](?:token|code|key|secret|signature)=)[^&\s#]+")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_PREFIXED_KEY = re.compile(r"\b(?:sk|pk|rk|ghp|gho|ghu|ghs|ghr|xox[abp])[_-][A-Za-z0-9_-]{10,}|\bAKIA[0-9A-Z]{16}\b")
_OPAQUE = re.compile(r"\b(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{32,}\b")


def luhn_ok(digits: str) -> bool:
    """True when a digit string passes the Luhn checksum that card numbers carry."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    if 13 <= len(digits) <= 19 and luhn_ok(digits):
        return f"[REDACTED CARD ending {digits[-4:]}]"
    return match.group(0)


def _password(match: re.Match[str]) -> str:
    keyword, separator, quote, value = match.groups()
    if separator.strip():
        if value.strip("\"'.,!?;:").lower() in _NOT_A_PASSWORD:
            return match.group(0)
    elif not quote and not _SECRET_LOOKING.search(value):
        return match.group(0)
    return f"{keyword}{separator or ' '}{REDACTED}"


def redact(text: str) -> str:
    """Replace card numbers, passwords, API keys and tokens in ``text``."""
    if not text:
        return text
    text = _CARD.sub(_card, text)
    text = _TOKEN_PARAM.sub(lambda m: m.group(1) + REDACTED, text)
    text = _SECRET_KV.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = _JWT.sub(REDACTED, text)
    text = _PREFIXED_KEY.sub(REDACTED, text)
    text = _OPAQUE.sub(REDACTED, text)
    return _PASSWORD.sub(_password, text)


def contains_secret(text: str) -> bool:
    """True when the text holds anything redact() would remove."""
    return bool(text) and redact(text) != text


def redact_value(value: Any) -> Any:
    """Redact every string inside a JSON-like value."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(v) for v in value]
    return value
