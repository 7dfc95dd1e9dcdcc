"""The hand-off: what the customer is told, the payload the gateway turns into a summary, and the hand-back."""

from __future__ import annotations

import json
from typing import Any

import pytest

from actions import messages
from actions.handoff import ActionHandback, ActionHandoff
from contract.handoff import PROBLEM_SENTENCES
from tests.actions.conftest import (
    ANA,
    action_event,
    custom,
    make_tracker,
    run_action,
    said,
    slot_values,
    user_event,
)

CARD = "4111 1111 1111 1111"
STEPS = [
    {"step": "password_reset_link", "outcome": "sent", "detail": "link emailed to a***@example.com"},
    {"step": "password_reset_link", "outcome": "failed", "detail": ""},
    {"step": "password_reset_link", "outcome": "sent", "detail": "link emailed to a***@example.com"},
    {"step": "password_reset_link", "outcome": "failed", "detail": ""},
]


def conversation(last_intent: str = "request_human", last_text: str = "get me a human", **last: Any) -> list[dict]:
    return [
        action_event("action_session_start"),
        action_event("action_listen"),
        user_event("I can't log in, please reset my password", "reset_password", confidence=0.91,
                   ranking=[{"name": "reset_password", "confidence": 0.91234},
                            {"name": "account_locked", "confidence": 0.05}],
                   frustration={"score": 0.1, "sentiment": -0.2}),
        action_event("password_reset_form"),
        action_event("action_listen"),
        user_event(f"it's {ANA} and my card is {CARD} if that helps", "inform", confidence=0.83,
                   entities=[{"entity": "email", "value": ANA}, {"entity": "amount", "value": CARD}],
                   frustration={"score": 0.2, "sentiment": -0.1}),
        action_event("action_password_reset"),
        action_event("action_listen"),
        user_event("nope, nothing came", "step_failed", confidence=0.88, frustration={"score": 0.4, "sentiment": -0.4}),
        action_event("action_check_outcome"),
        action_event("action_listen"),
        user_event(last_text, last_intent, **last),
    ]


def handoff_tracker(slots: dict | None = None, intent: str = "request_human", text: str = "get me a human",
                    **last: Any):  # type: ignore[no-untyped-def]
    last.setdefault("confidence", 0.97)
    last.setdefault("frustration", {"score": 0.7, "sentiment": -0.6})
    base = {"email": ANA, "customer_tier": "pro", "strikes": 2.0, "strike_kinds": ["step_failed", "step_failed"],
            "steps_attempted": STEPS, "pending_step": "password_reset_link"}
    return make_tracker({**base, **(slots or {})}, intent, text, events=conversation(intent, text, **last), **last)


async def test_handoff_tells_the_customer_and_pauses() -> None:
    dispatcher, events = await run_action(ActionHandoff(), handoff_tracker())
    assert said(dispatcher) == f"{messages.HANDOFF_LEAD['customer_request']} {messages.HANDOFF_NEXT}"
    assert {"event": "active_loop", "timestamp": None, "name": None} in events
    assert any(event["event"] == "pause" for event in events)
    slots = slot_values(events)
    assert slots["handoff_requested"] is None and slots["requested_slot"] is None
    assert slots["handoff_reason"] is None, "the reason travels in the payload; a later hand-off decides afresh"


