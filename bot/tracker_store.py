"""Rasa's SQL tracker store, with the customer's words redacted before they are written.

The gateway redacts what it relays, but Rasa is also reached directly (``make shell``, the REST channel, tests):
whatever reaches it, the ``user`` events it keeps hold no card number, password, reset token or API key
(:mod:`contract.redact`). The conversation in memory is untouched, so the current turn is understood as typed; bot
and slot events are written as they are (the actions redact before they set a slot or say anything).
Configured in ``endpoints.yml``: ``tracker_store: {type: bot.tracker_store.RedactingSQLTrackerStore, ...}``, with
an optional ``redact:`` key (the classes, as ``HANDOFF_REDACT``; default all). Loading it also routes the Rasa
server's own log records through the redaction (Rasa logs the user's text at DEBUG).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import Event, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from contract.redact import install, redact, redact_value


def redacted(event: Event) -> Event:
    """A copy of a ``user`` event with its text, parse data and entities redacted (other events as they are)."""
    if not isinstance(event, UserUttered):
        return event
    data: dict[str, Any] = event.as_dict()
    data["text"] = redact(data["text"]) if isinstance(data.get("text"), str) else data.get("text")
    data["parse_data"] = redact_value(data.get("parse_data") or {})
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
