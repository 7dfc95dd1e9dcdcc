"""Billing: invoice, refund status, payment method link, and charge disputes on the seeded business."""

from __future__ import annotations

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions import messages
from actions.backend import DemoBackend
from actions.billing import (
    ActionBillingInvoice,
    ActionChargeDispute,
    ActionPaymentMethodLink,
    ActionRefundStatus,
    ValidateChargeDisputeForm,
    ValidatePaymentMethodForm,
    parse_reference,
)
from tests.actions.conftest import (
    ANA,
    FELIX,
    buttons,
    form_tracker,
    make_tracker,
    run_action,
    said,
    said_of,
    slot_values,
    token_of,
)

FORM_PAYMENT = "payment_method_form"


def verified(customer_id: str, **slots: object) -> dict[str, object]:
    return {"customer_id": customer_id, "customer_verified": True, **slots}


def day(value) -> str:  # type: ignore[no-untyped-def]
    return f"{value:%b} {value.day}, {value.year}"


async def test_latest_invoice_for_ana(store: DemoBackend) -> None:
    dispatcher, events = await run_action(ActionBillingInvoice(), make_tracker(verified("cus_1001"), "billing_invoice"))
    invoice = store.latest_invoice("cus_1001")
    assert invoice is not None
    assert said(dispatcher) == (
        f"Your latest invoice is INV-1057 for $49.00, issued {day(invoice.issued_on)} and due {day(invoice.due_on)}. "
        f"Status: open. {messages.ANYTHING_ELSE}")
    slots = slot_values(events)
    assert slots["steps_attempted"][-1] == {"step": "invoice_lookup", "outcome": "resolved", "detail": "INV-1057"}
    assert slots["strikes"] == 0.0


async def test_customer_without_invoices(store: DemoBackend) -> None:
    dispatcher, _ = await run_action(ActionBillingInvoice(), make_tracker(verified("cus_1005"), "billing_invoice"))
    assert "no invoices" in said(dispatcher)


async def test_refund_status_for_felix(store: DemoBackend) -> None:
    dispatcher, events = await run_action(ActionRefundStatus(), make_tracker(verified("cus_1006"), "billing_refund"))
    refund = store.refunds("cus_1006")[0]
    assert said(dispatcher) == (
        f"Refund REF-3001 of $29.00 is processing, expected by {day(refund.expected_on)}. {messages.ANYTHING_ELSE}")
    assert slot_values(events)["steps_attempted"][-1]["detail"] == "REF-3001"


async def test_no_refunds_points_to_a_dispute(store: DemoBackend) -> None:
    dispatcher, _ = await run_action(ActionRefundStatus(), make_tracker(verified("cus_1001"), "billing_refund"))
    assert "I don't see any refunds" in said(dispatcher)


async def test_payment_method_link_is_emailed_never_shown(store: DemoBackend) -> None:
    dispatcher, events = await run_action(
        ActionPaymentMethodLink(), make_tracker({"email": ANA}, "billing_payment_method"))
    mail = store.outbox(to=ANA)[-1]
    assert mail["purpose"] == "payment_method" and "/billing/payment-method?token=" in mail["body"]
    text = said(dispatcher)
    assert token_of(mail) not in text and "http" not in text
    assert "a***@example.com" in text and messages.NO_SECRETS in text
    assert buttons(dispatcher) == messages.YES_NO_RESOLVED
    assert slot_values(events)["pending_step"] == "payment_method_link"


async def test_signed_in_customer_hears_about_their_own_account(store: DemoBackend) -> None:
    dispatcher, events = await run_action(
        ActionPaymentMethodLink(), make_tracker(verified("cus_1006", email=FELIX), "billing_payment_method"))
    text = said(dispatcher)
    assert text.startswith("I've emailed a secure link to f***@example.net") and "if there's an account" not in text
    assert [m["purpose"] for m in store.outbox(to=FELIX)] == ["payment_method"]
    assert slot_values(events)["pending_step"] == "payment_method_link"


# -- security: the payment-method flow answers any address alike, and is limited per address and hour --------------
NOBODY = "anna.nobody@example.com"  # masks like ANA (a***@example.com) but has no account


