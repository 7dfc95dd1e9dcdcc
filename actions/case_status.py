"""Re-contact: "what's happening with my case?" (the gateway, which owns the cases, answers with the status)."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import messages


class ActionCaseStatus(Action):
    """Acknowledges the question and asks the gateway for the status (``custom.case_status``), which it counts."""

    def name(self) -> str:
        """Rule for case_status."""
        return "action_case_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """The lookup line, then the signal; the gateway appends the status of the customer's latest case."""
        dispatcher.utter_message(text=messages.CASE_STATUS_LOOKUP)
        dispatcher.utter_message(json_message={"case_status": {"customer_id": tracker.get_slot("customer_id")}})
        return []
