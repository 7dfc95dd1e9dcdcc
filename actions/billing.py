"""Billing: the latest invoice, charge disputes (true duplicates refunded at once), refund status, payment method."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import messages
from actions.backend import Customer
from actions.backend.store import duplicate_of
from actions.dialogue import (
    await_confirmation,
    failures_of,
    record_step,
    request_handoff,
    reset_strikes,
)
from actions.forms import AccountRequestAction, IdentifyingFormValidation
from actions.services import backend, settings
from contract.redact import mask_email, redact

INVOICE_PATTERN = re.compile(r"(?i)\binv(?:oice)?[\s#:-]*(\d{3,}(?:-\d+)?)\b")
AMOUNT_PATTERN = re.compile(r"(?:[$€£]\s?(\d+(?:[.,]\d{1,2})?)|(\d+(?:[.,]\d{1,2})?)\s?(?:usd|dollars?|eur|euros?|gbp))",
                            re.IGNORECASE)


def parse_reference(text: str) -> tuple[str | None, float | None]:
    """An invoice id (INV-1071) and/or an amount ($49.00) in the customer's words."""
    invoice = INVOICE_PATTERN.search(text)
    amount = AMOUNT_PATTERN.search(text)
    amount_value = float((amount.group(1) or amount.group(2)).replace(",", ".")) if amount else None
    return (f"INV-{invoice.group(1)}" if invoice else None), amount_value


def _date(value: Any) -> str:
    return f"{value:%b} {value.day}, {value.year}"


class ValidateInvoiceForm(IdentifyingFormValidation):
    """Invoices are account data: the customer proves they own the account."""

    def name(self) -> str:
        """Validation of invoice_form."""
        return "validate_invoice_form"


class ValidateRefundStatusForm(IdentifyingFormValidation):
    """Refunds are account data: the customer proves they own the account."""

    def name(self) -> str:
        """Validation of refund_status_form."""
        return "validate_refund_status_form"


class ValidatePaymentMethodForm(IdentifyingFormValidation):
    """The link goes to the inbox on file, so the email alone is enough (any address: ActionPaymentMethodLink)."""

    needs_verification = False

    def name(self) -> str:
        """Validation of payment_method_form."""
        return "validate_payment_method_form"


