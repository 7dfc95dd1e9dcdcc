"""The one hand-off action every path uses, the hand-back that resumes the bot, and the payload they carry.

The payload's type, wire form and checks are :mod:`contract.handoff_payload`; its problem sentences
:data:`contract.handoff.PROBLEM_SENTENCES`.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, ActiveLoop, ConversationPaused, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import messages
from actions.dialogue import (
    Turn,
    latest_frustration,
    latest_intent,
    open_support_topic,
    reset_strikes,
    strikes,
    user_turns,
)
from contract.handoff import BOT_REASONS, PROBLEM_SENTENCES, UNKNOWN_PROBLEM
from contract.handoff_payload import CustomerTurn, HandoffPayload, RankedIntent, Sentiment, Step, TurnEntity
from contract.redact import redact

# Slots an agent may need, in the payload; secrets never reach slots (forms validate and redact them).
PAYLOAD_SLOTS = (
    "customer_id", "customer_verified", "customer_tier", "fast_lane", "email", "invoice_id", "error_code", "amount",
    "dispute_reference", "error_details", "steps_tried", "account_field", "plan", "pending_step",
    "impact", "impact_scope", "impact_urgency",
)
ENTITY_SLOTS = ("email", "invoice_id", "error_code", "amount")


def reason_for(tracker: Tracker) -> str:
    """Why the conversation goes to a person: what an action asked for, else what the customer just said."""
    requested = tracker.get_slot("handoff_reason")
    if requested in BOT_REASONS:
        return str(requested)
    intent = latest_intent(tracker)
    if intent == "request_human":
        return "customer_request"
    if intent == "express_frustration":
        return "frustration"
    if tracker.get_slot("fast_lane"):
        return "fast_lane"
    return "policy"


# The identifiers that belong to each topic's sentence (an invoice number says nothing about a crash).
TOPIC_FACTS = {
    "billing_invoice": (("invoice_id", "invoice"), ("amount", "amount $")),
    "billing_charge_dispute": (("invoice_id", "invoice"), ("amount", "amount $")),
    "billing_refund": (("invoice_id", "invoice"), ("amount", "amount $")),
    "technical_issue": (("error_code", "error"),),
}


def problem_statement(tracker: Tracker, steps: list[dict[str, Any]]) -> str:
    """One sentence an L2 agent can act on: the open topic (the latest raised), its identifiers, and what failed."""
    topic = open_support_topic(tracker)
    sentence = PROBLEM_SENTENCES.get(topic or "", UNKNOWN_PROBLEM)
    facts = []
    for slot, label in TOPIC_FACTS.get(topic or "", ()):
        value = tracker.get_slot(slot)
        if value:
            facts.append(f"{label} {value}".replace("$ ", "$"))
    if facts:
        sentence += f" ({', '.join(facts)})"
    failed = [step["step"].replace("_", " ") for step in steps if step.get("outcome") == "failed"]
    if failed:
        sentence += f"; tried: {', '.join(dict.fromkeys(failed))}, which did not work"
    return sentence + "."


def payload_turn(turn: Turn) -> CustomerTurn:
    """A customer turn as the hand-off payload carries it."""
    return CustomerTurn(
        text=turn.text,
        intent=turn.intent,
        confidence=turn.confidence,
        ranking=tuple(RankedIntent(str(r["name"]), r["confidence"]) for r in turn.ranking if r.get("name")),
        entities=tuple(TurnEntity(str(e["entity"]), str(e["value"])) for e in turn.entities),
        sentiment=turn.sentiment,
        frustration=turn.frustration,
    )


def build_handoff_payload(tracker: Tracker, reason: str) -> HandoffPayload:
    """Everything only the tracker knows, for the gateway's summary (the context block)."""
    turns = user_turns(tracker)
    steps = list(tracker.get_slot("steps_attempted") or [])
    slots = {name: tracker.get_slot(name) for name in PAYLOAD_SLOTS if tracker.get_slot(name) not in (None, "", [])}
    for name in ("error_details", "steps_tried", "dispute_reference", "impact"):
        if name in slots:
            slots[name] = redact(str(slots[name]))
    entities = {name: slots[name] for name in ENTITY_SLOTS if name in slots}
    for turn in turns:
        for entity in turn.entities:
            entities.setdefault(str(entity["entity"]), entity["value"])
    trend = [turn.sentiment for turn in turns if turn.sentiment is not None]
    return HandoffPayload(
        reason=reason,
        strikes=strikes(tracker),
        strike_kinds=tuple(tracker.get_slot("strike_kinds") or ()),
        customer_id=tracker.get_slot("customer_id"),
        customer_tier=tracker.get_slot("customer_tier"),
        customer_verified=bool(tracker.get_slot("customer_verified")),
        hypothesis=tracker.get_slot("hypothesis"),
        problem=problem_statement(tracker, steps),
        intent=open_support_topic(tracker),
        turns=tuple(payload_turn(turn) for turn in turns),
        entities=entities,
        slots=slots,
        steps=tuple(Step(str(s["step"]), str(s["outcome"]), str(s.get("detail") or "")) for s in steps),
        sentiment=Sentiment(trend[-1] if trend else None, tuple(trend)),
        frustration=latest_frustration(tracker).get("score"),
    )


