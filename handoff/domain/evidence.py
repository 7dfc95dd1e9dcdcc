"""What the customer's turns show: the evidence every statement of the hand-off summary must point to.

Pure (no I/O, no clock). A turn is one customer message as the bot's NLU read it (from the hand-off payload), linked to
the transcript's sequence number when the gateway still has that message. The summary (:mod:`handoff.domain.summary`) may
claim only what a function here finds in the turns, and every claim carries the turns (indices) and seqs behind it.

Every pattern runs on customer text (at most 500 characters a turn, once per hand-off): each is linear time, with
single bounded gaps (``[^.?!]{0,40}``) and no two quantifiers competing for the same characters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from contract.redact import redact

# The bot's FallbackClassifier threshold (config.yml): below it (or as nlu_fallback) a turn was not understood.
UNDERSTOOD_CONFIDENCE = 0.7
# The bot's FrustrationScorer threshold (config.yml): at or above it a turn reads as frustrated.
FRUSTRATED_SCORE = 0.65
# unclear: fillers ("hmm", "umm") the bot treats as not understood (data/rules/fallback.yml).
NOT_UNDERSTOOD_INTENTS = frozenset({"nlu_fallback", "unclear"})
SUPPORT_INTENTS = (
    "reset_password",
    "account_locked",
    "create_account",
    "update_account",
    "close_account",
    "billing_invoice",
    "billing_charge_dispute",
    "billing_refund",
    "billing_payment_method",
    "technical_issue",
)

_I = re.IGNORECASE
# The customer says the email (or link) never reached them.
NO_EMAIL = (
    re.compile(r"\b(never|not|didn'?t|did not|haven'?t|have not|hasn'?t|has not)\b[^.?!]{0,40}?"
               r"\b(came|comes?|arriv(e|es|ed|ing)|receiv(e|es|ed|ing)|got|gets?(?!\s+(why|how|what))|gotten|"
               r"show(s|ed|n)? up|turn(s|ed)? up|delivered)\b", _I),
    re.compile(r"\b(no|any)\s+(e-?mails?|links?|messages?)\b", _I),
    re.compile(r"\bnothing\s+(in|arrived|came|has come|showed up)\b", _I),
    re.compile(r"\b(empty|nothing in my|not in my)\s+(inbox|spam|junk)\b", _I),
)
# The customer got the link, but the page it opens fails.
PAGE_ERROR = (
    re.compile(r"\bnot\s+found\b", _I),
    re.compile(r"\b(404|500|502|503)\b"),
    re.compile(r"\b(page|link|site|website)\b[^.?!]{0,40}?\b(error|broken|expired|invalid|blank|crash(es|ed)?|"
               r"won'?t (load|open)|doesn'?t (load|open|work)|does not (load|open|work)|can'?t be reached)\b", _I),
    re.compile(r"\b(error|expired|invalid|broken|blank)\s+(page|link)\b", _I),
    re.compile(r"\blink\s+(has\s+)?expired\b", _I),
)
# The customer lists what they already did.
TRIED = (
    re.compile(r"\btri(ed|ing)\b", _I),
    re.compile(r"\b(i|we)(\s+have|'ve|\s+already|\s+also|\s+even)?\s+(cleared|restarted|rebooted|reinstalled|"
               r"checked|reset|updated|switched|disabled|re-?entered|retyped|re-?installed|logged out|signed out|"
               r"requested|used another|used a different)\b", _I),
    re.compile(r"\b(already|also)\s+(checked|cleared|restarted|did|done|reset|looked)\b", _I),
    re.compile(r"\b(different|another|other)\s+(browser|device|computer|laptop|phone|network|card)\b", _I),
    re.compile(r"\b(incognito|private window|cleared? (the |my )?cache|cookies)\b", _I),
    re.compile(r"\bchecked\s+(my\s+|the\s+)?(spam|junk|inbox|promotions)\b", _I),
)
# Wording that turns a confident intent into a claim the customer actually made.
DISPUTE_WORDS = (
    re.compile(r"\b(disput\w*|charged (me )?twice|double[- ]charged?|overcharged?|unauthori[sz]ed|fraud\w*|"
               r"don'?t recogni[sz]e|didn'?t (buy|order|authori[sz]e|sign up)|not mine|wrong charge|"
               r"shouldn'?t (have been|be) charged|charge(d)? (me )?(by mistake|in error)|contest)\b", _I),
)
REFUND_STATUS = (
    re.compile(r"\b(where|status|when will|when do|still (waiting|haven'?t|not)|haven'?t (got|received|seen)|"
               r"not (arrived|received|back)|how long|track)\b", _I),
)
REFUND_REQUEST = (
    re.compile(r"\b(want|wants|wanted|would like|'d like|need|request|can i (have|get)|could i (have|get)|give me|"
               r"refund me|money back|reimburse)\b", _I),
)
# "I don't want to dispute anything": the word without the claim.
DISPUTE_NEGATED = (
    re.compile(r"\b(don'?t|do not|not|no|never|didn'?t)\s+(want\s+to\s+|wanna\s+|trying\s+to\s+|going\s+to\s+|"
               r"mean\s+to\s+)?(disput|contest)", _I),
)
# Closing the account, not a ticket or a tab.
CLOSE_WORDS = (
    re.compile(r"\b(close|closing|cancel|cancelling|canceling|delete|deleting|terminate|shut down|get rid of)\s+"
               r"(my\s+|our\s+|the\s+)?(whole\s+)?(account|subscription|profile)\b", _I),
)
LOCK_WORDS = (re.compile(r"\b(lock(ed|out)?|failed (log|sign)[- ]?ins?|security hold|on hold|suspended|blocked)\b", _I),)


@dataclass(frozen=True)
class Turn:
    """One customer turn as the summary reads it (text already redacted)."""

    index: int
    text: str
    intent: str | None
    confidence: float | None
    seq: int | None = None
    sentiment: float | None = None
    frustration: float | None = None
    entities: tuple[tuple[str, str], ...] = ()

    @property
    def button(self) -> bool:
        """A pressed button ("/intent" payload): the customer's explicit choice, confidence 1."""
        return self.text.startswith("/")

    @property
    def understood(self) -> bool:
        """The bot knew what this turn meant: an intent, not nlu_fallback, at or above the bot's threshold."""
        if self.button and self.intent:
            return True
        if not self.intent or self.intent in NOT_UNDERSTOOD_INTENTS:
            return False
        return self.confidence is not None and self.confidence >= UNDERSTOOD_CONFIDENCE

    @property
    def substantive(self) -> bool:
        """Words worth quoting to an agent: typed (not a button) and more than a yes/no."""
        return not self.button and (len(self.text.split()) >= 3 or any(c.isdigit() for c in self.text))

    @property
    def number(self) -> int:
        """The turn as people count it (1-based)."""
        return self.index + 1


