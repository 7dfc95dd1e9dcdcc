"""The summary's raw material: the bot's payload and the transcript read into redacted turns, entities and steps."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from contract.handoff_payload import HandoffPayload
from contract.redact import redact
from handoff.domain import evidence as ev
from handoff.domain.evidence import Turn
from handoff.domain.records import MessageRecord


def two_places(value: float | None, default: float | None = None) -> float | None:
    """A score rounded to two places (``default`` when missing)."""
    return default if value is None else round(value, 2)


def clean_text(value: Any, limit: int = 500) -> str | None:
    """Free text as the summary may show it: redacted, whitespace folded, cut to ``limit``; None when blank."""
    if isinstance(value, str) and value.strip():
        return redact(" ".join(value.split()))[:limit]
    return None


def bot_turns(handoff: HandoffPayload) -> list[dict[str, Any]]:
    """The bot's turns as the summary shows them: redacted, whitespace folded, numbers to two places."""
    return [
        {
            "text": clean_text(turn.text) or "",
            "intent": turn.intent,
            "confidence": two_places(turn.confidence),
            "ranking": [
                {"name": r.name, "confidence": two_places(r.confidence, 0.0)} for r in turn.ranking if r.name
            ][:3],
            "entities": [{"entity": e.entity, "value": clean_text(e.value, 200)} for e in turn.entities if e.entity],
            "sentiment": two_places(turn.sentiment),
            "frustration": two_places(turn.frustration),
        }
        for turn in handoff.turns
    ]


def evidence_turns(raw: list[dict[str, Any]], transcript: Sequence[MessageRecord]) -> list[Turn]:
    """The bot's turns as evidence, each linked to its transcript message (seq) when the gateway still has it."""
    seqs = ev.link_seqs([t["text"] for t in raw], [(m.seq, m.sender, m.text or "") for m in transcript])
    return [
        Turn(
            index=i,
            text=t["text"],
            intent=t["intent"],
            confidence=ev.intent_confidence(t["intent"], t["confidence"], t["ranking"]),
            seq=seqs[i],
            sentiment=t["sentiment"],
            frustration=t["frustration"],
            entities=tuple((e["entity"], e["value"] or "") for e in t["entities"]),
        )
        for i, t in enumerate(raw)
    ]


def entities_of(handoff: HandoffPayload, turns: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Entity name -> distinct redacted values, from the payload's entities, then the turns' (sorted by name)."""
    found: dict[str, list[str]] = {}

    def add(name: str, value: Any) -> None:
        values = value if isinstance(value, list) else [value]
        for v in values:
            text = clean_text(str(v), 200) if v is not None else None
            if text and text not in found.setdefault(name, []):
                found[name].append(text)

    for name in sorted(handoff.entities):
        add(name, handoff.entities[name])
    for turn in turns:
        for e in turn["entities"]:
            add(e["entity"], e["value"])
    return {k: found[k] for k in sorted(found) if found[k]}


def entity_sources(entities: Mapping[str, list[str]], turns: Sequence[Turn]) -> list[dict[str, Any]]:
    """Per entity value: said by the customer (with the turns) or known only to the bot (slots, records)."""
    out = []
    for name, values in entities.items():
        for value in values:
            said = ev.mentioning(turns, value)
            out.append({"entity": name, "value": value, "source": "customer" if said else "bot", **ev.refs(said)})
    return out


def _step_name(value: Any) -> str | None:
    """A step as people read it: ``password_reset_link`` -> ``password reset link``."""
    text = clean_text(value, 200)
    return text.replace("_", " ") if text else None


def steps_of(handoff: HandoffPayload) -> list[dict[str, Any]]:
    """Steps tried with outcomes; repeats of the same step and outcome are merged with a ``count``."""
    result: list[dict[str, Any]] = []
    seen: dict[tuple[str, str, str], dict[str, Any]] = {}
    for step in handoff.steps:
        name = _step_name(step.step)
        if not name:
            continue
        entry = {
            "step": name,
            "outcome": (clean_text(step.outcome, 50) or "unknown").replace("_", " "),
            "detail": clean_text(step.detail, 300) or "",
        }
        key = (entry["step"], entry["outcome"], entry["detail"])
        if key in seen:
            seen[key]["count"] += 1
            continue
        seen[key] = {**entry, "count": 1}
        result.append(seen[key])
    return result


def first_words(transcript: Sequence[MessageRecord]) -> MessageRecord | None:
    """The customer's first typed message of three words or more."""
    for m in transcript:
        if m.sender == "customer" and m.text and not m.text.startswith("/") and len(m.text.split()) >= 3:
            return m
    return None
