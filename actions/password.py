"""Password resets and locked accounts: a single-use expiring link to the email on file, never a password.

To anyone not signed in, the chat answers the same whether the address has an account, a locked one, one on a
security hold, or none: what differs goes into the email (or nowhere), never into the chat.
"""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import messages
from actions.backend import Customer
from actions.dialogue import (
    await_confirmation,
    failures_of,
    first_support_intent,
    record_step,
    request_handoff,
)
from actions.forms import AccountRequestAction, IdentifyingFormValidation
from actions.services import backend, settings
from contract.redact import mask_email

RESET_SENT = (
    "I've sent a password reset link to {masked}, if there's an account with that address. It works once and expires "
    "in {minutes} minutes. Did it work?"
)
UNLOCK_SENT = (
    "I've sent a link to {masked} that unlocks the account and lets you choose a new password, if there's an account "
    "with that address (if the account can't be unlocked by email, the email says what to do instead). It works once "
    "and expires in {minutes} minutes. Did it work?"
)
HOLD_HYPOTHESIS = (
    "Account locked after {failed} failed sign-in attempts and placed on a {hold}; needs manual identity check to "
    "unlock"
)


class ValidatePasswordResetForm(IdentifyingFormValidation):
    """Only the email is needed: the link itself goes to the inbox on file, which is the verification."""

    needs_verification = False

    def name(self) -> str:
        """Validation of password_reset_form."""
        return "validate_password_reset_form"


def on_hold(customer: Customer | None) -> bool:
    """Locked for another reason than failed sign-ins: no link may unlock it."""
    return customer is not None and customer.status == "locked" and customer.lock_reason != "failed_attempts"


def hold_hypothesis(customer: Customer) -> str:
    """What the agent needs to know about a security hold."""
    return HOLD_HYPOTHESIS.format(failed=customer.failed_logins,
                                  hold=(customer.lock_reason or "manual").replace("_", " "))


def send_reset_link(
    tracker: Tracker, dispatcher: CollectingDispatcher, customer: Customer | None, *, retry: bool = False
) -> list[EventType]:
    """Ask the backend to email a fresh reset (or unlock) link and say, in one message, what was done.

    A signed-in customer hears about their own account; anyone else gets the same answer for any address (the
    backend sends nothing to an address without an account, and only a notice to an account on a security hold).
    ``retry``: the customer said the previous link did not work, so the message starts with an apology.
    """
    verified = customer is not None and bool(tracker.get_slot("customer_verified"))
    address = customer.email if customer is not None else str(tracker.get_slot("email") or "")
    masked, minutes = mask_email(address), settings().link_ttl_minutes
    sent = backend().request_password_reset(address, settings().max_sends_per_hour)
    locked = customer is not None and customer.status == "locked"
    step = "unlock_link" if locked else "password_reset_link"
    if not sent:
        text = messages.LINK_LIMITED.format(masked=masked, minutes=minutes)
    elif verified and locked and customer is not None:
        text = (
            f"Your account was locked after {customer.failed_logins} failed sign-in attempts. I've sent a link to "
            f"{masked} that unlocks it and lets you choose a new password. It works once and expires in {minutes} "
            "minutes. Did it work?"
        )
    elif verified:
        text = f"I've sent a password reset link to {masked}. It works once and expires in {minutes} minutes. Did it work?"
    elif first_support_intent(tracker) == "account_locked":
        text = UNLOCK_SENT.format(masked=masked, minutes=minutes)
    else:
        text = RESET_SENT.format(masked=masked, minutes=minutes)
    if retry:
        text = messages.retry_lead(messages.RETRY_RESET_LEAD, failures_of(tracker, step), sent) + text
    dispatcher.utter_message(text=text, buttons=messages.YES_NO_RESOLVED)
    if not sent:
        return [record_step(tracker, step, "not_sent", f"hourly limit reached for {masked}"), await_confirmation(step)]
    if on_hold(customer) and customer is not None:
        # Only the agent learns it (steps and hypothesis); the customer's email says to ask for a person.
        return [record_step(tracker, "unlock_check", "failed", f"security hold, cannot unlock automatically; notice "
                            f"emailed to {masked}"), SlotSet("hypothesis", hold_hypothesis(customer)),
                await_confirmation(step)]
    return [record_step(tracker, step, "sent", f"link emailed to {masked}"), await_confirmation(step)]


class ActionPasswordReset(AccountRequestAction):
    """Sends the reset link, unlocks an account locked by failed attempts, hands off a security hold."""

    doing = "resetting a password"

    def name(self) -> str:
        """Submit action of password_reset_form."""
        return "action_password_reset"

    def serve(self, dispatcher: CollectingDispatcher, tracker: Tracker, customer: Customer) -> list[EventType]:
        """Decide between a reset link, an unlock link and (for a signed-in customer on a security hold) a hand-off."""
        if on_hold(customer) and tracker.get_slot("customer_verified"):
            return [record_step(tracker, "unlock_check", "failed", "security hold, cannot unlock automatically"),
                    *request_handoff("policy", hold_hypothesis(customer))]
        return send_reset_link(tracker, dispatcher, customer)

    def serve_unknown(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        """No account has this address: answer exactly as if one had (the backend sends nothing)."""
        return send_reset_link(tracker, dispatcher, None)
