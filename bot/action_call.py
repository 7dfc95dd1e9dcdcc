"""The request Rasa posts to the action server, with each settled event turned into JSON once, not on every call.

For each custom action Rasa sends the whole session: ``RemoteAction._action_call_format`` takes
``tracker.current_state(EventVerbosity.ALL)`` (every event through ``as_dict``) and aiohttp's ``json.dumps`` turns it
into text. At 400 events that is ~5 ms of Rasa's CPU a call (0.9 ms of dicts, 4.1 ms of JSON for ~116 kB), so in
a conversation with a custom action every turn a reply grew with the conversation's length (issue 18).

Here an event's dict and JSON text are made once and kept on the event when it is *settled*: it comes before the
latest user message and before the message Rasa holds as the latest (a revert can make an earlier one latest).
Rasa changes events in place only there (``EntitiesAdded`` and ``DefinePrevUserUtteredFeaturization`` change
``tracker.latest_message``); a kept user message is also checked against its number of entities, the one field of
its dict that can change. The body is the same dictionary Rasa builds, and the text sent is the same text
``json.dumps`` makes of it (tests/bot/test_action_call.py compares both over random conversations and on the wire);
only the settled events' part is spliced in instead of being written again.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import aiohttp
import rasa
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity
from rasa.utils.endpoints import DEFAULT_REQUEST_TIMEOUT, EndpointConfig

RASA_ACTION_CALL_FORMAT = RemoteAction._action_call_format
RASA_SESSION = EndpointConfig.session
_KEPT = "_kept_for_action_server"
# Where the events' text goes in the body's JSON: random, so no customer's words can spell it.
_MARK = f"events-{secrets.token_hex(16)}"
_MARK_JSON = json.dumps(_MARK)


class ActionServerEvents(list):
    """The session's events as dicts (Rasa's ``current_state(EventVerbosity.ALL)["events"]``), with their JSON."""

    def __init__(self, events: Iterable[Event], settled: int) -> None:
        self.events = list(events)
        self.kept = [_kept(event) for event in self.events[:settled]]
        super().__init__([kept.data for kept in self.kept] + [event.as_dict() for event in self.events[settled:]])

    def json(self) -> str:
        """``json.dumps(list(self))``, the settled events' text made once for all calls."""
        texts = []
        for kept in self.kept:
            if kept.text is None:
                kept.text = json.dumps(kept.data)
            texts.append(kept.text)
        texts.extend(json.dumps(data) for data in self[len(self.kept):])
        return "[" + ", ".join(texts) + "]"


@dataclass
class _Kept:
    """An event's dict and JSON text, with the one thing Rasa may still change in place: a user message's entities.

    ``EntitiesAdded`` appends to the message Rasa holds as the latest, which a revert can make an earlier one.
    """

    entities: int
    data: dict[str, Any]
    text: str | None = None


def _entity_count(event: Event) -> int:
    entities = event.__dict__.get("entities")  # (a user message's; isinstance on Rasa's ABC events costs more)
    return len(entities) if isinstance(entities, list) else 0


def _kept(event: Event) -> _Kept:
    kept = event.__dict__.get(_KEPT)
    if kept is None or kept.entities != _entity_count(event):
        kept = event.__dict__[_KEPT] = _Kept(_entity_count(event), event.as_dict())
    return kept


def settled_count(tracker: DialogueStateTracker) -> int:
    """How many of the tracker's first events nothing will change any more.

    Those before the latest user message and before ``tracker.latest_message`` (0 before the first user message).
    """
    latest = tracker.latest_message
    position, last_user = len(tracker.events), None
    for event in reversed(tracker.events):
        position -= 1
        if event is latest:
            return position
        if last_user is None and isinstance(event, UserUttered):
            last_user = position
            if latest is None:
                return position
    return last_user if last_user is not None else 0  # the latest message is not among the events (after a restart)


def action_call_format(self: RemoteAction, tracker: DialogueStateTracker, domain: Domain) -> dict[str, Any]:
    """``RemoteAction._action_call_format``: the same body, its events an ``ActionServerEvents``."""
    if type(tracker) is not DialogueStateTracker:
        return RASA_ACTION_CALL_FORMAT(self, tracker, domain)
    state = tracker.current_state(EventVerbosity.NONE)
    state["events"] = ActionServerEvents(tracker.events, settled_count(tracker))
    body = {"next_action": self._name, "sender_id": tracker.sender_id, "tracker": state, "version": rasa.__version__}
    if not self._is_selective_domain_enabled() or domain.does_custom_action_explicitly_need_domain(self.name()):
        body["domain"] = domain.as_dict()
    return body


def to_json(value: Any) -> str:
    """``json.dumps(value)``; for an action call's body, with its events' text spliced in."""
    tracker: dict[str, Any] = value.get("tracker") if isinstance(value, dict) else None  # type: ignore[assignment]
    events = tracker.get("events") if isinstance(tracker, dict) else None
    if not isinstance(events, ActionServerEvents) or len(events) != len(events.events):
        return json.dumps(value)
    tracker["events"] = _MARK
    try:
        text = json.dumps(value)
    finally:
        tracker["events"] = events
    if text.count(_MARK_JSON) != 1:
        return json.dumps(value)
    return text.replace(_MARK_JSON, events.json(), 1)


def session(self: EndpointConfig) -> aiohttp.ClientSession:
    """``EndpointConfig.session`` (the same headers, auth and timeout) whose JSON bodies are written by ``to_json``."""
    auth = aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"]) if self.basic_auth else None
    return aiohttp.ClientSession(headers=self.headers, auth=auth, json_serialize=to_json,
                                 timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT))


def install() -> None:
    """Rasa's action calls write the settled events' JSON once (idempotent)."""
    RemoteAction._action_call_format = action_call_format  # type: ignore[method-assign]
    EndpointConfig.session = session  # type: ignore[method-assign]
