"""A card number, a password and an API key typed by a customer, through a real gateway (fake Rasa).

None of them may reach the store (rows and the SQLite file's bytes), Rasa, the summary, the hand-off event agents
get, the transcript API, the CSV export, the NLU review file or the log, even with the Socket.IO/Engine.IO packet
loggers switched on (they log every frame the customer sends).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from contract import redact
from handoff.__main__ import main
from handoff.domain import auth
from handoff.settings import Settings
from handoff.storage import events as event_store
from handoff.storage import handoffs as handoff_store
from handoff.storage import messages as message_store
from tests.handoff.helpers import HANDOFF_PAYLOAD, TOKEN_SECRET, FakeRasa, Running

CARD = "4000 0566 5566 5556"  # Visa test debit number (Luhn-valid)
PASSWORD = "Hunter2-Blue!"
API_KEY = "sk_live_51PrivacyE2eKey0123abcd"
SECRETS = (CARD, CARD.replace(" ", ""), PASSWORD, API_KEY)

TYPED = {
    "card": f"I was charged twice on my card {CARD}",
    "password": f"my password is {PASSWORD} and it fails",
    "api_key": f"our integration key {API_KEY} returns 401",
}


def leaks(value: Any) -> list[str]:
    """The secrets found in ``value`` (any JSON-able value, str or bytes)."""
    if isinstance(value, bytes):
        return [s for s in SECRETS if s.encode() in value]
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return [s for s in SECRETS if s in text]


@pytest.fixture(autouse=True)
def _default_redaction() -> Iterator[None]:
    yield
    redact.configure("all")  # a test that narrows HANDOFF_REDACT does not leak its choice into the next one


def _script_with_secrets(rasa: FakeRasa) -> None:
    """A bot that quotes the customer back raw (as a bot reached directly would): the gateway must not trust it."""
    original = rasa.script
    quoted = " / ".join(TYPED.values())
    rasa.handoff_payload = {
        **HANDOFF_PAYLOAD,
        "problem": f"Customer pasted secrets: {quoted}",
        "turns": [{**HANDOFF_PAYLOAD["turns"][0], "text": text} for text in TYPED.values()],
        "entities": {"card": CARD, "key": API_KEY},
        "slots": {"customer_id": "cus_1002", "dispute_reference": CARD},
        "steps": [{"step": "password reset", "outcome": "failed", "detail": f"customer typed {TYPED['password']}"}],
    }

    def script(message: str) -> list[dict[str, Any]]:
        if message == "gibberish":
            miss = {"kind": "nlu_fallback", "text": f"thingy broke {quoted}", "intent": "nlu_fallback",
                    "confidence": 0.3, "ranking": [{"name": "nlu_fallback", "confidence": 0.7},
                                                   {"name": "technical_issue", "confidence": 0.3}]}
            return [{"text": "Did you mean...?"}, {"custom": {"nlu_miss": miss}}]
        return original(message)

    rasa.script = script  # type: ignore[method-assign]


async def test_secrets_typed_by_a_customer_are_nowhere(
    gateway: Running, rasa: FakeRasa, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    for packet_logger in ("engineio.server", "socketio.server"):
        caplog.set_level(logging.INFO, logger=packet_logger)
    _script_with_secrets(rasa)
    agent = await gateway.add_agent("lena@example.com", role="l2", skills=["general", "technical"])
    agent_socket = await gateway.agent_client(agent)
    await agent_socket.call("presence", {"status": "online"})
    customer = await gateway.customer()
    conv_id = str(customer.of("session_confirm")[-1])

    for n, text in enumerate(TYPED.values(), 1):
        await customer.say(text)
        await customer.wait_for("bot_uttered", lambda d: str(d.get("text", "")).startswith("echo: "), count=n)
    await customer.say("gibberish")
    await customer.wait_for("bot_uttered", lambda d: d.get("text") == "Did you mean...?")
    await customer.say("human")
    await agent_socket.wait_for("assigned")
    await agent_socket.call("note", {"conversation_id": conv_id, "text": f"customer pasted {API_KEY}, rotate it"})
    await agent_socket.call("agent_message", {"conversation_id": conv_id, "text": f"Is {CARD} the card you mean?"})
    await customer.wait_for("bot_uttered", lambda d: "the card you mean?" in str(d.get("text")))
    await customer.say(f"yes, and pw: {PASSWORD}")
    await agent_socket.wait_for("customer_message", lambda d: "pw:" in json.dumps(d))
    await agent_socket.call("resolve", {"conversation_id": conv_id, "resolution_code": "fixed"})

    # Rasa got the redacted text, and the customer saw it redacted too (the echo is what Rasa received).
    sent_to_rasa = [m["message"] for m in rasa.messages]
    assert len(sent_to_rasa) >= 4 and not leaks(rasa.messages), sent_to_rasa
    assert "[REDACTED CARD ending 5556]" in sent_to_rasa[0] and "[REDACTED]" in sent_to_rasa[1]
    assert "[REDACTED]" in sent_to_rasa[2]
    assert not leaks(customer.received)

    # The store: rows, summary, hand-off event data, notes.
    async with gateway.gw.db.read() as s:
        messages = await message_store.messages_after(s, conv_id, 0)
        handoffs = await handoff_store.handoffs_for(s, conv_id)
        events = await event_store.events_for(s, conv_id)
    assert len([m for m in messages if m.sender == "customer"]) == 6
    assert not leaks([m.text for m in messages]) and not leaks([m.payload for m in messages])
    assert len(handoffs) == 1 and not leaks(handoffs[0].summary)
    # The customer's own words are quoted in the summary, redacted like everything else.
    assert "I was charged twice on my card [REDACTED CARD ending 5556]" in json.dumps(handoffs[0].summary)
    assert not leaks([e.data for e in events])
    # What agents were sent live: the hand-off (summary and its text), the assignment, messages, the note.
    queued = agent_socket.of("handoff_queued") + agent_socket.of("assigned")
    assert queued and not leaks(queued)
    assert not leaks(agent_socket.received)
    assert any("[REDACTED]" in json.dumps(d) for d in agent_socket.of("note_added"))

    # Exports: the transcript API, the metrics CSV (every grouping), the NLU review (console and file).
    token = auth.issue_token(TOKEN_SECRET, agent.id, agent.role, 3600)
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        detail = await (await http.get(f"{gateway.url}/api/conversations/{conv_id}")).json()
        csvs = [await (await http.get(f"{gateway.url}/api/metrics?window=1d&group_by={g}&format=csv")).text()
                for g in ("all", "tier", "intent", "reason", "agent")]
        misses = await (await http.get(f"{gateway.url}/api/nlu_misses")).json()
    assert detail["notes"] and detail["messages"] and not leaks(detail)
    assert all(c.startswith("window_since,") for c in csvs) and not leaks(csvs)
    assert misses["total"] == 1 and not leaks(misses)
    monkeypatch.setenv("DATABASE_URL", gateway.settings.database_url)
    review = tmp_path / "reports" / "nlu_review.yml"
    assert await asyncio.to_thread(main, ["nlu-review", "--since", "1d", "--out", str(review)]) == 0
    assert "thingy broke" in review.read_text() and not leaks(review.read_text())
    assert not leaks(capsys.readouterr().out)

    # The log: the packet loggers did log every frame (so the test can fail), with the secrets redacted.
    assert any("user_uttered" in r.getMessage() for r in caplog.records), "engine.io/socket.io logged no packets"
    assert "[REDACTED CARD ending 5556]" in caplog.text
    assert not leaks(caplog.text)

    # And the SQLite file itself, byte for byte (free pages and all).
    await gateway.stop()
    db_file = Path(gateway.settings.database_url.split("///", 1)[1])
    for path in [db_file, *db_file.parent.glob(db_file.name + "-*")]:
        assert not leaks(path.read_bytes()), path


def test_log_records_of_any_library_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    redact.install()
    caplog.set_level(logging.INFO)
    logging.getLogger("some.library").info("payload %s", {"text": TYPED["card"]})
    logging.getLogger("sanic.access").warning("GET /reset?token=%s Authorization: Bearer %s", "abc123XYZ", API_KEY)
    try:
        raise ValueError(f"bad input {TYPED['password']}")
    except ValueError:
        logging.getLogger("rasa.core").exception("failed on %s", TYPED["api_key"])
    assert not leaks(caplog.text) and "abc123XYZ" not in caplog.text
    assert "[REDACTED CARD ending 5556]" in caplog.text and "token=[REDACTED]" in caplog.text
    assert "ValueError: bad input my password is [REDACTED] and it fails" in caplog.text  # the traceback too


def test_handoff_redact_chooses_the_classes(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings.from_env({}).redact == redact.CLASSES
    settings = Settings.from_env({"HANDOFF_REDACT": "card, api_key"})
    assert redact.configure(settings.redact) == {"card", "api_key"}
    text = " ".join(TYPED.values())
    out = redact.redact(text)
    assert CARD not in out and API_KEY not in out and PASSWORD in out
    assert redact.configure("none") == frozenset() and redact.redact(text) == text
    assert redact.configure("all") == set(redact.CLASSES)
    assert redact.contains_secret(TYPED["password"])  # validation (forms) checks every class whatever the setting
    with pytest.raises(ValueError, match="HANDOFF_REDACT: unknown class cards"):
        redact.configure("cards")


async def test_a_narrower_setting_is_what_the_gateway_applies(gateway_factory: Any, rasa: FakeRasa) -> None:
    running: Running = await gateway_factory(redact=("password",))
    customer = await running.customer()
    await customer.say(f"my password is {PASSWORD}, the key {API_KEY}")
    await customer.wait_for("bot_uttered", lambda d: str(d.get("text", "")).startswith("echo: "))
    assert rasa.messages[-1]["message"] == f"my password is [REDACTED] the key {API_KEY}"
