"""Getting out of a form: cancel, another question, two unusable answers, emoji; and the strike rule's exceptions."""

from __future__ import annotations

from typing import Any

from actions import messages
from actions.backend import DemoBackend
from actions.billing import ActionRefundStatus, ValidateChargeDisputeForm, ValidateInvoiceForm
from actions.fallback import ActionClarify
from actions.form_loop import ActionStop
from actions.handoff import ActionHandback
from actions.technical import ValidateTechnicalIssueForm
from tests.actions.conftest import (
    ANA,
    DEV,
    action_event,
    buttons,
    form_tracker,
    last_code,
    make_tracker,
    parse_data,
    run_action,
    said,
    slot_values,
    user_event,
)

DEV_VERIFIED = {"email": DEV, "verification_code": "verified", "customer_id": "cus_1004", "customer_verified": True}


def followups(events: list[dict[str, Any]]) -> list[str]:
    """The actions a FollowupAction asks to run next."""
    return [e["name"] for e in events if e.get("event") == "followup"]


async def test_cancel_inside_a_form_stops_it_and_asks_what_else() -> None:
    tracker = form_tracker("charge_dispute_form", {"dispute_reference": "cancel"}, slots=DEV_VERIFIED,
                           requested_slot="dispute_reference", intent="stop")
    dispatcher, events = await run_action(ValidateChargeDisputeForm(), tracker)
    slots = slot_values(events)
    assert said(dispatcher) == messages.STOPPED
    assert "Talk to a person" in [b["title"] for b in buttons(dispatcher)]
    assert slots["dispute_reference"] is None and slots["requested_slot"] is None
    assert followups(events) == ["action_listen"]
    assert slots["steps_attempted"][-1]["outcome"] == "cancelled"


async def test_cancel_while_asked_for_the_email_does_not_keep_the_word_as_an_address() -> None:
    tracker = form_tracker("invoice_form", {"email": "never mind"}, requested_slot="email", intent="stop")
    _, events = await run_action(ValidateInvoiceForm(), tracker)
    assert slot_values(events)["email"] is None and followups(events) == ["action_listen"]


async def test_another_question_inside_a_form_starts_that_topic() -> None:
    text = "forget it, can I get a receipt for october"
    tracker = form_tracker("charge_dispute_form", {"dispute_reference": text}, slots=DEV_VERIFIED,
                           requested_slot="dispute_reference", intent="billing_invoice", confidence=0.8)
    dispatcher, events = await run_action(ValidateChargeDisputeForm(), tracker)
    assert dispatcher.messages == [], "no hint about invoice numbers: the new question is answered instead"
    assert followups(events) == ["invoice_form"]
    assert slot_values(events)["dispute_reference"] is None


async def test_a_usable_answer_stays_an_answer_even_when_it_sounds_like_another_topic() -> None:
    text = "the INV-1071 one"
    tracker = form_tracker("charge_dispute_form", {"dispute_reference": text}, slots=DEV_VERIFIED,
                           requested_slot="dispute_reference", intent="billing_invoice", confidence=0.8)
    _, events = await run_action(ValidateChargeDisputeForm(), tracker)
    assert slot_values(events)["dispute_reference"] == "INV-1071"
    assert followups(events) == []


async def test_a_sure_topic_question_leaves_a_free_text_question() -> None:
    text = "actually I need to change my password first"
    tracker = form_tracker("technical_issue_form", {"error_details": text}, requested_slot="error_details",
                           intent="reset_password", confidence=0.96)
    _, events = await run_action(ValidateTechnicalIssueForm(), tracker)
    assert followups(events) == ["password_reset_form"]
    assert slot_values(events)["error_details"] is None


async def test_a_question_is_asked_at_most_twice_then_choices_and_a_strike() -> None:
    first = form_tracker("invoice_form", {"email": "my usual one"}, requested_slot="email", intent="nlu_fallback")
    dispatcher, events = await run_action(ValidateInvoiceForm(), first)
    assert "doesn't look like an email" in said(dispatcher)
    assert slot_values(events)["form_misses"] == {"email": 1} and followups(events) == []
    second = form_tracker("invoice_form", {"email": "the one I use"}, requested_slot="email", intent="nlu_fallback",
                          slots={"form_misses": {"email": 1}})
    dispatcher, events = await run_action(ValidateInvoiceForm(), second)
    slots = slot_values(events)
    assert said(dispatcher) == messages.GAVE_UP_ASKING, "one message: no third 'doesn't look like an email'"
    assert "Talk to a person" in [b["title"] for b in buttons(dispatcher)]
    assert slots["strikes"] == 1.0 and slots["strike_kinds"] == ["form_loop"]
    assert slots["requested_slot"] is None and slots["form_misses"] is None
    assert followups(events) == ["action_listen"]


