"""Technical faults: collect the error, what was tried and the impact, then hand off with a hypothesis."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk import Tracker

from actions import messages
from actions.handoff import ActionHandoff
from actions.technical import AskImpact, ValidateTechnicalIssueForm, hypothesis_for
from contract.handoff_payload import parse
from tests.actions.conftest import (
    action_event,
    custom,
    form_tracker,
    make_tracker,
    run_action,
    said,
    slot_event,
    slot_values,
    user_event,
)

FORM = "technical_issue_form"


async def test_first_message_with_an_error_code_fills_the_details() -> None:
    text = "the dashboard shows E-504 when I open reports"
    tracker = form_tracker(FORM, {}, intent="technical_issue", text=text)
    dispatcher, events = await run_action(ValidateTechnicalIssueForm(), tracker)
    assert slot_values(events) == {"error_details": text}
    assert dispatcher.messages == []


async def test_long_first_message_without_a_code_fills_the_details() -> None:
    text = "every time I export a report the page goes completely blank"
    _, events = await run_action(ValidateTechnicalIssueForm(), form_tracker(FORM, {}, intent="technical_issue",
                                                                            text=text))
    assert slot_values(events)["error_details"] == text


async def test_vague_first_message_is_not_taken_as_details() -> None:
    _, events = await run_action(ValidateTechnicalIssueForm(),
                                 form_tracker(FORM, {}, intent="technical_issue", text="the app is broken"))
    assert "error_details" not in slot_values(events)


async def test_details_are_not_prefilled_from_an_answer_to_another_question() -> None:
    tracker = form_tracker(FORM, {"steps_tried": "reloaded twice and cleared the cache"},
                           slots={"error_details": None}, requested_slot="steps_tried", intent="technical_issue",
                           text="reloaded twice and cleared the cache and it still shows E-504")
    _, events = await run_action(ValidateTechnicalIssueForm(), tracker)
    assert slot_values(events).get("error_details") is None


async def test_too_short_details_are_asked_again() -> None:
    tracker = form_tracker(FORM, {"error_details": "broken"}, requested_slot="error_details")
    dispatcher, events = await run_action(ValidateTechnicalIssueForm(), tracker)
    assert slot_values(events)["error_details"] is None
    assert "more detail" in said(dispatcher)


async def test_a_bare_error_code_is_enough() -> None:
    _, events = await run_action(ValidateTechnicalIssueForm(),
                                 form_tracker(FORM, {"error_details": "ERR_SYNC_TIMEOUT"}, requested_slot="error_details"))
    assert slot_values(events)["error_details"] == "ERR_SYNC_TIMEOUT"


async def test_secrets_in_the_details_are_redacted_with_a_warning() -> None:
    tracker = form_tracker(FORM, {"error_details": "sync fails with key sk_live_4eC39HqLyjWDarjtT1zdp7dc"},
                           requested_slot="error_details")
    dispatcher, events = await run_action(ValidateTechnicalIssueForm(), tracker)
    assert "sk_live" not in slot_values(events)["error_details"]
    assert said(dispatcher) == messages.NO_SECRETS


async def test_talking_about_the_password_page_is_not_a_secret() -> None:
    text = "the password reset page shows error E-1042 after I click save"
    dispatcher, events = await run_action(ValidateTechnicalIssueForm(),
                                          form_tracker(FORM, {"error_details": text}, requested_slot="error_details"))
    assert slot_values(events)["error_details"] == text
    assert dispatcher.messages == []


async def test_steps_tried_requests_the_handoff_with_a_hypothesis() -> None:
    tracker = form_tracker(FORM, {"steps_tried": "reloaded and tried Firefox"},
                           slots={"error_details": "the dashboard shows E-504 when I open reports",
                                  "impact": "only me as far as I know"},
                           requested_slot="steps_tried")
    dispatcher, events = await run_action(ValidateTechnicalIssueForm(), tracker)
    slots = slot_values(events)
    assert slots["steps_tried"] == "reloaded and tried Firefox"
    assert slots["handoff_requested"] is True and slots["handoff_reason"] == "technical_issue"
    assert slots["hypothesis"] == "suspected gateway timeout between the app and the API based on error code E-504"
    assert dispatcher.messages == []


async def test_nothing_tried_is_an_answer() -> None:
    tracker = form_tracker(FORM, {"steps_tried": "nothing"},
                           slots={"error_details": "the page goes blank on export", "impact": "not sure"},
                           requested_slot="steps_tried")
    _, events = await run_action(ValidateTechnicalIssueForm(), tracker)
    slots = slot_values(events)
    assert slots["steps_tried"] == "nothing"
    assert slots["hypothesis"] == "No error code given; reproduce from the customer's description"


@pytest.mark.parametrize(("details", "hypothesis"), [
    ("I get E504", "suspected gateway timeout between the app and the API based on error code E-504"),
    ("error code 500 on save", "suspected server-side exception based on error code HTTP 500"),
    ("status 503 all morning", "suspected service overload or maintenance based on error code HTTP 503"),
    ("HTTP 502 from the API", "suspected upstream outage behind the load balancer based on error code HTTP 502"),
    ("err_auth_expired in the Slack integration",
     "suspected expired OAuth grant for an integration based on error code ERR_AUTH_EXPIRED"),
    ("E-777 popup", "unrecognised error code based on error code E-777"),
])
def test_hypothesis_from_the_error_code(details: str, hypothesis: str) -> None:
    assert hypothesis_for(details) == hypothesis


# ------------------------------------------------------------------------------------------------ customer impact


def impact_tracker(first: str, answer: str, slots: dict[str, Any], intent: str = "inform",
                   confidence: float = 0.95) -> Tracker:
    """The form opened by ``first`` (details and what was tried known), now answering the impact question."""
    events = [
        action_event("action_listen"),
        user_event(first, "technical_issue"),
        action_event(FORM),
        {"event": "active_loop", "timestamp": None, "name": FORM},
        slot_event("requested_slot", "steps_tried"),
        action_event("action_listen"),
        user_event("restarted the laptop, same thing", "inform"),
        action_event(FORM),
        slot_event("requested_slot", "impact"),
        action_event("action_listen"),
        user_event(answer, intent, confidence=confidence),
        slot_event("impact", answer),
    ]
    values = {"error_details": first, "steps_tried": "restarted the laptop, same thing", **slots,
              "impact": answer, "requested_slot": "impact"}
    return make_tracker(values, intent, answer, confidence=confidence, events=events, active_loop=FORM,
                        latest_action_name=FORM)


async def test_a_first_message_that_says_who_is_affected_fills_the_impact_too() -> None:
    text = "nobody in our office can log in since this morning, error E-504"
    _, events = await run_action(ValidateTechnicalIssueForm(), form_tracker(FORM, {}, intent="technical_issue",
                                                                            text=text))
    slots = slot_values(events)
    assert slots["error_details"] == text and slots["impact"] == text
    assert slots["impact_scope"] == "all_customers"
    assert "steps_tried" not in slots and "handoff_requested" not in slots, "what was tried is still asked"


async def test_the_impact_is_asked_after_what_was_tried() -> None:
    tracker = form_tracker(FORM, {"steps_tried": "cleared the cache"},
                           slots={"error_details": "the report page shows HTTP 500"}, requested_slot="steps_tried")
    _, events = await run_action(ValidateTechnicalIssueForm(), tracker)
    slots = slot_values(events)
    assert slots["steps_tried"] == "cleared the cache"
    assert "impact" not in slots and "handoff_requested" not in slots, "L1 is not done without the impact"
    dispatcher, _ = await run_action(AskImpact(), form_tracker(FORM, {}, requested_slot="impact", text="x"))
    assert said(dispatcher) == messages.ASK["impact"]


async def test_an_answer_to_what_was_tried_that_names_the_team_is_not_asked_again() -> None:
    tracker = form_tracker(FORM, {"steps_tried": "logged out and in, my whole team gets it too"},
                           slots={"error_details": "the report page shows HTTP 500"}, requested_slot="steps_tried")
    _, events = await run_action(ValidateTechnicalIssueForm(), tracker)
    slots = slot_values(events)
    assert slots["impact"] == "logged out and in, my whole team gets it too"
    assert slots["impact_scope"] == "several_customers"
    assert slots["handoff_requested"] is True


async def test_the_impact_answer_completes_l1_with_scope_and_urgency() -> None:
    tracker = impact_tracker("the sync fails with ERR_SYNC_TIMEOUT", "just me, but I have a deadline tomorrow", {})
    dispatcher, events = await run_action(ValidateTechnicalIssueForm(), tracker)
    slots = slot_values(events)
    assert slots["impact"] == "just me, but I have a deadline tomorrow"
    assert (slots["impact_scope"], slots["impact_urgency"]) == ("one_customer", "high")
    assert slots["handoff_requested"] is True and slots["handoff_reason"] == "technical_issue"
    assert slots["hypothesis"] == "suspected database timeout during sync based on error code ERR_SYNC_TIMEOUT"
    assert dispatcher.messages == []


async def test_urgency_said_earlier_in_the_form_is_kept() -> None:
    tracker = impact_tracker("exports fail with E-504 and we can't work", "only my account I think", {})
    slots = slot_values((await run_action(ValidateTechnicalIssueForm(), tracker))[1])
    assert (slots["impact_scope"], slots["impact_urgency"]) == ("one_customer", "critical")


async def test_not_sure_is_an_answer() -> None:
    tracker = impact_tracker("the page goes blank on export", "not sure", {}, intent="nlu_fallback", confidence=0.7)
    slots = slot_values((await run_action(ValidateTechnicalIssueForm(), tracker))[1])
    assert slots["impact"] == "not sure"
    assert slots["impact_scope"] is None and slots["impact_urgency"] is None
    assert slots["handoff_requested"] is True


async def test_an_impact_answer_that_sounds_like_a_login_question_stays_in_the_form() -> None:
    answer = "nobody in the office can log in, it's urgent"
    tracker = impact_tracker("the dashboard shows E-504", answer, {}, intent="account_locked", confidence=0.96)
    _, events = await run_action(ValidateTechnicalIssueForm(), tracker)
    slots = slot_values(events)
    assert not any(e.get("event") == "followup" for e in events), "not switched to the password form"
    assert (slots["impact"], slots["impact_scope"], slots["impact_urgency"]) == (answer, "all_customers", "high")
    assert slots["handoff_requested"] is True


async def test_a_password_question_instead_of_the_impact_still_leaves_the_form() -> None:
    tracker = impact_tracker("the dashboard shows E-504", "how do I reset my password", {},
                             intent="reset_password", confidence=0.97)
    _, events = await run_action(ValidateTechnicalIssueForm(), tracker)
    assert {"event": "followup", "timestamp": None, "name": "password_reset_form"} in events


async def test_a_secret_in_the_impact_answer_is_redacted() -> None:
    tracker = impact_tracker("checkout fails with HTTP 502", "everyone, try my card 4111 1111 1111 1111", {})
    dispatcher, events = await run_action(ValidateTechnicalIssueForm(), tracker)
    assert "4111 1111" not in slot_values(events)["impact"]
    assert said(dispatcher) == messages.NO_SECRETS


async def test_the_handoff_payload_of_a_fault_carries_the_impact() -> None:
    answer = "all our customers see it, we're losing sales"
    tracker = impact_tracker("checkout fails with HTTP 502", answer, {})
    slots = slot_values((await run_action(ValidateTechnicalIssueForm(), tracker))[1])
    handed = make_tracker({**tracker.current_slot_values(), **slots}, "inform", answer, events=tracker.events)
    dispatcher, _ = await run_action(ActionHandoff(), handed)
    payload = parse(custom(dispatcher)[0]["handoff"])
    assert payload.reason == "technical_issue"
    assert payload.slots["impact"] == answer
    assert (payload.slots["impact_scope"], payload.slots["impact_urgency"]) == ("all_customers", "critical")


async def test_an_answer_that_belongs_to_the_question_before_goes_there_and_the_question_is_asked_once_more() -> None:
    """Seen in a real chat: "it just sits there spinning, no error" answered what was tried, and "tried chrome and
    firefox, logged out and in" answered the impact: the summary said the customer tried "it just sits there..."."""
    details = "different thing - our csv export hangs at 90% every time"
    spinning = "it just sits there spinning, no error, since yesterday"
    tracker = form_tracker(FORM, {"steps_tried": spinning}, slots={"error_details": details},
                           requested_slot="steps_tried", intent="technical_issue")
    dispatcher, events = await run_action(ValidateTechnicalIssueForm(), tracker)
    slots = slot_values(events)
    assert said(dispatcher) == messages.ADDED_TO_ERROR
    assert slots["error_details"] == f"{details} {spinning}" and slots["steps_tried"] is None
    assert slots["form_misses"] == {"steps_tried": 1} and "strikes" not in slots
    # Asked once more, the answer is taken as it is, whatever it says.
    again = form_tracker(FORM, {"steps_tried": "it still spins"}, requested_slot="steps_tried",
                         slots={"error_details": slots["error_details"], "form_misses": {"steps_tried": 1}})
    assert slot_values((await run_action(ValidateTechnicalIssueForm(), again))[1])["steps_tried"] == "it still spins"

    tried = "tried chrome and firefox, logged out and in"
    tracker = impact_tracker(details, tried, {"steps_tried": "reloaded"})
    dispatcher, events = await run_action(ValidateTechnicalIssueForm(), tracker)
    slots = slot_values(events)
    assert said(dispatcher) == messages.ADDED_TO_TRIED
    assert slots["steps_tried"] == f"reloaded {tried}" and slots["impact"] is None
    assert "handoff_requested" not in slots, "L1 is not done: the impact is asked once more"
    answer = "the whole finance team, we need it for month end so pretty urgent"
    tracker = impact_tracker(details, answer, {"steps_tried": slots["steps_tried"], "form_misses": {"impact": 1}})
    slots = slot_values((await run_action(ValidateTechnicalIssueForm(), tracker))[1])
    assert slots["impact"] == answer and slots["impact_scope"] == "several_customers"
    assert slots["handoff_requested"] is True


@pytest.mark.parametrize("answer", ["nothing, it just hangs", "no, it keeps failing", "restarting didn't fix the crash",
                                    "reloaded a few times but it keeps freezing", "cleared the cache, still stuck"])
async def test_what_was_tried_said_with_the_fault_is_taken(answer: str) -> None:
    tracker = form_tracker(FORM, {"steps_tried": answer}, slots={"error_details": "exports hang at 90 percent"},
                           requested_slot="steps_tried")
    dispatcher, events = await run_action(ValidateTechnicalIssueForm(), tracker)
    assert slot_values(events)["steps_tried"] == answer and dispatcher.messages == []
