"""Random conversation-shaped event sequences over the project's own domain, for comparing kept or spliced results
with what Rasa's own code computes (tests/bot/test_prior_states.py, tests/bot/test_action_call.py)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActionReverted,
    ActiveLoop,
    AllSlotsReset,
    BotUttered,
    ConversationPaused,
    ConversationResumed,
    DefinePrevUserUtteredFeaturization,
    EntitiesAdded,
    Event,
    FollowupAction,
    LoopInterrupted,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker


def _slot_value(slot: Any, rng: random.Random) -> Any:
    kind = type(slot).__name__
    if kind == "BooleanSlot":
        return rng.choice([True, False, None])
    if kind == "FloatSlot":
        return rng.choice([0.0, 1.0, 2.5, None])
    if kind == "CategoricalSlot":
        return rng.choice([*slot.values, None])
    if kind == "ListSlot":
        return rng.choice([["a"], [], None])
    return rng.choice(["ana@example.com", "x", None, "a longer value with ümlauts"])


def grown_tracker(domain: Domain, rng: random.Random, length: int, every: int) -> Iterator[tuple[int, DialogueStateTracker]]:
    """A tracker fed a random conversation of ``length`` events, handed out after every ``every``-th event."""
    tracker = DialogueStateTracker(f"random-{rng.random()}", domain.slots)
    for step, event in enumerate(random_events(domain, rng, length)):
        tracker.update(event)
        if step % every == 0:
            yield step, tracker


def random_events(domain: Domain, rng: random.Random, length: int) -> list[Event]:
    """A conversation-shaped random sequence: mostly turns, with every disruptive event now and then."""
    intents, forms = list(domain.intents), list(domain.form_names)
    actions = [a for a in domain.action_names_or_texts if a != "action_listen"]
    slots = list(domain.slots)
    entities = list(domain.entities) or ["email"]
    events: list[Event] = [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")]
    while len(events) < length:
        roll = rng.random()
        if roll < 0.25:
            entity = {"entity": rng.choice(entities), "value": "v", "start": 0, "end": 1}
            events.append(UserUttered(rng.choice(["hi", "help", "ok"]), {"name": rng.choice(intents),
                                                                      "confidence": 0.9},
                                      [entity] if rng.random() < 0.3 else []))
            if rng.random() < 0.7:
                events.append(DefinePrevUserUtteredFeaturization(rng.random() < 0.2))
        elif roll < 0.45:
            events.append(ActionExecuted(rng.choice(actions), hide_rule_turn=rng.random() < 0.2))
            if rng.random() < 0.3:
                events.append(BotUttered("text"))
        elif roll < 0.55:
            events.append(ActionExecuted("action_listen", hide_rule_turn=rng.random() < 0.1))
        elif roll < 0.65:
            slot = rng.choice(slots)
            events.append(SlotSet(slot.name, _slot_value(slot, rng)))
        elif roll < 0.78 and forms:
            form = rng.choice(forms)
            events.append(rng.choice([ActionExecuted(form), ActionExecuted(form), ActiveLoop(form), ActiveLoop(None),
                                      ActionExecutionRejected(form), LoopInterrupted(rng.random() < 0.5)]))
        else:
            events.append(rng.choice([
                UserUtteranceReverted(), ActionReverted(), FollowupAction(rng.choice(actions)),
                EntitiesAdded([{"entity": rng.choice(entities), "value": "w"}]), AllSlotsReset(),
                ConversationPaused(), ConversationResumed(),
                SessionStarted() if rng.random() < 0.3 else ActionExecuted("action_listen"),
                Restarted() if rng.random() < 0.2 else ActionExecuted("action_listen"),
            ]))
    return events[:length]
