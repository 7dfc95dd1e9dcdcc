"""Session start: carry the request-independent slots over; take who the customer is only from the gateway's voucher.

Identity slots are never carried over: a new session (a shared browser's next user, or the same tab after the
session expired) is verified again from its own metadata, so verification does not outlive what earned it.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.backend import BackendUnavailable
from actions.forms import identity_events
from actions.services import backend, settings
from contract.vouch import vouched_customer_id

logger = logging.getLogger(__name__)

# Slots that belong to one request (or one session's strikes), not to the customer: never carried over.
REQUEST_SLOTS = {
    "pending_step", "handoff_requested", "handoff_reason", "hypothesis", "verification_code", "signup_email",
    "plan", "account_field", "new_value", "dispute_reference", "error_details", "steps_tried", "requested_slot",
    "strikes", "strike_kinds", "steps_attempted", "impact", "impact_scope", "impact_urgency",
}
# Who the customer is: set at each session start from the gateway's voucher (or in the session, by a code).
IDENTITY_SLOTS = {"customer_id", "customer_verified", "customer_tier", "fast_lane", "email"}


class ActionSessionStart(Action):
    """Starts a session, keeping what we know about the customer and trusting only verified identities."""

    def name(self) -> str:
        """Rasa's session start hook."""
        return "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Carry slots over (SessionStarted resets them), then set the identity slots from the vouched metadata."""
        events: list[EventType] = [SessionStarted()]
        for key, value in tracker.current_slot_values().items():
            if value is not None and key not in REQUEST_SLOTS | IDENTITY_SLOTS and key != "session_started_metadata":
                events.append(SlotSet(key, value))
        metadata: dict[str, Any] = tracker.get_slot("session_started_metadata") or {}
        claim = metadata.get("customer") if isinstance(metadata, dict) else None
        customer_id = vouched_customer_id(settings().vouch_secret, tracker.sender_id, claim)
        if claim is not None and customer_id is None:
            logger.warning("identity claim without a valid gateway voucher; customer treated as anonymous")
        if customer_id is not None:
            try:
                customer = backend().customer_by_id(customer_id)
            except BackendUnavailable:
                logger.warning("backend unavailable at session start; customer treated as anonymous")
                customer = None
            if customer is not None:
                identity = identity_events(customer, verified=True)
                identity["email"] = customer.email
                events += [SlotSet(key, value) for key, value in identity.items()]
        events.append(ActionExecuted("action_listen"))
        return events