async def test_handoff_payload_carries_what_only_the_tracker_knows() -> None:
    dispatcher, _ = await run_action(ActionHandoff(), handoff_tracker({"hypothesis": "Reset emails not arriving"}))
    [payload] = [message["handoff"] for message in custom(dispatcher)]
    assert payload["reason"] == "customer_request"
    assert payload["strikes"] == 2 and payload["strike_kinds"] == ["step_failed", "step_failed"]
    assert payload["customer_tier"] == "pro" and payload["customer_verified"] is False
    assert payload["hypothesis"] == "Reset emails not arriving"
    assert payload["intent"] == "reset_password"
    assert [(t["intent"], t["confidence"]) for t in payload["turns"]] == [
        ("reset_password", 0.91), ("inform", 0.83), ("step_failed", 0.88), ("request_human", 0.97)]
    assert payload["turns"][0]["ranking"][0] == {"name": "reset_password", "confidence": 0.912}
    assert payload["entities"]["email"] == ANA
    assert payload["steps"] == STEPS
    assert payload["sentiment"] == {"latest": -0.6, "trend": [-0.2, -0.1, -0.4, -0.6]}
    assert payload["frustration"] == 0.7
    assert payload["problem"] == (
        "Customer can't log in and needs a password reset; tried: password reset link, which did not work.")
    assert payload["slots"]["pending_step"] == "password_reset_link"
    json.dumps(payload)  # the gateway gets JSON


async def test_a_pasted_card_number_never_reaches_the_payload() -> None:
    tracker = handoff_tracker({"error_details": f"checkout fails for card {CARD}"})
    dispatcher, _ = await run_action(ActionHandoff(), tracker)
    dumped = json.dumps(dispatcher.messages)
    assert "4111" not in dumped and "1111 1111" not in dumped
    payload = custom(dispatcher)[0]["handoff"]
    assert "[REDACTED CARD ending 1111]" in payload["turns"][1]["text"]
    assert payload["turns"][1]["text"].startswith(f"it's {ANA} and my card is")


@pytest.mark.parametrize(("intent", "slots", "reason"), [
    ("request_human", {}, "customer_request"),
    ("express_frustration", {}, "frustration"),
    ("request_human", {"handoff_reason": "three_strikes"}, "three_strikes"),
    ("express_frustration", {"handoff_reason": "technical_issue"}, "technical_issue"),
    ("inform", {"fast_lane": True}, "fast_lane"),
    ("inform", {}, "policy"),
    ("request_human", {"handoff_reason": "made_up"}, "customer_request"),
])
async def test_handoff_reason(intent: str, slots: dict, reason: str) -> None:
    dispatcher, events = await run_action(ActionHandoff(), make_tracker(slots, intent, "text"))
    assert custom(dispatcher)[0]["handoff"]["reason"] == reason
    assert said(dispatcher).startswith(messages.HANDOFF_LEAD[reason])
    assert slot_values(events)["handoff_reason"] is None


async def test_frustrated_turn_keeps_the_intent_it_replaced() -> None:
    frustration = {"score": 0.9, "sentiment": -0.8, "original_intent": {"name": "billing_refund", "confidence": 0.6}}
    tracker = make_tracker(None, "express_frustration", "WHERE IS MY REFUND!!!", frustration=frustration)
    dispatcher, _ = await run_action(ActionHandoff(), tracker)
    payload = custom(dispatcher)[0]["handoff"]
    assert payload["reason"] == "frustration"
    assert payload["turns"][-1]["intent"] == "billing_refund"
    assert payload["intent"] == "billing_refund"
    assert payload["problem"] == "Customer asked about a refund."


async def test_problem_statement_names_the_identifiers() -> None:
    tracker = make_tracker({"invoice_id": "INV-1071", "amount": "49.00"}, "billing_charge_dispute",
                           "I was charged twice for INV-1071")
    dispatcher, _ = await run_action(ActionHandoff(), tracker)
    payload = custom(dispatcher)[0]["handoff"]
    assert payload["problem"] == "Customer disputes a charge (invoice INV-1071, amount $49.00)."
    assert payload["entities"]["invoice_id"] == "INV-1071"


