"""Needs training beyond misunderstood messages: where the bot made the customer work, from stored messages and events.

Each finding is one conversation and one kind, with the customer's (redacted) words for the designer to label:
- ``loop``: the same bot message sent 3+ times in a conversation (the customer words that got it each time);
- ``repeated_question``: the customer asked the same thing again (3+ words, nearly the same words);
- ``corrected_misread``: right after a bot answer the customer said it was wrong ("that's not what I asked"); the
  misread message is the customer's message that answer replied to;
- ``avoidable_handoff``: the agent resolved a hand-off marked "the bot could have handled this" (``resolved`` event
  with ``avoidable: true``); the words are what the customer told the bot before the hand-off;
- ``coaching_note``: the agent handed the conversation back to the bot with a coaching note for the designers, or
  said the bot escalated it wrongly (``handback`` event); the words are what the customer told the bot before the
  hand-off;
- ``context_loss``: the agent flagged "had to ask the customer again" (``context_loss`` event, with the agent's note);
  the words are what the customer had told the bot before the hand-off.
Agents are not named: the designer reads what happened, not who did it.
Analytics only (the console's Needs training page); never imported by the live path.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contract.redact import redact
from handoff.analytics.review import similarity, tokens
from handoff.domain.states import EventType
from handoff.storage.models import Event, Message

KINDS = ("loop", "repeated_question", "corrected_misread", "avoidable_handoff", "coaching_note", "context_loss")
LOOP_MIN = 3  # the same bot message this often in one conversation is a loop
REPEAT_MIN_WORDS = 3  # "yes", "no idea" and button payloads are not questions
REPEAT_SIMILARITY = 0.8
MAX_MESSAGES = 50_000  # the newest messages of the window; older ones are left out of one page load
MAX_PER_CONVERSATION = 200
WORDS_BEFORE_HANDOFF = 3
# Said right after a bot answer: the answer was to another question. Literal alternatives only (linear time).
CORRECTION = re.compile(
    r"\b(?:(?:that'?s|that is|this is) not what i (?:asked|meant|said|wanted|need)|not what i (?:asked|meant)"
    r"|no,? i meant|i meant|wrong answer|(?:that'?s|that is) wrong|you misunderstood|you got it wrong"
    r"|(?:that'?s|that is) not my question|not my question|i didn'?t ask (?:that|for that|about that))\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Said:
    """One stored message, as the analysis needs it."""

    seq: int
    sender: str
    text: str
    at: datetime


@dataclass
class Finding:
    """One conversation where the bot needs training, of one kind."""

    kind: str
    conversation_id: str
    examples: list[str]
    detail: str
    count: int
    at: datetime
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON for the console's Needs training page."""
        return {
            "kind": self.kind,
            "conversation_id": self.conversation_id,
            "examples": self.examples,
            "detail": self.detail,
            "count": self.count,
            "last_seen": self.at.isoformat(timespec="seconds") + "Z",
            **self.extra,
        }


def _same(text: str) -> str:
    return " ".join(text.casefold().split())


def _is_correction(text: str) -> bool:
    return bool(CORRECTION.search(text.replace("\u2019", "'")))


def _customer_before(messages: Sequence[Said], index: int) -> Said | None:
    """The last customer message before ``messages[index]``."""
    return next((m for m in reversed(messages[:index]) if m.sender == "customer"), None)


def loops(conversation_id: str, messages: Sequence[Said]) -> list[Finding]:
    """The same bot message ``LOOP_MIN``+ times; the examples are the customer words that got it."""
    by_text: dict[str, list[int]] = defaultdict(list)
    for i, m in enumerate(messages):
        if m.sender == "bot" and m.text.strip():
            by_text[_same(m.text)].append(i)
    found = []
    for indexes in by_text.values():
        if len(indexes) < LOOP_MIN:
            continue
        asked = [c.text for c in (_customer_before(messages, i) for i in indexes) if c is not None]
        found.append(
            Finding(
                "loop",
                conversation_id,
                list(dict.fromkeys(asked)),
                messages[indexes[0]].text,
                len(indexes),
                messages[indexes[-1]].at,
            )
        )
    return found


