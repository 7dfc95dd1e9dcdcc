"""One statement of the hand-off summary and the evidence behind it (turns, transcript seqs, steps)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from handoff.domain import evidence as ev
from handoff.domain.evidence import Turn


@dataclass
class Line:
    """One statement of the summary with the turns (and steps) that support it."""

    key: str
    label: str
    text: str
    turns: Sequence[Turn] = ()
    steps: Sequence[int] = ()
    certain: bool = True
    seqs: Sequence[int] = ()  # transcript messages with no NLU turn (the bot never read them)
    short: str | None = None  # a hypothesis as the tail of the problem sentence, when its first clause will not do

    def as_dict(self) -> dict[str, Any]:
        """JSON form: the text, whether the bot is sure, and the evidence (turn indices, seqs, step indices)."""
        found = ev.refs(self.turns)
        return {
            "key": self.key,
            "label": self.label,
            "text": self.text,
            "certain": self.certain,
            "turns": found["turns"],
            "seqs": sorted({*found["seqs"], *self.seqs}),
            "steps": sorted(set(self.steps)),
        }
