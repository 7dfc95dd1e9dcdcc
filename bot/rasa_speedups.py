"""Work Rasa 3.6 repeats on every message and that costs more than the message itself; done once instead.

Installed when the model loads (imported by ``bot.meaning_featurizer``, a component of this project's pipeline), so
``rasa run``, ``rasa test`` and the benchmarks all get them. Each keeps Rasa's behaviour exactly (tests/bot/
test_rasa_speedups.py compares both on the same inputs); docs/benchmarks.md has the before/after (issue 18).

- The action server's answer is checked with ``jsonschema.validate(result, schema)``
  (``RemoteAction._validate_action_result``), which validates the schema itself against its meta-schema first, on
  every call: about 25 ms of CPU per custom action call here, most of a conversation's first reply
  (``action_session_start``). Here the validator is built, and the schema checked, once: the same errors
  (``best_match``, as ``jsonschema.validate`` raises) with the same message.
- Loading a tracker turns each stored event back into an object; for each, ``Event.resolve_by_type`` walks every
  subclass of ``Event`` (recursively, with ``inspect.isabstract`` on each) to find the class of its type name:
  about 80 us an event, so a long conversation paid more for this than for understanding the message. Here a type
  name is resolved by that same walk once, then remembered.
- RulePolicy formats the whole conversation's states as text for a debug record on every prediction, whether or
  not debug records are written (``Policy.format_tracker_states``): ~2 ms a reply at turn 150. Formatted only when
  RulePolicy's logger would write the record.
- Before each action the processor copies the tracker (``DialogueStateTracker.copy``) by replaying every event of
  the session into a new one: ~1 ms at 400 events, twice a message. Rasa's own rule is that a tracker's state
  "MUST be re-creatable by processing all the events", so here the copy takes the events and that state as they
  are (slots copied, as Rasa copies them).
- Each policy's question "what was the dialogue state before every action so far" is answered from states kept on
  the tracker, computing only what the events appended since changed (bot/prior_states.py): the cost of a reply no
  longer grows with the conversation's length.
- Each custom action's request carries the whole session's events as JSON, written again on every call: each
  settled event's text is written once (bot/action_call.py).
- Before a form's validation action is called, Rasa builds a temporary tracker by replaying every event of the
  session (``FormAction._temporary_tracker``, twice a turn in a form): here it is the tracker's copy (above) with the
  same few events appended, the same state a replay gives.
"""

from __future__ import annotations

import copy
import logging
import math
from functools import lru_cache
from typing import Any

import jsonschema
from jsonschema.exceptions import best_match
from rasa.core.actions.action import RemoteAction
from rasa.core.actions.forms import FormAction
from rasa.core.policies.policy import Policy
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.core.constants import REQUESTED_SLOT
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, Event, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker

from bot import action_call, prior_states

_RASA_RESOLVE_BY_TYPE = Event.resolve_by_type
_RASA_FORMAT_TRACKER_STATES = Policy.format_tracker_states
_RULE_POLICY_LOG = logging.getLogger("rasa.core.policies.rule_policy")
RASA_COPY_TRACKER = DialogueStateTracker.copy
RASA_TEMPORARY_TRACKER = FormAction._temporary_tracker
_EVENT_CLASSES: dict[str, type[Event]] = {}


@lru_cache(maxsize=1)
def response_validator() -> Any:
    """The validator of ``RemoteAction.action_response_format_spec()``, its schema checked once."""
    schema = RemoteAction.action_response_format_spec()
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    """``RemoteAction._validate_action_result`` without rebuilding the validator: True, or the ValidationError."""
    error = best_match(response_validator().iter_errors(result))
    if error is None:
        return True
    error.message += (
        ". Failed to validate Action server response from API, make sure your response from the Action endpoint is "
        f"valid. For more information about the format visit {DOCS_BASE_URL}/custom-actions"
    )
    raise error


def resolve_by_type(type_name: str, default: type[Event] | None = None) -> type[Event] | None:
    """``Event.resolve_by_type``: the class of ``type_name`` found by Rasa's own walk once, then remembered.

    Only found classes are remembered: "topic", a default or an unknown name go through Rasa's code each time (an
    event class imported later is found then).
    """
    found = _EVENT_CLASSES.get(type_name)
    if found is not None:
        return found
    resolved = _RASA_RESOLVE_BY_TYPE(type_name, default)
    if resolved is not None and resolved is not default:
        _EVENT_CLASSES[type_name] = resolved
    return resolved


def format_tracker_states(states: list[dict]) -> str:
    """``Policy.format_tracker_states`` when RulePolicy's debug records are written; otherwise "" (only they use it)."""
    if not _RULE_POLICY_LOG.isEnabledFor(logging.DEBUG):
        return ""
    return _RASA_FORMAT_TRACKER_STATES(states)


def copy_tracker(self: DialogueStateTracker) -> DialogueStateTracker:
    """``DialogueStateTracker.copy`` without its replay of every event into ``init_copy()``.

    The copy gets the same events, and the state replaying them re-creates, taken from the tracker.
    """
    if type(self) is not DialogueStateTracker or not all(e.timestamp <= math.inf for e in self.events):
        return RASA_COPY_TRACKER(self)  # subclasses, and the odd timestamp Rasa's replay would stop at
    copied = self.init_copy()
    copied.events.extend(self.events)
    copied.slots = {name: copy.copy(slot) for name, slot in self.slots.items()}
    copied._paused = self._paused
    copied.followup_action = self.followup_action
    copied.latest_action = dict(self.latest_action) if self.latest_action is not None else None
    copied.latest_message = self.latest_message
    copied.latest_bot_utterance = self.latest_bot_utterance
    copied.active_loop = copy.copy(self.active_loop)
    return copied


def temporary_tracker(
    self: FormAction, current_tracker: DialogueStateTracker, additional_events: list[Event], domain: Domain
) -> DialogueStateTracker:
    """``FormAction._temporary_tracker`` without replaying the session.

    The session's events, the requested slot, the form's execution and ``additional_events``: a copy of the tracker
    with those appended. Rasa replays only the events after the latest restart, into the domain's slots: a tracker
    holding a restart, or slots other than the domain's, goes to Rasa's code.
    """
    if (type(current_tracker) is not DialogueStateTracker or list(current_tracker.slots) != [s.name for s in domain.slots]
            or any(event.type_name == "restart" for event in current_tracker.events)):
        return RASA_TEMPORARY_TRACKER(self, current_tracker, additional_events, domain)
    tracker = copy_tracker(current_tracker)
    for event in (SlotSet(REQUESTED_SLOT, self.get_slot_to_fill(current_tracker)), ActionExecuted(self.name()),
                  *additional_events):
        tracker.update(event)
    return tracker


def install() -> None:
    """Replace Rasa's per-call work with the once-done versions (idempotent)."""
    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]
    Event.resolve_by_type = staticmethod(resolve_by_type)  # type: ignore[method-assign,assignment]
    Policy.format_tracker_states = staticmethod(format_tracker_states)  # type: ignore[method-assign,assignment]
    DialogueStateTracker.copy = copy_tracker  # type: ignore[method-assign]
    FormAction._temporary_tracker = temporary_tracker  # type: ignore[method-assign]
    prior_states.install()
    action_call.install()


install()
