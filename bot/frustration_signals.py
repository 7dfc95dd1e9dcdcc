"""Frustration scoring for one user message, with no Rasa dependency.

The score combines five signals into a number in [0, 1]. Each signal adds a fixed
weight (sentiment adds a weight scaled by how negative VADER finds the text); the
sum is clipped to 1:

==================  ==================================================  ==========
signal              fires when                                           adds
==================  ==================================================  ==========
negative_sentiment  VADER compound <= -0.05                              0.40 * |compound|
exasperation        a phrase like "this is ridiculous", "useless",       0.45, +0.25 per
                    "how many times", "I already told you"               extra phrase,
                                                                         at most 0.70
profanity           a swear word ("wtf", "shit"...; milder "damn",       0.50 (0.30 if
                    "crap", "hell" weigh less)                           only mild)
all_caps            3+ upper-case words and >= 70% of letters upper      0.25
                    (acronyms like API, PDF, HTTP are not counted)
exclamations        "!!!", "?!", "!?!" or 3+ "!" in the message          0.15
==================  ==================================================  ==========

Calibration, for the default threshold of 0.65: negative sentiment alone (a calm
complaint such as "I was charged twice") stays below 0.45; shouting alone (all caps
plus "!!!") reaches 0.40; one exasperation phrase plus negative sentiment, two
exasperation phrases, or strong profanity plus shouting, an exasperation phrase or
clearly negative sentiment (compound <= -0.4) crosses 0.65. Messages that
only *say* they are frustrated are the job of the trained express_frustration intent;
this score is the safety net for frustrated messages that DIET files under another
intent, so a single weak signal must not be enough.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

# Weights (see the module docstring for the table and the calibration argument).
SENTIMENT_WEIGHT = 0.40
NEGATIVE_SENTIMENT_CUTOFF = -0.05
EXASPERATION_WEIGHT = 0.45
EXASPERATION_EXTRA_WEIGHT = 0.25
EXASPERATION_MAX = 0.70
PROFANITY_WEIGHT = 0.50
MILD_PROFANITY_WEIGHT = 0.30
ALL_CAPS_WEIGHT = 0.25
EXCLAMATION_WEIGHT = 0.15

# Only this many characters are scored: frustration shows early, and it bounds the cost.
MAX_CHARS = 2000

SIGNAL_NEGATIVE_SENTIMENT = "negative_sentiment"
SIGNAL_EXASPERATION = "exasperation"
SIGNAL_PROFANITY = "profanity"
SIGNAL_ALL_CAPS = "all_caps"
SIGNAL_EXCLAMATIONS = "exclamations"

_EXASPERATION_PATTERNS: tuple[str, ...] = (
    r"ridiculous",
    r"(?:un|not )acceptable",
    r"useless",
    r"waste of (?:my |our )?time",
    r"worst(?! case)",
    r"(?:are|r) (?:you|u) kidding",
    r"you(?:'re| are) kidding",
    r"fed up",
    r"sick (?:of|and tired)",
    r"for the last time",
    r"i(?:'ve| have)? (?:already|just) (?:told|said|explained|gave|given|sent)",
    r"how many times",
    r"(?:third|fourth|fifth|tenth|3rd|4th|5th|hundredth|millionth) time",
    r"tried (?:\w+ )?(?:three|four|five|ten|[3-9]|several|multiple|so many|a million)"
    r" times",
    r"seriously\s*[?!,]",
    r"are you serious",
    r"pathetic",
    r"absurd",
    r"(?:this is|what) a joke",
    r"never works",
    r"over and over",
    r"(?:said|explained|asked|told you|typed|sent) (?:this|that|it)? ?(?:like )?"
    r"(?:three|four|five|ten|[3-9]|several|multiple|so many) times",
    r"(?:three|four|five|ten|[3-9]) times (?:already|now)",
    r"(?:asked|said|told you|explained) (?:this |that )?(?:twice|already)",
    r"(?:you(?:'re| are)|are you) (?:not|even) listening",
    r"(?:you've|you have) got to be (?:joking|kidding)",
    r"(?:round|around) in circles",
    r"wits'? end",
    r"can(?:'t|not) take (?:this|it) any ?more",
    r"for the love of god",
    r"pointless",
    r"hopeless",
    r"infuriating",
    r"incompetent",
    r"frustrat(?:ed|ing)",
    r"furious",
    r"fuming",
)
_EXASPERATION_RE = re.compile(
    r"(?<!\w)(?:" + "|".join(f"(?:{p})" for p in _EXASPERATION_PATTERNS) + r")(?!\w)",
    re.IGNORECASE,
)

# A deliberately short list. "f*ck"-style masking is matched too.
_PROFANITY_RE = re.compile(
    r"\b(?:f[u*]c?k\w*|f\*+\w*|sh[i*]t\w*|s\*+t|bullsh\w+|wtf|stfu|omfg|"
    r"asshole\w*|bastard\w*|piss(?:ed)?|ffs)\b",
    re.IGNORECASE,
)
_MILD_PROFANITY_RE = re.compile(
    r"\b(?:damn\w*|crap\w*|bloody|the hell|hell no|sucks?)\b", re.IGNORECASE
)

_EXCLAMATION_RE = re.compile(r"!{3,}|[!?]*(?:\?!|!\?)[!?]*")

# Upper-case words that are names of things, not shouting.
_ACRONYMS = frozenset(
    "API APP CSV DNS FAQ GDPR HTML HTTP HTTPS ID IOS IP IT MFA OK OTP PC PDF PIN SMS "
    "SQL SSL SSO TLS TV UI UK URL US USA USD EUR GBP VAT VPN ASAP FYI".split()
)
# A word is all letters (one inner apostrophe allowed); "ERR-AUTH-EXPIRED" is a code.
_WORD_RE = re.compile("[^\\W\\d_]+(?:['\u2019][^\\W\\d_]+)?")
_EDGE_PUNCTUATION = "\"'\u2018\u2019\u201c\u201d()[]{}<>.,;:!?\u00a1\u00bf*_-\u2026"
_MIN_CAPS_WORDS = 3
_MIN_CAPS_LETTER_RATIO = 0.7


@dataclass(frozen=True)
class FrustrationScore:
    """How frustrated one message sounds, and why."""

    score: float
    sentiment: float
    signals: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, object]:
        """Returns the JSON-friendly form that the NLU pipeline outputs."""
        return {
            "score": self.score,
            "sentiment": self.sentiment,
            "signals": list(self.signals),
        }


NEUTRAL = FrustrationScore(score=0.0, sentiment=0.0, signals=())


@functools.lru_cache(maxsize=1)
def _analyzer() -> SentimentIntensityAnalyzer:
    """Builds the VADER analyzer once; it loads its lexicon from disk."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def sentiment(text: str) -> float:
    """Returns VADER's compound polarity of `text`, in [-1, 1]."""
    return float(_analyzer().polarity_scores(text)["compound"])


