"""Redaction of secrets typed into a chat: card numbers (Luhn-checked), IBANs, CVVs, passwords, reset tokens, API keys.

The one implementation for the whole project: pure Python (no rasa, no aiohttp), so the gateway (transcripts,
summaries, what it relays to Rasa, exports, logs) and the action server (hand-off payloads, form answers, logs)
share it. Which classes are redacted is configurable (``HANDOFF_REDACT``, default all of :data:`CLASSES`);
:func:`install` applies that choice and makes every log record of the process go through :func:`redact`.

Every pattern runs on every customer message on the gateway's event loop, so each is linear time on any input
(tests/handoff/test_redact_linear.py holds each one's worst case): no two quantifiers may compete for the same run of
characters (spaces, an optional "is", spaces: n spaces split n ways at each of n retries), and a pattern that scans a
run of token characters starts only where such a run starts, never again inside it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from typing import Any

REDACTED = "[REDACTED]"

# The classes HANDOFF_REDACT can name (comma separated; "all" or "none" also work).
CARD, IBAN, CVV, PASSWORD, RESET_TOKEN, API_KEY = "card", "iban", "cvv", "password", "reset_token", "api_key"
CLASSES: tuple[str, ...] = (CARD, IBAN, CVV, PASSWORD, RESET_TOKEN, API_KEY)

# 13-19 digits, optionally grouped by single spaces or dashes.
_CARD = re.compile(r"(?<![\w-])(?:\d[ -]?){12,18}\d(?![\w-])")
# Groups with one separator throughout, dots, slashes or two spaces ("4111.1111.1111.1111", "3782/822463/10005"):
# a first group of 4 digits as every network prints it, then 4-6, the last 1-6. Not the tail of a decimal or a path of
# numbers ("0.4111...", "2024/1234..."). The source is shared with the leak scan of the tests (bytes: ASCII classes).
GROUPED_CARD_PATTERN = r"(?<![\w-])(?<!\d[./])\d{4}(\.|/|  )\d{4,6}(?:\1\d{4,6}){0,3}\1\d{1,6}(?![\w-])(?![./]\d)"
_GROUPED_CARD = re.compile(GROUPED_CARD_PATTERN)
# IBAN: country, check digits, then the account either in groups of 4 split by single spaces or in one piece. The
# length per country and the mod-97 checksum are checked by _iban (an account id or a word group is not an IBAN).
_IBAN = re.compile(
    r"(?<![\w-])([A-Za-z]{2}\d{2})((?: [A-Za-z0-9]{4}){2,7}(?: [A-Za-z0-9]{1,3})?|[A-Za-z0-9]{11,30})(?![\w-])"
)
# Lengths of the IBAN registry (SWIFT) per country code.
_IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27, "BR": 29,
    "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
    "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
    "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28,
    "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20,
    "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25,
    "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27,
    "SO": 23, "ST": 25, "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}
# A card's security code, only where the customer says it is one: "cvv 123", "CVC: 4567", "security code is 123",
# "the 3 digits on the back are 123". Any other 3-4 digit number (an amount, a room, an extension) stays.
_CVV = re.compile(
    r"(?i)(?<![\w-])((?:cvv2?|cvc2?|csc)(?: (?:code|number))?|(?:card )?security code|card verification (?:code|value)"
    r"|(?:the )?(?:3|4|three|four)[ -]digits? (?:code |number )?on the back(?: of (?:my |the )?card)?)"
    r"( ?[:=#-] ?| (?:(?:is|was|are|were):? )?)(\d{3,4})(?![\w-])"
)
# "password is hunter2", "pwd: hunter2", "passcode hunter2". Without "is", ":" or "=" only a word that looks like a
# secret (a digit or a symbol) counts, so "password reset link" stays readable. One run of spaces before the "is", one
# after it: "password" + 4,000 spaces used to be split between two optional runs at every retry (quadratic, 0.5 s).
_PASSWORD = re.compile(
    r"(?i)(?<![/.\w-])(pass(?:word|wd|code|phrase)?|pwd|pw|pin)\b(?![-/])(\s+-\s+|\s*(?:(?:is|was)\b\s*|[:=]\s*)?)"
    r"(?:([\"'])([^\"'\n]{1,200})\3|(\S{3,}))",
)
_SECRET_LOOKING = re.compile(r"\d|[^\w'\u2019.,!?;:-]")
# Words after "password is" that describe the password instead of being it ("my password is not working").
_NOT_A_PASSWORD = frozenset({
    "not", "wrong", "incorrect", "invalid", "expired", "correct", "right", "still", "the", "too", "being", "now",
    "reset", "changed", "locked", "blocked", "rejected", "working", "broken", "fine", "okay", "lost", "forgotten",
    "never", "always", "definitely", "also", "just", "same", "different", "case", "required", "missing", "and",
})
# Reset links and codes: ?token=..., /reset/<token>, "reset code: 482913", "verification code is 4F7K2Q".
_TOKEN_PARAM = re.compile(r"(?i)([?&](?:token|code|key|secret|signature|reset_token|otp)=)[^&\s#]+")
_RESET_PATH = re.compile(
    r"(?i)(/(?:reset|reset-password|password-reset|password/reset|recover|verify|confirm|magic|invite|activate)/)"
    r"(?=[A-Za-z0-9_.~-]*\d)[A-Za-z0-9_.~-]{8,}"
)
_RESET_CODE = re.compile(
    r"(?i)\b((?:reset|recovery|verification|security|one[- ]time|confirmation|login|2fa|mfa|otp|sms)\s+"
    r"(?:code|token|pin)|reset\s+link\s+code|otp|2fa code)\b(\s+(?:(?:is|was)\s+)?|\s*[:=]\s*)(?=[A-Za-z0-9-]*\d)"
    r"([A-Za-z0-9-]{4,64})\b"
)
_SECRET_KV = re.compile(
    r"(?i)\b(api[_ -]?key|token|secret|access[_ -]?key|client[_ -]?secret|private[_ -]?key|webhook[_ -]?secret)"
    r"\b(\s+(?:is|was)\s+|\s*[:=]\s*)([\"']?)([^\s&\"']{6,})"
)
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}")
# Starts where a run of token characters starts: "eyJ-eyJ-eyJ-..." would otherwise rescan the run from each "eyJ".
_JWT = re.compile(r"(?<![\w-])eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
# Keys that say what they are: Stripe (sk_live_), OpenAI (sk-proj-), webhook secrets, GitHub, GitLab, Slack, AWS,
# Google. Not inside a longer word or id ("...-pk_abc" in a conversation id is not a key).
_PREFIXED_KEY = re.compile(
    r"(?<![\w-])(?:(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{8,}|sk-(?:proj-)?[A-Za-z0-9_-]{40,}"
    r"|whsec_[A-Za-z0-9+/=]{24,}|gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{40,}|glpat-[A-Za-z0-9_-]{20}"
    r"|xox[abpr]-\d+-[A-Za-z0-9-]{8,}"
    r"|SG\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}|AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{35})(?![\w-])"
)
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# Long opaque secrets: hex or url-safe base64 (32+), or standard base64 with + / = (24+, letters and digits mixed).
_OPAQUE = re.compile(r"(?<![\w/+=-])(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{32,}(?![\w/+=-])")
# Random base64 has a "+" or switches case inside its runs ("bPxRfi"); a path ("Products/Widgets/Model2024") does not.
_BASE64 = re.compile(
    r"(?<![\w/+=.:])(?=[A-Za-z0-9+/]*[+/])(?=[A-Za-z0-9+/]*\d)(?=[A-Za-z0-9+/]*\+|(?:[A-Za-z0-9+/]*?[a-z][A-Z]){2})"
    r"[A-Za-z0-9+/]{24,}={0,2}(?![\w/+=])"
)

_enabled: frozenset[str] = frozenset(CLASSES)


def parse_classes(raw: str | Iterable[str]) -> frozenset[str]:
    """``"card,password"`` (or ``"all"`` / ``"none"``) -> the set of classes; unknown names are an error."""
    names = [p.strip().lower() for p in (raw.split(",") if isinstance(raw, str) else raw) if p.strip()]
    if names in ([], ["all"]):
        return frozenset(CLASSES)
    if names == ["none"]:
        return frozenset()
    unknown = sorted(set(names) - set(CLASSES))
    if unknown:
        raise ValueError(f"HANDOFF_REDACT: unknown class {', '.join(unknown)} (known: all, none, {', '.join(CLASSES)})")
    return frozenset(names)


def configure(classes: str | Iterable[str]) -> frozenset[str]:
    """Choose the classes :func:`redact` removes in this process (default: all); returns the new set."""
    global _enabled
    _enabled = parse_classes(classes)
    return _enabled


def enabled() -> frozenset[str]:
    """The classes redacted in this process."""
    return _enabled


def mask_email(email: str) -> str:
    """a***@example.com: enough for the customer to recognise the address, not enough to harvest it."""
    local, at, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if at and local and domain else "***"


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


def card_digits(written: str) -> str | None:
    """The digits of a card number as written ("4111.1111.1111.1111"), or None: not 13-19 digits, or not Luhn-valid."""
    digits = "".join(char for char in written if char.isdecimal())
    return digits if 13 <= len(digits) <= 19 and luhn_ok(digits) else None


def find_cards(text: str) -> list[str]:
    """Luhn-valid 13-19 digit numbers in ``text`` (spaces or dashes; dots, slashes or two spaces between groups)."""
    matches = [*_CARD.finditer(text), *_GROUPED_CARD.finditer(text)]
    return [m.group(0) for m in sorted(matches, key=lambda m: m.start()) if card_digits(m.group(0))]


def _card(match: re.Match[str]) -> str:
    digits = card_digits(match.group(0))
    return f"[REDACTED CARD ending {digits[-4:]}]" if digits else match.group(0)


def iban_ok(iban: str) -> bool:
    """True for an IBAN (spaces allowed) of its country's length whose check digits pass ISO 7064 mod 97-10."""
    compact = iban.replace(" ", "").upper()
    if len(compact) != _IBAN_LENGTHS.get(compact[:2]) or not compact.isascii() or not compact.isalnum():
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


