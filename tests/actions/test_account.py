"""Account setup and changes: create with verification, change name or email, close with the right checks."""

from __future__ import annotations

import pytest

from actions import messages
from actions.account import (
    ActionCloseAccount,
    ActionCreateAccount,
    ActionUpdateAccount,
    ValidateCreateAccountForm,
    ValidateUpdateAccountForm,
    parse_account_field,
    parse_plan,
)
from actions.backend import DemoBackend
from tests.actions.conftest import (
    ANA,
    BEN,
    CHLOE,
    FELIX,
    GRACE,
    buttons,
    form_tracker,
    make_tracker,
    run_action,
    said,
    said_of,
    slot_values,
    token_of,
)

NEW = "new.person@example.com"


def verified(customer_id: str, **slots: object) -> dict[str, object]:
    return {"customer_id": customer_id, "customer_verified": True, **slots}


# -- create ------------------------------------------------------------------------------------------------------
async def test_signup_email_is_normalised(store: DemoBackend) -> None:
    tracker = form_tracker("create_account_form", {"signup_email": "use New.Person@Example.com"},
                           requested_slot="signup_email")
    dispatcher, events = await run_action(ValidateCreateAccountForm(), tracker)
    assert slot_values(events)["signup_email"] == NEW
    assert dispatcher.messages == []


# -- security: signing up answers the same whether or not the address already has an account ----------------------
NOBODY = "anna.nobody@example.com"  # masks like ANA (a***@example.com) but has no account


async def test_signup_answers_the_same_whether_or_not_the_address_has_an_account(store: DemoBackend) -> None:
    answers = []
    for email in (ANA, NOBODY):
        validated, slots = await run_action(ValidateCreateAccountForm(), form_tracker(
            "create_account_form", {"signup_email": email.upper()}, requested_slot="signup_email"))
        assert slot_values(slots)["signup_email"] == email  # the form goes on the same way for both
        dispatcher, events = await run_action(
            ActionCreateAccount(), make_tracker({"signup_email": email, "plan": "business"}, "inform", "business"))
        answers.append((validated.messages, dispatcher.messages, slot_values(events)))
    assert answers[0] == answers[1]
    text = said_of(answers[0][1])
    assert "a***@example.com" in text and "already" in text and ANA not in text
    assert "is created" not in text
    # The owner's inbox hears about it (no new account, nothing changed); the free address gets its verification link.
    assert [m["purpose"] for m in store.outbox(to=ANA)] == ["signup_existing"]
    assert "token=" not in store.outbox(to=ANA)[0]["body"]
    assert store.customer_by_email(ANA).plan == "pro"  # type: ignore[union-attr]
    assert [m["purpose"] for m in store.outbox(to=NOBODY)] == ["verify_email"]
    assert store.customer_by_email(NOBODY).status == "pending_verification"  # type: ignore[union-attr]


async def test_fourth_signup_email_in_an_hour_is_not_sent(store: DemoBackend) -> None:
    said_for: dict[str, list[str]] = {}
    for email in (ANA, NOBODY):
        said_for[email] = []
        for _ in range(4):
            dispatcher, events = await run_action(
                ActionCreateAccount(), make_tracker({"signup_email": email, "plan": "free"}, "inform", "free"))
            said_for[email].append(said(dispatcher))
        assert slot_values(events)["steps_attempted"][-1]["outcome"] == "not_sent"
    assert said_for[ANA] == said_for[NOBODY]
    assert len(set(said_for[ANA][:3])) == 1 and "several times in the last hour" in said_for[ANA][3]
    assert len(store.outbox(to=ANA)) == 3 and len(store.outbox(to=NOBODY)) == 3
    # Asking again for a pending account sends a new verification link and voids the earlier one.
    links = [token_of(mail) for mail in store.outbox(to=NOBODY)]
    assert [store.redeem(token, "verify_email") for token in links[:2]] == [None, None]
    assert store.redeem(links[2], "verify_email") is not None


async def test_malformed_signup_email_is_asked_again(store: DemoBackend) -> None:
    tracker = form_tracker("create_account_form", {"signup_email": "new.person at example"},
                           requested_slot="signup_email")
    dispatcher, events = await run_action(ValidateCreateAccountForm(), tracker)
    assert slot_values(events)["signup_email"] is None
    assert "doesn't look like an email" in said(dispatcher)


@pytest.mark.parametrize(("text", "plan"), [
    ("pro", "pro"), ("Professional please", "pro"), ("the Business plan", "business"), ("FREE", "free"),
    ("free or pro?", None), ("premium", None), ("", None), ("problem", None),
])
def test_parse_plan(text: str, plan: str | None) -> None:
    assert parse_plan(text) == plan