def repeated_questions(conversation_id: str, messages: Sequence[Said]) -> list[Finding]:
    """Customer messages that nearly repeat an earlier one of the same conversation (one finding per question)."""
    firsts: list[tuple[set[str], Said, list[Said]]] = []
    for m in messages:
        if m.sender != "customer" or m.text.startswith("/"):
            continue
        words = tokens(m.text)
        if len(words) < REPEAT_MIN_WORDS:
            continue
        match = next((f for f in firsts if similarity(words, f[0]) >= REPEAT_SIMILARITY), None)
        if match is None:
            firsts.append((words, m, [m]))
        else:
            match[2].append(m)
    return [
        Finding(
            "repeated_question",
            conversation_id,
            list(dict.fromkeys(m.text for m in repeats)),
            f"asked {len(repeats)} times",
            len(repeats),
            repeats[-1].at,
        )
        for _, _, repeats in firsts
        if len(repeats) >= 2
    ]


def corrected_misreads(conversation_id: str, messages: Sequence[Said]) -> list[Finding]:
    """A correction right after a bot answer: the customer message that answer replied to was misread."""
    found = []
    for i, m in enumerate(messages):
        if m.sender != "customer" or i == 0 or messages[i - 1].sender != "bot" or not _is_correction(m.text):
            continue
        misread = _customer_before(messages, i - 1)
        if misread is None or misread.text.startswith("/"):
            continue  # a button's payload is not read by the NLU: nothing to label
        found.append(
            Finding(
                "corrected_misread",
                conversation_id,
                [misread.text],
                f'Customer: "{m.text}" after the bot said: "{messages[i - 1].text}"',
                1,
                m.at,
                {"correction": m.text, "bot_answer": messages[i - 1].text},
            )
        )
    return found


def analyse(conversation_id: str, messages: Sequence[Said]) -> list[Finding]:
    """Loops, repeated questions and corrected misreads of one conversation (messages in ``seq`` order)."""
    return [
        *loops(conversation_id, messages),
        *repeated_questions(conversation_id, messages),
        *corrected_misreads(conversation_id, messages),
    ]


async def _messages(s: AsyncSession, since: datetime, until: datetime) -> dict[str, list[Said]]:
    """The newest ``MAX_MESSAGES`` customer and bot messages of the window, per conversation in ``seq`` order."""
    rows = (
        await s.execute(
            select(Message.conversation_id, Message.seq, Message.sender, Message.text, Message.created_at)
            .where(
                Message.created_at >= since,
                Message.created_at < until,
                Message.sender.in_(("customer", "bot")),
                Message.text.is_not(None),
            )
            .order_by(Message.created_at.desc())
            .limit(MAX_MESSAGES)
        )
    ).all()
    per: dict[str, list[Said]] = defaultdict(list)
    for cid, seq, sender, text, at in rows:
        per[cid].append(Said(seq, sender, redact(text), at))  # redacted when stored, and again here
    return {cid: sorted(ms, key=lambda m: m.seq)[-MAX_PER_CONVERSATION:] for cid, ms in per.items()}


async def avoidable_handoffs(s: AsyncSession, since: datetime, until: datetime) -> list[Finding]:
    """Resolutions the agent marked "the bot could have handled this", with what the customer told the bot."""
    resolved = [
        e
        for e in await s.scalars(
            select(Event)
            .where(Event.type == EventType.RESOLVED.value, Event.created_at >= since, Event.created_at < until)
            .order_by(Event.id)
        )
        if (e.data or {}).get("avoidable") is True and e.conversation_id
    ]
    found = []
    for e in resolved:
        found.append(
            Finding(
                "avoidable_handoff",
                e.conversation_id,
                await _words_before_handoff(s, e.conversation_id, e.id),
                f"resolved as {e.reason or 'resolved'}; the agent says the bot could have handled it",
                1,
                e.created_at,
                {"resolution_code": e.reason},
            )
        )
    return found


