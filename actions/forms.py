"""What every form shares: asking for a slot, identifying the customer, and proving they own the account."""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import messages
from actions.backend import BackendUnavailable, CodeCheck, Customer
from actions.dialogue import find_email, record_step, register_strike, request_handoff
from actions.form_loop import LeavableFormValidation
from actions.services import backend, current_customer, settings
from contract.redact import contains_secret, mask_email

IDENTITY_SLOTS = ("email", "verification_code")

# What the chat says about codes reads the same whether or not the address has an account (no enumeration).
CODE_ASK = (
    "I've emailed a 6-digit code to {masked}, if there's an account with that address. To keep your account safe, "
    "please type it here."
)
CODES_LIMITED = (
    "A code was already requested for {masked} several times in the last hour, so I haven't sent another one, to "
    "protect that inbox. Please use the latest code we emailed."
)
CODE_WRONG = "That code doesn't match. Please check the latest email from us and try again."
CODE_BURNED = "That code doesn't match either. After {attempts} wrong tries I've cancelled it, to keep the account safe."


def identity_events(customer: Customer, verified: bool) -> dict[str, Any]:
    """Slots that say who the customer is and how they are served (tier, fast lane): for a verified identity only.

    An address typed in the chat proves nothing (anyone can type an enterprise customer's), so it earns no priority
    in the queue and no tier the agent would take as fact: unverified, nothing is set.
    """
    if not verified:
        return {}
    return {"customer_id": customer.id, "customer_verified": True, "customer_tier": customer.tier,
            "fast_lane": backend().is_fast_lane(customer)}


class HandoffAwareValidation(LeavableFormValidation, metaclass=ABCMeta):
    """Ends the form at once (no more questions) when a validation step has asked for a person."""

    @abstractmethod
    def name(self) -> str:
        """Subclasses return validate_<form>."""

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        """No further questions once a hand-off is requested."""
        return [] if tracker.get_slot("handoff_requested") else list(domain_slots)


