"""The language decision rule: short or mixed messages are no evidence; English with foreign names stays English."""

from __future__ import annotations

import asyncio

import pytest

from handoff.domain import language
from handoff.domain.language import Detection, Detector, decide, vote
from handoff.domain.records import AgentRecord
from handoff.domain.routing import can_handle, choose_agent
from handoff.settings import DEFAULT_LANGUAGES


def test_short_messages_are_no_evidence() -> None:
    assert vote(Detection("es", 0.99, 0.0, 1)) is None  # "Hola"
    assert vote(Detection("es", 0.99, 0.0, 2)) is None
    assert vote(Detection("es", 0.99, 0.0, 3)) == "es"


def test_a_foreign_vote_needs_confidence_and_english_unlikely() -> None:
    assert vote(Detection("fr", 0.45, 0.05, 7)) is None  # "hi, it's François, I can't log in"
    assert vote(Detection("fr", 0.65, 0.23, 5)) is None  # "merci beaucoup for the help": English is likely too
    assert vote(Detection("de", 0.84, 0.04, 5)) == "de"
    assert vote(Detection("en", 0.30, 0.30, 10)) == "en"
    assert vote(Detection(None, 0.0, 0.0, 0)) is None


def test_decision_needs_enough_foreign_evidence() -> None:
    assert decide([]).language is None
    one_weak = decide([("es", 0.63)])
    assert one_weak.language is None and not one_weak.foreign
    two = decide([("es", 0.63), ("es", 0.83)])
    assert two.language == "es" and two.messages == 2 and two.foreign
    assert decide([("es", 0.99)]).foreign


def test_english_evidence_so_far_outweighs_one_foreign_message() -> None:
    mixed = decide([("en", 0.6), ("en", 0.5), ("es", 0.95)])
    assert mixed.language == "en" and not mixed.foreign
    # The customer then keeps writing Spanish: the evidence turns.
    assert decide([("en", 0.6), ("en", 0.5), ("es", 0.95), ("es", 0.9)]).language == "es"
    assert decide([("en", 0.5), ("fr", 0.5)]).language == "en"  # English wins a tie


def test_texts_in_the_customers_language() -> None:
    assert language.handoff_text("es").startswith("Lo siento, el asistente solo habla inglés")
    assert "Deutsch" in language.handoff_text("de") and "français" in language.handoff_text("fr")
    assert "speaks Polish" in language.handoff_text("pl")
    assert "español" in language.no_speaker_text("es") and "Polish" in language.no_speaker_text("pl")


def _agent(id_: int, languages: list[str], load: int = 0) -> AgentRecord:
    return AgentRecord(
        id=id_, email=f"a{id_}@example.com", name=f"A{id_}", role="l2", team="general", skills=["general"],
        languages=languages, capacity=3, status="online", load=load, last_seen_at=None,
    )  # fmt: skip


def test_routing_requires_the_language_for_auto_assignment() -> None:
    english, spanish = _agent(1, ["en"]), _agent(2, ["en", "es"], load=2)
    skills = ["general", language.skill("es")]
    assert not can_handle(english, skills) and can_handle(spanish, skills)
    assert choose_agent([english, spanish], skills) == spanish
    assert choose_agent([english], skills) is None
    assert choose_agent([english, spanish], ["general"]) == english  # no language asked: least loaded


def test_bad_language_settings_fail_at_start() -> None:
    with pytest.raises(ValueError):
        Detector(["en", "xx"])
    with pytest.raises(ValueError):
        Detector(["es", "de"])  # the bot's language must be among them


ENGLISH_WITH_FOREIGN_WORDS = [
    "my name is José García and my invoice is wrong",
    "Danke, that worked",
    "I live in München and the card was declined",
    "my account is under Jürgen Müller",
    "hi, it's François, I can't log in",
    "the payment to Señor Pérez failed twice",
    "merci beaucoup for the help",
    "gracias, that fixed it",
    "please send it to Rue de la Paix 12, Paris",
]


@pytest.fixture(scope="module")
def detector() -> Detector:
    d = Detector(DEFAULT_LANGUAGES)
    asyncio.run(d.ready())  # the real lingua models (shipped in the wheel)
    return d


async def test_real_detector_keeps_english_with_foreign_names_english(detector: Detector) -> None:
    votes = []
    for text in ENGLISH_WITH_FOREIGN_WORDS:
        d = await detector.detect(text)
        voted = vote(d)
        assert voted in (None, "en"), (text, d)
        if voted:
            votes.append((voted, d.confidence))
    assert decide(votes).language == "en"


async def test_real_detector_decides_spanish_german_french(detector: Detector) -> None:
    for lang, texts in {
        "es": ["hola, necesito ayuda con mi pago", "me cobraron dos veces"],
        "de": ["ich habe mein Passwort vergessen", "meine Rechnung ist falsch"],
        "fr": ["je veux parler à une personne", "on m'a débité deux fois"],
    }.items():
        votes = []
        for text in texts:
            d = await detector.detect(text)
            assert vote(d) == lang, (text, d)
            votes.append((lang, d.confidence))
        decision = decide(votes)
        assert decision.language == lang and decision.foreign and decision.messages == 2


async def test_hostile_and_oversized_text_does_not_crash(detector: Detector) -> None:
    for text in ["", "   ", "😡" * 5000, "\u202e\u200b" * 1000, "a" * 100_000, "1234 5678 9999", "\ud7ff" * 10,
                 "ÿ" * 50_000, "<script>alert(1)</script> " * 500, "Ünïcödé " * 3000]:  # fmt: skip
        d = await detector.detect(text)
        assert d.words <= language.MAX_DETECT_CHARS


def test_one_word_repeated_is_one_word() -> None:
    assert language.word_count("Ünïcödé " * 300) == 1  # lingua calls this German at 0.90: no evidence
    assert language.word_count("hola HOLA hola amigo 123 😡") == 2