async def test_plan_validation() -> None:
    tracker = form_tracker("create_account_form", {"plan": "I'll take Business"}, slots={"signup_email": NEW},
                           requested_slot="plan")
    dispatcher, events = await run_action(ValidateCreateAccountForm(), tracker)
    assert slot_values(events)["plan"] == "business" and dispatcher.messages == []
    tracker = form_tracker("create_account_form", {"plan": "gold"}, slots={"signup_email": NEW},
                           requested_slot="plan")
    dispatcher, events = await run_action(ValidateCreateAccountForm(), tracker)
    assert slot_values(events)["plan"] is None
    assert "Free, Pro and Business" in said(dispatcher)


async def test_create_account_sends_the_verification_email(store: DemoBackend) -> None:
    tracker = make_tracker({"signup_email": NEW, "plan": "pro"}, "inform", "pro")
    dispatcher, events = await run_action(ActionCreateAccount(), tracker)
    created = store.customer_by_email(NEW)
    assert created is not None and (created.plan, created.status) == ("pro", "pending_verification")
    mail = store.outbox(to=NEW)[-1]
    assert mail["purpose"] == "verify_email"
    text = said(dispatcher)
    assert "n***@example.com" in text and "Pro account" in text and "Did the email arrive?" in text
    assert token_of(mail) not in text
    assert buttons(dispatcher) == messages.YES_NO_RESOLVED
    slots = slot_values(events)
    assert slots["pending_step"] == "verification_email"
    assert slots["signup_email"] is None and slots["plan"] is None
    assert store.redeem(token_of(mail), "verify_email") == created.id
    assert store.customer_by_email(NEW).status == "active"  # type: ignore[union-attr]


# -- update ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "field"), [
    ("email", "email"), ("my e-mail address", "email"), ("name", "name"), ("the name on it", "name"),
    ("both my name and email", None), ("password", None),
])
def test_parse_account_field(text: str, field: str | None) -> None:
    assert parse_account_field(text) == field


async def test_new_name_is_validated(store: DemoBackend) -> None:
    form = ValidateUpdateAccountForm()
    good = form_tracker("update_account_form", {"new_value": "  Ana María Ortiz-López "},
                        slots=verified("cus_1001", account_field="name"), requested_slot="new_value")
    _, events = await run_action(form, good)
    assert slot_values(events)["new_value"] == "Ana María Ortiz-López"
    bad = form_tracker("update_account_form", {"new_value": "1234"},
                       slots=verified("cus_1001", account_field="name"), requested_slot="new_value")
    dispatcher, events = await run_action(form, bad)
    assert slot_values(events)["new_value"] is None and "as it should appear" in said(dispatcher)


async def test_secret_as_new_value_is_refused(store: DemoBackend) -> None:
    tracker = form_tracker("update_account_form", {"new_value": "my password is hunter2"},
                           slots=verified("cus_1001", account_field="name"), requested_slot="new_value")
    dispatcher, events = await run_action(ValidateUpdateAccountForm(), tracker)
    assert slot_values(events)["new_value"] is None
    assert said(dispatcher) == messages.NO_SECRETS


async def test_new_email_is_validated(store: DemoBackend) -> None:
    tracker = form_tracker("update_account_form", {"new_value": "it's Ana.New@Example.com"},
                           slots=verified("cus_1001", account_field="email"), requested_slot="new_value")
    _, events = await run_action(ValidateUpdateAccountForm(), tracker)
    assert slot_values(events)["new_value"] == "ana.new@example.com"


async def test_new_email_already_in_use_is_refused(store: DemoBackend) -> None:
    tracker = form_tracker("update_account_form", {"new_value": BEN},
                           slots=verified("cus_1001", account_field="email"), requested_slot="new_value")
    dispatcher, events = await run_action(ValidateUpdateAccountForm(), tracker)
    assert slot_values(events)["new_value"] is None
    assert "already" in said(dispatcher)


async def test_update_name_applies_at_once(store: DemoBackend) -> None:
    tracker = make_tracker(verified("cus_1001", account_field="name", new_value="Ana Ortiz-Reyes"), "inform")
    dispatcher, events = await run_action(ActionUpdateAccount(), tracker)
    assert store.customer_by_id("cus_1001").name == "Ana Ortiz-Reyes"  # type: ignore[union-attr]
    assert "now Ana Ortiz-Reyes" in said(dispatcher)
    slots = slot_values(events)
    assert slots["account_field"] is None and slots["new_value"] is None
    assert slots["steps_attempted"][-1]["step"] == "update_name"


async def test_update_email_waits_for_confirmation(store: DemoBackend) -> None:
    tracker = make_tracker(verified("cus_1001", account_field="email", new_value="ana.new@example.com"), "inform")
    dispatcher, events = await run_action(ActionUpdateAccount(), tracker)
    assert store.customer_by_id("cus_1001").email == ANA  # type: ignore[union-attr]
    approval = store.outbox(to=ANA)[-1]
    assert approval["purpose"] == "approve_email_change"
    assert "a***@example.com" in said(dispatcher) and token_of(approval) not in said(dispatcher)
    assert slot_values(events)["pending_step"] == "email_change_verification"
    assert store.redeem(token_of(approval), "approve_email_change") == "cus_1001"
    assert store.customer_by_id("cus_1001").email == ANA  # type: ignore[union-attr]
    mail = store.outbox(to="ana.new@example.com")[-1]
    assert mail["purpose"] == "change_email"
    assert store.redeem(token_of(mail), "change_email") == "cus_1001"
    assert store.customer_by_id("cus_1001").email == "ana.new@example.com"  # type: ignore[union-attr]


