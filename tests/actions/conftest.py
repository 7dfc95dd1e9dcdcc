"""Tracker builders (financial-demo style) and a freshly seeded demo business per test."""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import services
from actions.backend import DemoBackend

ROOT = Path(__file__).resolve().parents[2]
DOMAIN: dict[str, Any] = yaml.safe_load((ROOT / "domain.yml").read_text())

ANA = "ana.ortiz@example.com"
BEN = "ben.carter@example.com"
CHLOE = "chloe.nguyen@megacorp.example"
DEV = "dev.patel@example.com"
EMMA = "emma.schultz@example.org"
FELIX = "felix.brown@example.net"
GRACE = "grace.kim@bigretail.example"

# Every env knob of ActionSettings: tests run on the defaults except the database file.
SETTINGS_ENV = (
    "DEMO_SEED_PATH", "PUBLIC_URL", "LINK_TTL_MINUTES", "MAX_STRIKES", "MAX_VERIFICATION_ATTEMPTS", "MAX_SENDS_PER_HOUR",
)


def default_slots() -> dict[str, Any]:
    """Every domain slot at its initial value, plus the slots Rasa adds itself."""
    slots = {name: copy.deepcopy(spec.get("initial_value")) for name, spec in DOMAIN["slots"].items()}
    slots.update({"requested_slot": None, "session_started_metadata": None})
    return slots


def parse_data(
    text: str = "",
    intent: str | None = None,
    confidence: float = 0.95,
    ranking: list[dict[str, Any]] | None = None,
    entities: list[dict[str, Any]] | None = None,
    frustration: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What Rasa's NLU attaches to one user message."""
    if ranking is None:
        ranking = [{"name": intent, "confidence": confidence}] if intent else []
    data: dict[str, Any] = {
        "text": text,
        "intent": {"name": intent, "confidence": confidence} if intent else {},
        "intent_ranking": ranking,
        "entities": entities or [],
    }
    if frustration is not None:
        data["frustration"] = frustration
    return data


def user_event(text: str = "", intent: str | None = None, **kwargs: Any) -> dict[str, Any]:
    """A "user" event as stored in the tracker."""
    return {"event": "user", "timestamp": None, "text": text, "parse_data": parse_data(text, intent, **kwargs),
            "input_channel": "rest", "metadata": {}}


def action_event(name: str) -> dict[str, Any]:
    """An "action" event."""
    return {"event": "action", "timestamp": None, "name": name, "policy": None, "confidence": None}


def slot_event(name: str, value: Any) -> dict[str, Any]:
    """A "slot" event."""
    return {"event": "slot", "timestamp": None, "name": name, "value": value}


def make_tracker(
    slots: dict[str, Any] | None = None,
    intent: str | None = None,
    text: str = "",
    *,
    confidence: float = 0.95,
    ranking: list[dict[str, Any]] | None = None,
    entities: list[dict[str, Any]] | None = None,
    frustration: dict[str, Any] | None = None,
    events: list[dict[str, Any]] | None = None,
    active_loop: str | None = None,
    latest_action_name: str = "action_listen",
    sender_id: str = "test-conversation",
) -> Tracker:
    """A tracker as the action server receives it: the latest message is also the last user event."""
    latest = parse_data(text, intent, confidence, ranking, entities, frustration)
    all_slots = default_slots()
    all_slots.update(slots or {})
    if events is None:
        events = [action_event("action_listen"), {**user_event(), "text": text, "parse_data": latest}]
    return Tracker.from_dict({
        "sender_id": sender_id,
        "slots": all_slots,
        "latest_message": latest,
        "events": events,
        "paused": False,
        "followup_action": None,
        "active_loop": {"name": active_loop} if active_loop else {},
        "latest_action_name": latest_action_name,
    })


def form_tracker(
    form: str,
    candidates: dict[str, Any],
    slots: dict[str, Any] | None = None,
    requested_slot: str | None = None,
    intent: str = "inform",
    text: str | None = None,
    **kwargs: Any,
) -> Tracker:
    """The tracker a form's validation action gets: slot candidates appended after the user message."""
    text = text if text is not None else " ".join(str(value) for value in candidates.values())
    confidence = kwargs.pop("confidence", 0.95)
    latest = parse_data(text, intent, confidence, kwargs.get("ranking"), kwargs.get("entities"))
    events = [
        action_event(form),
        {"event": "active_loop", "timestamp": None, "name": form},
        slot_event("requested_slot", requested_slot),
        action_event("action_listen"),
        {**user_event(), "text": text, "parse_data": latest},
        *[slot_event(name, value) for name, value in candidates.items()],
    ]
    all_slots = {**(slots or {}), **candidates, "requested_slot": requested_slot}
    return make_tracker(all_slots, intent, text, confidence=confidence, events=events, active_loop=form,
                        latest_action_name=form, **kwargs)


async def run_action(action: Action, tracker: Tracker) -> tuple[CollectingDispatcher, list[dict[str, Any]]]:
    """Run an action with the real domain; returns what it said and the events it returned."""
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, copy.deepcopy(DOMAIN))
    return dispatcher, events


