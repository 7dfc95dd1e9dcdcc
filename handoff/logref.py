"""Session ids never reach a log line: a short, non-reversible reference stands in for them.

A customer's session id is a bearer credential (whoever sends it resumes the conversation, transcript included),
and it is also the conversation id that REST paths, Socket.IO rooms and the store use. Log lines name a
conversation by :func:`ref` instead: ``~`` and the first 8 hex digits of its SHA-256, the same in every line, so
lines still correlate (and anyone holding the id can compute the reference; nobody can go the other way).

:func:`install` makes that hold for every record of the process, whoever logs it: the gateway's own lines, aiohttp's
access log (REST paths carry the id), tracebacks of errors that name a conversation, aiosqlite's DEBUG lines with
query parameters. Anything shaped like a session id (:data:`SESSION_ID_LENGTH` URL-safe characters, as
``secrets.token_urlsafe(24)`` makes them) is replaced, before the secret redaction of ``contract.redact`` sees it.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

SESSION_ID_BYTES = 24
SESSION_ID_LENGTH = 32  # len(secrets.token_urlsafe(SESSION_ID_BYTES))
_SESSION_ID = re.compile(rf"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{{{SESSION_ID_LENGTH}}}(?![A-Za-z0-9_-])")
_HEX = re.compile(r"[0-9a-f]+")  # message ids (uuid4 hex) have the length too; a session id is never all hex


def ref(value: str) -> str:
    """The reference that stands for ``value`` (a session id, an engine.io socket id) in log lines."""
    return "~" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def _replace(match: re.Match[str]) -> str:
    value = match.group(0)
    return value if _HEX.fullmatch(value) else ref(value)


def scrub(text: str) -> str:
    """``text`` with every session-id-shaped token replaced by its reference."""
    return _SESSION_ID.sub(_replace, text) if len(text) >= SESSION_ID_LENGTH else text


def _message(msg: Any, args: Any) -> tuple[Any, Any]:
    """(msg, args) as given, or the formatted message scrubbed (and no args) when it named a session."""
    values = args
    if isinstance(args, tuple) and len(args) == 1 and isinstance(args[0], Mapping) and args[0]:
        values = args[0]  # what LogRecord does with a single mapping argument
    try:
        text = str(msg) % values if values else str(msg)
    except Exception:  # a broken format string is the logging module's to report, with its arguments scrubbed
        scrubbed = tuple(scrub(a) if isinstance(a, str) else a for a in args) if isinstance(args, tuple) else args
        return (scrub(msg) if isinstance(msg, str) else msg), scrubbed
    clean = scrub(text)
    return (clean, ()) if clean != text else (msg, args)


_base_factory: Callable[..., logging.LogRecord] | None = None


def _factory(
    name: str, level: int, fn: str, lno: int, msg: Any, args: Any, exc_info: Any, *rest: Any, **kw: Any
) -> logging.LogRecord:
    assert _base_factory is not None
    msg, args = _message(msg, args)
    record = _base_factory(name, level, fn, lno, msg, args, exc_info, *rest, **kw)
    if record.exc_info and record.exc_info[0] is not None:
        # Formatters reuse exc_text when set: the traceback, formatted once here (or by the redaction), scrubbed.
        record.exc_text = scrub(record.exc_text or logging.Formatter().formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = scrub(record.stack_info)
    return record


class ExtrasFilter(logging.Filter):
    """Scrubs a record's ``extra`` fields, which are set after the record factory ran.

    aiohttp's access log puts the request line, path included, there.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Scrub string fields (and the strings of dict fields) in place; never drops a record."""
        for key, value in list(record.__dict__.items()):
            if isinstance(value, str) and key not in ("msg", "name", "pathname", "filename", "module", "funcName"):
                record.__dict__[key] = scrub(value)
            elif isinstance(value, dict) and key != "args":
                record.__dict__[key] = {k: scrub(v) if isinstance(v, str) else v for k, v in value.items()}
        return True


def install() -> None:
    """Scrub every log record of this process from now on (idempotent)."""
    global _base_factory
    if _base_factory is None:
        _base_factory = logging.getLogRecordFactory()
        logging.setLogRecordFactory(_factory)
    access = logging.getLogger("aiohttp.access")
    if not any(isinstance(f, ExtrasFilter) for f in access.filters):
        access.addFilter(ExtrasFilter())