async def test_the_loop_that_is_the_third_strike_hands_off() -> None:
    tracker = form_tracker("invoice_form", {"email": "dunno"}, requested_slot="email", intent="nlu_fallback",
                           slots={"form_misses": {"email": 1}, "strikes": 2.0,
                                  "strike_kinds": ["nlu_fallback", "step_failed"]})
    dispatcher, events = await run_action(ValidateInvoiceForm(), tracker)
    slots = slot_values(events)
    assert slots["handoff_requested"] is True and slots["handoff_reason"] == "three_strikes"
    assert "could not get the email" in slots["hypothesis"]
    assert followups(events) == ["action_handoff"] and dispatcher.messages == []


async def test_an_emoji_is_neither_an_answer_nor_a_miss() -> None:
    tracker = form_tracker("invoice_form", {"email": "🙄"}, requested_slot="email", intent="nlu_fallback")
    dispatcher, events = await run_action(ValidateInvoiceForm(), tracker)
    assert events == [{"event": "slot", "timestamp": None, "name": "email", "value": None}]
    assert dispatcher.messages == []


async def test_a_question_instead_of_the_code_spends_no_attempt(store: DemoBackend) -> None:
    await run_action(ValidateInvoiceForm(), form_tracker("invoice_form", {"email": ANA}, requested_slot="email"))
    code = last_code(store, ANA)
    text = "wait, where is my refund"
    tracker = form_tracker("invoice_form", {"verification_code": text}, slots={"email": ANA},
                           requested_slot="verification_code", intent="billing_refund", confidence=0.8)
    dispatcher, events = await run_action(ValidateInvoiceForm(), tracker)
    assert followups(events) == ["refund_status_form"] and "strikes" not in slot_values(events)
    assert dispatcher.messages == []
    verify = form_tracker("refund_status_form", {"verification_code": code}, slots={"email": ANA},
                          requested_slot="verification_code")
    _, events = await run_action(ValidateInvoiceForm(), verify)
    assert slot_values(events)["customer_verified"] is True, "the code still works: no attempt was spent"


async def test_thanks_instead_of_the_code_is_a_miss_not_a_wrong_code(store: DemoBackend) -> None:
    """Said in a real chat: "thanks" after "I've emailed a code" was answered "That code doesn't match" (a strike)."""
    await run_action(ValidateInvoiceForm(), form_tracker("invoice_form", {"email": ANA}, requested_slot="email"))
    code = last_code(store, ANA)
    tracker = form_tracker("invoice_form", {"verification_code": "thanks"}, slots={"email": ANA},
                           requested_slot="verification_code", intent="thank")
    dispatcher, events = await run_action(ValidateInvoiceForm(), tracker)
    slots = slot_values(events)
    assert said(dispatcher) == messages.NOT_A_CODE
    assert slots == {"verification_code": None, "form_misses": {"verification_code": 1}}, "no strike"
    again = form_tracker("invoice_form", {"verification_code": "ok i didnt get anything"}, slots={
        "email": ANA, "form_misses": {"verification_code": 1}}, requested_slot="verification_code", intent="inform")
    dispatcher, events = await run_action(ValidateInvoiceForm(), again)
    assert said(dispatcher) == messages.GAVE_UP_ASKING and slot_values(events)["strike_kinds"] == ["form_loop"]
    assert followups(events) == ["action_listen"], "the second time, the form ends with a person on offer"
    verify = form_tracker("invoice_form", {"verification_code": code}, slots={"email": ANA},
                          requested_slot="verification_code")
    _, events = await run_action(ValidateInvoiceForm(), verify)
    assert slot_values(events)["customer_verified"] is True, "no attempt was spent on the code"


async def test_i_dont_know_the_invoice_number_lists_the_recent_charges(store: DemoBackend) -> None:
    tracker = form_tracker("charge_dispute_form", {"dispute_reference": "i dont know the number"},
                           slots=DEV_VERIFIED, requested_slot="dispute_reference", intent="nlu_fallback")
    dispatcher, events = await run_action(ValidateChargeDisputeForm(), tracker)
    assert "most recent charges" in said(dispatcher)
    assert [b["payload"] for b in buttons(dispatcher)] == ["INV-1071 $49.00"], "the duplicate pair is one choice"
    assert slot_values(events)["dispute_reference"] is None
    picked = form_tracker("charge_dispute_form", {"dispute_reference": "INV-1071 $49.00"}, slots=DEV_VERIFIED,
                          requested_slot="dispute_reference", intent="inform")
    _, events = await run_action(ValidateChargeDisputeForm(), picked)
    assert slot_values(events)["dispute_reference"] == "INV-1071"


