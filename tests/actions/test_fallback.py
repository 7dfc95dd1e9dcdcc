"""Clarification, out of scope, and the customer's yes/no after a step (the three-strike rule)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa_sdk import Tracker

from actions import messages, services
from actions.backend import DemoBackend
from actions.fallback import ActionCheckOutcome, ActionClarify, ActionOutOfScope
from tests.actions.conftest import (
    ANA,
    FELIX,
    buttons,
    custom,
    make_tracker,
    run_action,
    said,
    said_of,
    slot_values,
    texts,
    user_event,
)

RANKING = [
    {"name": "nlu_fallback", "confidence": 0.7},
    {"name": "billing_refund", "confidence": 0.41},
    {"name": "request_human", "confidence": 0.30},
    {"name": "billing_charge_dispute", "confidence": 0.22},
    {"name": "greet", "confidence": 0.2},
    {"name": "reset_password", "confidence": 0.06},
    {"name": "technical_issue", "confidence": 0.04},
]
SENT = [{"step": "password_reset_link", "outcome": "sent", "detail": "link emailed to a***@example.com"}]


def fallback(slots: dict | None = None, text: str = "uh my money thing", ranking: list | None = None):  # type: ignore[no-untyped-def]
    return make_tracker(slots, "nlu_fallback", text, confidence=0.7, ranking=RANKING if ranking is None else ranking)


async def test_clarify_offers_the_likely_topics() -> None:
    dispatcher, events = await run_action(ActionClarify(), fallback())
    assert dispatcher.messages[0]["text"] == messages.DID_YOU_MEAN
    assert buttons(dispatcher) == [
        {"title": "Check a refund", "payload": "/billing_refund"},
        {"title": "Question a charge", "payload": "/billing_charge_dispute"},
        {"title": "Reset my password", "payload": "/reset_password"},
        {"title": "Something else", "payload": "/something_else"},
        {"title": "Talk to a person", "payload": "/request_human"},
    ]
    assert slot_values(events) == {"strikes": 1.0, "strike_kinds": ["nlu_fallback"]}


async def test_clarify_without_suggestions_offers_the_topics() -> None:
    dispatcher, _ = await run_action(ActionClarify(), fallback(ranking=[{"name": "greet", "confidence": 0.5}]))
    assert said(dispatcher) == messages.NOT_UNDERSTOOD_EMPTY
    assert buttons(dispatcher) == messages.TOPIC_BUTTONS


async def test_something_else_asks_to_rephrase() -> None:
    tracker = make_tracker({"strikes": 1.0, "strike_kinds": ["nlu_fallback"]}, "something_else", "/something_else")
    dispatcher, events = await run_action(ActionClarify(), tracker)
    assert said(dispatcher) == messages.REPHRASE
    assert buttons(dispatcher) == [messages.TALK_TO_PERSON]
    assert slot_values(events) == {"strikes": 2.0, "strike_kinds": ["nlu_fallback", "clarification_rejected"]}


async def test_third_misunderstanding_hands_off_for_low_confidence() -> None:
    tracker = fallback({"strikes": 2.0, "strike_kinds": ["nlu_fallback", "clarification_rejected"]})
    dispatcher, events = await run_action(ActionClarify(), tracker)
    slots = slot_values(events)
    assert slots["strikes"] == 3.0
    assert slots["handoff_requested"] is True and slots["handoff_reason"] == "low_confidence"
    assert texts(dispatcher) == []  # action_handoff speaks next
    assert custom(dispatcher) == [{"nlu_miss": {"kind": "nlu_fallback", "text": "uh my money thing",
                                                "intent": "nlu_fallback", "confidence": 0.7,
                                                "ranking": custom(dispatcher)[0]["nlu_miss"]["ranking"]}}]


async def test_mixed_strikes_hand_off_as_three_strikes() -> None:
    tracker = fallback({"strikes": 2.0, "strike_kinds": ["nlu_fallback", "out_of_scope"]})
    _, events = await run_action(ActionClarify(), tracker)
    assert slot_values(events)["handoff_reason"] == "three_strikes"


async def test_out_of_scope_says_what_the_bot_does() -> None:
    dispatcher, events = await run_action(ActionOutOfScope(), make_tracker(None, "out_of_scope", "what's the weather"))
    assert said(dispatcher) == messages.OUT_OF_SCOPE
    assert {"title": "Talk to a person", "payload": "/request_human"} in buttons(dispatcher)
    assert slot_values(events) == {"strikes": 1.0, "strike_kinds": ["out_of_scope"]}


async def test_third_out_of_scope_hands_off() -> None:
    tracker = make_tracker({"strikes": 2.0, "strike_kinds": ["out_of_scope", "out_of_scope"]}, "out_of_scope", "pizza?")
    dispatcher, events = await run_action(ActionOutOfScope(), tracker)
    assert texts(dispatcher) == []
    assert [c["nlu_miss"]["kind"] for c in custom(dispatcher)] == ["out_of_scope"]
    assert slot_values(events)["handoff_reason"] == "three_strikes"


async def test_yes_resolves_the_step_and_resets_strikes() -> None:
    tracker = make_tracker({"pending_step": "password_reset_link", "steps_attempted": SENT, "strikes": 2.0,
                            "strike_kinds": ["step_failed", "step_failed"], "email": ANA}, "affirm", "yes")
    dispatcher, events = await run_action(ActionCheckOutcome(), tracker)
    assert said(dispatcher) == messages.GLAD_IT_WORKED
    slots = slot_values(events)
    assert slots["pending_step"] is None
    assert slots["strikes"] == 0.0 and slots["strike_kinds"] == []
    assert slots["steps_attempted"][-1] == {"step": "password_reset_link", "outcome": "resolved", "detail": ""}


async def test_no_with_nothing_pending_offers_the_topics() -> None:
    dispatcher, events = await run_action(ActionCheckOutcome(), make_tracker(None, "deny", "no"))
    assert buttons(dispatcher) == messages.TOPIC_BUTTONS
    assert events == []


async def test_failed_reset_link_is_resent_and_counted(store: DemoBackend) -> None:
    tracker = make_tracker({"pending_step": "password_reset_link", "steps_attempted": SENT, "email": ANA},
                           "step_failed", "it didn't come")
    dispatcher, events = await run_action(ActionCheckOutcome(), tracker)
    assert len(texts(dispatcher)) == 1  # one message: what was done, said once
    text = said(dispatcher)
    assert text.startswith("Sorry about that.") and "a***@example.com" in text and "Did it work?" in text
    assert buttons(dispatcher) == messages.YES_NO_RESOLVED
    slots = slot_values(events)
    assert slots["strikes"] == 1.0 and slots["strike_kinds"] == ["step_failed"]
    assert "handoff_requested" not in slots
    assert slots["pending_step"] == "password_reset_link"
    # The agent later sees the failure AND the resend, not just the resend.
    assert [s["outcome"] for s in slots["steps_attempted"]] == ["sent", "failed", "sent"]
    assert len(store.outbox(to=ANA)) == 1


async def test_third_failed_step_hands_off_with_three_strikes(store: DemoBackend) -> None:
    steps = [*SENT, {"step": "password_reset_link", "outcome": "failed", "detail": ""}, *SENT,
             {"step": "password_reset_link", "outcome": "failed", "detail": ""}, *SENT]
    tracker = make_tracker({"pending_step": "password_reset_link", "steps_attempted": steps, "email": ANA,
                            "strikes": 2.0, "strike_kinds": ["step_failed", "step_failed"]}, "step_failed", "nope")
    dispatcher, events = await run_action(ActionCheckOutcome(), tracker)
    slots = slot_values(events)
    assert slots["handoff_requested"] is True and slots["handoff_reason"] == "three_strikes"
    assert slots["hypothesis"].startswith("Reset emails not reaching a***@example.com")
    assert slots["pending_step"] is None
    assert [s["outcome"] for s in slots["steps_attempted"]].count("failed") == 3
    assert store.outbox(to=ANA) == []  # no fourth link
    assert dispatcher.messages == []


async def test_failed_verification_email_gets_a_tip() -> None:
    tracker = make_tracker({"pending_step": "verification_email"}, "step_failed", "no email")
    dispatcher, events = await run_action(ActionCheckOutcome(), tracker)
    assert "spam" in said(dispatcher)
    assert buttons(dispatcher) == messages.YES_NO_RESOLVED
    assert slot_values(events)["strikes"] == 1.0


async def test_failed_payment_link_is_resent(store: DemoBackend) -> None:
    tracker = make_tracker({"pending_step": "payment_method_link", "customer_id": "cus_1006",
                            "customer_verified": True}, "step_failed", "the page errors")
    dispatcher, events = await run_action(ActionCheckOutcome(), tracker)
    assert len(texts(dispatcher)) == 1
    assert said(dispatcher).startswith("Sorry about that.") and "f***@example.net" in said(dispatcher)
    assert [m["purpose"] for m in store.outbox(to=FELIX)] == ["payment_method"]
    assert slot_values(events)["pending_step"] == "payment_method_link"


async def test_failure_with_no_step_asks_what_they_were_doing() -> None:
    dispatcher, events = await run_action(ActionCheckOutcome(), make_tracker(None, "step_failed", "that didn't work"))
    assert "what you were trying to do" in said(dispatcher)
    assert slot_values(events)["steps_attempted"][-1]["step"] == "unknown_step"


async def test_close_confirmed_closes_the_account(store: DemoBackend) -> None:
    tracker = make_tracker({"pending_step": "close_account_confirm", "customer_id": "cus_1006",
                            "customer_verified": True}, "affirm", "yes, close it")
    dispatcher, events = await run_action(ActionCheckOutcome(), tracker)
    assert "Your account is closed" in said(dispatcher)
    assert store.customer_by_id("cus_1006").status == "closed"  # type: ignore[union-attr]
    assert store.outbox(to=FELIX)[-1]["purpose"] == "account_closed"
    slots = slot_values(events)
    assert slots["pending_step"] is None
    assert slots["steps_attempted"][-1]["outcome"] == "resolved"


async def test_close_denied_keeps_the_account(store: DemoBackend) -> None:
    tracker = make_tracker({"pending_step": "close_account_confirm", "customer_id": "cus_1006",
                            "customer_verified": True}, "deny", "no, keep it")
    dispatcher, events = await run_action(ActionCheckOutcome(), tracker)
    assert "stays open" in said(dispatcher)
    assert store.customer_by_id("cus_1006").status == "active"  # type: ignore[union-attr]
    assert store.outbox(to=FELIX) == []
    assert slot_values(events)["steps_attempted"][-1] == {"step": "close_account", "outcome": "cancelled", "detail": ""}


async def test_backend_down_while_retrying_hands_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("DEMO_BACKEND_DB", str(blocker / "b.db"))
    services.settings.cache_clear()
    services.backend.cache_clear()
    tracker = make_tracker({"pending_step": "password_reset_link", "email": ANA}, "step_failed", "nothing came")
    dispatcher, events = await run_action(ActionCheckOutcome(), tracker)
    assert messages.BACKEND_DOWN in said(dispatcher)
    assert slot_values(events)["handoff_reason"] == "backend_unavailable"


async def test_rejected_clarification_reports_the_message_it_guessed_wrong() -> None:
    events = [{"event": "user", "text": "uh my money thing", "parse_data": {
        "text": "uh my money thing", "intent": {"name": "nlu_fallback", "confidence": 0.7}, "intent_ranking": RANKING}},
              {"event": "user", "text": "/something_else", "parse_data": {
                  "text": "/something_else", "intent": {"name": "something_else", "confidence": 1.0}}}]
    tracker = make_tracker({"strikes": 1.0, "strike_kinds": ["nlu_fallback"]}, "something_else", "/something_else",
                           events=events)
    dispatcher, _ = await run_action(ActionClarify(), tracker)
    miss = custom(dispatcher)[-1]["nlu_miss"]
    assert miss["kind"] == "clarification_rejected" and miss["text"] == "uh my money thing"
    assert [r["name"] for r in miss["ranking"]][:2] == ["nlu_fallback", "billing_refund"]


# -- security: "it didn't work" answers the same whether or not the address has an account, and says what was done --
NOBODY = "anna.nobody@example.com"  # masks like ANA (a***@example.com) but has no account


def retry_tracker(email: str, step: str, intent: str = "reset_password") -> Tracker:
    sent = [{"step": step, "outcome": "sent", "detail": "link emailed to a***@example.com"}]
    events = [user_event("help", intent), user_event("it didn't come", "step_failed")]
    return make_tracker({"pending_step": step, "steps_attempted": sent, "email": email}, "step_failed",
                        "it didn't come", events=events)


@pytest.mark.parametrize(("step", "intent"), [
    ("password_reset_link", "reset_password"), ("unlock_link", "account_locked"),
    ("payment_method_link", "billing_payment_method"),
])
async def test_retry_answers_the_same_whether_or_not_an_account_exists(
    store: DemoBackend, step: str, intent: str
) -> None:
    seen = []
    for email in (ANA, NOBODY):
        dispatcher, events = await run_action(ActionCheckOutcome(), retry_tracker(email, step, intent))
        slots = slot_values(events)
        seen.append((dispatcher.messages, slots.get("handoff_requested"), slots.get("pending_step"),
                     slots.get("strikes"), [s["outcome"] for s in slots["steps_attempted"]]))
    assert seen[0] == seen[1]
    assert seen[0][1] is None  # no hand-off for either (it would tell the missing account apart)
    assert len(seen[0][0]) == 1 and "if there's an account with that address" in said_of(seen[0][0])
    assert seen[0][4] == ["sent", "failed", "sent"]
    assert store.outbox(to=NOBODY) == []
    assert len(store.outbox(to=ANA)) == 1  # the real account got a new link


@pytest.mark.parametrize("email", [ANA, NOBODY])
async def test_retry_over_the_hourly_limit_says_only_that_nothing_was_sent(store: DemoBackend, email: str) -> None:
    for _ in range(3):
        assert store.request_password_reset(email)
    dispatcher, events = await run_action(ActionCheckOutcome(), retry_tracker(email, "password_reset_link"))
    assert len(texts(dispatcher)) == 1
    text = said(dispatcher)
    assert "several times in the last hour" in text and "haven't sent another one" in text
    assert "I've sent" not in text and "fresh link" not in text  # no claim of a send that did not happen
    assert slot_values(events)["steps_attempted"][-1]["outcome"] == "not_sent"
    assert len(store.outbox(to=email)) == (3 if email == ANA else 0)


async def test_email_change_that_did_not_arrive_points_to_the_current_address(store: DemoBackend) -> None:
    tracker = make_tracker({"pending_step": "email_change_verification", "email": ANA, "customer_id": "cus_1001",
                            "customer_verified": True}, "step_failed", "no email")
    dispatcher, _ = await run_action(ActionCheckOutcome(), tracker)
    assert "current address" in said(dispatcher)
    tracker = make_tracker({"pending_step": "email_change_verification", "email": ANA, "customer_id": "cus_1001",
                            "customer_verified": True, "strikes": 2.0,
                            "strike_kinds": ["step_failed", "step_failed"]}, "step_failed", "still nothing")
    _, events = await run_action(ActionCheckOutcome(), tracker)
    hypothesis = slot_values(events)["hypothesis"].lower()
    assert "approval" in hypothesis and "current address a***@example.com" in hypothesis
