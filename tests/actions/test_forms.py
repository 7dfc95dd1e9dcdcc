"""Identifying the customer in forms: who needs an emailed code, code checks, and the questions asked."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions import services
from actions.account import ValidateCloseAccountForm, ValidateCreateAccountForm, ValidateUpdateAccountForm
from actions.backend import DemoBackend
from actions.billing import (
    ValidateChargeDisputeForm,
    ValidateInvoiceForm,
    ValidatePaymentMethodForm,
    ValidateRefundStatusForm,
)
from actions.forms import (
    AskAccountField,
    AskDisputeReference,
    AskErrorDetails,
    AskNewValue,
    AskPlan,
    AskSignupEmail,
    AskStepsTried,
    AskVerificationCode,
    HandoffAwareValidation,
)
from actions.password import ValidatePasswordResetForm
from tests.actions.conftest import (
    ANA,
    CHLOE,
    DOMAIN,
    buttons,
    form_tracker,
    last_code,
    make_tracker,
    run_action,
    said,
    said_of,
    slot_values,
)

NOBODY = "anna.nobody@example.com"  # masks like ANA (a***@example.com) but has no account
IDENTIFYING: list[tuple[HandoffAwareValidation, bool]] = [
    (ValidatePasswordResetForm(), False),
    (ValidatePaymentMethodForm(), False),
    (ValidateInvoiceForm(), True),
    (ValidateRefundStatusForm(), True),
    (ValidateChargeDisputeForm(), True),
    (ValidateCloseAccountForm(), True),
    (ValidateUpdateAccountForm(), True),
]


async def required(form: HandoffAwareValidation, slots: dict) -> list[str]:
    domain_slots = DOMAIN["forms"][form.form_name()]["required_slots"]
    return await form.required_slots(list(domain_slots), CollectingDispatcher(), make_tracker(slots), DOMAIN)


@pytest.mark.parametrize(("form", "needs_code"), IDENTIFYING, ids=[f.name() for f, _ in IDENTIFYING])
async def test_required_slots_anonymous_vs_verified(form: HandoffAwareValidation, needs_code: bool) -> None:
    own = [s for s in DOMAIN["forms"][form.form_name()]["required_slots"] if s not in ("email", "verification_code")]
    identity = ["email", "verification_code"] if needs_code else ["email"]
    assert await required(form, {}) == identity + own
    assert await required(form, {"customer_id": "cus_1001", "customer_verified": True}) == own
    assert await required(form, {"handoff_requested": True}) == []


async def test_create_account_form_stops_asking_after_a_handoff_request() -> None:
    form = ValidateCreateAccountForm()
    assert await required(form, {}) == ["signup_email", "plan"]
    assert await required(form, {"handoff_requested": True}) == []


@pytest.mark.parametrize(("form", "needs_code"), IDENTIFYING, ids=[f.name() for f, _ in IDENTIFYING])
async def test_every_identifying_form_takes_any_address_alike(
    store: DemoBackend, form: HandoffAwareValidation, needs_code: bool
) -> None:
    # Anyone not signed in may type any address: no form tells whether it has an account, nor counts a strike.
    seen = []
    for email in (ANA, NOBODY):
        dispatcher, events = await run_action(
            form, form_tracker(form.form_name(), {"email": email}, requested_slot="email"))
        slots = slot_values(events)
        assert slots.pop("email") == email
        seen.append((dispatcher.messages, slots))
    assert seen[0] == seen[1]
    assert seen[0][0] == [] and "strikes" not in seen[0][1] and "handoff_requested" not in seen[0][1]
    assert store.outbox(to=NOBODY) == []


@pytest.mark.parametrize("form", [ValidatePasswordResetForm(), ValidatePaymentMethodForm(), ValidateInvoiceForm()],
                         ids=lambda form: form.name())
async def test_typing_an_enterprise_address_does_not_jump_the_queue(store: DemoBackend, form: Any) -> None:
    _, events = await run_action(form, form_tracker(form.form_name(), {"email": CHLOE}, requested_slot="email"))
    slots = slot_values(events)
    assert slots["email"] == CHLOE
    for slot in ("customer_tier", "fast_lane", "customer_id", "customer_verified"):
        assert slot not in slots, slot  # an address anyone can type proves nothing


async def test_code_verified_enterprise_customer_gets_the_fast_lane(store: DemoBackend) -> None:
    await run_action(ValidateInvoiceForm(), email_tracker(CHLOE))
    _, events = await run_action(ValidateInvoiceForm(), typed_code(CHLOE, last_code(store, CHLOE)))
    slots = slot_values(events)
    assert slots["customer_verified"] is True and slots["customer_id"] == "cus_1003"
    assert slots["customer_tier"] == "enterprise" and slots["fast_lane"] is True


async def test_verified_customer_is_never_asked_for_identity(store: DemoBackend) -> None:
    tracker = form_tracker("invoice_form", {}, slots={"customer_id": "cus_1001", "customer_verified": True},
                           intent="billing_invoice", text="show me my invoice")
    _, events = await run_action(ValidateInvoiceForm(), tracker)
    assert slot_values(events) == {"requested_slot": None}
    assert store.outbox() == []


async def test_email_for_invoice_sends_a_code(store: DemoBackend) -> None:
    tracker = form_tracker("invoice_form", {"email": ANA}, requested_slot="email")
    dispatcher, events = await run_action(ValidateInvoiceForm(), tracker)
    slots = slot_values(events)
    assert slots["email"] == ANA
    assert "customer_verified" not in slots and "customer_id" not in slots
    assert len(last_code(store, ANA)) == 6
    assert dispatcher.messages == []


async def code_tracker(store: DemoBackend, code: str, strikes: int = 0):  # type: ignore[no-untyped-def]
    kinds = ["verification_failed"] * strikes
    return form_tracker("invoice_form", {"verification_code": code}, requested_slot="verification_code",
                        slots={"email": ANA, "strikes": float(strikes), "strike_kinds": kinds})


async def test_right_code_verifies_the_customer(store: DemoBackend) -> None:
    await run_action(ValidateInvoiceForm(), form_tracker("invoice_form", {"email": ANA}, requested_slot="email"))
    code = last_code(store, ANA)
    dispatcher, events = await run_action(ValidateInvoiceForm(), await code_tracker(store, f"it's {code}"))
    slots = slot_values(events)
    assert slots["verification_code"] == "verified"
    assert slots["customer_verified"] is True and slots["customer_id"] == "cus_1001"
    assert said(dispatcher) == "Thanks, that's verified."
    # The code is single-use: typing it again does not verify anyone.
    _, again = await run_action(ValidateInvoiceForm(), await code_tracker(store, code))
    assert slot_values(again)["verification_code"] is None


async def test_wrong_code_is_a_strike(store: DemoBackend) -> None:
    await run_action(ValidateInvoiceForm(), form_tracker("invoice_form", {"email": ANA}, requested_slot="email"))
    code = last_code(store, ANA)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    dispatcher, events = await run_action(ValidateInvoiceForm(), await code_tracker(store, wrong))
    slots = slot_values(events)
    assert slots["verification_code"] is None
    assert "customer_verified" not in slots
    assert slots["strikes"] == 1.0 and slots["strike_kinds"] == ["verification_failed"]
    assert "doesn't match" in said(dispatcher)
    # The right code still works after a typo.
    _, events = await run_action(ValidateInvoiceForm(), await code_tracker(store, code, strikes=1))
    assert slot_values(events)["customer_verified"] is True


async def test_third_wrong_code_hands_off(store: DemoBackend) -> None:
    await run_action(ValidateInvoiceForm(), form_tracker("invoice_form", {"email": ANA}, requested_slot="email"))
    dispatcher, events = await run_action(ValidateInvoiceForm(), await code_tracker(store, "000000x", strikes=2))
    slots = slot_values(events)
    assert slots["verification_code"] == "failed"
    assert slots["handoff_requested"] is True and slots["handoff_reason"] == "three_strikes"
    assert "identity not verified" in slots["hypothesis"]
    assert slots["requested_slot"] is None
    assert "customer_verified" not in slots
    assert dispatcher.messages == []


async def test_ask_verification_code_names_the_masked_inbox() -> None:
    dispatcher, _ = await run_action(AskVerificationCode(), make_tracker({"email": ANA}, active_loop="invoice_form"))
    assert "a***@example.com" in said(dispatcher) and ANA not in said(dispatcher)


@pytest.mark.parametrize(("action", "slots", "text", "payloads"), [
    (AskSignupEmail(), {}, "Which email address should the new account use?", []),
    (AskPlan(), {}, "Which plan would you like?", ["free", "pro", "business"]),
    (AskAccountField(), {}, "What would you like to change?", ["email", "name"]),
    (AskNewValue(), {"account_field": "email"}, "What's the new email address?", []),
    (AskNewValue(), {"account_field": "name"}, "What name should we use?", []),
    (AskDisputeReference(), {}, "Which charge is it?", []),
    (AskErrorDetails(), {}, "What exactly happens?", []),
    (AskStepsTried(), {}, "What have you tried so far", []),
])
async def test_ask_actions(action, slots: dict, text: str, payloads: list[str]) -> None:  # type: ignore[no-untyped-def]
    dispatcher, events = await run_action(action, make_tracker(slots))
    assert text in said(dispatcher)
    assert [b["payload"] for b in buttons(dispatcher)] == payloads
    assert events == []


# -- security: codes answer the same for any address, are limited per hour, burn after too many wrong tries ---------


def email_tracker(email: str) -> Any:
    return form_tracker("invoice_form", {"email": email}, requested_slot="email")


def typed_code(email: str, code: str, strikes: int = 0) -> Any:
    return form_tracker("invoice_form", {"verification_code": code}, requested_slot="verification_code",
                        slots={"email": email, "strikes": float(strikes),
                               "strike_kinds": ["verification_failed"] * strikes})


def wrong_for(store: DemoBackend, email: str) -> str:
    codes = [mail for mail in store.outbox(to=email) if mail["purpose"] == "chat_code"]
    return f"{(int(last_code(store, email)) + 1) % 10**6:06d}" if codes else "123456"


async def test_code_answers_are_the_same_whether_or_not_an_account_exists(store: DemoBackend) -> None:
    seen = []
    for email in (ANA, NOBODY):
        dispatcher, events = await run_action(ValidateInvoiceForm(), email_tracker(email))
        assert slot_values(events)["email"] == email and "strikes" not in slot_values(events)
        answers: list[Any] = [dispatcher.messages]
        asked, _ = await run_action(AskVerificationCode(), make_tracker({"email": email}, active_loop="invoice_form"))
        answers.append(asked.messages)
        for strikes in range(3):
            dispatcher, events = await run_action(ValidateInvoiceForm(),
                                                  typed_code(email, wrong_for(store, email), strikes))
            slots = slot_values(events)
            answers.append((dispatcher.messages, slots["verification_code"], slots.get("handoff_requested"),
                            slots.get("handoff_reason")))
        seen.append(answers)
    assert seen[0] == seen[1]
    assert "if there's an account with that address" in said_of(seen[0][1])
    assert "couldn't find" not in str(seen[0])
    assert seen[0][-1][2] is True  # the third wrong code hands off, for both
    assert store.outbox(to=NOBODY) == []


async def test_fourth_code_in_an_hour_is_not_sent_and_said_the_same_way(store: DemoBackend) -> None:
    said_for: dict[str, list[str]] = {}
    for email in (ANA, NOBODY):
        said_for[email] = []
        for _ in range(4):
            dispatcher, events = await run_action(ValidateInvoiceForm(), email_tracker(email))
            assert slot_values(events)["email"] == email
            said_for[email].append(said(dispatcher))
    assert said_for[ANA] == said_for[NOBODY]
    assert said_for[ANA][:3] == ["", "", ""] and "several times in the last hour" in said_for[ANA][3]
    assert [mail["purpose"] for mail in store.outbox(to=ANA)] == ["chat_code"] * 3


async def test_wrong_codes_burn_the_code_after_max_verification_attempts(
    store: DemoBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_STRIKES", "10")  # the three-strike rule alone would not stop the guessing
    services.settings.cache_clear()
    assert services.settings().max_verification_attempts == 3
    await run_action(ValidateInvoiceForm(), email_tracker(ANA))
    code = last_code(store, ANA)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for strikes in range(2):
        dispatcher, events = await run_action(ValidateInvoiceForm(), typed_code(ANA, wrong, strikes))
        assert "doesn't match" in said(dispatcher) and slot_values(events)["verification_code"] is None
    dispatcher, events = await run_action(ValidateInvoiceForm(), typed_code(ANA, wrong, 2))
    slots = slot_values(events)
    assert "cancelled" in said(dispatcher)
    assert slots["verification_code"] == "failed" and slots["requested_slot"] is None
    assert slots["handoff_requested"] is True and slots["handoff_reason"] == "policy"
    assert "3 wrong verification codes" in slots["hypothesis"]
    assert "customer_verified" not in slots
    # The right code is now worthless too.
    _, events = await run_action(ValidateInvoiceForm(), typed_code(ANA, code, 0))
    assert slot_values(events).get("customer_verified") is None


async def test_max_verification_attempts_comes_from_the_environment(
    store: DemoBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_VERIFICATION_ATTEMPTS", "1")
    services.settings.cache_clear()
    await run_action(ValidateInvoiceForm(), email_tracker(ANA))
    code = last_code(store, ANA)
    dispatcher, events = await run_action(ValidateInvoiceForm(), typed_code(ANA, f"{(int(code) + 1) % 10**6:06d}"))
    assert "cancelled" in said(dispatcher) and slot_values(events)["handoff_requested"] is True
    _, events = await run_action(ValidateInvoiceForm(), typed_code(ANA, code))
    assert slot_values(events).get("customer_verified") is None


async def test_verification_logs_no_code_and_no_address(store: DemoBackend, raw_logs: pytest.LogCaptureFixture) -> None:
    await run_action(ValidateInvoiceForm(), email_tracker(ANA))
    code = last_code(store, ANA)
    _, events = await run_action(ValidateInvoiceForm(), typed_code(ANA, code))
    assert slot_values(events)["customer_verified"] is True
    logged = "\n".join(record.getMessage() for record in raw_logs.records)
    assert "a***@example.com" in logged  # that a code was sent is logged, to a masked address
    assert code not in logged and ANA not in logged