def is_shouting(text: str) -> bool:
    """Tells whether several words, and most of the letters, are upper case."""
    stripped = (token.strip(_EDGE_PUNCTUATION) for token in text.split())
    words = [w for w in stripped if _WORD_RE.fullmatch(w)]
    caps_words = [
        w for w in words if len(w) >= 2 and w.isupper() and w not in _ACRONYMS
    ]
    if len(caps_words) < _MIN_CAPS_WORDS:
        return False
    letters = [c for w in words if w not in _ACRONYMS for c in w if c.isalpha()]
    upper = sum(1 for c in letters if c.isupper())
    return upper / len(letters) >= _MIN_CAPS_LETTER_RATIO


def has_exclamations(text: str) -> bool:
    """Tells whether the text has "!!!", "?!"-style runs or three or more "!"."""
    return bool(_EXCLAMATION_RE.search(text)) or text.count("!") >= 3


def exasperation_phrases(text: str) -> list[str]:
    """Returns the exasperation phrases found in `text`, lower-cased, in order."""
    return [m.group(0).lower() for m in _EXASPERATION_RE.finditer(text)]


def score_frustration(text: str) -> FrustrationScore:
    """Scores how frustrated `text` sounds; never raises, empty text scores 0."""
    if not isinstance(text, str) or not text.strip():
        return NEUTRAL
    text = text[:MAX_CHARS]

    compound = sentiment(text)
    total = 0.0
    signals: list[str] = []

    if compound <= NEGATIVE_SENTIMENT_CUTOFF:
        signals.append(SIGNAL_NEGATIVE_SENTIMENT)
        total += SENTIMENT_WEIGHT * -compound

    phrases = exasperation_phrases(text)
    if phrases:
        signals.append(SIGNAL_EXASPERATION)
        extra = EXASPERATION_EXTRA_WEIGHT * (len(set(phrases)) - 1)
        total += min(EXASPERATION_MAX, EXASPERATION_WEIGHT + extra)

    if _PROFANITY_RE.search(text):
        signals.append(SIGNAL_PROFANITY)
        total += PROFANITY_WEIGHT
    elif _MILD_PROFANITY_RE.search(text):
        signals.append(SIGNAL_PROFANITY)
        total += MILD_PROFANITY_WEIGHT

    if is_shouting(text):
        signals.append(SIGNAL_ALL_CAPS)
        total += ALL_CAPS_WEIGHT

    if has_exclamations(text):
        signals.append(SIGNAL_EXCLAMATIONS)
        total += EXCLAMATION_WEIGHT

    return FrustrationScore(
        score=round(min(1.0, max(0.0, total)), 4),
        sentiment=round(compound, 4),
        signals=tuple(signals),
    )
