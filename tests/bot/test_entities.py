"""Tests for SpacyRuleEntityExtractor and the shipped bot/entity_patterns.jsonl.

Decisions pinned here: a bare number is never an amount (a currency sign, code or word
is required); "plan" on its own is never a plan entity, and "free"/"business" count as
plan names only next to a plan word ("free plan", "business tier"), after "upgrade
to"/"on the", or as the first word of a sentence ("Business."); "pro" always counts.
"""

from __future__ import annotations

import copy
import json
import random
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

import bot.entities
from bot.entities import KNOWN_LABELS, SpacyRuleEntityExtractor, load_patterns

ROOT = Path(__file__).resolve().parents[2]
PATTERNS = ROOT / "bot" / "entity_patterns.jsonl"

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



def create(tmp_path: Path, **config: Any) -> SpacyRuleEntityExtractor:
    return SpacyRuleEntityExtractor.create(
        {**SpacyRuleEntityExtractor.get_default_config(), **config},
        LocalModelStorage(tmp_path),
        Resource("spacy_rule_entity_extractor"),
        ExecutionContext(GraphSchema({}), "test-model"),
    )


@pytest.fixture(scope="module")
def extractor(tmp_path_factory: pytest.TempPathFactory) -> SpacyRuleEntityExtractor:
    return create(tmp_path_factory.mktemp("storage"), patterns_path=str(PATTERNS))


def run(extractor: SpacyRuleEntityExtractor, text: str) -> list[dict[str, Any]]:
    [msg] = extractor.process([Message(data={"text": text})])
    return msg.get("entities") or []


CASES = [
    # email
    ("my email is Jane.Doe@Example.com", "email", "jane.doe@example.com", "Jane.Doe@Example.com"),
    ("send it to ops+billing@acme.co.uk.", "email", "ops+billing@acme.co.uk", "ops+billing@acme.co.uk"),
    ("E-mail: ANN.LEE@EXAMPLE.COM!", "email", "ann.lee@example.com", "ANN.LEE@EXAMPLE.COM"),
    ("it's a.b@Example.COM, thanks", "email", "a.b@example.com", "a.b@Example.COM"),
    # invoice_id
    ("Where is INV-1042?", "invoice_id", "INV-1042", "INV-1042"),
    ("invoice INV-2024-0042 is wrong", "invoice_id", "INV-2024-0042", "INV-2024-0042"),
    ("please resend inv 1042", "invoice_id", "INV-1042", "inv 1042"),
    ("about invoice #1042, it's doubled", "invoice_id", "INV-1042", "invoice #1042"),
    ("Invoice no. 1042 has the wrong VAT", "invoice_id", "INV-1042", "Invoice no. 1042"),
    ("(inv1042)", "invoice_id", "INV-1042", "inv1042"),
    ("invoice number: 2024-0042 please", "invoice_id", "INV-2024-0042", "invoice number: 2024-0042"),
    # order_id
    ("my order ORD-88812 never arrived", "order_id", "ORD-88812", "ORD-88812"),
    ("order #88812 was charged twice", "order_id", "ORD-88812", "order #88812"),
    ("Order number 88812", "order_id", "ORD-88812", "Order number 88812"),
    ("it's order 88812.", "order_id", "ORD-88812", "order 88812"),
    ("ord-88812?", "order_id", "ORD-88812", "ord-88812"),
    # error_code
    ("the sync fails with E-504", "error_code", "E-504", "E-504"),
    ("I get E1042 on startup", "error_code", "E1042", "E1042"),
    ("log says ERR_SYNC_TIMEOUT.", "error_code", "ERR_SYNC_TIMEOUT", "ERR_SYNC_TIMEOUT"),
    ("login gives ERR-AUTH-EXPIRED again", "error_code", "ERR-AUTH-EXPIRED", "ERR-AUTH-EXPIRED"),
    ("err_sync_timeout keeps coming", "error_code", "ERR_SYNC_TIMEOUT", "err_sync_timeout"),
    ("the page shows HTTP 500", "error_code", "HTTP 500", "HTTP 500"),
    ("got a http 500 today", "error_code", "HTTP 500", "http 500"),
    ("it says error 503", "error_code", "ERROR 503", "error 503"),
    ("status code 502 from the API", "error_code", "STATUS CODE 502", "status code 502"),
    ("just a 404 error", "error_code", "404 ERROR", "404 error"),
    # amount
    ("you charged me $49.99 twice", "amount", "49.99", "$49.99"),
    ("a refund of 49.99 USD", "amount", "49.99", "49.99 USD"),
    ("I paid €120 last month", "amount", "120.00", "€120"),
    ("it cost 120 dollars", "amount", "120.00", "120 dollars"),
    ("a £15.50 fee", "amount", "15.50", "£15.50"),
    ("billed $1,200.00 for one seat", "amount", "1200.00", "$1,200.00"),
    ("49,99 € were taken", "amount", "49.99", "49,99 €"),
    ("USD 20 per seat", "amount", "20.00", "USD 20"),
    ("charged 120EUR", "amount", "120.00", "120EUR"),
    # plan
    ("I want the free plan", "plan", "free", "free plan"),
    ("is Pro worth it?", "plan", "pro", "Pro"),
    ("upgrade to the business plan", "plan", "business", "business plan"),
    ("I'm on the Free tier", "plan", "free", "Free tier"),
    ("can I switch to business?", "plan", "business", "business"),
    ("Business", "plan", "business", "Business"),
    ("PRO PLAN please", "plan", "pro", "PRO PLAN"),
    ("a business account for my team", "plan", "business", "business account"),
]


