"""bot.rasa_speedups: the once-done versions give exactly what Rasa's per-call code gives, on the same inputs."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from jsonschema.exceptions import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, SessionStarted, SlotSet, UserUttered
from rasa.shared.utils.common import all_subclasses

from bot import rasa_speedups

ANSWERS: list[dict[str, Any]] = [
    {"events": [], "responses": []},
    {"events": [{"event": "slot", "name": "email", "value": "ana@example.com"}], "responses": [{"text": "hi"}]},
    {"events": [{"event": "session_started"}, {"event": "action", "name": "action_listen"}]},
    {},
    {"events": "not a list"},
    {"events": [{"no_event_key": 1}]},
    {"responses": "nope"},
    {"events": [{"event": "slot"}]},
]


def _rasa_check(result: dict[str, Any]) -> ValidationError | None:
    try:
        jsonschema.validate(result, RemoteAction.action_response_format_spec())
    except ValidationError as error:
        return error
    return None


@pytest.mark.parametrize("answer", ANSWERS)
def test_the_action_server_answer_is_judged_as_rasa_judges_it(answer: dict[str, Any]) -> None:
    expected = _rasa_check(answer)
    action = RemoteAction("action_x", None)
    if expected is None:
        assert action._validate_action_result(answer) is True
        return
    with pytest.raises(ValidationError) as raised:
        action._validate_action_result(answer)
    assert raised.value.message.startswith(expected.message)
    assert "Failed to validate Action server response" in raised.value.message
    assert list(raised.value.path) == list(expected.path)


def test_the_validator_is_built_once() -> None:
    assert RemoteAction._validate_action_result is rasa_speedups.validate_action_result
    action = RemoteAction("action_x", None)
    for answer in ANSWERS[:3] * 5:
        action._validate_action_result(answer)
    assert rasa_speedups.response_validator.cache_info().misses <= 1


def test_every_event_type_resolves_to_rasas_class() -> None:
    names = {cls.type_name for cls in all_subclasses(Event) if getattr(cls, "type_name", None)}
    assert len(names) > 20
    for name in sorted(names) * 2:  # the second round comes from the remembered classes
        assert Event.resolve_by_type(name) is rasa_speedups._RASA_RESOLVE_BY_TYPE(name)
    assert Event.resolve_by_type("topic") is None  # Rasa's backwards compatibility
    assert Event.resolve_by_type("no such event", default=SlotSet) is SlotSet
    assert "no such event" not in rasa_speedups._EVENT_CLASSES
    with pytest.raises(ValueError, match="Unknown event name"):
        Event.resolve_by_type("no such event")


def test_stored_events_come_back_as_the_same_events() -> None:
    events = [SessionStarted(), ActionExecuted("action_listen"), UserUttered("hi", {"name": "greet", "confidence": 1.0}),
              SlotSet("email", "ana@example.com"), BotUttered("Hello!", {"buttons": []})]
    again = [Event.from_parameters(e.as_dict()) for e in events]
    assert again == events


def test_rule_policy_states_are_formatted_only_for_a_debug_record_that_is_written() -> None:
    import logging

    from rasa.core.policies.policy import Policy

    states = [{}, {"user": {"intent": "greet"}, "prev_action": {"action_name": "action_listen"}}]
    logger = logging.getLogger("rasa.core.policies.rule_policy")
    before = logger.level
    try:
        logger.setLevel(logging.DEBUG)
        assert Policy.format_tracker_states(states) == rasa_speedups._RASA_FORMAT_TRACKER_STATES(states)
        assert "user intent: greet" in Policy.format_tracker_states(states)
        logger.setLevel(logging.INFO)
        assert Policy.format_tracker_states(states) == ""
    finally:
        logger.setLevel(before)