async def test_what_was_tried_in_the_first_message_is_not_asked_again() -> None:
    text = "the app crashes on start, I already reinstalled it and restarted my phone"
    first = form_tracker("technical_issue_form", {}, intent="technical_issue", text=text, requested_slot=None)
    _, events = await run_action(ValidateTechnicalIssueForm(), first)
    slots = slot_values(events)
    assert slots["steps_tried"] == text and slots["error_details"] == text
    assert "handoff_requested" not in slots, "who is affected is still asked"
    short = "app is broken, tried reinstalling"
    first = form_tracker("technical_issue_form", {}, intent="technical_issue", text=short, requested_slot=None)
    _, events = await run_action(ValidateTechnicalIssueForm(), first)
    slots = slot_values(events)
    assert slots["steps_tried"] == short and "handoff_requested" not in slots, "the error itself is still asked"
    details = form_tracker("technical_issue_form", {"error_details": "it says E-504 when I open reports"},
                           slots={"steps_tried": short, "impact": "just me"}, requested_slot="error_details")
    _, events = await run_action(ValidateTechnicalIssueForm(), details)
    assert slot_values(events)["handoff_requested"] is True


async def test_an_emoji_outside_a_form_is_not_a_strike() -> None:
    tracker = make_tracker({"strikes": 2.0, "strike_kinds": ["nlu_fallback", "nlu_fallback"]}, "nlu_fallback", "👍🏽?")
    dispatcher, events = await run_action(ActionClarify(), tracker)
    assert events == [] and said(dispatcher) == messages.NO_WORDS


async def test_declining_the_early_offer_of_a_person_starts_the_count_again() -> None:
    latest = parse_data("what??", "nlu_fallback", 0.3)
    events = [action_event("action_listen"),
              {**user_event(), "text": "what??", "parse_data": latest, "metadata": {"person_declined": True}}]
    tracker = make_tracker({"strikes": 2.0, "strike_kinds": ["nlu_fallback", "nlu_fallback"]}, "nlu_fallback",
                           "what??", confidence=0.3, events=events)
    _, result = await run_action(ActionClarify(), tracker)
    slots = slot_values(result)
    assert slots["strikes"] == 1.0 and slots["person_declined"] is True and "handoff_requested" not in slots
    # Only once: after that the three-strike rule counts as usual.
    again = make_tracker({"strikes": 2.0, "strike_kinds": ["nlu_fallback"] * 2, "person_declined": True},
                         "nlu_fallback", "what??", confidence=0.3, events=events)
    _, result = await run_action(ActionClarify(), again)
    assert slot_values(result)["handoff_requested"] is True


async def test_stop_outside_a_form_drops_the_pending_question() -> None:
    dispatcher, events = await run_action(ActionStop(), make_tracker({"pending_step": "password_reset_link"}, "stop"))
    assert said(dispatcher) == messages.STOPPED and slot_values(events)["pending_step"] is None
    dispatcher, events = await run_action(ActionStop(), make_tracker({}, "stop"))
    assert said(dispatcher) == messages.NOTHING_PENDING and events == []


async def test_after_a_hand_back_the_bot_picks_up_the_open_question_and_does_not_repeat_itself(
    store: DemoBackend,
) -> None:
    steps = [{"step": "refund_lookup", "outcome": "resolved", "detail": "none"}]
    entities = [{"entity": "open_question", "value": "refund for INV-1042 approved, arrives within 5 days"},
                {"entity": "agent_name", "value": "Lena"}]
    handback = make_tracker({"steps_attempted": steps}, "handback", "", entities=entities)
    dispatcher, events = await run_action(ActionHandback(), handback)
    text = said(dispatcher)
    assert text.startswith("Hi again, it's the assistant. Lena handed this chat back to me.")
    assert "Where we left off: refund for INV-1042 approved, arrives within 5 days." in text
    open_ = slot_values(events)["handback_open"]
    assert open_["answers"] == ["refund_lookup"]
    asked_again = make_tracker({"handback_open": open_, "customer_id": "cus_1001", "customer_verified": True},
                               "billing_refund", "am I getting the refund or not??")
    dispatcher, events = await run_action(ActionRefundStatus(), asked_again)
    assert messages.NOT_REPEATING in said(dispatcher) and "arrives within 5 days" in said(dispatcher)
    assert "I don't see any refunds" not in said(dispatcher)
    assert "Talk to a person" in [b["title"] for b in buttons(dispatcher)]
    assert slot_values(events)["handback_open"]["answers"] == []