class ValidateChargeDisputeForm(IdentifyingFormValidation):
    """Which charge: an invoice id or an amount, taken from the first message when it already says."""

    def name(self) -> str:
        """Validation of charge_dispute_form."""
        return "validate_charge_dispute_form"

    async def extract_dispute_reference(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Reuse the invoice id or amount the customer already gave, so they are not asked again."""
        if tracker.get_slot("dispute_reference") or tracker.get_slot("requested_slot") == "dispute_reference":
            return {}
        for slot in ("invoice_id", "amount"):
            value = tracker.get_slot(slot)
            if value:
                return {"dispute_reference": f"INV-{value.split('-', 1)[-1]}" if slot == "invoice_id" else f"${value}"}
        return {}

    async def validate_dispute_reference(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Needs an invoice number or an amount; without one, the recent charges are offered as buttons."""
        text = redact(str(value or ""))
        invoice, amount = parse_reference(text)
        if invoice is None and amount is None:
            buttons = recent_charge_buttons(tracker.get_slot("customer_id"))
            if buttons and DONT_KNOW.search(text):
                dispatcher.utter_message(text=RECENT_CHARGES, buttons=buttons)
            elif buttons:
                dispatcher.utter_message(text=f"{NEED_REFERENCE} Or pick one of your recent charges:", buttons=buttons)
            else:
                dispatcher.utter_message(text=NEED_REFERENCE)
            return {"dispute_reference": None}
        return {"dispute_reference": invoice or f"${amount:.2f}"}


RECENT_CHARGES = "No problem, here are your most recent charges. Which one is it?"
NEED_REFERENCE = "I need the invoice number (like INV-1071) or the amount (like $49.00)."
DONT_KNOW = re.compile(r"(?i)\b(?:d(?:o|o')?n'?t\s+(?:know|remember|have)|dunno|no\s+idea|not\s+sure|can'?t\s+"
                       r"(?:find|remember|see)|idk|forgot)\b")


def recent_charge_buttons(customer_id: str | None, limit: int = 4) -> list[dict[str, str]]:
    """The verified customer's latest charges as buttons ("INV-1071 · $49.00 on Oct 3"), newest first."""
    if not customer_id:
        return []
    buttons: dict[str, dict[str, str]] = {}
    for charge in reversed(backend().find_charges(customer_id)):
        reference = f"{charge.invoice_id} ${charge.amount:.2f}" if charge.invoice_id else f"${charge.amount:.2f}"
        label = charge.invoice_id or charge.description
        title = f"{label} · ${charge.amount:,.2f} on {charge.charged_on:%b} {charge.charged_on.day}"
        buttons.setdefault(reference, {"title": title, "payload": reference})
    return list(buttons.values())[:limit]


class ActionBillingInvoice(AccountRequestAction):
    """Amount, dates and status of the latest invoice."""

    doing = "looking up an invoice"
    answer_step = "invoice_lookup"
    answer_topic = "billing_invoice"

    def name(self) -> str:
        """Submit action of invoice_form."""
        return "action_billing_invoice"

    def serve(self, dispatcher: CollectingDispatcher, tracker: Tracker, customer: Customer) -> list[EventType]:
        """Look the invoice up and say it."""
        invoice = backend().latest_invoice(customer.id)
        if invoice is None:
            dispatcher.utter_message(text=f"There are no invoices on your account yet. {messages.ANYTHING_ELSE}")
        else:
            dispatcher.utter_message(
                text=f"Your latest invoice is {invoice.id} for ${invoice.amount:,.2f}, issued {_date(invoice.issued_on)} "
                f"and due {_date(invoice.due_on)}. Status: {invoice.status}. {messages.ANYTHING_ELSE}"
            )
        return [record_step(tracker, "invoice_lookup", "resolved", invoice.id if invoice else "none"), *reset_strikes()]


class ActionRefundStatus(AccountRequestAction):
    """Where each refund stands."""

    doing = "looking up refunds"
    answer_step = "refund_lookup"
    answer_topic = "billing_refund"

    def name(self) -> str:
        """Submit action of refund_status_form."""
        return "action_refund_status"

    def serve(self, dispatcher: CollectingDispatcher, tracker: Tracker, customer: Customer) -> list[EventType]:
        """List the refunds with status and expected date."""
        refunds = backend().refunds(customer.id)
        if not refunds:
            dispatcher.utter_message(text=NO_REFUNDS, buttons=[CHECK_A_CHARGE, messages.TALK_TO_PERSON])
            return [record_step(tracker, "refund_lookup", "resolved", "none")]
        lines = [
            f"Refund {refund.id} of ${refund.amount:,.2f} is {refund.status}"
            + (f", expected by {_date(refund.expected_on)}" if refund.expected_on and refund.status != "completed" else "")
            for refund in refunds[:3]
        ]
        dispatcher.utter_message(text=". ".join(lines) + f". {messages.ANYTHING_ELSE}")
        return [record_step(tracker, "refund_lookup", "resolved", refunds[0].id), *reset_strikes()]


NO_REFUNDS = (
    "I don't see any refunds on your account yet. If a charge looks wrong, I can check it with you now, or a person "
    "from our billing team can look at it."
)
CHECK_A_CHARGE = {"title": "Check a charge with me", "payload": "/billing_charge_dispute"}

PAYMENT_LINK_SENT = (
    "I've emailed a secure link to {masked} where you can change the card or payment method, if there's an account "
    "with that address. It works once and expires in {minutes} minutes. " + messages.NO_SECRETS + " Did it work?"
)


def send_payment_link(
    tracker: Tracker, dispatcher: CollectingDispatcher, customer: Customer | None, *, retry: bool = False
) -> list[EventType]:
    """Ask the backend to email the payment-method link (limited per address and hour) and say, once, what was done.

    A signed-in customer hears about their own account; anyone else gets the same answer for any address (the
    backend sends nothing to an address without an account). ``retry``: the previous link did not work.
    """
    verified = customer is not None and bool(tracker.get_slot("customer_verified"))
    address = customer.email if customer is not None else str(tracker.get_slot("email") or "")
    masked, minutes = mask_email(address), settings().link_ttl_minutes
    sent = backend().request_payment_method_link(address, settings().max_sends_per_hour)
    if not sent:
        text = messages.LINK_LIMITED.format(masked=masked, minutes=minutes)
    elif verified:
        text = (
            f"I've emailed a secure link to {masked} where you can change your card or payment method. It works once "
            f"and expires in {minutes} minutes. {messages.NO_SECRETS} Did it work?"
        )
    else:
        text = PAYMENT_LINK_SENT.format(masked=masked, minutes=minutes)
    if retry:
        text = messages.retry_lead(messages.RETRY_PAYMENT_LEAD, failures_of(tracker, "payment_method_link"), sent) + text
    dispatcher.utter_message(text=text, buttons=messages.YES_NO_RESOLVED)
    step = record_step(tracker, "payment_method_link", "sent" if sent else "not_sent",
                       f"link emailed to {masked}" if sent else f"hourly limit reached for {masked}")
    return [step, await_confirmation("payment_method_link")]


class ActionPaymentMethodLink(AccountRequestAction):
    """Payment details are changed on a hosted page, never in the chat."""

    doing = "sending a payment method link"

    def name(self) -> str:
        """Submit action of payment_method_form."""
        return "action_payment_method_link"

    def serve(self, dispatcher: CollectingDispatcher, tracker: Tracker, customer: Customer) -> list[EventType]:
        """Send the link."""
        return send_payment_link(tracker, dispatcher, customer)

    def serve_unknown(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        """No account has this address: answer exactly as if one had (the backend sends nothing)."""
        return send_payment_link(tracker, dispatcher, None)


class ActionChargeDispute(AccountRequestAction):
    """Refunds a true duplicate charge at once; hands anything else to billing with the facts found."""

    doing = "checking a disputed charge"

    def name(self) -> str:
        """Submit action of charge_dispute_form."""
        return "action_charge_dispute"

    def serve(self, dispatcher: CollectingDispatcher, tracker: Tracker, customer: Customer) -> list[EventType]:
        """Find the charge, check for a duplicate, refund or hand off."""
        reference = tracker.get_slot("dispute_reference") or ""
        invoice_id, amount = parse_reference(reference)
        clear = [SlotSet("dispute_reference", None)]
        charges = backend().find_charges(customer.id, invoice_id=invoice_id, amount=amount)
        pair = duplicate_of(charges)
        refund = backend().refund_duplicate(pair[1]) if pair else None
        fast_lane = backend().is_fast_lane(customer)
        if pair and refund:
            original, duplicate = pair
            dispatcher.utter_message(
                text=f"You're right: {duplicate.invoice_id} was charged twice (${duplicate.amount:,.2f} on "
                f"{_date(original.charged_on)} and again on {_date(duplicate.charged_on)}). I've refunded the duplicate "
                f"charge; refund {refund.id} should reach your card by {_date(refund.expected_on)}. "
                f"{messages.ANYTHING_ELSE}"
            )
            return [record_step(tracker, "duplicate_refund", "resolved", refund.id), *reset_strikes(), *clear]
        if charges:
            found = "; ".join(f"{c.id} ${c.amount:,.2f} on {c.charged_on.isoformat()} for {c.description}"
                              f" ({c.invoice_id})" for c in charges[:3])
            hypothesis = f"Disputed charge is not a duplicate: {found}; needs billing review of the customer's claim"
        else:
            hypothesis = f"No charge matching {reference} on this account; may be another account or another merchant"
        dispatcher.utter_message(text="I've checked your charges; this needs a person from our billing team.")
        return [record_step(tracker, "charge_check", "failed", hypothesis), *clear,
                *request_handoff("fast_lane" if fast_lane else "policy", hypothesis)]
