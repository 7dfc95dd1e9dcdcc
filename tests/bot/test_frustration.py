"""Tests for the pure frustration scorer and the FrustrationScorer Rasa component."""

from __future__ import annotations

import copy
import dataclasses
import random
from pathlib import Path
from typing import Any

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.frustration import FrustrationScorer
from bot.frustration_signals import (
    SIGNAL_ALL_CAPS,
    SIGNAL_EXASPERATION,
    SIGNAL_EXCLAMATIONS,
    SIGNAL_NEGATIVE_SENTIMENT,
    SIGNAL_PROFANITY,
    FrustrationScore,
    score_frustration,
)

THRESHOLD = 0.65

# Pieces for a seeded fuzz: letters, digits, symbols, emoji, other scripts, control chars,
# and fragments of the things the rules look for.
FUZZ_PIECES = [
    *"aZ09 !?.,:;$€£#@-_'\"()\n\t", "🙂", "😡", "Привет", "عربي", "中文", "\u200b", "\x00", "\ufeff",
    "INV-", "ORD", "order", "invoice", "error", "E-", "ERR_", "HTTP", "42", "1,200", ".99", "USD",
    "free", "pro", "business", "plan", "a@b.co", "!!!", "?!", "USELESS", "ridiculous", "fuck",
]


def fuzz_texts(count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choices(FUZZ_PIECES, k=rng.randint(0, 120))) for _ in range(count)]

# "Well below" the threshold: a calm message must not even come close.
CALM_MAX = 0.45

CALM = [
    "I can't log in, can you help?",
    "i forgot my password",
    "How do I download my invoice for March?",
    "My card was charged twice, can you check?",
    "Please update my email address to jane@example.com",
    "I'd like to upgrade to the business plan",
    "Thanks, that fixed it!",
    "The app shows error E-504 when I sync",
    "Can I talk to a human please?",
    "I want to close my account",
    "I lost access to my account and I am worried",
    "Where can I find the API key for the PDF export?",
    "my payment failed and I was charged twice, please refund",
    "It says ERR_SYNC_TIMEOUT and HTTP 500 in the log",
    "the invoice is wrong",
    "In the worst case I can reinstall the app",
    "the export still doesn't work after the update",
    "Hi there",
]

FRUSTRATED = [
    "THIS IS RIDICULOUS I HAVE TRIED THREE TIMES!!!",
    "you are useless, this is the worst service ever",
    "This is unacceptable, I have been charged twice and nobody helps!!!",
    "I already told you my email, how many times do I have to say it?",
    "Are you kidding me? This is the third time I'm asking!!!",
    "Seriously, what a waste of time.",
    "I'm fed up with this useless app",
    "What the fuck, nothing works",
    "I'm sick of this, it never works",
    "WTF IS WRONG WITH THIS APP",
    "this is a joke. pathetic.",
    "I was charged twice, this is unacceptable",
]


# --- the pure scorer -------------------------------------------------------------


@pytest.mark.parametrize("text", CALM)
def test_calm_messages_score_well_below_threshold(text: str) -> None:
    result = score_frustration(text)
    assert result.score < CALM_MAX, result


@pytest.mark.parametrize("text", FRUSTRATED)
def test_frustrated_messages_score_above_threshold(text: str) -> None:
    result = score_frustration(text)
    assert result.score > THRESHOLD, result


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("i forgot my password", set()),
        ("this is ridiculous", {SIGNAL_NEGATIVE_SENTIMENT, SIGNAL_EXASPERATION}),
        ("I already told you my email", {SIGNAL_EXASPERATION}),
        ("how many times do I have to ask", {SIGNAL_EXASPERATION}),
        ("I've explained this three times already", {SIGNAL_EXASPERATION}),
        ("are you even listening", {SIGNAL_EXASPERATION}),
        ("this fucking app", {SIGNAL_PROFANITY}),
        ("ffs", {SIGNAL_PROFANITY, SIGNAL_NEGATIVE_SENTIMENT}),
        ("PLEASE RESET MY PASSWORD NOW", {SIGNAL_ALL_CAPS}),
        ("where is my refund!!!", {SIGNAL_EXCLAMATIONS}),
        ("you did what?!", {SIGNAL_EXCLAMATIONS}),
        ("THIS IS RIDICULOUS I HAVE TRIED THREE TIMES!!!", {
            SIGNAL_NEGATIVE_SENTIMENT, SIGNAL_EXASPERATION, SIGNAL_ALL_CAPS, SIGNAL_EXCLAMATIONS,
        }),
    ],
)
def test_signal_names(text: str, expected: set[str]) -> None:
    assert set(score_frustration(text).signals) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Where is the API key for the PDF export?",
        "API PDF SSO URL",
        "My VPN and SSO fail with HTTP 500",
        "OK THANKS",  # two words are not "several"
        "The error is ERR_SYNC_TIMEOUT or ERR-AUTH-EXPIRED",
    ],
)
def test_acronyms_and_codes_are_not_shouting(text: str) -> None:
    assert SIGNAL_ALL_CAPS not in score_frustration(text).signals


