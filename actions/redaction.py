"""Redaction of secrets typed into a chat: card numbers, passwords, tokens and API keys.

Pure Python with no rasa import, so the bot, the gateway and exports share one implementation.
"""

from __future__ import annotations

import re

CARD_PLACEHOLDER = "[card number redacted]"
SECRET_PLACEHOLDER = "[redacted]"
TOKEN_PLACEHOLDER = "[token redacted]"

# 13-19 digits, optionally grouped by single spaces or dashes.
_CARD_CANDIDATE = re.compile(r"(?<![\w-])(?:\d[ -]?){12,18}\d(?![\w-])")
# "password is hunter2", "pwd: hunter2", "my new password = hunter2", "passcode hunter2". Without "is", ":" or
# "=" only a word that looks like a secret (a digit or a symbol) counts, so "password reset link" stays readable.
_PASSWORD = re.compile(
    r"(?i)\b(pass(?:word|code|phrase)?|pwd|pw)\b(\s+-\s+|\s*(?:(?:is|was)\b|[:=])?\s*)([\"']?)(\S{3,})",
)
_SECRET_LOOKING = re.compile(r"\d|[^\w'\u2019.,!?;:-]")
# Words after "password is" that describe the password instead of being it ("my password is not working").
_NOT_A_PASSWORD = frozenset({
    "not", "wrong", "incorrect", "invalid", "expired", "correct", "right", "still", "the", "too", "being", "now",
    "reset", "changed", "locked", "blocked", "rejected", "working", "broken", "fine", "okay", "lost", "forgotten",
    "never", "always", "definitely", "also", "just", "same", "different", "case", "required", "missing", "and",
})
# Well-known API key shapes and long opaque tokens (reset links carry these too).
_API_KEY = re.compile(r"\b(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{8,}\b|\bAKIA[0-9A-Z]{16}\b|\bgh[pousr]_[A-Za-z0-9]{20,}\b")
_TOKEN_PARAM = re.compile(r"(?i)([?&](?:token|code|key|secret|signature)=)[^&\s#]+")
_LONG_OPAQUE = re.compile(r"\b(?=[A-Za-z0-9_-]{32,}\b)(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]+\b")


def luhn_valid(digits: str) -> bool:
    """Return True when a digit string passes the Luhn checksum that card numbers carry."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _redact_card(match: re.Match[str]) -> str:
    digits = re.sub(r"[ -]", "", match.group(0))
    if 13 <= len(digits) <= 19 and luhn_valid(digits):
        return CARD_PLACEHOLDER
    return match.group(0)


def _redact_password(match: re.Match[str]) -> str:
    keyword, separator, quote, value = match.groups()
    if separator.strip():
        if value.strip("\"'.,!?;:").lower() in _NOT_A_PASSWORD:
            return match.group(0)
    elif not quote and not _SECRET_LOOKING.search(value):
        return match.group(0)
    return f"{keyword}{separator or ' '}{SECRET_PLACEHOLDER}"


def redact(text: str) -> str:
    """Return text with card numbers (Luhn-checked), passwords, API keys and tokens replaced."""
    if not text:
        return text
    text = _CARD_CANDIDATE.sub(_redact_card, text)
    text = _API_KEY.sub(TOKEN_PLACEHOLDER, text)
    text = _TOKEN_PARAM.sub(lambda m: m.group(1) + SECRET_PLACEHOLDER, text)
    text = _LONG_OPAQUE.sub(TOKEN_PLACEHOLDER, text)
    text = _PASSWORD.sub(_redact_password, text)
    return text


def contains_secret(text: str) -> bool:
    """Return True when the text holds anything redact() would remove."""
    return bool(text) and redact(text) != text
