"""What the actions read from and write to the tracker: identity, turns, strikes, steps, hand-off requests."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet

from actions.settings import ActionSettings
from contract.redact import redact

# Strike kinds that mean "the bot did not understand" (as opposed to "the bot's fix did not work").
UNDERSTANDING_STRIKES = frozenset({"nlu_fallback", "clarification_rejected"})
EMAIL_PATTERN = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
SUPPORT_INTENTS = (
    "reset_password", "account_locked", "create_account", "update_account", "close_account",
    "billing_invoice", "billing_charge_dispute", "billing_refund", "billing_payment_method", "technical_issue",
)


@dataclass(frozen=True)
class Turn:
    """One customer message as NLU saw it (text redacted)."""

    text: str
    intent: str | None
    confidence: float
    ranking: list[dict[str, Any]]
    entities: list[dict[str, Any]]
    sentiment: float | None
    frustration: float | None


def find_email(text: str | None) -> str | None:
    """The first email address in a text, lower-cased."""
    match = EMAIL_PATTERN.search(text or "")
    return match.group(0).lower() if match else None


def _turn_intent(parse_data: dict[str, Any]) -> str | None:
    """A turn's intent; for a frustrated turn, the intent frustration replaced (what the customer was asking)."""
    intent = parse_data.get("intent") or {}
    original = (parse_data.get("frustration") or {}).get("original_intent")
    return original.get("name") if intent.get("name") == "express_frustration" and original else intent.get("name")


def _turn(parse_data: dict[str, Any], fallback_text: str | None) -> Turn:
    intent = parse_data.get("intent") or {}
    frustration = parse_data.get("frustration") or {}
    ranking = [
        {"name": item.get("name"), "confidence": round(float(item.get("confidence") or 0.0), 3)}
        for item in (parse_data.get("intent_ranking") or [])[:3]
    ]
    entities = [
        {"entity": e.get("entity"), "value": redact(str(e.get("value")))}
        for e in parse_data.get("entities") or []
    ]
    return Turn(
        text=redact(parse_data.get("text") or fallback_text or ""),
        intent=_turn_intent(parse_data),
        confidence=round(float(intent.get("confidence") or 0.0), 3),
        ranking=ranking,
        entities=entities,
        sentiment=frustration.get("sentiment"),
        frustration=frustration.get("score"),
    )


def user_turns(tracker: Tracker, limit: int = 20) -> list[Turn]:
    """The customer's messages in this conversation (since the last hand-back), oldest first."""
    turns: list[Turn] = []
    for event in tracker.events:
        if event.get("event") == "user":
            turns.append(_turn(event.get("parse_data") or {}, event.get("text")))
        elif event.get("event") == "action" and event.get("name") == "action_handback":
            turns = []
    return turns[-limit:]


def nlu_miss(tracker: Tracker, kind: str) -> dict[str, Any] | None:
    """The message the bot did not understand, for the designer's review (``custom.nlu_miss``).

    A rejected clarification points at the customer's previous message (the one the bot guessed wrong).
    """
    turns = user_turns(tracker)
    if kind == "clarification_rejected":
        turns = turns[:-1]
    if not turns or not turns[-1].text.strip():
        return None
    turn = turns[-1]
    return {
        "kind": kind,
        "text": turn.text,
        "intent": turn.intent,
        "confidence": turn.confidence,
        "ranking": turn.ranking[:5],
    }


def unrepeated(tracker: Tracker, text: str, *alternatives: str) -> str:
    """``text``, or the first alternative the bot did not say last: never the same message twice in a row."""
    last = next((str(e["text"]) for e in reversed(tracker.events) if e.get("event") == "bot" and e.get("text")), None)
    for candidate in (text, *alternatives):
        if candidate != last:
            return candidate
    return text


def latest_intent(tracker: Tracker) -> str | None:
    """Name of the intent of the latest message."""
    return (tracker.latest_message.get("intent") or {}).get("name")


def latest_frustration(tracker: Tracker) -> dict[str, Any]:
    """The frustration score the NLU pipeline attached to the latest message."""
    return tracker.latest_message.get("frustration") or {}


