"""Technical faults are L2 work by nature: collect the error, what was tried and the impact, then hand off.

L1 is done on a fault when three things are known (:data:`L1_SLOTS`): the error as the customer sees it, what they
already tried, and the impact in their words (who is affected, how urgent). The impact's scope and urgency are read
from those words, or from any earlier message of the form, by :mod:`contract.impact`; a message that already says who
is affected fills the impact without the question being asked.

Customers answer the question before the last as often as the last one: an answer to "what have you tried" that only
describes the error more goes to the error's description, and an answer to the impact question that only says what
was tried goes to what was tried; each question is then asked once more, and its next answer is taken as it is.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import messages
from actions.dialogue import latest_intent, request_handoff
from actions.form_loop import LEFT_TO_RULES, LeavableFormValidation, misses_of
from actions.forms import AskAction, slot_dict
from contract.impact import scope_from_text, urgency_from_text
from contract.redact import contains_secret, redact

FORM = "technical_issue_form"
# What L1 must know before a fault goes to L2; the hand-off is requested once all of them are filled.
L1_SLOTS = ("error_details", "steps_tried", "impact")
MAX_IMPACT = 500  # characters of the customer's impact answer kept

ERROR_CODE = re.compile(r"\b(?:E-?\d{3,5}|ERR[_-][A-Z_-]+|HTTP\s?\d{3}|(?:error|status)(?:\s+code)?\s+\d{3})\b", re.I)
# Known error codes and what L1 suspects behind them: the start of the hypothesis for L2.
KNOWN_ERRORS = {
    "E-504": "suspected gateway timeout between the app and the API",
    "E-1042": "suspected expired session token",
    "ERR_SYNC_TIMEOUT": "suspected database timeout during sync",
    "ERR_AUTH_EXPIRED": "suspected expired OAuth grant for an integration",
    "HTTP 500": "suspected server-side exception",
    "HTTP 502": "suspected upstream outage behind the load balancer",
    "HTTP 503": "suspected service overload or maintenance",
}

# Words that say the customer already tried something ("I restarted it and cleared the cache"): not asked again.
ALREADY_TRIED = re.compile(
    r"\b(?:tried|already|re-?start(?:ed|ing)?|re-?boot(?:ed|ing)?|re-?install(?:ed|ing)?|re-?load(?:ed|ing)?|"
    r"refresh(?:ed|ing)?|clear(?:ed|ing)?\s+(?:the\s+|my\s+)?"
    r"(?:cache|cookies)|(?:another|different|other)\s+(?:browser|device|phone|computer|laptop)|"
    r"(?:signed|logged)\s+(?:out|off)|updated\s+the\s+app)\b", re.I)
# An answer to "what have you tried" that says nothing was ("nothing", "not yet", "no"): an answer all the same.
NOTHING_TRIED = re.compile(r"^\W*(?:nothing|none|no|nope|not\s+yet|not\s+really|n/?a|haven'?t|have\s+not|didn'?t)\b",
                           re.I)
# Words that describe how the fault shows itself ("it just spins, no error"), not something tried.
DESCRIBES_FAULT = re.compile(
    r"\b(?:error|spin\w*|hang\w*|stuck|freez\w*|frozen|crash\w*|blank|loading|won'?t|doesn'?t|does\s+not|"
    r"can'?t|cannot|fail\w*|since|every\s+time|keeps?)\b", re.I)


def hypothesis_for(details: str) -> str:
    """Start L2 off with a hypothesis from the error code, never "customer says it's broken"."""
    match = ERROR_CODE.search(details)
    if not match:
        return "No error code given; reproduce from the customer's description"
    code = match.group(0).upper().replace("ERROR ", "HTTP ").replace("STATUS ", "HTTP ").replace("CODE ", "")
    code = re.sub(r"^E(\d)", r"E-\1", code)
    return f"{KNOWN_ERRORS.get(code, 'unrecognised error code')} based on error code {code}"


def form_messages(tracker: Tracker) -> list[str]:
    """The customer's messages of the running technical form, newest first (the one that started it included)."""
    texts: list[str] = []
    started = False
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "user":
            texts.append(str(event.get("text") or ""))
            if started:
                break
        elif kind == "active_loop" and event.get("name") == FORM:
            started = True
    return texts


def impact_reading(tracker: Tracker, impact: str | None) -> dict[str, Any]:
    """Scope and urgency from the impact answer, else from the newest message of the form that states them."""
    texts = [impact or "", *form_messages(tracker)]
    return {
        "impact_scope": next((s for s in map(scope_from_text, texts) if s), None),
        "impact_urgency": next((u for u in map(urgency_from_text, texts) if u), None),
    }