async def test_the_problem_is_the_topic_still_open_not_the_first_one_answered() -> None:
    """Seen in a real chat: an invoice question answered, then an export freeze, then "let me talk to somebody": the
    hand-off said "a question about an invoice" (the first topic), with the invoice's number."""
    events = [action_event("action_listen"), user_event("whats my latest invoice", "billing_invoice"),
              action_event("action_billing_invoice"), action_event("action_listen"), user_event("thanks", "thank"),
              action_event("action_listen"), user_event("the export freezes at 90%", "technical_issue"),
              action_event("action_listen"), user_event("get me somebody real", "request_human")]
    tracker = make_tracker({"invoice_id": "INV-1071", "amount": "49.00", "error_code": "E-504"}, "request_human",
                           "get me somebody real", events=events)
    dispatcher, _ = await run_action(ActionHandoff(), tracker)
    payload = custom(dispatcher)[0]["handoff"]
    assert payload["intent"] == "technical_issue"
    assert payload["problem"] == f"{PROBLEM_SENTENCES['technical_issue']} (error E-504)."


async def test_an_answer_inside_a_form_is_no_new_topic_but_a_switch_is() -> None:
    """Seen in a real chat: "the whole finance team, we need it for month end" answered the impact question of the
    technical form, read as billing_invoice, and the hand-off said "a question about an invoice"."""
    def loop(name: str | None) -> dict[str, Any]:
        return {"event": "active_loop", "timestamp": None, "name": name}

    fault = [action_event("action_listen"), user_event("whats my latest invoice", "billing_invoice"),
             action_event("action_billing_invoice"), action_event("action_listen"),
             user_event("our csv export hangs at 90%", "technical_issue"), action_event("technical_issue_form"),
             loop("technical_issue_form"), action_event("action_listen"),
             user_event("the whole finance team, we need it for month end", "billing_invoice")]
    tracker = make_tracker({}, "billing_invoice", "the whole finance team, we need it for month end", events=fault)
    assert custom((await run_action(ActionHandoff(), tracker))[0])[0]["handoff"]["intent"] == "technical_issue"
    # A sure switch ends the form and starts the other topic's: that one is open now.
    switched = [*fault, action_event("technical_issue_form"), loop(None), action_event("refund_status_form"),
                loop("refund_status_form")]
    switched[-5] = user_event("actually where is my refund", "billing_refund")
    tracker = make_tracker({}, "billing_refund", "actually where is my refund", events=switched)
    assert custom((await run_action(ActionHandoff(), tracker))[0])[0]["handoff"]["intent"] == "billing_refund"


async def test_handback_resets_and_greets() -> None:
    tracker = make_tracker({"strikes": 3.0, "strike_kinds": ["step_failed"] * 3, "pending_step": "unlock_link",
                            "handoff_reason": "three_strikes", "hypothesis": "x", "steps_attempted": STEPS},
                           "handback", "/handback")
    dispatcher, events = await run_action(ActionHandback(), tracker)
    assert said(dispatcher) == (
        f"Hi again, it's the assistant. Our team handed this chat back to me. {messages.HANDBACK_QUESTION}")
    assert slot_values(events) == {
        "strikes": 0.0, "strike_kinds": [], "pending_step": None, "handoff_requested": None,
        "handoff_reason": None, "hypothesis": None, "steps_attempted": [], "form_misses": None,
        "handback_open": {"note": None, "answers": [s["step"] for s in STEPS if s["outcome"] == "resolved"],
                          "topic": None}}


async def test_a_second_handoff_only_carries_turns_since_the_handback() -> None:
    events = [
        *conversation(),
        action_event("action_handoff"),
        user_event("/handback", "handback"),
        action_event("action_handback"),
        action_event("action_listen"),
        user_event("I need my invoice", "billing_invoice", confidence=0.9),
        action_event("action_listen"),
        user_event("human please", "request_human", confidence=0.99),
    ]
    tracker = make_tracker(None, "request_human", "human please", confidence=0.99, events=events)
    dispatcher, _ = await run_action(ActionHandoff(), tracker)
    payload = custom(dispatcher)[0]["handoff"]
    assert [t["text"] for t in payload["turns"]] == ["I need my invoice", "human please"]
    assert payload["intent"] == "billing_invoice"
