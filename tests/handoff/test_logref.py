"""Session ids in log records of any origin become references (handoff.logref), whatever the record's shape."""

from __future__ import annotations

import logging
import uuid

import pytest

from contract import redact
from handoff import logref
from handoff.usecases.conversations import new_session_id


@pytest.fixture(autouse=True)
def _installed() -> None:
    redact.install()  # the order of create_app: redaction first, then the session scrubber
    logref.install()


def _lines(caplog: pytest.LogCaptureFixture) -> str:
    """Formatted lines plus every field a structured handler could write (``exc_info`` is the live exception
    object: formatters write the ``exc_text`` the factory left, scrubbed)."""
    formatter = logging.Formatter("%(name)s %(message)s")
    return "\n".join(
        formatter.format(r) + repr({k: v for k, v in r.__dict__.items() if k != "exc_info"}) for r in caplog.records
    )


def test_every_shape_of_record_names_the_session_by_reference(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    sid = new_session_id()
    message_id = uuid.uuid4().hex  # same length, but all hex: a message id, not a session
    log = logging.getLogger("handoff.test_logref")
    log.info("conversation %s, message %s", sid, message_id)
    log.debug("mapping %(conversation)s", {"conversation": sid})
    log.warning(f"pre-formatted /api/conversations/{sid}/claim")
    try:
        raise KeyError(f"conversation {sid} not found")
    except KeyError:
        log.exception("lookup failed")
    logging.getLogger("aiohttp.access").info(
        f'127.0.0.1 "GET /api/conversations/{sid} HTTP/1.1" 200', extra={"first_request_line": f"GET /x/{sid}"}
    )
    text = _lines(caplog)
    assert sid not in text
    assert logref.ref(sid) in text and logref.ref(message_id) not in text  # (the redaction may hide hex ids)
    assert text.count(logref.ref(sid)) >= 6


def test_a_record_that_cannot_be_formatted_keeps_no_session_id(caplog: pytest.LogCaptureFixture) -> None:
    sid = new_session_id()
    record = logging.getLogRecordFactory()("x", logging.INFO, __file__, 1, "broken %s %s", (sid,), None)
    assert record.args == (logref.ref(sid),)  # logging reports the bad format string itself, later


def test_references_are_short_stable_and_differ_per_session() -> None:
    a, b = new_session_id(), new_session_id()
    assert len(a) == logref.SESSION_ID_LENGTH
    assert logref.ref(a) == logref.ref(a) != logref.ref(b)
    assert len(logref.ref(a)) == 9 and a not in logref.scrub(f"x {a} y")