def _key(text: str) -> str:
    """Text as the matcher compares it: redacted, no whitespace, case-folded, bounded."""
    return "".join(redact(" ".join(text.split())).split()).casefold()[:200]


def link_seqs(turn_texts: Sequence[str], messages: Iterable[tuple[int, str, str]]) -> list[int | None]:
    """The transcript seq of each turn, matched by text from the newest backwards (older turns may be cut off).

    ``messages`` are ``(seq, sender, text)``; only customer messages match. A turn with no message left is ``None``.
    """
    customer = [(seq, _key(text)) for seq, sender, text in messages if sender == "customer" and text]
    seqs: list[int | None] = [None] * len(turn_texts)
    j = len(customer) - 1
    for i in range(len(turn_texts) - 1, -1, -1):
        key = _key(turn_texts[i])
        k = j
        while k >= 0 and customer[k][1] != key:
            k -= 1
        if k >= 0:
            seqs[i] = customer[k][0]
            j = k - 1
    return seqs


def intent_confidence(intent: str | None, confidence: float | None, ranking: Sequence[Mapping[str, Any]]) -> float | None:
    """The confidence of the turn's own intent: the ranking's entry when it has one.

    When the frustration scorer replaced a message's intent, the payload keeps the original intent but the
    confidence of the replacement (the frustration score); the ranking still holds the original's own confidence.
    """
    for item in ranking:
        if item.get("name") == intent and isinstance(item.get("confidence"), (int, float)):
            return float(item["confidence"])
    return confidence