def _iban(match: re.Match[str]) -> str:
    written = match.group(0)
    length = _IBAN_LENGTHS.get(written[:2].upper())
    if length is None:
        return written
    # The groups may have run on into a following word of 4 letters or digits ("... 7034 THEN"): the IBAN is the
    # country's length of characters, and it must end where a group ends.
    end, count = 0, 0
    while end < len(written) and count < length:
        count += written[end] != " "
        end += 1
    if count < length or (end < len(written) and written[end] != " ") or not iban_ok(written[:end]):
        return written
    compact = written[:end].replace(" ", "")
    return f"[REDACTED IBAN ending {compact[-4:]}]{written[end:]}"


def _password(match: re.Match[str]) -> str:
    keyword, separator, quote, quoted, word = match.groups()
    value = quoted if quote else word
    if separator.strip():
        if value.strip("\"'.,!?;:").lower() in _NOT_A_PASSWORD:
            return match.group(0)
    elif not quote and not _SECRET_LOOKING.search(value):
        return match.group(0)
    return f"{keyword}{separator or ' '}{REDACTED}"


def _secret_kv(match: re.Match[str]) -> str:
    keyword, separator, _quote, value = match.groups()
    word = value.strip(".,!?;:").lower()
    # "the API key is expired", "token: missing": a description, not the key. A key has a digit or a symbol,
    # or is too long to be a word.
    if word in _NOT_A_PASSWORD or (word.isalpha() and len(word) < 16):
        return match.group(0)
    return f"{keyword}{separator}{REDACTED}"


