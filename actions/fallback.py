"""When the bot fails the customer: clarification, out of scope, and steps that did not work (three strikes)."""

from __future__ import annotations

from collections.abc import Callable

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import messages
from actions.account import close_confirmed
from actions.backend import BackendUnavailable
from actions.billing import send_payment_link
from actions.dialogue import (
    latest_intent,
    nlu_miss,
    record_step,
    register_strike,
    request_handoff,
    reset_strikes,
    unrepeated,
)
from actions.form_loop import has_words
from actions.password import send_reset_link
from actions.services import current_customer, settings
from contract.redact import mask_email

# Intents worth offering as "Did you mean ...?" buttons.
OFFERABLE = set(messages.INTENT_LABELS)
MIN_SUGGESTION_CONFIDENCE = 0.05

# What L1 suspects when a step keeps failing; {email} is the masked address.
STEP_HYPOTHESES = {
    "password_reset_link": "Reset emails not reaching {email}; suspect spam filtering or an outdated address on file",
    "unlock_link": "Account locked after failed sign-in attempts; unlock link did not resolve it",
    "verification_email": "Verification email not reaching {email}; suspect typo in the address or filtering",
    "email_change_verification": (
        "Approval email for the email change not reaching the current address {email} (the new address is only "
        "written to once that is approved); suspect spam filtering or an outdated address on file"
    ),
    "payment_method_link": "Payment method page not working for the customer; suspect card declined or page error",
}
STEP_TIPS = {
    "verification_email": "Emails can take a few minutes and sometimes land in spam or promotions. Could you check?",
    "email_change_verification": (
        "The first email goes to your current address, to approve the change; the new address gets its confirmation "
        "link only after that. Emails can take a few minutes and sometimes land in spam. Could you check?"
    ),
}


def failed_step_hypothesis(tracker: Tracker) -> str | None:
    """The hypothesis of the last step that failed, so a later strike still hands off with the real story."""
    for step in reversed(tracker.get_slot("steps_attempted") or []):
        if step.get("outcome") == "failed" and step.get("step") in STEP_HYPOTHESES:
            return STEP_HYPOTHESES[step["step"]].format(email=mask_email(tracker.get_slot("email") or ""))
    return None


def report_miss(dispatcher: CollectingDispatcher, tracker: Tracker, kind: str) -> None:
    """Send the misunderstood message to the gateway (``custom.nlu_miss``; customers never see it)."""
    miss = nlu_miss(tracker, kind)
    if miss is not None:
        dispatcher.utter_message(json_message={"nlu_miss": miss})


class ActionClarify(Action):
    """Below the confidence threshold: "Did you mean ...?" first, "in other words?" after a rejection."""

    def name(self) -> str:
        """Also Rasa's core fallback action (config.yml)."""
        return "action_clarify"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Count the strike and ask, or hand off on the last one; report the miss either way."""
        rejected = latest_intent(tracker) == "something_else"
        if not rejected and not has_words(str(tracker.latest_message.get("text") or "")):
            # An emoji or a "?" is not a failed attempt: nothing to understand, so nothing counts.
            text = unrepeated(tracker, messages.NO_WORDS, messages.NO_WORDS_AGAIN)
            dispatcher.utter_message(text=text, buttons=messages.TOPIC_BUTTONS)
            return []
        events = self._clarify(dispatcher, tracker, rejected)
        report_miss(dispatcher, tracker, "clarification_rejected" if rejected else "nlu_fallback")
        return events

    def _clarify(self, dispatcher: CollectingDispatcher, tracker: Tracker, rejected: bool) -> list[EventType]:
        strike = register_strike(
            tracker, "clarification_rejected" if rejected else "nlu_fallback", settings(),
            hypothesis=failed_step_hypothesis(tracker)
            or "The assistant could not understand the request; read the customer's own words below",
        )
        if strike.hand_off:
            return strike.events
        if rejected:
            dispatcher.utter_message(text=messages.REPHRASE, buttons=[messages.TALK_TO_PERSON])
            return strike.events
        ranking = tracker.latest_message.get("intent_ranking") or []
        suggestions = [
            {"title": messages.INTENT_LABELS[item["name"]], "payload": f"/{item['name']}"}
            for item in ranking
            if item.get("name") in OFFERABLE and item.get("name") != "request_human"
            and float(item.get("confidence") or 0) >= MIN_SUGGESTION_CONFIDENCE
        ][:3]
        if not suggestions or not (tracker.latest_message.get("text") or "").strip():
            text = unrepeated(tracker, messages.NOT_UNDERSTOOD_EMPTY, messages.NOT_UNDERSTOOD_AGAIN)
            dispatcher.utter_message(text=text, buttons=messages.TOPIC_BUTTONS)
            return strike.events
        dispatcher.utter_message(
            text=unrepeated(tracker, messages.DID_YOU_MEAN, messages.DID_YOU_MEAN_AGAIN),
            buttons=[*suggestions, messages.SOMETHING_ELSE, messages.TALK_TO_PERSON],
        )
        return strike.events


class ActionOutOfScope(Action):
    """Says what the bot can do and offers a person; repeated out-of-scope turns count as strikes."""

    def name(self) -> str:
        """Rule for out_of_scope."""
        return "action_out_of_scope"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Explain the scope, count the strike."""
        hypothesis = failed_step_hypothesis(tracker) or "Request is outside what the assistant covers"
        strike = register_strike(tracker, "out_of_scope", settings(), hypothesis=hypothesis)
        if not strike.hand_off:
            dispatcher.utter_message(text=messages.OUT_OF_SCOPE, buttons=messages.TOPIC_BUTTONS)
        report_miss(dispatcher, tracker, "out_of_scope")
        return strike.events


