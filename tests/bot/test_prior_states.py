"""bot.prior_states: the kept applied events and states equal Rasa's, after every event of random conversations.

The conversations are random sequences over the project's own domain (its intents, actions, forms and slots) with
every kind of event that changes what Rasa counts as applied or what a state holds: forms executed again, rejected
and interrupted, reverted utterances and actions, restarts and new sessions, hidden rule turns, follow-up actions,
the featurisation flag and entities added to the last message. Rasa's answer comes from its own functions on an
identical tracker of a subclass (which bot.prior_states leaves to Rasa's code). Callers change the states they get
(Rasa deletes keys of the last one), so each answer is changed before the next question.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    Event,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot import prior_states
from tests.bot.random_conversations import grown_tracker, random_events

ROOT = Path(__file__).resolve().parents[2]


class RasaTracker(DialogueStateTracker):
    """A tracker bot.prior_states does not touch: everything about it is computed by Rasa's own code."""


@pytest.fixture(scope="module")
def domain() -> Domain:
    prior_states.install()
    return Domain.load(str(ROOT / "domain.yml"))


def _copy(event: Event) -> Event:
    copy = Event.from_parameters(event.as_dict())
    assert copy is not None
    return copy


def _as_caller_would(states: list[dict[str, Any]]) -> None:
    """What Rasa's featurizers do to the states they get: drop the text where there is an intent, then the text or
    intent of the last user input."""
    for state in states:
        if state.get("user", {}).get("intent"):
            state["user"].pop("text", None)
    if states and "user" in states[-1]:
        states[-1]["user"].pop("text", None)
        states[-1]["user"].pop("entities", None)


QUESTIONS = [
    {},
    {"omit_unset_slots": True},
    {"ignore_rule_only_turns": True, "rule_only_data": None},
    {"ignore_rule_only_turns": True, "rule_only_data": {"rule_only_slots": ["email", "requested_slot"],
                                                          "rule_only_loops": ["password_reset_form"]}},
]


@pytest.mark.parametrize("seed", range(40))
def test_every_answer_equals_rasas_after_every_event(domain: Domain, seed: int) -> None:
    rng = random.Random(seed)
    events = random_events(domain, rng, 70)
    kept = DialogueStateTracker(f"kept-{seed}", domain.slots)
    rasa = RasaTracker(f"rasa-{seed}", domain.slots)
    for step, event in enumerate(events):
        kept.update(event)
        rasa.update(_copy(event))
        if rng.random() < 0.3 and step < len(events) - 1:
            continue  # several events between two questions, as between two predictions
        assert [e.as_dict() for e in kept.applied_events()] == [e.as_dict() for e in rasa.applied_events()]
        for question in rng.sample(QUESTIONS, k=rng.randint(1, len(QUESTIONS))):
            answer = domain.states_for_tracker_history(kept, **question)
            assert answer == domain.states_for_tracker_history(rasa, **question), (seed, step, question)
            _as_caller_would(answer)


def test_a_tracker_whose_events_are_replaced_is_read_again(domain: Domain) -> None:
    rng = random.Random(7)
    kept = DialogueStateTracker("replaced", domain.slots)
    for event in random_events(domain, rng, 30):
        kept.update(event)
    domain.states_for_tracker_history(kept)
    scratch = DialogueStateTracker("scratch", domain.slots)  # events as a tracker leaves them once applied
    for event in random_events(domain, random.Random(8), 30):
        scratch.update(event)
    kept.events.clear()
    rasa = RasaTracker("replaced-rasa", domain.slots)
    for event in scratch.events:
        kept.events.append(event)
        rasa.update(_copy(event))
    assert domain.states_for_tracker_history(kept) == domain.states_for_tracker_history(rasa)
    assert [e.as_dict() for e in kept.applied_events()] == [e.as_dict() for e in rasa.applied_events()]


