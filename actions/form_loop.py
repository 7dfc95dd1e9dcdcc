"""How a customer gets out of a form: cancel, ask something else, or fail to answer twice (no form traps).

Every form validation derives from ``LeavableFormValidation``. After each customer message inside a form:

- ``stop`` ("cancel", "never mind", "forget it") ends the form at once: the bot says so and asks what else.
- Another support question ends the form and starts that topic's flow (the new question is answered): at once
  when NLU is sure of it (``SURE_SWITCH``), else only when the message is not a usable answer to what was asked
  (the slot's own validation decides first).
- An answer the slot's validation rejects is a miss; a question is asked at most twice. After the second miss the
  form ends with topic buttons and a person on offer, and the loop counts as one strike (three strikes hand off).
- A message with no letters or digits (an emoji, "?") is neither an answer nor a miss: the question stands.
- The emailed code counts its own wrong attempts (strikes, then the code is burned); an answer without a digit in it
  ("thanks", "ok, one sec") is no attempt at all, only a miss.

The form is ended by the validation itself (``requested_slot`` set to None) with a ``FollowupAction``, so no rule
has to list every form and every way out.
"""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import messages
from actions.dialogue import latest_intent, record_step, register_strike
from actions.services import settings

# Where each support topic starts: the form (or action) its rule runs.
TOPIC_ENTRY = {
    "reset_password": "password_reset_form",
    "account_locked": "password_reset_form",
    "create_account": "create_account_form",
    "update_account": "update_account_form",
    "close_account": "close_account_form",
    "billing_invoice": "invoice_form",
    "billing_charge_dispute": "charge_dispute_form",
    "billing_refund": "refund_status_form",
    "billing_payment_method": "payment_method_form",
    "technical_issue": "technical_issue_form",
    "case_status": "action_case_status",
}
# Slots a form collects that mean nothing outside it (identity slots are kept: the customer proved who they are).
FORM_SLOTS = ("dispute_reference", "account_field", "new_value", "signup_email", "plan", "error_details",
              "steps_tried", "impact", "impact_scope", "impact_urgency")
MAX_ASKS = 2
# Intents the domain keeps out of every answer (``not_intent``) that have rules of their own: the hand-off.
LEFT_TO_RULES = frozenset({"request_human", "express_frustration"})
# A topic question this sure leaves the form even when it could pass as an answer (free-text slots take anything).
SURE_SWITCH = 0.9


def misses_of(tracker: Tracker, slot: str) -> int:
    """How many unusable answers ``slot``'s question has had so far in this form."""
    return int((tracker.get_slot("form_misses") or {}).get(slot, 0))


def has_words(text: str) -> bool:
    """True when a message has at least one letter or digit (not only emoji, punctuation or space)."""
    return any(ch.isalnum() for ch in text)


def _slot_events(events: list[EventType], name: str) -> list[EventType]:
    return [e for e in events if e.get("event") == "slot" and e.get("name") == name]