async def test_payment_method_answer_is_the_same_whether_or_not_an_account_exists(store: DemoBackend) -> None:
    answers = []
    for email in (ANA, NOBODY):
        validated, slots = await run_action(
            ValidatePaymentMethodForm(), form_tracker(FORM_PAYMENT, {"email": email}, requested_slot="email"))
        dispatcher, events = await run_action(
            ActionPaymentMethodLink(), make_tracker({"email": email}, "billing_payment_method"))
        answers.append((validated.messages, slot_values(slots), dispatcher.messages, slot_values(events)))
    assert answers[0][0] == answers[1][0] == []
    assert answers[0][1] == {"email": ANA} and answers[1][1] == {"email": NOBODY}  # no strike, no tier, no hand-off
    assert answers[0][2] == answers[1][2]
    assert answers[0][3]["pending_step"] == answers[1][3]["pending_step"] == "payment_method_link"
    assert "handoff_requested" not in answers[1][3]
    text = said_of(answers[0][2])
    assert "if there's an account with that address" in text and "couldn't find" not in text
    assert [m["purpose"] for m in store.outbox(to=ANA)] == ["payment_method"]
    assert store.outbox(to=NOBODY) == []


async def test_fourth_payment_link_in_an_hour_is_not_sent_and_said_the_same_way(store: DemoBackend) -> None:
    said_for: dict[str, list[str]] = {}
    for email in (ANA, NOBODY):
        said_for[email] = []
        for _ in range(4):
            dispatcher, events = await run_action(
                ActionPaymentMethodLink(), make_tracker({"email": email}, "billing_payment_method"))
            said_for[email].append(said(dispatcher))
        assert slot_values(events)["steps_attempted"][-1]["outcome"] == "not_sent"
    assert said_for[ANA] == said_for[NOBODY]
    assert len(set(said_for[ANA][:3])) == 1 and "several times in the last hour" in said_for[ANA][3]
    assert "I've emailed" not in said_for[ANA][3]
    assert len(store.outbox(to=ANA)) == 3


@pytest.mark.parametrize("reference", ["INV-1071", "$49.00"])
async def test_dev_duplicate_charge_is_refunded_at_once(store: DemoBackend, reference: str) -> None:
    tracker = make_tracker(verified("cus_1004", dispute_reference=reference), "inform")
    dispatcher, events = await run_action(ActionChargeDispute(), tracker)
    refund = store.refund_for_charge("ch_5003")
    assert refund is not None and refund.amount == 49.0 and refund.status == "processing"
    assert store.refund_for_charge("ch_5002") is None  # the original charge stands
    text = said(dispatcher)
    assert "INV-1071 was charged twice" in text and refund.id in text and day(refund.expected_on) in text
    slots = slot_values(events)
    assert slots["dispute_reference"] is None
    assert slots["steps_attempted"][-1] == {"step": "duplicate_refund", "outcome": "resolved", "detail": refund.id}
    assert "handoff_requested" not in slots


async def test_dev_asking_twice_gets_one_refund(store: DemoBackend) -> None:
    tracker = make_tracker(verified("cus_1004", dispute_reference="INV-1071"), "inform")
    await run_action(ActionChargeDispute(), tracker)
    await run_action(ActionChargeDispute(), tracker)
    assert len(store.refunds("cus_1004")) == 1


async def test_felix_single_charge_goes_to_billing(store: DemoBackend) -> None:
    tracker = make_tracker(verified("cus_1006", dispute_reference="INV-1080"), "inform")
    dispatcher, events = await run_action(ActionChargeDispute(), tracker)
    assert "billing team" in said(dispatcher)
    slots = slot_values(events)
    assert slots["handoff_requested"] is True and slots["handoff_reason"] == "policy"
    assert "not a duplicate" in slots["hypothesis"]
    assert "ch_5005 $120.00" in slots["hypothesis"] and "INV-1080" in slots["hypothesis"]
    assert "Advanced analytics add-on" in slots["hypothesis"]
    assert [r.id for r in store.refunds("cus_1006")] == ["REF-3001"]  # nothing refunded automatically


async def test_fast_lane_customer_dispute_goes_to_fast_lane(store: DemoBackend) -> None:
    tracker = make_tracker(verified("cus_1003", dispute_reference="INV-1065"), "inform")
    _, events = await run_action(ActionChargeDispute(), tracker)
    slots = slot_values(events)
    assert slots["handoff_reason"] == "fast_lane"
    assert "No charge matching INV-1065" in slots["hypothesis"]


