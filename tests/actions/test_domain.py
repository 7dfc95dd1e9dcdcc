"""The domain, the action server and the training data agree with each other."""

from __future__ import annotations

from inspect import isabstract
from typing import Any

import pytest
import yaml
from rasa.shared.nlu.training_data.loading import load_data
from rasa_sdk import Action
from rasa_sdk.executor import ActionExecutor
from rasa_sdk.utils import all_subclasses

from tests.actions.conftest import DOMAIN, ROOT

RASA_DEFAULT_ACTIONS = {"action_listen", "action_restart", "action_session_start", "action_default_fallback",
                        "action_deactivate_loop", "action_revert_fallback_events", "action_two_stage_fallback",
                        "action_unlikely_intent", "action_back", "action_extract_slots"}
RASA_DEFAULT_INTENTS = {"nlu_fallback", "restart", "back", "out_of_scope", "session_start"}


@pytest.fixture(scope="module")
def registered() -> set[str]:
    """Names the action server serves from the actions package (as `rasa run actions` registers them)."""
    executor = ActionExecutor()
    executor.register_package("actions")
    return {name for name, run in executor.actions.items() if type(run.__self__).__module__.startswith("actions.")}


def test_no_two_action_classes_share_a_name(registered: set[str]) -> None:
    classes = [cls for cls in all_subclasses(Action) if cls.__module__.startswith("actions.") and not isabstract(cls)]
    names = [cls().name() for cls in classes]
    assert sorted(names) == sorted(set(names))
    assert set(names) == registered


def _steps(folder: str, key: str) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []
    for path in sorted((ROOT / "data" / folder).glob("*.yml")):
        for item in yaml.safe_load(path.read_text()).get(key) or []:
            steps += item.get("steps") or []
            steps += item.get("condition") or []
    return steps


def test_every_domain_action_is_served(registered: set[str]) -> None:
    assert set(DOMAIN["actions"]) - registered == set()


def test_every_served_action_is_in_the_domain(registered: set[str]) -> None:
    assert registered - set(DOMAIN["actions"]) == set()


def test_every_form_has_its_validation_action(registered: set[str]) -> None:
    for form in DOMAIN["forms"]:
        assert f"validate_{form}" in registered, form
        assert f"validate_{form}" in DOMAIN["actions"], form


def test_every_required_slot_is_a_domain_slot_with_a_question(registered: set[str]) -> None:
    for form, spec in DOMAIN["forms"].items():
        for slot in spec["required_slots"]:
            assert slot in DOMAIN["slots"], (form, slot)
            assert f"action_ask_{slot}" in registered or f"utter_ask_{slot}" in DOMAIN["responses"], (form, slot)


def test_every_domain_intent_has_nlu_examples_and_vice_versa() -> None:
    data = load_data(str(ROOT / "data" / "nlu"))
    examples: dict[str, int] = {}
    for message in data.intent_examples:
        examples[message.get("intent")] = examples.get(message.get("intent"), 0) + 1
    domain_intents = set(DOMAIN["intents"])
    assert domain_intents - set(examples) == set()
    assert set(examples) - domain_intents == set()
    thin = {intent: count for intent, count in examples.items() if count < 5}
    assert thin == {}


def test_rules_and_stories_use_only_known_intents_actions_and_responses() -> None:
    steps = _steps("rules", "rules") + _steps("stories", "stories")
    assert steps, "no rules or stories found"
    known_actions = set(DOMAIN["actions"]) | set(DOMAIN["forms"]) | RASA_DEFAULT_ACTIONS
    known_intents = set(DOMAIN["intents"]) | RASA_DEFAULT_INTENTS
    for step in steps:
        if "action" in step:
            name = step["action"]
            if name.startswith("utter_"):
                assert name in DOMAIN["responses"], name
            else:
                assert name in known_actions, name
        if "intent" in step:
            assert step["intent"] in known_intents, step["intent"]
        if step.get("active_loop"):
            assert step["active_loop"] in DOMAIN["forms"], step["active_loop"]
        for slot_set in step.get("slot_was_set") or []:
            names = slot_set if isinstance(slot_set, str) else next(iter(slot_set))
            assert names in DOMAIN["slots"] or names == "requested_slot", names


def test_every_response_is_used() -> None:
    used = {step["action"] for step in _steps("rules", "rules") + _steps("stories", "stories") if "action" in step}
    assert {name for name in DOMAIN["responses"] if name not in used} == set()


def test_every_supported_topic_has_a_clarification_label_and_a_problem_statement() -> None:
    from actions.dialogue import SUPPORT_INTENTS
    from actions.messages import INTENT_LABELS
    from contract.handoff import PROBLEM_SENTENCES

    for intent in SUPPORT_INTENTS:
        assert intent in DOMAIN["intents"], intent
        assert intent in INTENT_LABELS, intent
        assert intent in PROBLEM_SENTENCES, intent


def test_button_payloads_name_domain_intents() -> None:
    from actions import messages

    payloads = [b["payload"] for b in [*messages.TOPIC_BUTTONS, messages.SOMETHING_ELSE, messages.TALK_TO_PERSON,
                                       *messages.YES_NO_RESOLVED, *messages.CLOSE_CONFIRM_BUTTONS]]
    for response in DOMAIN["responses"].values():
        for variant in response:
            payloads += [b["payload"] for b in variant.get("buttons") or []]
    for payload in payloads:
        assert payload.startswith("/") and payload[1:] in DOMAIN["intents"], payload


def test_form_slots_are_only_filled_inside_their_form() -> None:
    for form, spec in DOMAIN["forms"].items():
        for slot in spec["required_slots"]:
            for mapping in DOMAIN["slots"][slot]["mappings"]:
                if mapping["type"] == "from_text":
                    loops = {c.get("active_loop") for c in mapping.get("conditions") or []}
                    assert form in loops, (form, slot)

