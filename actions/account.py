"""Account setup and changes: create (with plan and email verification), change email or name, close."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import messages
from actions.backend import BackendUnavailable, Customer
from actions.dialogue import (
    await_confirmation,
    find_email,
    record_step,
    request_handoff,
    reset_strikes,
)
from actions.forms import (
    AccountRequestAction,
    HandoffAwareValidation,
    IdentifyingFormValidation,
    backend_down_slots,
    forget_slots,
)
from actions.services import backend, current_customer, settings
from contract.redact import contains_secret, mask_email

PLANS = ("free", "pro", "business")
NAME_PATTERN = re.compile(r"^[^\W\d_][\w .'-]{0,79}$", re.UNICODE)


def parse_plan(text: str) -> str | None:
    """Free / pro / business from a free-text answer."""
    words = re.findall(r"[a-z]+", text.lower())
    found = [plan for plan in PLANS if plan in words or (plan == "pro" and "professional" in words)]
    return found[0] if len(found) == 1 else None


def parse_account_field(text: str) -> str | None:
    """Email or name from a free-text answer."""
    lowered = text.lower()
    wants_email = "email" in lowered or "e-mail" in lowered or "address" in lowered
    wants_name = "name" in lowered
    if wants_email != wants_name:
        return "email" if wants_email else "name"
    return None


class ValidateCreateAccountForm(HandoffAwareValidation):
    """A valid email and one of the plans."""

    def name(self) -> str:
        """Validation of create_account_form."""
        return "validate_create_account_form"

    async def validate_signup_email(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Reject malformed addresses; a taken one is accepted alike (ActionCreateAccount answers it the same way)."""
        email = find_email(str(value or ""))
        if email is None:
            dispatcher.utter_message(text="That doesn't look like an email address. Could you type it again?")
            return {"signup_email": None}
        return {"signup_email": email}

    async def validate_plan(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """One of free, pro or business."""
        plan = parse_plan(str(value or ""))
        if plan is None:
            dispatcher.utter_message(text="We have three plans: Free, Pro and Business.")
        return {"plan": plan}


SIGNUP_SENT = (
    "Thanks! I've sent an email to {masked} to finish setting up your {plan} account: it's ready once you click the "
    "link in it. If that address already has an account with us, the email says so instead, and nothing changes. "
    "Did the email arrive?"
)
SIGNUP_LIMITED = (
    "An email was already sent to {masked} several times in the last hour, so I haven't sent another one, to protect "
    "that inbox. Please use the latest email from us (check the spam folder too). Did it arrive?"
)


class ActionCreateAccount(Action):
    """Opens the account and sends the verification email; a taken address only gets a notice, said alike."""

    def name(self) -> str:
        """Submit action of create_account_form."""
        return "action_create_account"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Sign the address up (limited per hour); the answer never tells whether it already had an account."""
        if tracker.get_slot("handoff_requested"):
            return []
        email, plan = tracker.get_slot("signup_email"), tracker.get_slot("plan")
        try:
            sent = backend().request_signup(email, plan, settings().max_sends_per_hour)
        except BackendUnavailable:
            dispatcher.utter_message(text=messages.BACKEND_DOWN)
            return request_handoff("backend_unavailable", "Business backend unreachable while creating an account")
        masked = mask_email(email)
        text = (SIGNUP_SENT if sent else SIGNUP_LIMITED).format(masked=masked, plan=str(plan).capitalize())
        dispatcher.utter_message(text=text, buttons=messages.YES_NO_RESOLVED)
        step = record_step(tracker, "verification_email", "sent" if sent else "not_sent",
                           f"sign-up email to {masked}" if sent else f"hourly limit reached for {masked}")
        return [step, await_confirmation("verification_email"), *forget_slots("signup_email", "plan")]


class ValidateUpdateAccountForm(IdentifyingFormValidation):
    """Which field and its new value (email: valid and unused; name: letters)."""

    def name(self) -> str:
        """Validation of update_account_form."""
        return "validate_update_account_form"

    async def validate_account_field(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Email or name."""
        field = parse_account_field(str(value or ""))
        if field is None:
            dispatcher.utter_message(text="I can change the email address or the name on the account.")
        return {"account_field": field}

    async def validate_new_value(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A well-formed new value for the chosen field."""
        text = str(value or "").strip()
        if contains_secret(text):
            dispatcher.utter_message(text=messages.NO_SECRETS)
            return {"new_value": None}
        if tracker.get_slot("account_field") == "email":
            email = find_email(text)
            if email is None:
                dispatcher.utter_message(text="That doesn't look like an email address.")
                return {"new_value": None}
            try:
                taken = backend().customer_by_email(email) is not None
            except BackendUnavailable:
                return {"new_value": email, **backend_down_slots(dispatcher)}
            if taken:
                dispatcher.utter_message(
                    text=f"{email} is already used by an account, so I can't move yours to it. Which other address?"
                )
                return {"new_value": None}
            return {"new_value": email}
        if not NAME_PATTERN.match(text):
            dispatcher.utter_message(text="Please type the name as it should appear, e.g. \"Ana Ortiz\".")
            return {"new_value": None}
        return {"new_value": text}


class ActionUpdateAccount(AccountRequestAction):
    """Changes the name at once; the email once the current address approved and the new one confirmed."""

    doing = "updating the account"

    def name(self) -> str:
        """Submit action of update_account_form."""
        return "action_update_account"

    def serve(self, dispatcher: CollectingDispatcher, tracker: Tracker, customer: Customer) -> list[EventType]:
        """Apply or start the change."""
        field, value = tracker.get_slot("account_field"), tracker.get_slot("new_value")
        clear = forget_slots("account_field", "new_value")
        if field == "name":
            backend().update_name(customer.id, value)
            dispatcher.utter_message(text=f"Done: the name on your account is now {value}. {messages.ANYTHING_ELSE}")
            return [record_step(tracker, "update_name", "resolved"), *reset_strikes(), *clear]
        # The current inbox approves first: whoever got into this chat cannot move the account to an inbox of theirs.
        link = backend().request_email_change(customer.id, value)
        dispatcher.utter_message(
            text=f"To keep your account safe, I've sent a link to your current address, {mask_email(link.sent_to)}, to "
            f"approve the change. Once it's approved, we'll send a confirmation link to {mask_email(value)}, and your "
            "email changes when that one is clicked too (until then, keep using the old one). Did the first email "
            "arrive?",
            buttons=messages.YES_NO_RESOLVED,
        )
        return [record_step(tracker, "email_change_verification", "sent",
                            f"approval asked from {mask_email(link.sent_to)} for {mask_email(value)}"),
                await_confirmation("email_change_verification"), *clear]


class ValidateCloseAccountForm(IdentifyingFormValidation):
    """Closing needs a verified owner."""

    def name(self) -> str:
        """Validation of close_account_form."""
        return "validate_close_account_form"


class ActionCloseAccount(AccountRequestAction):
    """Asks for confirmation; high-value accounts and open balances go to a person instead."""

    doing = "closing the account"

    def name(self) -> str:
        """Submit action of close_account_form."""
        return "action_close_account"

    def serve(self, dispatcher: CollectingDispatcher, tracker: Tracker, customer: Customer) -> list[EventType]:
        """Check the account, then ask the customer to confirm."""
        if backend().is_fast_lane(customer):
            return [SlotSet("fast_lane", True), *request_handoff(
                "fast_lane", f"High-value {customer.tier} account (MRR ${customer.mrr:,.2f}) asks to close; "
                "retention review before closing")]
        balance = backend().open_balance(customer.id)
        if balance > 0:
            return request_handoff(
                "policy", f"Customer wants to close the account with ${balance:,.2f} unpaid; billing must settle first"
            )
        dispatcher.utter_message(
            text="Closing your account signs everyone out and deletes your data after 30 days. This can't be undone "
            "after that. Are you sure you want to close it?",
            buttons=messages.CLOSE_CONFIRM_BUTTONS,
        )
        return [await_confirmation("close_account_confirm")]


def close_confirmed(tracker: Tracker, dispatcher: CollectingDispatcher) -> list[EventType]:
    """The customer said yes to closing: close it."""
    customer = current_customer(tracker)
    if customer is None:
        return request_handoff("policy", "Account to close could not be found")
    backend().close_account(customer.id)
    dispatcher.utter_message(
        text="Your account is closed. We've emailed you a confirmation; your data is deleted in 30 days. "
        "Thanks for being with us."
    )
    return [record_step(tracker, "close_account", "resolved"), *reset_strikes()]