@pytest.mark.parametrize("text", ["Hello!", "Really? Are you sure?", "Thanks! Bye!"])
def test_ordinary_punctuation_is_not_exclamations(text: str) -> None:
    assert SIGNAL_EXCLAMATIONS not in score_frustration(text).signals


@pytest.mark.parametrize(
    "text",
    ["In the worst case I reinstall", "I take security seriously", "Feel free to call me"],
)
def test_lookalike_phrases_are_not_exasperation(text: str) -> None:
    assert SIGNAL_EXASPERATION not in score_frustration(text).signals


def test_a_single_weak_signal_stays_below_threshold() -> None:
    # Shouting alone, gratitude shouted, or a mild swear alone do not hand off.
    for text in ["I STILL CAN'T LOG IN!!!", "THANK YOU SO MUCH!!!", "damn, I forgot my password"]:
        assert score_frustration(text).score < THRESHOLD, text


def test_score_shape() -> None:
    result = score_frustration("you are useless, this is the worst service ever")
    assert 0.0 <= result.score <= 1.0
    assert -1.0 <= result.sentiment < 0
    assert isinstance(result.signals, tuple)
    assert result.as_dict() == {
        "score": result.score,
        "sentiment": result.sentiment,
        "signals": list(result.signals),
    }
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.score = 0.0  # type: ignore[misc]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\t",
        None,
        42,
        "🙂" * 50,
        "😡😡😡",
        "x" * 5000,
        "WORD " * 2000,
        "!" * 3000,
        "هذا سخيف جدا",
        "这太荒谬了\uff01\uff01\uff01",
        "Это просто смешно",
        "\x00\x01\u200b",
    ],
)
def test_scorer_never_raises(text: Any) -> None:
    result = score_frustration(text)
    assert isinstance(result, FrustrationScore)
    assert 0.0 <= result.score <= 1.0


def test_scorer_never_raises_on_fuzzed_text() -> None:
    for text in fuzz_texts(300):
        result = score_frustration(text)
        assert 0.0 <= result.score <= 1.0
        assert -1.0 <= result.sentiment <= 1.0


# --- the Rasa component ----------------------------------------------------------


def make_scorer(tmp_path: Path, **config: Any) -> FrustrationScorer:
    return FrustrationScorer.create(
        {**FrustrationScorer.get_default_config(), **config},
        LocalModelStorage(tmp_path),
        Resource("frustration_scorer"),
        ExecutionContext(GraphSchema({}), "test-model"),
    )


def message(text: str | None, intent: str | None = "billing_invoice", confidence: float = 0.93) -> Message:
    msg = Message(data={"text": text} if text is not None else {})
    if intent:
        ranking = [
            {"name": intent, "confidence": confidence},
            {"name": "technical_issue", "confidence": 0.04},
            {"name": "express_frustration", "confidence": 0.03},
        ]
        msg.set("intent", {"name": intent, "confidence": confidence}, add_to_output=True)
        msg.set("intent_ranking", ranking, add_to_output=True)
    return msg


FURIOUS = "you are useless, this is the worst service ever"


def test_default_config() -> None:
    config = FrustrationScorer.get_default_config()
    assert config["threshold"] == THRESHOLD
    assert set(config["exempt_intents"]) == {"request_human", "goodbye", "thank", "express_frustration"}


def test_registered_as_untrainable_intent_classifier() -> None:
    registered = DefaultV1Recipe._registered_components["FrustrationScorer"]
    assert DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER in registered.types
    assert not registered.is_trainable


def test_overrides_intent_and_keeps_ranking(tmp_path: Path) -> None:
    scorer = make_scorer(tmp_path)
    [msg] = scorer.process([message(FURIOUS)])

    frustration = msg.get("frustration")
    assert frustration["score"] >= THRESHOLD
    assert msg.get("intent") == {"name": "express_frustration", "confidence": frustration["score"]}
    ranking = msg.get("intent_ranking")
    assert [r["name"] for r in ranking] == ["express_frustration", "billing_invoice", "technical_issue"]
    assert ranking[1] == {"name": "billing_invoice", "confidence": 0.93}
    assert frustration["original_intent"] == {"name": "billing_invoice", "confidence": 0.93}
    assert set(frustration["signals"]) >= {SIGNAL_EXASPERATION, SIGNAL_NEGATIVE_SENTIMENT}

    output = msg.as_dict(only_output_properties=True)
    assert output["frustration"] == frustration
    assert output["intent"]["name"] == "express_frustration"