# -- close -------------------------------------------------------------------------------------------------------
async def test_close_asks_for_confirmation(store: DemoBackend) -> None:
    dispatcher, events = await run_action(ActionCloseAccount(), make_tracker(verified("cus_1006"), "close_account"))
    assert "Are you sure" in said(dispatcher)
    assert buttons(dispatcher) == messages.CLOSE_CONFIRM_BUTTONS
    assert slot_values(events) == {"pending_step": "close_account_confirm"}
    assert store.customer_by_email(FELIX).status == "active"  # type: ignore[union-attr]


async def test_closing_a_fast_lane_account_goes_to_a_person(store: DemoBackend) -> None:
    dispatcher, events = await run_action(ActionCloseAccount(), make_tracker(verified("cus_1003"), "close_account"))
    slots = slot_values(events)
    assert slots["fast_lane"] is True
    assert slots["handoff_requested"] is True and slots["handoff_reason"] == "fast_lane"
    assert "enterprise" in slots["hypothesis"] and "$2,400.00" in slots["hypothesis"]
    assert "pending_step" not in slots
    assert store.customer_by_email(CHLOE).status == "active"  # type: ignore[union-attr]
    assert dispatcher.messages == []


async def test_closing_grace_goes_to_the_fast_lane(store: DemoBackend) -> None:
    _, events = await run_action(ActionCloseAccount(), make_tracker(verified("cus_1007"), "close_account"))
    assert slot_values(events)["handoff_reason"] == "fast_lane"


async def test_closing_with_an_open_invoice_goes_to_billing(store: DemoBackend) -> None:
    _, events = await run_action(ActionCloseAccount(), make_tracker({"email": BEN}, "close_account"))
    slots = slot_values(events)
    assert slots["handoff_reason"] == "policy"
    assert "$199.00 unpaid" in slots["hypothesis"]
    _, events = await run_action(ActionCloseAccount(), make_tracker(verified("cus_1001"), "close_account"))
    assert "$49.00 unpaid" in slot_values(events)["hypothesis"]
    assert store.customer_by_email(GRACE).status == "active"  # type: ignore[union-attr]


# -- security: an email change is approved from the address on file before the new one is even written to ----------
async def test_email_change_is_approved_by_the_current_address_first(
    store: DemoBackend, raw_logs: pytest.LogCaptureFixture
) -> None:
    attacker = "attacker@evil.example"
    tracker = make_tracker(verified("cus_1001", account_field="email", new_value=attacker), "inform")
    dispatcher, events = await run_action(ActionUpdateAccount(), tracker)
    assert store.outbox(to=attacker) == []  # nothing the new address could click yet
    approval = store.outbox(to=ANA)[-1]
    assert approval["purpose"] == "approve_email_change"
    assert attacker in approval["body"]  # the owner sees where someone wants to move the account
    text = said(dispatcher)
    assert "a***@example.com" in text and "current address" in text and token_of(approval) not in text
    assert slot_values(events)["pending_step"] == "email_change_verification"
    # The approval link is not a confirmation of the new address, and nothing has changed yet.
    assert store.redeem(token_of(approval), "change_email") is None
    assert store.customer_by_id("cus_1001").email == ANA  # type: ignore[union-attr]
    # Approved from the current inbox: only now does the new address get its own confirmation link.
    assert store.redeem(token_of(approval), "approve_email_change") == "cus_1001"
    assert store.customer_by_id("cus_1001").email == ANA  # type: ignore[union-attr]
    confirm = store.outbox(to=attacker)[-1]
    assert confirm["purpose"] == "change_email"
    assert store.redeem(token_of(confirm), "change_email") == "cus_1001"
    assert store.customer_by_id("cus_1001").email == attacker  # type: ignore[union-attr]
    assert store.outbox(to=ANA)[-1]["purpose"] == "email_changed"  # the old inbox is told it happened
    logged = "\n".join(record.getMessage() for record in raw_logs.records)
    assert token_of(approval) not in logged and token_of(confirm) not in logged


async def test_a_new_email_change_request_voids_the_pending_one(store: DemoBackend) -> None:
    first = store.request_email_change("cus_1001", "first.try@example.com")
    second = store.request_email_change("cus_1001", "second.try@example.com")
    assert store.redeem(first.token, "approve_email_change") is None
    assert store.redeem(second.token, "approve_email_change") == "cus_1001"
    assert store.outbox(to="first.try@example.com") == []