def l1_done(tracker: Tracker, updates: dict[str, Any]) -> dict[str, Any]:
    """With every L1 slot filled (``updates`` over the tracker's values): the impact's reading and the hand-off."""
    values = {name: updates.get(name, tracker.get_slot(name)) for name in L1_SLOTS}
    if not all(values.values()):
        return {}
    handoff = request_handoff("technical_issue", hypothesis_for(str(values["error_details"])))
    return {**impact_reading(tracker, values["impact"]), **slot_dict(handoff)}


def answers_impact(tracker: Tracker) -> bool:
    """The latest message, asked for the impact, says who is affected or how urgent it is."""
    if tracker.get_slot("requested_slot") != "impact" or tracker.get_slot("handoff_requested"):
        return False
    if latest_intent(tracker) in {"stop", *LEFT_TO_RULES} or "impact" not in tracker.slots_to_validate():
        return False
    text = str(tracker.latest_message.get("text") or "")
    return bool(scope_from_text(text) or urgency_from_text(text))


def _said_unasked(tracker: Tracker, slot: str, says_it: Callable[[str], bool]) -> dict[str, Any]:
    """``slot`` from the latest message when it already says it and the slot is neither filled nor being asked."""
    text = tracker.latest_message.get("text") or ""
    if tracker.get_slot(slot) or tracker.get_slot("requested_slot") == slot:
        return {}
    return {slot: text} if says_it(text) else {}


class ValidateTechnicalIssueForm(LeavableFormValidation):
    """The definition of done for L1 on a fault: the error as seen, what was already tried and the impact."""

    def name(self) -> str:
        """Validation of technical_issue_form."""
        return "validate_technical_issue_form"

    async def extract_error_details(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Take the details from the first message when it already describes the error."""
        text = tracker.latest_message.get("text") or ""
        if (tracker.get_slot("error_details") or tracker.get_slot("requested_slot")
                or latest_intent(tracker) != "technical_issue"):
            return {}
        if ERROR_CODE.search(text) or len(text.split()) >= 8:
            return {"error_details": text}
        return {}

    async def extract_steps_tried(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Take what was tried from any message of the form that already says it, so it is not asked."""
        return _said_unasked(tracker, "steps_tried", lambda text: bool(ALREADY_TRIED.search(text)))

    async def extract_impact(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Take the impact from any message of the form that already says who is affected, so it is not asked."""
        return _said_unasked(tracker, "impact", lambda text: bool(scope_from_text(text)))

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """An answer to the impact question is taken even when it reads like another topic to the NLU.

        "Nobody in the office can log in" answers who is affected; it is no password question here.
        """
        if answers_impact(tracker):
            events = await FormValidationAction.run(self, dispatcher, tracker, domain)
            return [*events, *self._misses(tracker, "impact", None)]
        return await super().run(dispatcher, tracker, domain)

    async def validate_error_details(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """At least a few words or an error code; secrets redacted before they are kept."""
        text = str(value or "").strip()
        if len(text.split()) < 3 and not ERROR_CODE.search(text):
            dispatcher.utter_message(text="Could you describe it in a bit more detail, with any error message?")
            return {"error_details": None}
        if contains_secret(text):
            dispatcher.utter_message(text=messages.NO_SECRETS)
        details = {"error_details": redact(text[:1000])}
        return {**details, **l1_done(tracker, details)}

    async def validate_steps_tried(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Anything goes ("nothing yet" is an answer), except, the first time, more words about the error only."""
        text = str(value or "").strip()
        if not misses_of(tracker, "steps_tried") and (
                DESCRIBES_FAULT.search(text) and not ALREADY_TRIED.search(text) and not NOTHING_TRIED.match(text)):
            dispatcher.utter_message(text=messages.ADDED_TO_ERROR)
            return {"steps_tried": None, "error_details": _added(tracker, "error_details", text)}
        tried = {"steps_tried": redact(text[:1000]) or "nothing yet"}
        return {**tried, **l1_done(tracker, tried)}

    async def validate_impact(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Anything goes ("not sure" is an answer, with no scope), except, the first time, only what was tried.

        Secrets are redacted, scope and urgency read.
        """
        text = str(value or "").strip()
        if not misses_of(tracker, "impact") and ALREADY_TRIED.search(text) and not (
                scope_from_text(text) or urgency_from_text(text)):
            dispatcher.utter_message(text=messages.ADDED_TO_TRIED)
            return {"impact": None, "steps_tried": _added(tracker, "steps_tried", text)}
        if contains_secret(text):
            dispatcher.utter_message(text=messages.NO_SECRETS)
        impact = {"impact": redact(text[:MAX_IMPACT]) or "not sure"}
        return {**impact, **impact_reading(tracker, impact["impact"]), **l1_done(tracker, impact)}


def _added(tracker: Tracker, slot: str, text: str) -> str:
    """``slot``'s value with ``text`` added (redacted, at most 1,000 characters)."""
    return redact(" ".join(part for part in (str(tracker.get_slot(slot) or ""), text) if part)[:1000])


class AskImpact(AskAction):
    """Asks who is affected and how urgent it is."""

    slot = "impact"
