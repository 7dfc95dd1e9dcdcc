"""The summary's shorter statements: the customer's own words, what the bot understood, why it handed off, what was tried."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from contract.handoff_payload import HandoffPayload
from handoff.domain import evidence as ev
from handoff.domain.evidence import Turn
from handoff.domain.summary.line import Line
from handoff.domain.summary.reading import clean_text
from handoff.domain.summary.topic import Topic

MAX_QUOTES = 3
# Each hand-off reason in words (tests/contract checks it names every reason of contract.handoff).
REASON_TEXT: dict[str, str] = {
    "three_strikes": "bot failed three times (three-strike rule)",
    "low_confidence": "bot could not understand the request (low NLU confidence)",
    "customer_request": "customer asked for a person",
    "frustration": "customer is frustrated",
    "technical_issue": "technical issue: L2 work by nature",
    "fast_lane": "fast-lane customer (high value or renewal due)",
    "policy": "policy requires a human",
    "backend_unavailable": "business backend unavailable to the bot",
    "bot_unavailable": "bot (Rasa) unavailable or erroring",
    "barge_in": "an agent took over a live bot conversation",
    "language": "customer writes in a language the bot does not speak",
}


def quotes(topic: Topic, turns: Sequence[Turn]) -> list[Line]:
    """The customer's own words: the turn that raised the topic, then what the bot did not understand or the failure."""
    if not turns:
        return []  # the problem line quotes the transcript then
    wanted = [t for t in topic.turns if t.substantive][:1]
    wanted += [t for t in ev.find(turns, (*ev.PAGE_ERROR, *ev.NO_EMAIL)) if t.substantive][-1:]
    wanted += [t for t in reversed(ev.not_understood(turns)) if t.substantive]
    wanted += [t for t in turns if t.substantive][:1]
    chosen = sorted({t.index: t for t in wanted[: MAX_QUOTES * 2]}.values(), key=lambda t: t.index)
    # Keep the topic turn and the latest others when there are too many.
    if len(chosen) > MAX_QUOTES:
        first = [t for t in chosen if t in topic.turns][:1]
        rest = [t for t in chosen if t not in first][-(MAX_QUOTES - len(first)) :]
        chosen = sorted([*first, *rest], key=lambda t: t.index)
    return [Line("words", "In their words", f'"{ev.quote(t.text)}"', (t,)) for t in chosen]


def understood_line(turns: Sequence[Turn]) -> Line:
    """How much of the conversation the bot understood: "every turn" only when no turn fell back."""
    unclear = ev.not_understood(turns)
    n = len(turns)
    if not n:
        return Line("understood", "Bot understood", "no customer turn reached the bot", certain=False)
    if not unclear:
        return Line("understood", "Bot understood", f"every turn ({n} of {n})", turns)
    text = f"{n - len(unclear)} of {n} turns (not understood: {ev.numbers(unclear)})"
    return Line("understood", "Bot understood", text, unclear, certain=False)


def reason_line(reason: str, strikes: int, turns: Sequence[Turn]) -> Line:
    """Why the conversation was handed off, pointing at the turns that triggered it."""
    text = REASON_TEXT.get(reason, reason) + (f" ({strikes} strikes)" if strikes else "")
    support: list[Turn] = []
    if reason == "customer_request":
        # Asked in words, or said yes when the bot offered a person.
        support = ev.confirmed(turns, ("request_human",)) or [t for t in turns[-1:] if t.intent == "affirm" and t.understood]
    elif reason == "frustration":
        support = ev.frustrated(turns) or list(turns[-1:])
    elif reason in ("three_strikes", "low_confidence"):
        failures = ev.confirmed(turns, ("deny", "step_failed", "something_else", "out_of_scope"))
        support = [*ev.not_understood(turns), *failures]
    elif reason == "technical_issue":
        support = ev.confirmed(turns, ("technical_issue",))
    return Line("reason", "Why handed off", text, support)


def tried_line(handoff: HandoffPayload, turns: Sequence[Turn], steps: list[dict[str, Any]]) -> Line:
    """What the customer says they already tried (their words, linked); "nothing tried" only when nobody tried anything."""
    said = ev.find(turns, ev.TRIED)
    listed = clean_text(handoff.slots.get("steps_tried"), 300)
    if listed:
        said += [t for t in turns if ev.quote(listed, 60).rstrip("…") in t.text or listed in t.text]
    said = sorted({t.index: t for t in said}.values(), key=lambda t: t.index)
    if said:
        words = " / ".join(f'"{ev.quote(t.text, 120)}"' for t in said[-3:])
        return Line("tried", "Customer tried", f"Customer says they tried: {words}", said)
    if listed:
        return Line("tried", "Customer tried", f'Customer says they tried: "{ev.quote(listed, 120)}"')
    if steps:
        return Line("tried", "Customer tried", "Customer did not mention trying anything themselves")
    return Line("tried", "Customer tried", "Nothing tried yet: the bot took no step and the customer mentioned none")