def test_a_form_activated_late_counts_its_earlier_executions_as_rasa_does(domain: Domain) -> None:
    """Rasa lists loop names over all events: a form's first ActiveLoop changes how its earlier runs count."""
    form = domain.form_names[0]
    first = [ActionExecuted("action_listen"), UserUttered("hi", {"name": domain.intents[0]}), ActionExecuted(form),
             ActionExecuted("action_listen"), UserUttered("ok", {"name": domain.intents[0]}), ActionExecuted(form)]
    later = [ActiveLoop(form), ActionExecuted("action_listen"), ActionExecuted(form)]
    kept, rasa = DialogueStateTracker("late", domain.slots), RasaTracker("late-rasa", domain.slots)
    for batch in (first, later):
        for event in batch:
            kept.update(event)
            rasa.update(_copy(event))
        assert domain.states_for_tracker_history(kept) == domain.states_for_tracker_history(rasa)
        assert len(kept.applied_events()) == len(rasa.applied_events())


def _untimed(event: Event | None) -> dict[str, Any] | None:
    return None if event is None else {k: v for k, v in event.as_dict().items() if k != "timestamp"}


def _tracker_state(tracker: DialogueStateTracker) -> dict[str, Any]:
    """Everything a tracker's events re-create, and the events themselves."""
    return {
        "events": [e.as_dict() for e in tracker.events],
        "slots": {name: (slot.value, slot.has_been_set) for name, slot in tracker.slots.items()},
        "paused": tracker.is_paused(), "followup": tracker.followup_action, "latest_action": tracker.latest_action,
        # (an empty latest message or bot utterance is made anew by each reset: its timestamp is not the events')
        "latest_message": _untimed(tracker.latest_message), "latest_bot": _untimed(tracker.latest_bot_utterance),
        "active_loop": tracker.active_loop, "sender": tracker.sender_id,
        "current_state": tracker.current_state(),
    }


@pytest.mark.parametrize("seed", range(15))
def test_a_copy_equals_rasas_replayed_copy_and_is_independent(domain: Domain, seed: int) -> None:
    from bot import rasa_speedups

    for step, tracker in grown_tracker(domain, random.Random(1000 + seed), 60, every=7):
        fast, replayed = tracker.copy(), rasa_speedups.RASA_COPY_TRACKER(tracker)
        assert type(fast) is DialogueStateTracker
        assert _tracker_state(fast) == _tracker_state(replayed), (seed, step)
        before = _tracker_state(tracker)
        fast.update(ActionExecuted("action_listen"))
        fast.update(SlotSet(domain.slots[0].name, "changed in the copy"))
        fast.update(ActiveLoop(domain.form_names[0]))
        assert _tracker_state(tracker) == before, "the original is untouched by changes to its copy"


@pytest.mark.parametrize("seed", range(15))
def test_a_forms_temporary_tracker_equals_rasas_replay(domain: Domain, seed: int) -> None:
    """FormAction._temporary_tracker (before each validation call) as a copy plus the new events: Rasa's state."""
    from rasa.core.actions.forms import FormAction

    from bot import rasa_speedups

    rng = random.Random(2000 + seed)
    for step, tracker in grown_tracker(domain, rng, 60, every=5):
        form = FormAction(rng.choice(domain.form_names), None)
        extra = [SlotSet(rng.choice(domain.slots).name, "typed"), ActionExecuted("action_listen")][:rng.randint(0, 2)]
        ours = rasa_speedups.temporary_tracker(form, tracker, list(extra), domain)
        rasas = rasa_speedups.RASA_TEMPORARY_TRACKER(form, tracker, list(extra), domain)
        restarted = any(e.type_name == "restart" for e in tracker.events)
        # (the requested slot and the form's execution are new events each time: their timestamps differ)
        assert _untimed_state(ours) == _untimed_state(rasas), (seed, step, restarted)


def _untimed_state(tracker: DialogueStateTracker) -> Any:
    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in ("timestamp", "latest_event_time")}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value
    return strip(_tracker_state(tracker))


def test_a_tracker_that_drops_its_oldest_events_is_left_to_rasa(domain: Domain) -> None:
    capped = DialogueStateTracker("capped", domain.slots, max_event_history=5)
    rasa = RasaTracker("capped-rasa", domain.slots, max_event_history=5)
    for event in random_events(domain, random.Random(5), 40):
        capped.update(event)
        rasa.update(_copy(event))
        assert domain.states_for_tracker_history(capped) == domain.states_for_tracker_history(rasa)
    assert "_kept_prior_states" not in capped.__dict__