@pytest.mark.parametrize(("text", "label", "value", "surface"), CASES)
def test_extracts_normalised_value_with_offsets(
    extractor: SpacyRuleEntityExtractor, text: str, label: str, value: str, surface: str
) -> None:
    entities = [e for e in run(extractor, text) if e["entity"] == label]
    assert len(entities) == 1, run(extractor, text)
    [entity] = entities
    assert entity["value"] == value
    assert text[entity["start"] : entity["end"]] == surface
    assert entity["confidence_entity"] == 1.0
    assert entity["extractor"] == "SpacyRuleEntityExtractor"


def test_every_label_is_covered_by_cases() -> None:
    assert {case[1] for case in CASES} == KNOWN_LABELS - {"ignore"}


def test_several_entities_in_one_message(extractor: SpacyRuleEntityExtractor) -> None:
    text = "THIS IS RIDICULOUS: invoice INV-1042 charged me $49.99 on the pro plan, mail me at a@b.io"
    found = [(e["entity"], e["value"], text[e["start"] : e["end"]]) for e in run(extractor, text)]
    assert found == [
        ("invoice_id", "INV-1042", "INV-1042"),
        ("amount", "49.99", "$49.99"),
        ("plan", "pro", "pro plan"),
        ("email", "a@b.io", "a@b.io"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "I have 2 accounts",
        "I tried 3 times",
        "call me in 10 minutes",
        "I upgraded to version 3.6.21 in 2024",
        "my email is broken",
        "my plan is to cancel",
        "what plans do you have?",
        "feel free to call me",
        "is it free?",
        "my free trial ended",
        "it takes 3 business days",
        "I run a small business",
        "the pro-rated charge is odd",
        "a pro rata refund",
        "I made a pro/con list",
        "order 100 units",
        "there is an error on page 2",
        "an invoice for 2 seats",
        "Free up some space first",
        "Hello, good morning!",
    ],
)
def test_no_false_positives(extractor: SpacyRuleEntityExtractor, text: str) -> None:
    assert run(extractor, text) == []


def test_plan_word_alone_is_not_a_plan(extractor: SpacyRuleEntityExtractor) -> None:
    # Decision: "plan" names nothing; only free / pro / business do.
    assert [e for e in run(extractor, "my plan is to cancel the subscription") if e["entity"] == "plan"] == []


def test_entities_are_appended_not_overwritten(extractor: SpacyRuleEntityExtractor) -> None:
    existing = {"entity": "plan", "value": "pro", "start": 0, "end": 3, "extractor": "DIETClassifier"}
    msg = Message(data={"text": "pro: order ORD-88812", "entities": [dict(existing)]})
    extractor.process([msg])
    entities = msg.get("entities")
    assert entities[0] == existing
    assert [e["entity"] for e in entities[1:]] == ["plan", "order_id"]
    assert msg.as_dict(only_output_properties=True)["entities"] == entities


@pytest.mark.parametrize(
    "msg",
    [
        Message(data={}),
        Message(data={"text": ""}),
        Message(data={"text": None, "action_name": "action_listen"}),
        Message(data={"intent": "greet"}),
        Message(data={"text": "no entities in here"}),
    ],
)
def test_messages_without_entities_pass_through_unchanged(
    extractor: SpacyRuleEntityExtractor, msg: Message
) -> None:
    before = copy.deepcopy(msg.data)
    [out] = extractor.process([msg])
    assert out.data == before