class IdentifyingFormValidation(HandoffAwareValidation):
    """Base validation for forms that need to know whose account it is.

    A customer signed in on the host page (verified identity) is never asked. Anyone else gives the email on
    file; when the request reveals or changes account data, they also type a code emailed to that address.
    Every address is taken alike, with or without an account (nothing tells them apart in the chat): a form that
    needs no code leaves the difference to its submit action's serve_unknown, which must answer alike too.
    """

    needs_verification = True

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        """Drop identity questions for verified customers; add the code question for everyone else."""
        slots = [slot for slot in domain_slots if slot not in IDENTITY_SLOTS]
        if tracker.get_slot("handoff_requested"):
            return []
        if tracker.get_slot("customer_verified"):
            return slots
        identity = ["email", "verification_code"] if self.needs_verification else ["email"]
        return identity + slots

    async def validate_email(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Accept any well-formed address alike, and send the code if the form needs one.

        The account is not even looked up here: whether one exists shows only in what its inbox receives.
        """
        email = find_email(str(value or ""))
        if email is None:
            text = messages.NO_SECRETS if contains_secret(str(value or "")) else ""
            dispatcher.utter_message(text=f"{text} That doesn't look like an email address.".strip())
            return {"email": None}
        if self.needs_verification:
            try:
                sent = backend().send_verification_code(email, settings().max_sends_per_hour)
            except BackendUnavailable:
                return {"email": email, **backend_down_slots(dispatcher)}
            if not sent:
                dispatcher.utter_message(text=CODES_LIMITED.format(masked=mask_email(email)))
        return {"email": email}

    async def validate_verification_code(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Check the emailed code: each wrong code is a strike; max_verification_attempts of them burn the code.

        A burned code cannot verify anyone any more, so the conversation goes to a person (who can verify the
        customer another way) rather than letting the guessing go on.
        """
        email = tracker.get_slot("email")
        attempts = settings().max_verification_attempts
        try:
            check = backend().check_verification_code(email, str(value or ""), attempts) if email else CodeCheck()
            customer = backend().customer_by_id(check.customer_id) if check.customer_id else None
        except BackendUnavailable:
            return {"verification_code": "unavailable", **backend_down_slots(dispatcher)}
        if customer is not None:
            dispatcher.utter_message(text="Thanks, that's verified.")
            return {"verification_code": "verified", **identity_events(customer, verified=True)}
        hypothesis = (
            f"Customer typed {attempts} wrong verification codes; the code was cancelled and identity is not verified"
            if check.burned else "Customer could not confirm the emailed verification code; identity not verified"
        )
        strike = register_strike(tracker, "verification_failed", settings(), hypothesis=hypothesis)
        if check.burned:
            dispatcher.utter_message(text=CODE_BURNED.format(attempts=attempts))
            events = strike.events if strike.hand_off else [*strike.events, *request_handoff("policy", hypothesis)]
            return {"verification_code": "failed", **slot_dict(events)}
        if strike.hand_off:
            return {"verification_code": "failed", **slot_dict(strike.events)}
        dispatcher.utter_message(text=CODE_WRONG)
        return {"verification_code": None, **slot_dict(strike.events)}


def slot_dict(events: list[EventType]) -> dict[str, Any]:
    """Turn SlotSet events into the dict a validate_<slot> method returns."""
    return {event["name"]: event["value"] for event in events if event.get("event") == "slot"}


def backend_down_slots(dispatcher: CollectingDispatcher) -> dict[str, Any]:
    """Tell the customer the backend is down and request a hand-off, as validation slot values."""
    dispatcher.utter_message(text=messages.BACKEND_DOWN)
    return slot_dict(request_handoff("backend_unavailable", "Business backend unreachable during the request"))


class AskAction(Action, metaclass=ABCMeta):
    """Asks for one slot (action_ask_<slot>); the wording lives in messages.ASK."""

    buttons: list[dict[str, str]] | None = None

    @property
    @abstractmethod
    def slot(self) -> str:
        """The slot asked for (subclasses set it as a class attribute)."""

    def name(self) -> str:
        """action_ask_<slot>."""
        return f"action_ask_{self.slot}"

    def question(self, tracker: Tracker) -> str:
        """The question for this slot, tailored to the active form when it says so."""
        return messages.ASK.get(f"{self.slot}_{tracker.active_loop_name}", messages.ASK[self.slot])

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Utter the question (with buttons where the answer is a choice), unless this turn already asked one.

        A validation that offers choices ("here are your recent charges. Which one is it?") has asked already:
        asking the form's question after it would say the same thing twice.
        """
        if asked_this_turn(tracker):
            return []
        dispatcher.utter_message(text=self.question(tracker), buttons=self.buttons or [])
        return []


def asked_this_turn(tracker: Tracker) -> bool:
    """True when a bot message since the customer's latest message is a question."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        if event.get("event") == "bot" and str(event.get("text") or "").rstrip().endswith("?"):
            return True
    return False


class AskEmail(AskAction):
    """Asks for the email on the account."""

    slot = "email"


class AskVerificationCode(AskAction):
    """Asks for the code emailed to the account's address."""

    slot = "verification_code"

    def question(self, tracker: Tracker) -> str:
        """Name the (masked) address the code went to, without saying whether an account has it."""
        return CODE_ASK.format(masked=mask_email(tracker.get_slot("email") or ""))


class AskSignupEmail(AskAction):
    """Asks for the new account's email."""

    slot = "signup_email"


class AskPlan(AskAction):
    """Asks for a plan, with one button per plan."""

    slot = "plan"
    buttons = messages.PLAN_BUTTONS


class AskAccountField(AskAction):
    """Asks what to change, email or name."""

    slot = "account_field"
    buttons = messages.ACCOUNT_FIELD_BUTTONS


class AskNewValue(AskAction):
    """Asks for the new email or name."""

    slot = "new_value"

    def question(self, tracker: Tracker) -> str:
        """Word the question for the field being changed."""
        return messages.ASK[f"new_value_{tracker.get_slot('account_field') or 'name'}"]


class AskDisputeReference(AskAction):
    """Asks which charge is disputed."""

    slot = "dispute_reference"


class AskErrorDetails(AskAction):
    """Asks what exactly goes wrong."""

    slot = "error_details"


class AskStepsTried(AskAction):
    """Asks what the customer already tried."""

    slot = "steps_tried"


def forget_slots(*names: str) -> list[EventType]:
    """Clear collected slots so the next request asks afresh."""
    return [SlotSet(name, None) for name in names]


class AccountRequestAction(Action, metaclass=ABCMeta):
    """Submit action of a form about the customer's own account: the guards every such request shares.

    Nothing runs once a hand-off is requested; an unknown account or an unreachable backend hands off.
    """

    doing = "handling the request"
    # The step serve() records when it answers (a lookup), and the topic it answers: after a hand-back about that
    # topic, that answer is not simply repeated (it did not settle things); about another topic it is given again.
    answer_step: str | None = None
    answer_topic: str | None = None

    @abstractmethod
    def name(self) -> str:
        """Subclasses return their action name."""

    @abstractmethod
    def serve(self, dispatcher: CollectingDispatcher, tracker: Tracker, customer: Customer) -> list[EventType]:
        """Carry the request out for this customer (may raise BackendUnavailable)."""

    def serve_unknown(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        """No account for this chat: say so and hand off.

        Only a verified identity gets here (its account has gone meanwhile): a form that needs no code lets anyone
        reach its submit action with any address, so that action overrides this to answer exactly as for an account.
        """
        dispatcher.utter_message(text="I couldn't find that account.")
        return request_handoff("policy", f"Account could not be found while {self.doing}")

    def not_repeating(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        """Asked again after a hand-back: say what the agent left open and offer a person, not the same answer."""
        open_ = tracker.get_slot("handback_open") or {}
        text = messages.NOT_REPEATING
        if open_.get("note"):
            text += f" Our team noted: {open_['note']}"
        dispatcher.utter_message(text=text, buttons=[messages.TALK_TO_PERSON, *messages.TOPIC_BUTTONS[:3]])
        answers = [a for a in open_.get("answers", []) if a != self.answer_step]
        return [SlotSet("handback_open", {**open_, "answers": answers}),
                record_step(tracker, str(self.answer_step), "not_repeated", "answer given before the hand-back")]

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Find the customer, then serve the request; hand off when that is impossible."""
        if tracker.get_slot("handoff_requested"):
            return []
        open_ = tracker.get_slot("handback_open") or {}
        if self.answer_step in open_.get("answers", []) and open_.get("topic") in (None, self.answer_topic):
            return self.not_repeating(dispatcher, tracker)
        try:
            customer = current_customer(tracker)
            if customer is None:
                return self.serve_unknown(dispatcher, tracker)
            return self.serve(dispatcher, tracker, customer)
        except BackendUnavailable:
            dispatcher.utter_message(text=messages.BACKEND_DOWN)
            return request_handoff("backend_unavailable", f"Business backend unreachable while {self.doing}")
