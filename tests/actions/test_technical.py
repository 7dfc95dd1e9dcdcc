"""Technical faults: collect the error and what was tried, then hand off with a hypothesis from the error code."""

from __future__ import annotations

import pytest

from actions import messages
from actions.technical import ValidateTechnicalIssueForm, hypothesis_for
from tests.actions.conftest import form_tracker, run_action, said, slot_values

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
                           slots={"error_details": "the dashboard shows E-504 when I open reports"},
                           requested_slot="steps_tried")
    dispatcher, events = await run_action(ValidateTechnicalIssueForm(), tracker)
    slots = slot_values(events)
    assert slots["steps_tried"] == "reloaded and tried Firefox"
    assert slots["handoff_requested"] is True and slots["handoff_reason"] == "technical_issue"
    assert slots["hypothesis"] == "suspected gateway timeout between the app and the API based on error code E-504"
    assert dispatcher.messages == []


async def test_nothing_tried_is_an_answer() -> None:
    tracker = form_tracker(FORM, {"steps_tried": "nothing"}, slots={"error_details": "the page goes blank on export"},
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