def test_overrides_fallback_intent_like_fallback_classifier_would(tmp_path: Path) -> None:
    msg = message(FURIOUS, intent="billing_invoice", confidence=0.41)
    # What FallbackClassifier leaves behind when it fires.
    fallback = {"name": "nlu_fallback", "confidence": 0.7}
    msg.data["intent"] = dict(fallback)
    msg.data["intent_ranking"].insert(0, dict(fallback))

    [msg] = make_scorer(tmp_path).process([msg])

    assert msg.get("intent")["name"] == "express_frustration"
    names = [r["name"] for r in msg.get("intent_ranking")]
    assert names == ["express_frustration", "nlu_fallback", "billing_invoice", "technical_issue"]
    assert msg.get("frustration")["original_intent"] == fallback


def test_calm_message_is_scored_but_not_overridden(tmp_path: Path) -> None:
    original = message("i forgot my password", intent="reset_password")
    before = copy.deepcopy(original.data)
    [msg] = make_scorer(tmp_path).process([original])

    assert msg.get("intent") == before["intent"]
    assert msg.get("intent_ranking") == before["intent_ranking"]
    assert msg.get("frustration") == {"score": 0.0, "sentiment": 0.0, "signals": []}
    assert "frustration" in msg.as_dict(only_output_properties=True)


@pytest.mark.parametrize("intent", ["request_human", "goodbye", "thank", "express_frustration"])
def test_exempt_intents_are_untouched(tmp_path: Path, intent: str) -> None:
    original = message(FURIOUS, intent=intent)
    before = copy.deepcopy(original.data)
    [msg] = make_scorer(tmp_path).process([original])

    assert msg.get("intent") == before["intent"]
    assert msg.get("intent_ranking") == before["intent_ranking"]
    assert msg.get("frustration")["score"] >= THRESHOLD
    assert "original_intent" not in msg.get("frustration")


def test_config_threshold_and_exempt_intents(tmp_path: Path) -> None:
    text = "the invoice is wrong"  # negative, calm: ~0.19
    [low] = make_scorer(tmp_path, threshold=0.1).process([message(text)])
    assert low.get("intent")["name"] == "express_frustration"

    [never] = make_scorer(tmp_path, threshold=1.01).process([message(FURIOUS)])
    assert never.get("intent")["name"] == "billing_invoice"

    [exempt] = make_scorer(tmp_path, exempt_intents=["billing_invoice"]).process([message(FURIOUS)])
    assert exempt.get("intent")["name"] == "billing_invoice"


def test_threshold_is_inclusive(tmp_path: Path) -> None:
    score = score_frustration(FURIOUS).score
    [msg] = make_scorer(tmp_path, threshold=score).process([message(FURIOUS)])
    assert msg.get("intent")["name"] == "express_frustration"


def test_message_without_ranking_or_intent(tmp_path: Path) -> None:
    scorer = make_scorer(tmp_path)
    no_ranking = Message(data={"text": FURIOUS, "intent": {"name": "inform", "confidence": 0.8}})
    no_intent = Message(data={"text": FURIOUS})
    scorer.process([no_ranking, no_intent])

    assert [r["name"] for r in no_ranking.get("intent_ranking")] == ["express_frustration", "inform"]
    assert no_intent.get("intent")["name"] == "express_frustration"
    assert no_intent.get("frustration")["original_intent"] is None


@pytest.mark.parametrize(
    "msg",
    [
        Message(data={}),
        Message(data={"text": ""}),
        Message(data={"text": "   "}),
        Message(data={"intent": {"name": "greet", "confidence": 1.0}}),
        Message(data={"text": None, "action_name": "action_listen"}),
    ],
)
def test_messages_without_text_pass_through_unchanged(tmp_path: Path, msg: Message) -> None:
    before = copy.deepcopy(msg.data)
    [out] = make_scorer(tmp_path).process([msg])
    assert out.data == before


def test_never_raises_on_malformed_messages(tmp_path: Path) -> None:
    broken = Message(data={"text": FURIOUS, "intent": "not-a-dict"})
    weird_ranking = Message(data={"text": FURIOUS, "intent": {"name": "inform"}, "intent_ranking": None})
    messages = make_scorer(tmp_path).process([broken, weird_ranking])
    assert len(messages) == 2
    assert weird_ranking.get("intent")["name"] == "express_frustration"


def test_process_training_data_passes_through(tmp_path: Path) -> None:
    data = TrainingData([Message(data={"text": FURIOUS, "intent": "inform"})])
    assert make_scorer(tmp_path).process_training_data(data) is data


def test_pipeline_graph_from_config_validates() -> None:
    """config.yml builds a valid Rasa graph with both custom components in it."""
    import rasa.shared.utils.io
    from rasa.engine import validation
    from rasa.engine.recipes.recipe import Recipe
    from rasa.shared.data import TrainingType

    root = Path(__file__).resolve().parents[2]
    config = rasa.shared.utils.io.read_model_configuration(root / "config.yml")
    graph = Recipe.recipe_for_name(config.get("recipe")).graph_config_for_recipe(
        config, {}, training_type=TrainingType.NLU
    )
    validation.validate(graph)
    used = {node.uses.__name__ for node in graph.predict_schema.nodes.values()}
    assert {"SpacyRuleEntityExtractor", "FrustrationScorer"} <= used
