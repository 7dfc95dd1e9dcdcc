"""The customer's language: per-message detection (lingua) and the conversation's decision from the evidence so far.

A message is evidence (a vote) only when it is long enough to be reliable: at least ``MIN_WORDS`` distinct words
and a confident score. A foreign vote also needs English to be unlikely, so an English message with a foreign name or
word in it ("my name is José García and my invoice is wrong", "Danke, that worked") is English or no evidence, never
foreign. The conversation's language is the one with the most evidence; a language the bot does not speak is
decided only when its evidence reaches ``DECIDE_SCORE`` and outweighs the English evidence so far.

The detector (lingua-language-detector: its n-gram models ship inside the wheel) loads in a thread at start-up
(~2-4 s, ~350 MB for the default languages); detection itself is linear in the text, which is cut to
``MAX_DETECT_CHARS`` first (p95 well under 1 ms a message on this machine: bench/language.py).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

log = logging.getLogger(__name__)

BOT_LANGUAGES = ("en",)
MAX_DETECT_CHARS = 400
MIN_WORDS = 3
VOTE_MIN = 0.5  # top confidence for a foreign vote
ENGLISH_VOTE_MIN = 0.3  # English scores lower on short text (its words are everywhere): a lower bar to count
ENGLISH_CEILING = 0.15  # a foreign vote needs English below this (an English sentence with a foreign name is not)
DECIDE_SCORE = 0.9  # summed confidence a foreign language needs before the gateway acts on it

NAMES = {
    "en": "English", "es": "Spanish", "de": "German", "fr": "French", "it": "Italian", "pt": "Portuguese",
    "nl": "Dutch", "pl": "Polish", "tr": "Turkish", "ru": "Russian", "ar": "Arabic", "zh": "Chinese",
    "ja": "Japanese", "ko": "Korean", "sv": "Swedish", "da": "Danish", "fi": "Finnish", "uk": "Ukrainian",
}  # fmt: skip

# "The assistant speaks English only; a person who speaks <language> takes over", in that language.
HANDOFF_TEXT = {
    "es": "Lo siento, el asistente solo habla inglés. Te paso con una persona de nuestro equipo que habla español.",
    "de": "Entschuldigung, der Assistent spricht nur Englisch. Ich verbinde Sie mit einer Person aus unserem Team, "
    "die Deutsch spricht.",
    "fr": "Désolé, l'assistant ne parle qu'anglais. Je vous mets en relation avec une personne de notre équipe "
    "qui parle français.",
    "it": "Mi dispiace, l'assistente parla solo inglese. Ti passo a una persona del nostro team che parla italiano.",
    "pt": "Desculpe, o assistente só fala inglês. Vou passar você para uma pessoa da nossa equipe que fala português.",
    "nl": "Sorry, de assistent spreekt alleen Engels. Ik verbind je door met iemand van ons team die Nederlands spreekt.",
}
# "Nobody who speaks <language> is online now; you stay in the queue and the first person free answers."
NO_SPEAKER_TEXT = {
    "es": "Ahora mismo no hay nadie conectado que hable español. Sigues en la cola y te atenderá la primera persona "
    "disponible.",
    "de": "Im Moment ist niemand online, der Deutsch spricht. Sie bleiben in der Warteschlange, und die erste freie "
    "Person antwortet Ihnen.",
    "fr": "Personne ne parle français parmi les personnes connectées en ce moment. Vous restez dans la file d'attente "
    "et la première personne disponible vous répondra.",
    "it": "Al momento non c'è nessuno online che parli italiano. Resti in coda e ti risponderà la prima persona libera.",
    "pt": "No momento não há ninguém online que fale português. Você continua na fila e a primeira pessoa livre vai "
    "responder.",
    "nl": "Er is nu niemand online die Nederlands spreekt. Je blijft in de wachtrij en de eerste vrije persoon "
    "antwoordt je.",
}


def name_of(code: str) -> str:
    """English name of a language code (the code itself when unknown)."""
    return NAMES.get(code, code)


def handoff_text(code: str) -> str:
    """What the gateway says before handing a conversation in ``code`` to a person."""
    return HANDOFF_TEXT.get(
        code,
        f"Sorry, our assistant only speaks English. I'm passing you to a person on our team who speaks {name_of(code)}.",
    )


def no_speaker_text(code: str) -> str:
    """The queue notice when no agent who speaks ``code`` is online (any agent may still answer)."""
    return NO_SPEAKER_TEXT.get(
        code,
        f"Nobody who speaks {name_of(code)} is online right now. You stay in the queue and the first person "
        "available will answer, possibly in English.",
    )


def skill(code: str) -> str:
    """The hand-off skill that asks routing for an agent speaking ``code``."""
    return f"lang:{code}"


def language_of_skills(skills: Iterable[str]) -> str | None:
    """The language a hand-off's skills require, if any."""
    return next((s[5:] for s in skills if isinstance(s, str) and s.startswith("lang:")), None)