def slot_values(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The value each SlotSet event leaves a slot at (the last one wins)."""
    return {event["name"]: event["value"] for event in events if event.get("event") == "slot"}


def texts(dispatcher: CollectingDispatcher) -> list[str]:
    """Texts the bot said."""
    return [message["text"] for message in dispatcher.messages if message.get("text")]


def said(dispatcher: CollectingDispatcher) -> str:
    """Everything the bot said, as one string."""
    return "\n".join(texts(dispatcher))


def said_of(messages: list[dict[str, Any]]) -> str:
    """The texts of a list of collected messages, as one string."""
    return "\n".join(message["text"] for message in messages if message.get("text"))


def buttons(dispatcher: CollectingDispatcher) -> list[dict[str, Any]]:
    """Buttons of every message."""
    return [button for message in dispatcher.messages for button in message.get("buttons") or []]


def custom(dispatcher: CollectingDispatcher) -> list[dict[str, Any]]:
    """Custom json_message payloads."""
    return [message["custom"] for message in dispatcher.messages if message.get("custom")]


def last_code(store: DemoBackend, email: str) -> str:
    """The 6-digit code in the newest verification email to this address."""
    codes = [mail for mail in store.outbox(to=email) if mail["purpose"] == "chat_code"]
    assert codes, f"no verification code was emailed to {email}"
    match = re.search(r"\b(\d{6})\b", codes[-1]["body"])
    assert match, codes[-1]["body"]
    return match.group(1)


def token_of(mail: dict[str, Any]) -> str:
    """The token in an emailed link."""
    match = re.search(r"[?&]token=([^&\s]+)", mail["body"])
    assert match, mail["body"]
    return match.group(1)


@pytest.fixture(autouse=True)
def isolated_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point the action server at a fresh SQLite file; the real var/ database is never touched."""
    db = tmp_path / "demo_business.db"
    monkeypatch.setenv("DEMO_BACKEND_DB", str(db))
    for name in SETTINGS_ENV:
        monkeypatch.delenv(name, raising=False)
    services.settings.cache_clear()
    services.backend.cache_clear()
    yield db
    services.settings.cache_clear()
    services.backend.cache_clear()


@pytest.fixture
def store(isolated_backend: Path) -> DemoBackend:
    """The seeded demo business the actions use (same object as actions.services.backend())."""
    return services.backend()


@pytest.fixture
def raw_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every log record at DEBUG, as the code wrote it: contract.redact's process-wide safety net is off meanwhile.

    The net catches link tokens but not every phrasing of a code ("Your code is 123456"); the action server must
    not write secrets in the first place.
    """
    factory = logging.getLogRecordFactory()
    logging.setLogRecordFactory(logging.LogRecord)
    caplog.set_level(logging.DEBUG)
    try:
        yield caplog
    finally:
        logging.setLogRecordFactory(factory)


@pytest.fixture
def domain() -> dict[str, Any]:
    """domain.yml as the action server receives it."""
    return copy.deepcopy(DOMAIN)
