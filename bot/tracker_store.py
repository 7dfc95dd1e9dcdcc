"""Rasa's SQL tracker store, with the customer's words redacted before they are written.

The gateway redacts what it relays, but Rasa is also reached directly (``make shell``, the REST channel, tests):
whatever reaches it, the events it keeps hold no card number, password, reset token or API key
(:mod:`contract.redact`): the customer's ``user`` events, the ``slot`` events (a ``from_text`` slot holds the
customer's words as typed) and the ``bot`` events (a reply may quote the customer). The conversation in memory is
untouched, so the current turn is understood as typed.
Configured in ``endpoints.yml``: ``tracker_store: {type: bot.tracker_store.RedactingSQLTrackerStore, ...}``, with
an optional ``redact:`` key (the classes, as ``HANDOFF_REDACT``; default all). Loading it also routes the Rasa
server's own log records through the redaction (Rasa logs the user's text at DEBUG).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import BotUttered, Event, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from contract.redact import install, redact_value

# The fields of each kind of event that can hold the customer's words.
_CUSTOMER_FIELDS: dict[type, tuple[str, ...]] = {
    UserUttered: ("text", "parse_data"),
    SlotSet: ("value",),
    BotUttered: ("text", "data"),
}


def redacted(event: Event) -> Event:
    """A copy of a user, slot or bot event with the fields that can hold the customer's words redacted.

    Other events (actions, forms, sessions) carry only names and are returned as they are.
    """
    fields = _CUSTOMER_FIELDS.get(type(event))
    if fields is None:
        return event
    data: dict[str, Any] = event.as_dict()
    changed = False
    for field in fields:
        if data.get(field) is not None:
            clean = redact_value(data[field])
            changed = changed or clean != data[field]
            data[field] = clean
    if not changed:  # nothing to hide: the event as it is (rebuilding it costs a reply ~1 ms per event)
        return event
    copy = Event.from_parameters(data)
    return copy if copy is not None else event


class RedactingSQLTrackerStore(SQLTrackerStore):
    """``SQLTrackerStore`` whose new rows carry redacted customer messages."""

    def __init__(self, *args: Any, redact: str = "all", **kwargs: Any) -> None:
        """As ``SQLTrackerStore``; ``redact`` chooses the classes for this Rasa process (rows and log lines)."""
        install(redact)
        super().__init__(*args, **kwargs)

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator:
        for event in super()._additional_events(session, tracker):
            yield redacted(event)