class ActionHandoff(Action):
    """Hands the conversation to the L2 queue: tells the customer what happens next and pauses the bot."""

    def name(self) -> str:
        """Used by every hand-off path."""
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Send the honest next-steps text and the handoff custom payload, then pause."""
        reason = reason_for(tracker)
        payload = build_handoff_payload(tracker, reason)
        lead = messages.HANDOFF_LEAD[reason]
        dispatcher.utter_message(text=f"{lead} {messages.HANDOFF_NEXT}")
        dispatcher.utter_message(json_message={"handoff": payload.as_dict()})
        return [
            ActiveLoop(None),
            SlotSet("requested_slot", None),
            SlotSet("handoff_requested", None),
            SlotSet("handoff_reason", None),
            ConversationPaused(),
            # Paused conversations skip action_listen; record it so that the hand-back (a triggered intent after
            # resume) meets the same dialogue state as any other user turn.
            ActionExecuted("action_listen"),
        ]


def handback_entities(tracker: Tracker) -> dict[str, str]:
    """What the gateway passed with the hand-back: ``open_question`` (redacted there) and ``agent_name``."""
    found: dict[str, str] = {}
    for entity in tracker.latest_message.get("entities") or []:
        name, value = entity.get("entity"), entity.get("value")
        if name in ("open_question", "agent_name") and isinstance(value, str) and value.strip():
            found[name] = redact(value.strip())[:500]
    return found


def answers_before_handoff(tracker: Tracker) -> list[str]:
    """The answers the bot gave before the hand-off; those about the topic handed off did not settle it."""
    return [str(step["step"]) for step in tracker.get_slot("steps_attempted") or []
            if step.get("outcome") == "resolved" and step.get("step")]


class ActionHandback(Action):
    """Resumes the bot after an agent hands the conversation back (the return path).

    The bot picks up where the agent left off: it says who handed back and what is still open, and remembers the
    answers it gave before the hand-off, so the same answer is not simply repeated (``AccountRequestAction``).
    """

    def name(self) -> str:
        """Triggered by the gateway through the handback intent."""
        return "action_handback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Greet the customer again with what is open; no strikes, no pending step, no open hand-off."""
        given = handback_entities(tracker)
        who = given.get("agent_name") or "Our team"
        text = f"Hi again, it's the assistant. {who} handed this chat back to me."
        if given.get("open_question"):
            text += f" Where we left off: {given['open_question']}"
            text += "" if text.endswith((".", "?", "!")) else "."
        dispatcher.utter_message(text=f"{text} {messages.HANDBACK_QUESTION}")
        return [
            *reset_strikes(),
            SlotSet("pending_step", None),
            SlotSet("handoff_requested", None),
            SlotSet("handoff_reason", None),
            SlotSet("hypothesis", None),
            SlotSet("form_misses", None),
            SlotSet("handback_open", {"note": given.get("open_question"), "answers": answers_before_handoff(tracker),
                                      "topic": open_support_topic(tracker)}),
            SlotSet("steps_attempted", []),
        ]