def first_support_intent(tracker: Tracker) -> str | None:
    """The first support topic the customer raised since the last hand-back (the problem being solved)."""
    for turn in user_turns(tracker):
        if turn.intent in SUPPORT_INTENTS:
            return turn.intent
    return None


def open_support_topic(tracker: Tracker) -> str | None:
    """The support topic still open since the last hand-back: the latest the customer raised.

    Raised means asked while no form was running, or the message a form started on (a form begins on the topic's own
    question, or on a sure switch to another topic). Answers inside a form are answers whatever the NLU read in them
    ("the whole finance team, we need it for month end" answering who is affected read as an invoice question).
    """
    topic: str | None = None
    intent: str | None = None
    in_form = False
    for event in tracker.events:
        kind = event.get("event")
        if kind == "user":
            intent = _turn_intent(event.get("parse_data") or {})
            if not in_form and intent in SUPPORT_INTENTS:
                topic = intent
        elif kind == "active_loop":
            in_form = bool(event.get("name"))
            if in_form and intent in SUPPORT_INTENTS:
                topic = intent
        elif kind == "action" and event.get("name") == "action_handback":
            topic, intent, in_form = None, None, False
    return topic


def person_declined(tracker: Tracker) -> bool:
    """The gateway says the customer declined its early offer of a person (metadata of the latest message)."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            metadata = event.get("metadata") or {}
            return isinstance(metadata, dict) and metadata.get("person_declined") is True
    return False


def strikes(tracker: Tracker) -> int:
    """Failed turns counted so far by the three-strike rule."""
    return int(tracker.get_slot("strikes") or 0)


@dataclass(frozen=True)
class Strike:
    """The result of counting one more failed turn."""

    events: list[EventType]
    count: int
    hand_off: bool


def register_strike(tracker: Tracker, kind: str, settings: ActionSettings, hypothesis: str | None = None) -> Strike:
    """Count a failed turn; on the last allowed strike also request the hand-off.

    The reason is low_confidence when every strike was a failure to understand, three_strikes otherwise.
    """
    count = strikes(tracker) + 1
    kinds = [*(tracker.get_slot("strike_kinds") or []), kind]
    events: list[EventType] = []
    if person_declined(tracker) and not tracker.get_slot("person_declined"):
        # "No, keep going" to the early offer of a person: the customer chose the bot, so the count starts again
        # (once per conversation; a person stays one button away).
        count, kinds = 1, [kind]
        events.append(SlotSet("person_declined", True))
    events += [SlotSet("strikes", float(count)), SlotSet("strike_kinds", kinds)]
    hand_off = count >= settings.max_strikes
    if hand_off:
        reason = "low_confidence" if set(kinds) <= UNDERSTANDING_STRIKES else "three_strikes"
        events += request_handoff(reason, hypothesis)
    return Strike(events=events, count=count, hand_off=hand_off)


def reset_strikes() -> list[EventType]:
    """A resolved request starts the count again."""
    return [SlotSet("strikes", 0.0), SlotSet("strike_kinds", [])]


def request_handoff(reason: str, hypothesis: str | None = None) -> list[EventType]:
    """Ask for action_handoff to run next (the rules follow handoff_requested)."""
    events: list[EventType] = [SlotSet("handoff_requested", True), SlotSet("handoff_reason", reason)]
    if hypothesis:
        events.append(SlotSet("hypothesis", hypothesis))
    return events


def record_step(tracker: Tracker, step: str, outcome: str, detail: str = "") -> SlotSet:
    """Append a resolution step and its outcome (sent, resolved, failed, ...) to steps_attempted."""
    steps = [*(tracker.get_slot("steps_attempted") or []), {"step": step, "outcome": outcome, "detail": detail}]
    return SlotSet("steps_attempted", steps[-20:])


def failures_of(tracker: Tracker, step: str) -> int:
    """How many times this step already failed in the conversation."""
    steps = tracker.get_slot("steps_attempted") or []
    return sum(1 for s in steps if s.get("step") == step and s.get("outcome") == "failed")


def await_confirmation(step: str) -> SlotSet:
    """Remember which step the customer's next yes/no is about."""
    return SlotSet("pending_step", step)
