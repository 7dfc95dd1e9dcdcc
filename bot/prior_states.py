"""A conversation's applied events and earlier dialogue states, kept between calls instead of rebuilt from the start.

For every prediction, each of Rasa's policies asks for the dialogue state before every action of the session so far
(``Domain.states_for_tracker_history``): Rasa lists the events that still apply (``applied_events``: without
reverted ones, collapsing a form's repeated executions), replays them into a fresh tracker and featurises each step.
A message asks about five times, so before this a reply at turn 80 cost twice a reply at turn 10 (issue 18).

Appending events never changes an earlier state, except where Rasa's own rules take events back: a restart or a new
session (everything), a reverted action or utterance, a form executed again (back to its previous execution). So
each tracker keeps (in an attribute, so it lives and dies with the tracker) its applied events, and for each kind of
question its states and the replaying tracker; a call reads only the events appended since the last one and
recomputes only from the earliest position those rules changed. The result is equal to Rasa's, call for call
(tests/bot/test_prior_states.py replays random event sequences against Rasa's own functions). It pays off across
messages because the tracker store hands the same tracker back for the next message (bot/tracker_store.py).

Only for ``DialogueStateTracker`` itself with no cap on its events: training's ``TrackerWithCachedStates``, other
subclasses and a tracker that drops its oldest events go through Rasa's code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from rasa.shared.core.constants import PREVIOUS_ACTION, USER
from rasa.shared.core.domain import Domain, State
from rasa.shared.core.events import (
    ActionExecuted,
    ActionReverted,
    ActiveLoop,
    DefinePrevUserUtteredFeaturization,
    EntitiesAdded,
    Event,
    Restarted,
    SessionStarted,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT, TEXT

RASA_APPLIED_EVENTS = DialogueStateTracker.applied_events
RASA_STATES_FOR_TRACKER_HISTORY = Domain.states_for_tracker_history

_ATTRIBUTE = "_kept_prior_states"


@dataclass
class _StatesKept:
    """The states of one kind of question (one domain and argument set), as of ``applied[:valid_upto]``."""

    domain: Domain
    # One entry per ActionExecuted in the applied events, in order: (its index, the state before it or None when the
    # turn is hidden, then the loop's carried values after it: last ML action sub-state, turn hidden, last state).
    entries: list[tuple[int, State | None, Any, bool, State | None]] = field(default_factory=list)
    valid_upto: int = 0
    replay: DialogueStateTracker | None = None
    replayed: int = 0


@dataclass
class _History:
    """A tracker's applied events, kept up to date event by event with Rasa's rules."""

    seen: int = 0
    last_seen: Event | None = None
    loop_names: set[str] = field(default_factory=set)
    applied: list[Event] = field(default_factory=list)
    states: dict[tuple, _StatesKept] = field(default_factory=dict)

    def changed_from(self, index: int) -> None:
        """Events from ``index`` on changed: every kept state from there on must be recomputed."""
        for kept in self.states.values():
            kept.valid_upto = min(kept.valid_upto, index)

    def restart(self) -> None:
        """Read every event again (the tracker's events were replaced, or a new loop name changes earlier rules)."""
        self.seen, self.last_seen, self.applied, self.loop_names = 0, None, [], set()
        self.changed_from(0)

    def catch_up(self, tracker: DialogueStateTracker) -> list[Event]:
        """The applied events of ``tracker``, as ``DialogueStateTracker.applied_events`` returns them (the list kept)."""
        events = tracker.events
        if len(events) < self.seen or (self.seen and events[self.seen - 1] is not self.last_seen):
            self.restart()
        if len(events) == self.seen:
            return self.applied
        new = list(islice(events, self.seen, None))
        if self.seen and not _loop_names(new) <= self.loop_names:
            # Rasa lists the loop names over all events: an ActionExecuted read earlier may now count as a loop's.
            self.restart()
            new = list(events)
        if not self.seen:
            self.loop_names = _loop_names(new)
        for event in new:
            self._apply(tracker, event)
        self.seen, self.last_seen = len(events), events[-1]
        return self.applied

    def _apply(self, tracker: DialogueStateTracker, event: Event) -> None:
        """One event, as the loop in ``DialogueStateTracker.applied_events`` treats it."""
        applied = self.applied
        if isinstance(event, (Restarted, SessionStarted)):
            self.applied = []
            self.changed_from(0)
        elif isinstance(event, ActionReverted):
            tracker._undo_till_previous(ActionExecuted, applied)
            self.changed_from(len(applied))
        elif isinstance(event, UserUtteranceReverted):
            tracker._undo_till_previous(UserUttered, applied)
            tracker._undo_till_previous(ActionExecuted, applied)
            self.changed_from(len(applied))
        elif (
            isinstance(event, ActionExecuted)
            and event.action_name in self.loop_names
            and not tracker._first_loop_execution_or_unhappy_path(event.action_name, applied)
        ):
            self.changed_from(_previous_execution(event.action_name, applied) + 1)
            tracker._undo_till_previous_loop_execution(event.action_name, applied)
        else:
            if isinstance(event, (DefinePrevUserUtteredFeaturization, EntitiesAdded)):
                # These change the latest user message itself; states after it that were kept saw it unchanged.
                self.changed_from(_after_latest_user_message_with_action(applied))
            applied.append(event)


def _loop_names(events: list[Event]) -> set[str]:
    """The names of the loops activated in ``events``."""
    return {event.name for event in events if isinstance(event, ActiveLoop) and event.name}


def _after_latest_user_message_with_action(applied: list[Event]) -> int:
    """The index after the latest user message if an action followed it (a kept state shows it), else the end."""
    action_after = False
    for index in range(len(applied) - 1, -1, -1):
        event = applied[index]
        if isinstance(event, UserUttered):
            return index + 1 if action_after else len(applied)
        action_after = action_after or isinstance(event, ActionExecuted)
    return len(applied)


def _previous_execution(loop_name: str, applied: list[Event]) -> int:
    """The index of the loop's previous execution (events after it may be taken back); -1 if none."""
    for index in range(len(applied) - 1, -1, -1):
        event = applied[index]
        if isinstance(event, ActionExecuted) and event.action_name == loop_name:
            return index
    return -1


def _history(tracker: DialogueStateTracker) -> _History:
    """The history kept on ``tracker``, created on first use."""
    kept = tracker.__dict__.get(_ATTRIBUTE)
    if kept is None:
        kept = _History()
        tracker.__dict__[_ATTRIBUTE] = kept
    return kept


def _handled(tracker: DialogueStateTracker) -> bool:
    """Whether this module answers for ``tracker``: a plain tracker whose events are never dropped from the front."""
    return type(tracker) is DialogueStateTracker and tracker._max_event_history is None


def applied_events(self: DialogueStateTracker) -> list[Event]:
    """``DialogueStateTracker.applied_events``: only the events appended since the last call are read."""
    if not _handled(self):
        return RASA_APPLIED_EVENTS(self)
    return list(_history(self).catch_up(self))


def _copy(state: State) -> State:
    """A state the caller may change: Rasa's featurizers delete keys of its user sub-state (text, intent, entities)."""
    copied = dict(state)
    user = copied.get(USER)
    if user is not None:
        copied[USER] = dict(user)
    return copied


def _handed_out(state: State) -> State:
    """A kept state as a caller may get it: copied only when Rasa's prediction code would change it.

    It changes the states it gets in two ways only: the featurizer deletes the text of every user sub-state that also
    has an intent, and the last state's text, intent or entities (the caller copies the last one always).
    """
    user = state.get(USER)
    if user is not None and TEXT in user and INTENT in user:
        return _copy(state)
    return state


def states_for_tracker_history(
    self: Domain,
    tracker: DialogueStateTracker,
    omit_unset_slots: bool = False,
    ignore_rule_only_turns: bool = False,
    rule_only_data: dict[str, Any] | None = None,
) -> list[State]:
    """``Domain.states_for_tracker_history``, computing only the states after what changed since the last call."""
    if not _handled(tracker):
        return RASA_STATES_FOR_TRACKER_HISTORY(self, tracker, omit_unset_slots, ignore_rule_only_turns, rule_only_data)
    history = _history(tracker)
    applied = history.catch_up(tracker)
    key = (id(self), omit_unset_slots, ignore_rule_only_turns, repr(rule_only_data))
    kept = history.states.get(key)
    if kept is None or kept.domain is not self:
        kept = history.states[key] = _StatesKept(domain=self)

    entries = kept.entries
    while entries and entries[-1][0] >= kept.valid_upto:
        entries.pop()
    if kept.replay is None or kept.replayed > kept.valid_upto:
        kept.replay, kept.replayed = tracker.init_copy(), 0
    carried = entries[-1][2:] if entries else (None, False, None)

    def step(replay: DialogueStateTracker, hide_rule_turn: bool, carried: tuple) -> tuple[State | None, tuple]:
        """One turn of Rasa's loop: the state of ``replay`` (None if hidden) and the values carried to the next."""
        last_ml_action, turn_was_hidden, last_state = carried
        if ignore_rule_only_turns:
            if not turn_was_hidden:
                last_ml_action = self._get_prev_action_sub_state(replay)
            if not replay.followup_action and not replay.latest_action_name == replay.active_loop_name:
                turn_was_hidden = hide_rule_turn
            if turn_was_hidden:
                return None, (last_ml_action, turn_was_hidden, last_state)
        state = self.get_active_state(replay, omit_unset_slots=omit_unset_slots)
        if ignore_rule_only_turns:
            self._remove_rule_only_features(state, rule_only_data)
            if last_state is not None:
                self._substitute_rule_only_user_input(state, last_state)
            if last_ml_action:
                state[PREVIOUS_ACTION] = last_ml_action
        state = self._clean_state(state)
        return state, (last_ml_action, turn_was_hidden, state)

    replay, first_new = kept.replay, kept.valid_upto
    for index in range(kept.replayed, len(applied)):
        event = applied[index]
        if index >= first_new and isinstance(event, ActionExecuted):
            state, carried = step(replay, event.hide_rule_turn, carried)
            entries.append((index, state, *carried))
        replay.update(event)
    kept.replayed = kept.valid_upto = len(applied)

    final, _ = step(replay, False, carried)
    states = [_handed_out(entry[1]) for entry in entries if entry[1] is not None]
    if final is not None:
        states.append(final)
    if states:
        states[-1] = _copy(states[-1])
    return states


def install() -> None:
    """Route Rasa's two functions through the kept history (idempotent)."""
    DialogueStateTracker.applied_events = applied_events  # type: ignore[method-assign]
    Domain.states_for_tracker_history = states_for_tracker_history  # type: ignore[method-assign]