def matches(turn: Turn, patterns: Sequence[re.Pattern[str]]) -> bool:
    """Whether any pattern occurs in the turn's text (never in a button payload)."""
    text = turn.text.replace("\u2019", "'")  # a right single quote, as phones type them
    return not turn.button and any(p.search(text) for p in patterns)


def find(turns: Sequence[Turn], patterns: Sequence[re.Pattern[str]]) -> list[Turn]:
    """Turns whose text matches one of ``patterns``."""
    return [t for t in turns if matches(t, patterns)]


def claims_dispute(turn: Turn) -> bool:
    """The customer's words dispute a charge (and do not say they don't)."""
    return matches(turn, DISPUTE_WORDS) and not matches(turn, DISPUTE_NEGATED)


def confirmed(turns: Sequence[Turn], intents: Iterable[str]) -> list[Turn]:
    """Turns the bot understood as one of ``intents``."""
    wanted = set(intents)
    return [t for t in turns if t.intent in wanted and t.understood]


def not_understood(turns: Sequence[Turn]) -> list[Turn]:
    """Turns the bot did not understand (nlu_fallback, no intent, or below the threshold)."""
    return [t for t in turns if not t.understood]


def frustrated(turns: Sequence[Turn]) -> list[Turn]:
    """Turns the bot's frustration scorer flagged, or that the NLU understood as the customer saying they are fed up."""
    return [
        t
        for t in turns
        if (t.frustration is not None and t.frustration >= FRUSTRATED_SCORE)
        or (t.intent == "express_frustration" and t.understood)
    ]


def mentioning(turns: Sequence[Turn], value: str) -> list[Turn]:
    """Turns that contain ``value`` (as an entity or in the text, ignoring case and spacing)."""
    needle = "".join(value.split()).casefold()
    if not needle:
        return []
    found = []
    for t in turns:
        in_entities = any("".join(v.split()).casefold() == needle for _, v in t.entities)
        if in_entities or needle in "".join(t.text.split()).casefold():
            found.append(t)
    return found


_AMOUNT = re.compile(r"\d[\d,]{0,12}(?:\.\d{1,2})?")


def amounts(text: str) -> set[float]:
    """Every number in a text as a value (so "$49.00" and "49 dollars" agree)."""
    values = set()
    for m in _AMOUNT.finditer(text):
        try:
            values.add(round(float(m.group(0).replace(",", "")), 2))
        except ValueError:
            continue
    return values


def refs(turns: Iterable[Turn]) -> dict[str, list[int]]:
    """The evidence fields of a summary line: turn indices and transcript seqs, each sorted and unique."""
    chosen = sorted({t.index: t for t in turns}.values(), key=lambda t: t.index)
    return {"turns": [t.index for t in chosen], "seqs": [t.seq for t in chosen if t.seq is not None]}


def numbers(turns: Iterable[Turn]) -> str:
    """``turn 2`` / ``turns 2, 4``: how a line names its evidence in text."""
    nums = sorted({t.number for t in turns})
    if not nums:
        return ""
    return ("turn " if len(nums) == 1 else "turns ") + ", ".join(str(n) for n in nums)


def quote(text: str, limit: int = 160) -> str:
    """The customer's words, shortened at a word boundary."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut + "…"
