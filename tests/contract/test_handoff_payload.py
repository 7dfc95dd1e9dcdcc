"""The hand-off payload is one typed contract: what the bot sends reaches the gateway as sent, and nothing else does."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker

from actions import dialogue
from actions.handoff import build_handoff_payload, problem_statement
from contract.handoff import BOT_REASONS, HANDOFF_REASONS, PROBLEM_SENTENCES
from contract.handoff_payload import MAX_TEXT, MAX_TURNS, HandoffPayload, InvalidHandoffPayload, parse
from handoff.domain import evidence
from handoff.domain.summary.problem import verified_prose
from handoff.domain.summary.topic import topic_of
from tests.actions.conftest import action_event, make_tracker, user_event

RECORDED = sorted((Path(__file__).resolve().parents[2] / "tests" / "handoff" / "recorded").glob("*.json"))
BOT_BLOCKS = {path.stem: block for path in RECORDED if (block := json.loads(path.read_text())["handoff"])}
SECRET = "hunter2-do-not-log"


def bot_tracker() -> Tracker:
    """A verified customer disputing a charge, in two languages, who then asks for a person."""
    frustrated = {"score": 0.8, "sentiment": -0.7}
    events = [
        action_event("action_listen"),
        user_event("I was charged twice for INV-1071, ¿dónde está mi dinero? 请退款 🙁", "billing_charge_dispute",
                   confidence=0.91, ranking=[{"name": "billing_charge_dispute", "confidence": 0.912},
                                             {"name": "billing_refund", "confidence": 0.05}],
                   entities=[{"entity": "invoice_id", "value": "INV-1071"}],
                   frustration={"score": 0.5, "sentiment": -0.4}),
        action_event("action_charge_lookup"),
        action_event("action_listen"),
        user_event("a person please", "request_human", confidence=0.99, frustration=frustrated),
    ]
    slots = {
        "customer_id": "cus_1002", "customer_verified": True, "customer_tier": "business", "invoice_id": "INV-1071",
        "amount": "49.00", "strikes": 2.0, "strike_kinds": ["step_failed", "nlu_fallback"],
        "hypothesis": "Possible duplicate charge on INV-1071", "error_details": "card 4111 1111 1111 1111 declined",
        "steps_attempted": [{"step": "charge_lookup", "outcome": "found", "detail": "two charges of $49.00"},
                            {"step": "refund_request", "outcome": "failed", "detail": ""}],
    }
    return make_tracker(slots, "request_human", "a person please", confidence=0.99, frustration=frustrated,
                        events=events)


@pytest.mark.parametrize("reason", BOT_REASONS)
def test_the_bots_payload_reaches_the_gateway_as_it_was_sent(reason: str) -> None:
    payload = build_handoff_payload(bot_tracker(), reason)
    wire = json.loads(json.dumps(payload.as_dict()))  # through Rasa, as JSON
    assert parse(wire) == payload
    assert json.loads(payload.to_json()) == wire
    assert parse(wire).as_dict() == wire
    # The round trip carried something: turns (non-ASCII text included), steps, redacted slots, the verification.
    assert [t.intent for t in payload.turns] == ["billing_charge_dispute", "request_human"]
    assert "请退款" in payload.turns[0].text and payload.turns[0].ranking[0].confidence == 0.912
    assert [s.outcome for s in payload.steps] == ["found", "failed"]
    assert payload.customer_verified is True and payload.strikes == 2 and payload.frustration == 0.8
    assert "4111 1111" not in json.dumps(wire)


@pytest.mark.parametrize("name", sorted(BOT_BLOCKS))
def test_recorded_payloads_keep_their_json_shape_key_for_key(name: str) -> None:
    block = BOT_BLOCKS[name]
    assert parse(copy.deepcopy(block)).as_dict() == block


def test_every_reason_is_accepted_and_nothing_else() -> None:
    for reason in HANDOFF_REASONS:
        assert parse({"reason": reason}) == HandoffPayload(reason=reason)
    for reason in ("", "made_up", "THREE_STRIKES", None, 3, ["three_strikes"], {"three_strikes": 1}):
        with pytest.raises(InvalidHandoffPayload, match="reason"):
            parse({"reason": reason})


def test_both_sides_word_a_problem_from_the_one_set_of_sentences() -> None:
    assert set(dialogue.SUPPORT_INTENTS) == set(evidence.SUPPORT_INTENTS)
    assert set(dialogue.SUPPORT_INTENTS) <= set(PROBLEM_SENTENCES)
    assert all(sentence and not sentence.endswith(".") for sentence in PROBLEM_SENTENCES.values())


@pytest.mark.parametrize("intent", dialogue.SUPPORT_INTENTS)
def test_the_summary_states_and_keeps_the_bots_sentence_for_each_topic(intent: str) -> None:
    # A pressed topic button: the customer's explicit choice, so the summary is sure of the topic.
    text = f"/{intent}"
    sentence = problem_statement(make_tracker(None, intent, text), [])
    assert sentence == PROBLEM_SENTENCES[intent] + "."
    turn = evidence.Turn(index=0, text=text, intent=intent, confidence=1.0)
    topic = topic_of([turn])
    assert (topic.intent, topic.sentence) == (intent, PROBLEM_SENTENCES[intent])
    kept = verified_prose(sentence, topic, [turn], [])
    assert kept is not None and kept.text == PROBLEM_SENTENCES[intent], "the summary would replace the bot's sentence"


VALID: dict[str, Any] = {
    "reason": "three_strikes",
    "turns": [{"text": "I can't log in", "intent": "reset_password", "confidence": 0.9,
               "ranking": [{"name": "reset_password", "confidence": 0.9}], "entities": []}],
    "steps": [{"step": "password_reset_link", "outcome": "failed", "detail": ""}],
    "slots": {"email": "ana@example.com"},
}


def _with(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    block = copy.deepcopy(VALID)
    target: Any = block
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return block


HOSTILE = [
    pytest.param(None, id="null"),
    pytest.param([VALID], id="list"),
    pytest.param(json.dumps(VALID), id="json-text"),
    pytest.param(3, id="number"),
    pytest.param({}, id="no-reason"),
    pytest.param(_with(("strikes",), "3"), id="strikes-text"),
    pytest.param(_with(("strikes",), True), id="strikes-bool"),
    pytest.param(_with(("strikes",), -1), id="strikes-negative"),
    pytest.param(_with(("strikes",), 10**400), id="strikes-huge"),
    pytest.param(_with(("customer_verified",), "true"), id="verified-text"),
    pytest.param(_with(("customer_verified",), 1), id="verified-one"),
    pytest.param(_with(("customer_id",), ["cus_1"]), id="customer-id-list"),
    pytest.param(_with(("customer_id",), "c" * 201), id="customer-id-long"),
    pytest.param(_with(("problem",), None), id="problem-null"),
    pytest.param(_with(("problem",), "x" * (MAX_TEXT + 1)), id="problem-huge"),
    pytest.param(_with(("hypothesis",), "a\x00b"), id="hypothesis-nul"),
    pytest.param(_with(("hypothesis",), "\ud800"), id="hypothesis-lone-surrogate"),
    pytest.param(_with(("turns",), "nope"), id="turns-text"),
    pytest.param(_with(("turns",), [1, None]), id="turns-not-objects"),
    pytest.param(_with(("turns",), VALID["turns"] * (MAX_TURNS + 1)), id="turns-too-many"),
    pytest.param(_with(("turns", 0, "text"), None), id="turn-text-null"),
    pytest.param(_with(("turns", 0, "text"), "y" * (MAX_TEXT + 1)), id="turn-text-huge"),
    pytest.param(_with(("turns", 0, "confidence"), float("nan")), id="confidence-nan"),
    pytest.param(_with(("turns", 0, "confidence"), float("inf")), id="confidence-inf"),
    pytest.param(_with(("turns", 0, "confidence"), "0.9"), id="confidence-text"),
    pytest.param(_with(("turns", 0, "ranking"), {"name": "x"}), id="ranking-object"),
    pytest.param(_with(("turns", 0, "ranking", 0, "name"), 7), id="ranking-name-number"),
    pytest.param(_with(("turns", 0, "entities"), [{"entity": "email", "value": {"nested": True}}]), id="entity-value"),
    pytest.param(_with(("steps",), [{"step": 1, "outcome": "failed"}]), id="step-name-number"),
    pytest.param(_with(("steps",), [{"step": "password_reset_link"}]), id="step-no-outcome"),
    pytest.param(_with(("slots",), ["email"]), id="slots-list"),
    pytest.param(_with(("slots", "deep"), [[[[["x"]]]]]), id="slot-nested"),
    pytest.param(_with(("slots", "many"), list(range(201))), id="slot-list-long"),
    pytest.param(_with(("slots",), {f"s{i}": i for i in range(101)}), id="slots-too-many"),
    pytest.param(_with(("entities",), "email"), id="entities-text"),
    pytest.param(_with(("sentiment",), 3), id="sentiment-number"),
    pytest.param(_with(("sentiment",), {"latest": "bad", "trend": []}), id="sentiment-latest-text"),
    pytest.param(_with(("sentiment",), {"trend": [0.1, None]}), id="sentiment-trend-null"),
    pytest.param(_with(("frustration",), True), id="frustration-bool"),
]


@pytest.mark.parametrize("block", HOSTILE)
def test_hostile_blocks_are_refused_with_the_contracts_error(block: Any) -> None:
    with pytest.raises(InvalidHandoffPayload):
        parse(block)


def test_the_error_names_the_field_never_what_it_held() -> None:
    with pytest.raises(InvalidHandoffPayload) as refused:
        parse(_with(("turns", 0, "confidence"), f"my password is {SECRET}"))
    assert "turns[0].confidence" in str(refused.value) and SECRET not in str(refused.value)
    with pytest.raises(InvalidHandoffPayload) as refused:
        parse(_with(("reason",), SECRET))
    assert SECRET not in str(refused.value)


def test_non_ascii_text_and_unknown_keys_are_fine() -> None:
    block = _with(("turns", 0, "text"), "Ich komme nicht rein — パスワードを忘れました 🔑")
    block["added_by_a_newer_bot"] = {"anything": [1, 2]}
    payload = parse(block)
    assert payload.turns[0].text == "Ich komme nicht rein — パスワードを忘れました 🔑"
    assert "added_by_a_newer_bot" not in payload.as_dict()


def _junk(rng: random.Random) -> Any:
    return rng.choice([
        None, True, 0, -1, 2**63, 1e308, float("nan"), "", "x" * (MAX_TEXT + 1), "\x00", "\udfff", "ok", [], [None],
        [[[]]], {}, {"": None}, {"step": "x"}, {1: 2}, (1, 2), b"bytes", object(),
    ])


def test_any_mutation_of_a_valid_block_parses_or_is_refused_never_crashes() -> None:
    rng = random.Random(15)
    block = BOT_BLOCKS["reset_email_never_arrives"]
    for _ in range(2_000):
        mutated = copy.deepcopy(block)
        # Walk to a random place in the block and put junk there.
        target: Any = mutated
        while True:
            keys = list(target) if isinstance(target, dict) else list(range(len(target)))
            if not keys:
                break
            key = rng.choice(keys)
            if isinstance(target[key], (dict, list)) and rng.random() < 0.6:
                target = target[key]
                continue
            target[key] = _junk(rng)
            break
        try:
            parsed = parse(mutated)
        except InvalidHandoffPayload:
            continue
        assert parse(parsed.as_dict()) == parsed
