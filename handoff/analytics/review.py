"""The conversation designer's loop: misunderstood messages, grouped by similarity, exported for labelling.

Source: the ``nlu_miss`` event rows (``nlu_fallback``, ``out_of_scope``, rejected clarifications), redacted when
recorded and again when loaded.
Grouping is greedy single pass over normalised token sets (Jaccard similarity, no model needed): messages that
share most of their words land together, the biggest groups first. The export is Rasa NLU YAML: one placeholder
intent per group (``label_me_<n>_<bot's best guess>``) with a comment saying how often it came and what the bot
guessed, ready to rename into a real intent and move to ``data/nlu/``.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contract.redact import redact
from handoff.domain.states import EventType
from handoff.storage.models import Event

WORD = re.compile(r"[a-z0-9']+")
SIMILARITY = 0.5


@dataclass
class Miss:
    """One misunderstood message."""

    text: str
    kind: str
    intent: str | None
    confidence: float | None
    ranking: list[dict[str, Any]]
    conversation_id: str | None
    at: datetime


@dataclass
class Group:
    """Similar misunderstood messages."""

    tokens: set[str]
    items: list[Miss] = field(default_factory=list)

    @property
    def count(self) -> int:
        """How many messages."""
        return len(self.items)

    def guess(self) -> tuple[str | None, float | None]:
        """The bot's most frequent best real guess (not nlu_fallback) and its mean confidence."""
        names: Counter[str] = Counter()
        conf: dict[str, list[float]] = {}
        for m in self.items:
            real = [r for r in m.ranking if r.get("name") not in ("nlu_fallback", None)]
            if real:
                names[str(real[0]["name"])] += 1
                conf.setdefault(str(real[0]["name"]), []).append(float(real[0].get("confidence") or 0))
        if not names:
            return None, None
        name = names.most_common(1)[0][0]
        return name, round(sum(conf[name]) / len(conf[name]), 3)

    def as_dict(self) -> dict[str, Any]:
        """JSON for the console's Needs training page."""
        guess, confidence = self.guess()
        examples = Counter(m.text for m in self.items)
        latest = {m.text: m.conversation_id for m in self.items}  # items are oldest first: the newest wins
        return {
            "count": self.count,
            "kinds": dict(Counter(m.kind for m in self.items)),
            "bot_guess": guess,
            "bot_guess_confidence": confidence,
            # Each example links to the newest conversation it came from (the designer opens its transcript).
            "examples": [{"text": t, "count": n, "conversation_id": latest[t]} for t, n in examples.most_common()],
            "last_seen": max(m.at for m in self.items).isoformat(timespec="seconds") + "Z",
        }


def tokens(text: str) -> set[str]:
    """Lower-case word set."""
    return set(WORD.findall(text.lower()))


def similarity(a: set[str], b: set[str]) -> float:
    """Jaccard similarity of two token sets (1.0 for two empty sets)."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def group(misses: list[Miss], threshold: float = SIMILARITY) -> list[Group]:
    """Greedy grouping: each message joins the most similar group above ``threshold`` or starts one."""
    groups: list[Group] = []
    for m in misses:
        t = tokens(m.text)
        best, best_score = None, threshold
        for g in groups:
            score = similarity(t, g.tokens)
            if score >= best_score:
                best, best_score = g, score
        if best is None:
            best = Group(set(t))
            groups.append(best)
        best.items.append(m)
    groups.sort(key=lambda g: (-g.count, g.items[0].at))
    return groups


async def load_misses(s: AsyncSession, since: datetime, until: datetime) -> list[Miss]:
    """The ``nlu_miss`` events of the window, oldest first."""
    rows = await s.scalars(
        select(Event)
        .where(Event.type == EventType.NLU_MISS.value, Event.created_at >= since, Event.created_at < until)
        .order_by(Event.id)
    )
    result = []
    for r in rows:
        data = dict(r.data or {})
        if not isinstance(data.get("text"), str):
            continue
        result.append(
            Miss(
                # Redacted when recorded, and again here: rows written before a pattern existed, or under a
                # narrower HANDOFF_REDACT, reach neither the review file nor the console with a secret.
                text=redact(data["text"]),
                kind=str(data.get("kind") or r.reason or "nlu_fallback"),
                intent=data.get("intent"),
                confidence=data.get("confidence"),
                ranking=list(data.get("ranking") or []),
                conversation_id=r.conversation_id,
                at=r.created_at,
            )
        )
    return result


def _example(text: str) -> str:
    # One line, and no Markdown entity syntax ([text](entity)) that Rasa would parse as an annotation.
    return " ".join(text.replace("[", "(").replace("]", ")").split())


def to_rasa_yaml(groups: list[Group]) -> str:
    """Rasa 3 NLU training data: one placeholder intent per group, counts and the bot's guess as comments."""
    lines = [
        'version: "3.1"',
        "",
        "# Messages the bot did not understand, grouped by similarity (python -m handoff nlu-review).",
        "# Rename each label_me_* intent to a real one (or merge the examples into data/nlu/) and retrain.",
        "nlu:",
    ]
    if not groups:
        lines[-1] = "nlu: []"
    for n, g in enumerate(groups, 1):
        guess, confidence = g.guess()
        examples = [t for t, _ in Counter(_example(m.text) for m in g.items).most_common() if t]
        if not examples:
            continue
        name = f"label_me_{n:02d}" + (f"_{guess}" if guess else "")
        kinds = ", ".join(f"{k} {v}" for k, v in Counter(m.kind for m in g.items).most_common())
        lines.append(f"# {g.count} messages ({kinds}); bot's best guess: {guess or 'none'}"
                     + (f" at {confidence:.2f}" if confidence is not None else ""))
        lines.append(f"- intent: {name}")
        lines.append("  examples: |")
        lines.extend(f"    - {t}" for t in examples)
    return "\n".join(lines) + "\n"