def _retry_reset(tracker: Tracker, dispatcher: CollectingDispatcher) -> list[EventType]:
    # Whether or not the address has an account, the same single message: the new link, or the hourly limit.
    return send_reset_link(tracker, dispatcher, current_customer(tracker), retry=True)


def _retry_payment(tracker: Tracker, dispatcher: CollectingDispatcher) -> list[EventType]:
    return send_payment_link(tracker, dispatcher, current_customer(tracker), retry=True)


RETRIES: dict[str, Callable[[Tracker, CollectingDispatcher], list[EventType]]] = {
    "password_reset_link": _retry_reset,
    "unlock_link": _retry_reset,
    "payment_method_link": _retry_payment,
}


class ActionCheckOutcome(Action):
    """The customer's yes/no after a resolution step (or "that didn't work" at any time)."""

    def name(self) -> str:
        """Rules for affirm, deny and step_failed."""
        return "action_check_outcome"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Resolve, confirm, retry or count the failure."""
        step = tracker.get_slot("pending_step")
        intent = latest_intent(tracker)
        try:
            if step == "close_account_confirm":
                if intent == "affirm":
                    return [SlotSet("pending_step", None), *close_confirmed(tracker, dispatcher)]
                dispatcher.utter_message(text=f"Okay, your account stays open. {messages.ANYTHING_ELSE}")
                return [SlotSet("pending_step", None), record_step(tracker, "close_account", "cancelled")]
            if intent == "affirm" and step:
                dispatcher.utter_message(text=messages.GLAD_IT_WORKED)
                return [SlotSet("pending_step", None), record_step(tracker, step, "resolved"), *reset_strikes()]
            if intent == "affirm":
                dispatcher.utter_message(text=messages.ANYTHING_ELSE)
                return []
            if intent == "deny" and not step:
                dispatcher.utter_message(text="Alright. What can I help you with?", buttons=messages.TOPIC_BUTTONS)
                return []
            return self._failed(tracker, dispatcher, step)
        except BackendUnavailable:
            dispatcher.utter_message(text=messages.BACKEND_DOWN)
            return request_handoff("backend_unavailable", "Business backend unreachable while retrying a step")

    @staticmethod
    def _failed(tracker: Tracker, dispatcher: CollectingDispatcher, step: str | None) -> list[EventType]:
        email = mask_email(tracker.get_slot("email") or "")
        hypothesis = STEP_HYPOTHESES.get(step or "", "A resolution step did not work for the customer")
        strike = register_strike(tracker, "step_failed", settings(), hypothesis=hypothesis.format(email=email))
        failed = record_step(tracker, step or "unknown_step", "failed")
        if strike.hand_off:
            return [failed, SlotSet("pending_step", None), *strike.events]
        if step in RETRIES:
            retry = RETRIES[step](tracker, dispatcher)
            # The retry records its own step on the tracker's history: keep the failure before it.
            for event in retry:
                if event.get("event") == "slot" and event.get("name") == "steps_attempted":
                    event["value"] = [*failed["value"], *event["value"][-1:]]
            return [*strike.events, *retry] if any(
                e.get("name") == "steps_attempted" for e in retry) else [failed, *strike.events, *retry]
        if step in STEP_TIPS:
            dispatcher.utter_message(text=STEP_TIPS[step], buttons=messages.YES_NO_RESOLVED)
            return [failed, *strike.events]
        dispatcher.utter_message(
            text="Sorry that didn't work. Could you tell me what you were trying to do?", buttons=messages.TOPIC_BUTTONS
        )
        return [failed, *strike.events]
