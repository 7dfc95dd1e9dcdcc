"""Identifying the customer in forms: who needs an emailed code, code checks, and the questions asked."""

from __future__ import annotations

import pytest
from rasa_sdk.executor import CollectingDispatcher

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
    DOMAIN,
    buttons,
    form_tracker,
    last_code,
    make_tracker,
    run_action,
    said,
    slot_values,
)

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