@dataclass(frozen=True)
class Detection:
    """One message: the likeliest language, its confidence, English's confidence, and the word count."""

    language: str | None
    confidence: float
    english: float
    words: int


def word_count(text: str) -> int:
    """Distinct words that contain a letter: numbers, ids and emoji are no evidence, nor is one word repeated."""
    return len({w.casefold() for w in text.split() if any(ch.isalpha() for ch in w)})


def vote(d: Detection) -> str | None:
    """The language this message is evidence for, or None when it is too short or too uncertain."""
    if d.language is None or d.words < MIN_WORDS:
        return None
    if d.language == "en":
        return "en" if d.confidence >= ENGLISH_VOTE_MIN else None
    if d.confidence >= VOTE_MIN and d.english < ENGLISH_CEILING:
        return d.language
    return None


@dataclass(frozen=True)
class Decision:
    """The conversation's language so far: ``language`` None while undecided; ``messages`` that voted for it."""

    language: str | None
    messages: int
    scores: dict[str, float]

    @property
    def foreign(self) -> bool:
        """Decided on a language the bot does not speak."""
        return self.language is not None and self.language not in BOT_LANGUAGES


def decide(votes: Sequence[tuple[str, float]]) -> Decision:
    """The conversation's language from its votes ``(language, confidence)``.

    English (the bot's language) wins any tie and is the answer once it has any evidence and nothing outweighs it;
    a foreign language needs ``DECIDE_SCORE`` and more evidence than English.
    """
    scores: dict[str, float] = {}
    counts: dict[str, int] = {}
    for language, confidence in votes:
        scores[language] = scores.get(language, 0.0) + confidence
        counts[language] = counts.get(language, 0) + 1
    if not scores:
        return Decision(None, 0, {})
    english = scores.get("en", 0.0)
    best = max(scores, key=lambda k: (scores[k], k == "en"))
    if best != "en" and scores[best] >= DECIDE_SCORE and scores[best] > english:
        return Decision(best, counts[best], scores)
    if english > 0:
        return Decision("en", counts["en"], scores)
    return Decision(None, 0, scores)


class Detector:
    """lingua's detector over ``languages``; the models load once per process, in a thread (never on the loop)."""

    _models: ClassVar[dict[tuple[str, ...], Any]] = {}
    _lock = threading.Lock()

    def __init__(self, languages: Sequence[str]) -> None:
        """Validate the codes now (a bad setting fails at start-up); the models load on :meth:`start`."""
        from lingua import IsoCode639_1, Language

        self.languages = tuple(dict.fromkeys(code.strip().lower() for code in languages if code.strip()))
        self._lingua: list[Any] = []
        for code in self.languages:
            iso = getattr(IsoCode639_1, code.upper(), None) if len(code) == 2 and code.isalpha() else None
            if iso is None:
                raise ValueError(f"HANDOFF_DETECT_LANGUAGES: unknown language code {code!r}")
            self._lingua.append(Language.from_iso_code_639_1(iso))
        if "en" not in self.languages or len(self.languages) < 2:
            raise ValueError("HANDOFF_DETECT_LANGUAGES must list en and at least one other language")
        self._model: Any = Detector._models.get(self.languages)
        self._future: asyncio.Future[Any] | None = None

    def start(self) -> None:
        """Begin loading the models in a thread, unless this process has them already."""
        if self._model is None and self._future is None:
            self._future = asyncio.get_running_loop().run_in_executor(None, self._build)

    def _build(self) -> Any:
        from lingua import LanguageDetectorBuilder

        with Detector._lock:
            model = Detector._models.get(self.languages)
            if model is None:
                model = LanguageDetectorBuilder.from_languages(*self._lingua).with_preloaded_language_models().build()
                Detector._models[self.languages] = model
        return model

    async def ready(self) -> Any:
        """The loaded model (waits for the load once after start-up)."""
        if self._model is None:
            self.start()
            assert self._future is not None
            self._model = await asyncio.shield(self._future)
        return self._model

    async def detect(self, text: str) -> Detection:
        """Detect the language of one message (at most ``MAX_DETECT_CHARS`` of it)."""
        return detect_with(await self.ready(), text)


def detect_with(model: Any, text: str) -> Detection:
    """Run a loaded lingua model on ``text`` cut to ``MAX_DETECT_CHARS`` (never raises on odd text)."""
    sample = text[:MAX_DETECT_CHARS]
    words = word_count(sample)
    if words == 0:
        return Detection(None, 0.0, 0.0, 0)
    try:
        values = model.compute_language_confidence_values(sample)
    except Exception:  # a library failure on odd input must not stop the message
        log.exception("language detection failed")
        return Detection(None, 0.0, 0.0, words)
    if not values:
        return Detection(None, 0.0, 0.0, words)
    top = values[0]
    english = next((v.value for v in values if v.language.iso_code_639_1.name == "EN"), 0.0)
    code = top.language.iso_code_639_1.name.lower()
    return Detection(code, float(top.value), float(english), words)
