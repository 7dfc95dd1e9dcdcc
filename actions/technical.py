"""Technical faults are L2 work by nature: collect the error and what was tried, then hand off with a hypothesis."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import messages
from actions.dialogue import latest_intent, request_handoff
from actions.form_loop import LeavableFormValidation
from actions.forms import slot_dict
from contract.redact import contains_secret, redact

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
    r"\b(?:tried|already|re-?start(?:ed)?|re-?boot(?:ed)?|re-?install(?:ed)?|clear(?:ed)?\s+(?:the\s+|my\s+)?"
    r"(?:cache|cookies)|(?:another|different|other)\s+(?:browser|device|phone|computer|laptop)|"
    r"(?:signed|logged)\s+(?:out|off)|updated\s+the\s+app)\b", re.I)


def hypothesis_for(details: str) -> str:
    """Start L2 off with a hypothesis from the error code, never "customer says it's broken"."""
    match = ERROR_CODE.search(details)
    if not match:
        return "No error code given; reproduce from the customer's description"
    code = match.group(0).upper().replace("ERROR ", "HTTP ").replace("STATUS ", "HTTP ").replace("CODE ", "")
    code = re.sub(r"^E(\d)", r"E-\1", code)
    return f"{KNOWN_ERRORS.get(code, 'unrecognised error code')} based on error code {code}"


class ValidateTechnicalIssueForm(LeavableFormValidation):
    """The definition of done for L1 on a fault: the error as seen and what was already tried."""

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
        text = tracker.latest_message.get("text") or ""
        if tracker.get_slot("steps_tried") or tracker.get_slot("requested_slot") == "steps_tried":
            return {}
        return {"steps_tried": text} if ALREADY_TRIED.search(text) else {}

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
        details = redact(text[:1000])
        done = request_handoff("technical_issue", hypothesis_for(details)) if tracker.get_slot("steps_tried") else []
        return {"error_details": details, **slot_dict(done)}

    async def validate_steps_tried(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Anything goes ("nothing yet" is an answer); with the error details too, L1 is done and asks for the hand-off."""
        text = redact(str(value or "").strip()[:1000]) or "nothing yet"
        details = tracker.get_slot("error_details")
        done = request_handoff("technical_issue", hypothesis_for(details)) if details else []
        return {"steps_tried": text, **slot_dict(done)}