@pytest.mark.parametrize(
    "text",
    [
        "🙂" * 100,
        "😡😡😡 !!!",
        "Привет, мой заказ ORD-88812",
        "请把发票 INV-1042 发给我",
        "مرحبا INV-1042",
        "\x00\x01\u200b\ufeff",
        "$" * 500,
        "INV-" * 500,
        "a@" * 1000,
        "order " * 800 + "88812",
    ],
)
def test_never_raises_on_odd_text(extractor: SpacyRuleEntityExtractor, text: str) -> None:
    for entity in run(extractor, text):
        assert text[entity["start"] : entity["end"]]


def test_non_latin_text_keeps_offsets(extractor: SpacyRuleEntityExtractor) -> None:
    text = "Привет, мой заказ ORD-88812"
    [entity] = run(extractor, text)
    assert text[entity["start"] : entity["end"]] == "ORD-88812"


def test_long_message_is_fast(extractor: SpacyRuleEntityExtractor) -> None:
    text = ("My invoice INV-1042 shows $49.99 and error E-504. " * 100)[:5000]
    started = time.perf_counter()
    entities = run(extractor, text)
    assert time.perf_counter() - started < 2.0
    assert len(entities) > 100
    assert all(text[e["start"] : e["end"]] for e in entities)


def test_never_raises_on_fuzzed_text(extractor: SpacyRuleEntityExtractor) -> None:
    for text in fuzz_texts(300):
        for entity in run(extractor, text):
            assert 0 <= entity["start"] < entity["end"] <= len(text)
            assert entity["value"]


def test_process_training_data_passes_through(extractor: SpacyRuleEntityExtractor) -> None:
    data = TrainingData([Message(data={"text": "order ORD-88812", "intent": "inform"})])
    before = copy.deepcopy(data.training_examples[0].data)
    assert extractor.process_training_data(data) is data
    assert data.training_examples[0].data == before


def test_registered_as_untrainable_entity_extractor() -> None:
    registered = DefaultV1Recipe._registered_components["SpacyRuleEntityExtractor"]
    assert DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR in registered.types
    assert not registered.is_trainable


def test_default_path_is_relative_to_working_directory_else_to_the_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    assert SpacyRuleEntityExtractor.get_default_config() == {"patterns_path": "bot/entity_patterns.jsonl"}
    extractor = create(tmp_path)
    assert [e["value"] for e in run(extractor, "order ORD-88812")] == ["ORD-88812"]

    monkeypatch.chdir(tmp_path)  # Rasa run from another folder (a retrain on a copy of data/) finds the project's file
    assert [e["value"] for e in run(create(tmp_path), "order ORD-88812")] == ["ORD-88812"]
    with pytest.raises(InvalidConfigException, match="does not exist"):
        create(tmp_path, patterns_path="bot/no_such_patterns.jsonl")


def test_nlp_is_built_once_at_create(
    extractor: SpacyRuleEntityExtractor, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*args: Any) -> None:
        raise AssertionError("built per message")

    monkeypatch.setattr(bot.entities, "build_nlp", fail)
    monkeypatch.setattr(bot.entities.spacy, "blank", fail)
    assert run(extractor, "order ORD-88812")


def test_shipped_patterns_use_domain_entities() -> None:
    labels = {p["label"] for p in load_patterns(PATTERNS)}
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    assert labels - {"ignore"} == set(domain["entities"])


def test_custom_patterns_file(tmp_path: Path) -> None:
    path = tmp_path / "patterns.jsonl"
    lines = [
        {"label": "plan", "pattern": "Enterprise Edition", "id": "enterprise"},
        {"label": "error_code", "pattern": [{"LOWER": "boom"}]},
        {"label": "ignore", "pattern": [{"LOWER": "boom"}, {"LOWER": "box"}]},
    ]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n", encoding="utf-8")
    extractor = create(tmp_path, patterns_path=str(path))

    text = "Is enterprise edition able to boom? Not the boom box."
    found = [(e["entity"], e["value"], text[e["start"] : e["end"]]) for e in run(extractor, text)]
    assert found == [("plan", "enterprise", "enterprise edition"), ("error_code", "BOOM", "boom")]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"label": "plan", "pattern": "pro"}\n{not json\n', r"patterns.jsonl:2: not valid JSON"),
        ('{"label": "plan"}\n', r"patterns.jsonl:1: expected"),
        ('["plan", "pro"]\n', r"patterns.jsonl:1: expected"),
    ],
)
def test_bad_patterns_file_names_the_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "patterns.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InvalidConfigException, match=message):
        create(tmp_path, patterns_path=str(path))