async def test_an_answer_that_settled_its_topic_is_given_again_after_a_hand_off_about_another(
    store: DemoBackend,
) -> None:
    """Seen in a real chat: the invoice answered ("thanks"), an export freeze handed off and handed back, then "whats
    my latest invoice?" got "I already gave you that answer, and it didn't settle things"."""
    steps = [{"step": "refund_lookup", "outcome": "resolved", "detail": "none"}]
    before = [action_event("action_listen"), user_event("where is my refund", "billing_refund"),
              action_event("action_refund_status"), action_event("action_listen"), user_event("thanks", "thank")]
    for topic, text, repeated in (("technical_issue", "the export freezes at 90%", False),
                                  ("billing_refund", "that refund answer is wrong, get me a person", True)):
        events = [*before, action_event("action_listen"), user_event(text, topic), action_event("action_handoff"),
                  action_event("action_listen"), user_event("/handback", "handback")]
        _, handed_back = await run_action(ActionHandback(), make_tracker({"steps_attempted": steps}, "handback",
                                                                         "/handback", events=events))
        open_ = slot_values(handed_back)["handback_open"]
        assert open_["topic"] == topic and open_["answers"] == ["refund_lookup"]
        asked_again = make_tracker({"handback_open": open_, "customer_id": "cus_1001", "customer_verified": True},
                                   "billing_refund", "where's my refund")
        dispatcher, _ = await run_action(ActionRefundStatus(), asked_again)
        assert (messages.NOT_REPEATING in said(dispatcher)) is repeated, (topic, said(dispatcher))


async def test_the_form_question_is_not_asked_after_a_validation_that_asked_already() -> None:
    from actions.forms import AskDisputeReference

    offered = {"event": "bot", "timestamp": None, "text": "No problem, here are your most recent charges. Which one is it?"}
    events = [action_event("action_listen"), user_event("dunno", "nlu_fallback"), offered]
    dispatcher, _ = await run_action(AskDisputeReference(), make_tracker({}, "nlu_fallback", "dunno", events=events))
    assert dispatcher.messages == []
    hint = {**offered, "text": "I need the invoice number (like INV-1071) or the amount (like $49.00)."}
    events = [action_event("action_listen"), user_event("dunno", "nlu_fallback"), hint]
    dispatcher, _ = await run_action(AskDisputeReference(), make_tracker({}, "nlu_fallback", "dunno", events=events))
    assert "Which charge is it?" in said(dispatcher)


async def test_the_same_fallback_is_not_said_twice_in_a_row() -> None:
    earlier = {"event": "bot", "timestamp": None, "text": messages.NO_WORDS}
    events = [earlier, action_event("action_listen"), user_event("🙂", "nlu_fallback")]
    dispatcher, _ = await run_action(ActionClarify(), make_tracker({}, "nlu_fallback", "🙂", events=events))
    assert said(dispatcher) == messages.NO_WORDS_AGAIN
    earlier = {**earlier, "text": messages.NOT_UNDERSTOOD_EMPTY}
    events = [earlier, action_event("action_listen"), user_event("hmm", "nlu_fallback")]
    dispatcher, _ = await run_action(ActionClarify(), make_tracker({}, "nlu_fallback", "hmm", ranking=[], events=events))
    assert said(dispatcher) == messages.NOT_UNDERSTOOD_AGAIN


async def test_a_request_for_a_person_inside_a_form_is_left_to_the_rules() -> None:
    # request_human and frustration are not taken as answers (domain: not_intent), so nothing is a candidate:
    # no miss is counted and no slot set, and the form rejects the turn for the hand-off rule.
    tracker = form_tracker("charge_dispute_form", {}, slots=DEV_VERIFIED, requested_slot="dispute_reference",
                           intent="request_human", text="just get me a human")
    dispatcher, events = await run_action(ValidateChargeDisputeForm(), tracker)
    assert dispatcher.messages == [] and "form_misses" not in slot_values(events)
    assert not [e for e in events if e.get("event") == "slot" and e.get("name") != "requested_slot"]


async def test_a_fallback_after_a_json_message_is_still_not_repeated() -> None:
    said_before = {"event": "bot", "timestamp": None, "text": messages.NOT_UNDERSTOOD_EMPTY}
    miss_report = {"event": "bot", "timestamp": None, "text": None, "data": {"custom": {"nlu_miss": {}}}}
    events = [said_before, miss_report, action_event("action_listen"), user_event("hmm", "nlu_fallback")]
    dispatcher, _ = await run_action(ActionClarify(), make_tracker({}, "nlu_fallback", "hmm", ranking=[], events=events))
    assert said(dispatcher) == messages.NOT_UNDERSTOOD_AGAIN


async def test_none_of_these_inside_a_form_is_an_unusable_answer() -> None:
    # something_else is kept out of answers (domain not_intent) but has no business ending a form's question with a
    # "tell me in other words" clarification: it is a miss, and the second one ends the question.
    tracker = form_tracker("charge_dispute_form", {}, slots={**DEV_VERIFIED, "form_misses": {"dispute_reference": 1}},
                           requested_slot="dispute_reference", intent="something_else", text="dunno, the usual one")
    dispatcher, events = await run_action(ValidateChargeDisputeForm(), tracker)
    assert said(dispatcher) == messages.GAVE_UP_ASKING and followups(events) == ["action_listen"]