async def _words_before_handoff(s: AsyncSession, conversation_id: str, event_id: int) -> list[str]:
    """The customer's last words to the bot before the hand-off that preceded event ``event_id`` (redacted again)."""
    queued_at = await s.scalar(
        select(Event.created_at)
        .where(Event.conversation_id == conversation_id, Event.type == EventType.QUEUED.value, Event.id < event_id)
        .order_by(Event.id.desc())
        .limit(1)
    )
    stmt = select(Message.text).where(
        Message.conversation_id == conversation_id, Message.sender == "customer", Message.text.is_not(None)
    )
    if queued_at is not None:
        stmt = stmt.where(Message.created_at <= queued_at)
    words = list(await s.scalars(stmt.order_by(Message.seq.desc()).limit(WORDS_BEFORE_HANDOFF)))
    return [redact(t) for t in reversed(words)]


async def agent_flags(s: AsyncSession, since: datetime, until: datetime) -> list[Finding]:
    """Coaching notes left on "hand back to bot" and "had to ask again" flags, with the customer's words."""
    rows = await s.scalars(
        select(Event)
        .where(
            Event.type.in_((EventType.HANDBACK.value, EventType.CONTEXT_LOSS.value)),
            Event.created_at >= since,
            Event.created_at < until,
            Event.conversation_id.is_not(None),
        )
        .order_by(Event.id)
    )
    found = []
    for e in rows:
        data = e.data or {}
        note = redact(str(data.get("coaching_note" if e.type == EventType.HANDBACK.value else "note") or "")).strip()
        extra = {"note": note}
        if e.type == EventType.HANDBACK.value:
            wrong = data.get("handback_reason") == "wrong_escalation"
            if not note and not wrong:
                continue  # a solved hand-back without a note teaches nothing
            kind, detail = "coaching_note", note or "handed back: the bot escalated this wrongly (no note)"
            extra["handback_reason"] = str(data.get("handback_reason") or "unspecified")
        else:
            kind, detail = "context_loss", note or "the agent had to ask the customer again (no note)"
        words = await _words_before_handoff(s, str(e.conversation_id), e.id)
        found.append(Finding(kind, str(e.conversation_id), words, detail, 1, e.created_at, extra))
    return found


LINKING_EVENTS = (EventType.NLU_MISS, EventType.HANDBACK, EventType.CONTEXT_LOSS, EventType.RESOLVED)


async def linked(s: AsyncSession, conversation_id: str) -> bool:
    """Whether a Needs training item (of any window) links to this conversation: its transcript may be read there."""
    for e in await s.scalars(
        select(Event).where(
            Event.conversation_id == conversation_id, Event.type.in_([t.value for t in LINKING_EVENTS])
        )
    ):
        data = e.data or {}
        if e.type == EventType.NLU_MISS.value or e.type == EventType.CONTEXT_LOSS.value:
            return True
        if e.type == EventType.HANDBACK.value and (
            str(data.get("coaching_note") or "").strip() or data.get("handback_reason") == "wrong_escalation"
        ):
            return True
        if e.type == EventType.RESOLVED.value and data.get("avoidable") is True:
            return True
    return bool(analyse(conversation_id, await transcript(s, conversation_id)))


async def transcript(s: AsyncSession, conversation_id: str) -> list[Said]:
    """A conversation's customer, bot and agent messages in order (redacted when stored, and again here)."""
    rows = (
        await s.execute(
            select(Message.seq, Message.sender, Message.text, Message.created_at)
            .where(Message.conversation_id == conversation_id, Message.text.is_not(None))
            .order_by(Message.seq)
            .limit(MAX_PER_CONVERSATION * 5)
        )
    ).all()
    return [Said(seq, sender, redact(text), at) for seq, sender, text, at in rows]


async def load_findings(s: AsyncSession, since: datetime, until: datetime) -> list[Finding]:
    """Every finding of the window, newest first."""
    found = [f for cid, ms in (await _messages(s, since, until)).items() for f in analyse(cid, ms)]
    found.extend(await avoidable_handoffs(s, since, until))
    found.extend(await agent_flags(s, since, until))
    found.sort(key=lambda f: f.at, reverse=True)
    return found
