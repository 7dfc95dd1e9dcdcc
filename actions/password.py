"""Password resets and locked accounts: a single-use expiring link to the email on file, never a password."""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions import messages
from actions.backend import Customer
from actions.dialogue import await_confirmation, mask_email, record_step, request_handoff
from actions.forms import AccountRequestAction, IdentifyingFormValidation
from actions.services import backend, settings


class ValidatePasswordResetForm(IdentifyingFormValidation):
    """Only the email is needed: the link itself goes to the inbox on file, which is the verification."""

    needs_verification = False

    def name(self) -> str:
        """Validation of password_reset_form."""
        return "validate_password_reset_form"


def send_reset_link(tracker: Tracker, dispatcher: CollectingDispatcher, customer: Customer) -> list[EventType]:
    """Email a fresh reset (or unlock) link and ask whether it arrived."""
    link = backend().send_password_reset(customer)
    minutes = settings().link_ttl_minutes
    if customer.status == "locked":
        step = "unlock_link"
        text = (
            f"Your account was locked after {customer.failed_logins} failed sign-in attempts. I've sent a link to "
            f"{mask_email(link.sent_to)} that unlocks it and lets you choose a new password. It works once and "
            f"expires in {minutes} minutes. Did it work?"
        )
    else:
        step = "password_reset_link"
        text = (
            f"I've sent a password reset link to {mask_email(link.sent_to)}. It works once and expires in "
            f"{minutes} minutes. Did it work?"
        )
    dispatcher.utter_message(text=text, buttons=messages.YES_NO_RESOLVED)
    return [record_step(tracker, step, "sent", f"link emailed to {mask_email(link.sent_to)}"), await_confirmation(step)]


class ActionPasswordReset(AccountRequestAction):
    """Sends the reset link, unlocks an account locked by failed attempts, hands off a security hold."""

    doing = "resetting a password"

    def name(self) -> str:
        """Submit action of password_reset_form."""
        return "action_password_reset"

    def serve(self, dispatcher: CollectingDispatcher, tracker: Tracker, customer: Customer) -> list[EventType]:
        """Decide between a reset link, an unlock link and a hand-off."""
        if customer.status == "locked" and customer.lock_reason != "failed_attempts":
            hypothesis = (
                f"Account locked after {customer.failed_logins} failed sign-in attempts and placed on a "
                f"{(customer.lock_reason or 'manual').replace('_', ' ')}; needs manual identity check to unlock"
            )
            return [record_step(tracker, "unlock_check", "failed", "security hold, cannot unlock automatically"),
                    *request_handoff("policy", hypothesis)]
        return send_reset_link(tracker, dispatcher, customer)