class LeavableFormValidation(FormValidationAction, metaclass=ABCMeta):
    """A form validation the customer can always leave; subclasses add ``validate_<slot>`` methods as usual."""

    # Slots whose validation counts its own failed attempts (the emailed code): no miss counting, and a topic
    # question is recognised before the validation runs (it would otherwise spend one of the code's attempts).
    self_limited_slots: frozenset[str] = frozenset({"verification_code"})

    @abstractmethod
    def name(self) -> str:
        """Subclasses return validate_<form>."""

    def form_name(self) -> str:
        """The form this action validates."""
        return self.name().removeprefix("validate_")

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Validate as usual, unless the customer is leaving the form or has failed to answer twice."""
        requested = tracker.get_slot("requested_slot")
        if not requested or tracker.get_slot("handoff_requested"):
            return await super().run(dispatcher, tracker, domain)
        text = str(tracker.latest_message.get("text") or "")
        intent = latest_intent(tracker)
        if intent == "stop":
            return self.stop(dispatcher, tracker, requested)
        if requested not in tracker.slots_to_validate():
            if intent in LEFT_TO_RULES:
                # A request for a person or frustration: no validation, no miss; the form rejects the turn and the
                # hand-off rules answer it.
                return await super().run(dispatcher, tracker, domain)
            # Not taken as an answer either ("none of these"): an unusable answer, like any other.
            return self.miss(dispatcher, tracker, requested, [SlotSet(requested, None)], [])
        if not has_words(text):
            # The question stands; the form asks it again (not a miss).
            return [SlotSet(requested, None)]
        switch_to = self._switch_target(intent)
        confidence = float((tracker.latest_message.get("intent") or {}).get("confidence") or 0.0)
        if switch_to and (confidence >= SURE_SWITCH or (
                requested in self.self_limited_slots and not any(ch.isdigit() for ch in text))):
            return self.switch(tracker, requested, switch_to)
        if requested in self.self_limited_slots and not any(ch.isdigit() for ch in text):
            # "thanks", "ok", "didn't get it": no code typed, so no attempt spent and no wrong code; an unusable
            # answer like any other (asked at most twice).
            hint = CollectingDispatcher()
            hint.utter_message(text=messages.NOT_A_CODE)
            return self.miss(dispatcher, tracker, requested, [SlotSet(requested, None)], hint.messages)
        said = len(dispatcher.messages)
        events = await super().run(dispatcher, tracker, domain)
        if requested in self.self_limited_slots or tracker.get_slot("handoff_requested"):
            return events
        if any(e.get("value") is not None for e in _slot_events(events, requested)):
            return [*events, *self._misses(tracker, requested, None)]
        hint = dispatcher.messages[said:]
        del dispatcher.messages[said:]
        if switch_to:
            return self.switch(tracker, requested, switch_to)
        return self.miss(dispatcher, tracker, requested, events, hint)

    def _switch_target(self, intent: str | None) -> str | None:
        target = TOPIC_ENTRY.get(intent or "")
        return target if target and target != self.form_name() else None

    @staticmethod
    def _end(tracker: Tracker, requested: str, followup: str) -> list[EventType]:
        """Events that end this form (the text taken as an answer to ``requested`` too) and run ``followup`` next."""
        cleared = dict.fromkeys([requested, *(name for name in FORM_SLOTS if tracker.get_slot(name) is not None)])
        return [
            *[SlotSet(name, None) for name in cleared],
            SlotSet("form_misses", None),
            SlotSet("requested_slot", None),
            FollowupAction(followup),
        ]

    def stop(self, dispatcher: CollectingDispatcher, tracker: Tracker, requested: str) -> list[EventType]:
        """The customer cancelled: end the form and ask what else."""
        dispatcher.utter_message(text=messages.STOPPED, buttons=messages.TOPIC_BUTTONS)
        return [record_step(tracker, self.form_name(), "cancelled"), *self._end(tracker, requested, "action_listen")]

    def switch(self, tracker: Tracker, requested: str, target: str) -> list[EventType]:
        """The customer asked about something else: end this form and start that topic."""
        step = record_step(tracker, self.form_name(), "left", f"asked about {target}")
        return [step, *self._end(tracker, requested, target)]

    def miss(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, requested: str, events: list[EventType],
        hint: list[dict[str, Any]],
    ) -> list[EventType]:
        """An unusable answer: the validation's hint and the question once more; the second time, end the loop."""
        misses = misses_of(tracker, requested) + 1
        if misses < MAX_ASKS:
            dispatcher.messages.extend(hint)
            return [*events, *self._misses(tracker, requested, misses)]
        strike = register_strike(
            tracker, "form_loop", settings(),
            hypothesis=f"The assistant could not get the {requested.replace('_', ' ')} after asking twice",
        )
        step = record_step(tracker, self.form_name(), "unanswered", f"no usable {requested.replace('_', ' ')}")
        if strike.hand_off:
            return [step, *strike.events, *self._end(tracker, requested, "action_handoff")]
        dispatcher.utter_message(text=messages.GAVE_UP_ASKING, buttons=messages.TOPIC_BUTTONS)
        return [step, *strike.events, *self._end(tracker, requested, "action_listen")]

    @staticmethod
    def _misses(tracker: Tracker, requested: str, count: int | None) -> list[EventType]:
        misses = dict(tracker.get_slot("form_misses") or {})
        if count is None:
            if requested not in misses:
                return []
            misses.pop(requested)
        else:
            misses[requested] = count
        return [SlotSet("form_misses", misses or None)]


class ActionStop(Action):
    """Cancel or never mind outside a form: drop the pending yes/no question and ask what else."""

    def name(self) -> str:
        """Rule for stop (inside a form, the form's validation handles it)."""
        return "action_stop"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Say what was stopped, if anything."""
        step = tracker.get_slot("pending_step")
        if step:
            dispatcher.utter_message(text=messages.STOPPED, buttons=messages.TOPIC_BUTTONS)
            return [SlotSet("pending_step", None), record_step(tracker, step, "cancelled")]
        dispatcher.utter_message(text=messages.NOTHING_PENDING, buttons=messages.TOPIC_BUTTONS)
        return []