def _opaque(match: re.Match[str]) -> str:
    value = match.group(0)
    # A UUID is a request id, and exactly 32 url-safe characters is the gateway's own conversation id (log lines
    # carry it for context); a 32-character secret is hex, and longer ones are caught whatever their alphabet.
    if _UUID.match(value) or (len(value) == 32 and not _HEX.match(value)):
        return value
    parts = re.split(r"[-_]", value)
    if len(parts) >= 3 and all(len(p) <= 12 and not any(c.isupper() for c in p[1:]) for p in parts):
        return value  # a slug or a file name ("getting-started-with-api-v2"): short words, no mixed case
    return REDACTED


_STEPS: tuple[tuple[str, Callable[[str], str]], ...] = (
    (IBAN, lambda t: _IBAN.sub(_iban, t)),  # first: the digits of a German IBAN can pass for a card number
    (CARD, lambda t: _CARD.sub(_card, t)),
    (CARD, lambda t: _GROUPED_CARD.sub(_card, t)),
    (CVV, lambda t: _CVV.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", t)),  # before "security code 1234"
    (RESET_TOKEN, lambda t: _TOKEN_PARAM.sub(lambda m: m.group(1) + REDACTED, t)),
    (RESET_TOKEN, lambda t: _RESET_PATH.sub(lambda m: m.group(1) + REDACTED, t)),
    (RESET_TOKEN, lambda t: _RESET_CODE.sub(lambda m: f"{m.group(1)}{m.group(2) or ' '}{REDACTED}", t)),
    (API_KEY, lambda t: _SECRET_KV.sub(_secret_kv, t)),
    (API_KEY, lambda t: _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", t)),
    (API_KEY, lambda t: _JWT.sub(REDACTED, t)),
    (API_KEY, lambda t: _PREFIXED_KEY.sub(REDACTED, t)),
    (API_KEY, lambda t: _OPAQUE.sub(_opaque, t)),
    (API_KEY, lambda t: _BASE64.sub(REDACTED, t)),
    (PASSWORD, lambda t: _PASSWORD.sub(_password, t)),
)


def redact(text: str, classes: Iterable[str] | None = None) -> str:
    """Replace card numbers, IBANs, CVVs, passwords, reset tokens and API keys (``classes``: default configured)."""
    if not text:
        return text
    chosen = _enabled if classes is None else frozenset(classes)
    for name, step in _STEPS:
        if name in chosen:
            text = step(text)
    return text


def contains_secret(text: str) -> bool:
    """True when the text holds anything redact() would remove (every class, whatever is configured)."""
    return bool(text) and redact(text, CLASSES) != text


def redact_value(value: Any) -> Any:
    """Redact every string inside a JSON-like value."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(v) for v in value]
    return value


# ---------------------------------------------------------------- logs

_base_factory: Callable[..., logging.LogRecord] | None = None


def _redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    """Every log record, whoever creates it (our code, aiohttp, Sanic, Rasa), leaves with its secrets redacted."""
    assert _base_factory is not None
    record = _base_factory(*args, **kwargs)
    try:
        message = record.getMessage()
    except Exception:  # a broken format string is the logging module's to report, unchanged
        return record
    clean = redact(message)
    if clean != message:
        record.msg, record.args = clean, ()
    if record.exc_info and record.exc_info[0] is not None:
        # Formatters reuse exc_text when it is set: format the traceback once, here, redacted.
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    return record


def install(classes: str | Iterable[str] | None = None) -> None:
    """Configure the classes (when given) and redact every log record of this process from now on (idempotent)."""
    global _base_factory
    if classes is not None:
        configure(classes)
    if _base_factory is None:
        _base_factory = logging.getLogRecordFactory()
        logging.setLogRecordFactory(_redacting_factory)