async def test_dispute_after_handoff_requested_does_nothing(store: DemoBackend) -> None:
    tracker = make_tracker(verified("cus_1004", dispute_reference="INV-1071", handoff_requested=True), "inform")
    dispatcher, events = await run_action(ActionChargeDispute(), tracker)
    assert (dispatcher.messages, events) == ([], [])
    assert store.refunds("cus_1004") == []


@pytest.mark.parametrize(("text", "expected"), [
    ("invoice 1071 charged me twice", ("INV-1071", None)),
    ("INV-1071", ("INV-1071", None)),
    ("inv#1080", ("INV-1080", None)),
    ("the $49.00 one", (None, 49.0)),
    ("49,99 EUR", (None, 49.99)),
    ("120 dollars", (None, 120.0)),
    ("the one from last week", (None, None)),
    ("I paid 49", (None, None)),
])
def test_parse_reference(text: str, expected: tuple) -> None:
    assert parse_reference(text) == expected


FORM = "charge_dispute_form"


@pytest.mark.parametrize(("answer", "stored"), [
    ("it's invoice 1071", "INV-1071"),
    ("the $120 charge", "$120.00"),
])
async def test_dispute_reference_is_normalised(answer: str, stored: str) -> None:
    tracker = form_tracker(FORM, {"dispute_reference": answer}, slots=verified("cus_1004"),
                           requested_slot="dispute_reference")
    dispatcher, events = await run_action(ValidateChargeDisputeForm(), tracker)
    slots = slot_values(events)
    assert slots["dispute_reference"] == stored
    assert slots["requested_slot"] is None
    assert dispatcher.messages == []


async def test_dispute_reference_without_invoice_or_amount_is_asked_again() -> None:
    tracker = form_tracker(FORM, {"dispute_reference": "the weird one"}, slots=verified("cus_1004"),
                           requested_slot="dispute_reference")
    dispatcher, events = await run_action(ValidateChargeDisputeForm(), tracker)
    slots = slot_values(events)
    assert slots["dispute_reference"] is None and slots["requested_slot"] == "dispute_reference"
    assert "invoice number" in said(dispatcher)


async def test_card_number_as_reference_is_not_kept() -> None:
    tracker = form_tracker(FORM, {"dispute_reference": "4111 1111 1111 1111"}, slots=verified("cus_1004"),
                           requested_slot="dispute_reference")
    _, events = await run_action(ValidateChargeDisputeForm(), tracker)
    assert slot_values(events)["dispute_reference"] is None


async def test_invoice_from_the_first_message_is_not_asked_again(store: DemoBackend) -> None:
    tracker = form_tracker(FORM, {}, slots=verified("cus_1004", invoice_id="INV-1071"), requested_slot=None,
                           intent="billing_charge_dispute", text="I was charged twice for INV-1071")
    dispatcher, events = await run_action(ValidateChargeDisputeForm(), tracker)
    slots = slot_values(events)
    assert slots["dispute_reference"] == "INV-1071"
    assert slots["requested_slot"] is None  # verified and the charge is known: nothing left to ask
    assert dispatcher.messages == []


async def test_amount_from_the_first_message_prefills_the_reference() -> None:
    tracker = form_tracker(FORM, {}, slots=verified("cus_1004", amount="49"), intent="billing_charge_dispute",
                           text="you took $49 twice")
    _, events = await run_action(ValidateChargeDisputeForm(), tracker)
    assert slot_values(events)["dispute_reference"] == "$49.00"


async def test_anonymous_dispute_asks_for_email_and_code_first() -> None:
    tracker = form_tracker(FORM, {}, slots={"invoice_id": "INV-1071"}, intent="billing_charge_dispute",
                           text="charged twice INV-1071")
    form = ValidateChargeDisputeForm()
    required = await form.required_slots(["email", "verification_code", "dispute_reference"],
                                         CollectingDispatcher(), tracker, {})
    assert required == ["email", "verification_code", "dispute_reference"]
    _, events = await run_action(form, tracker)
    assert slot_values(events)["dispute_reference"] == "INV-1071"
