"""The context block as data: a JSON-safe dict built from the summary's input and its statements."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from contract.handoff_payload import HandoffPayload
from contract.impact import SCOPES, URGENCIES, describe
from contract.redact import redact, redact_value
from handoff.domain.language import name_of
from handoff.domain.priority import Priority
from handoff.domain.records import ContactRecord, MessageRecord, iso
from handoff.domain.summary.hypothesis import hypothesis_for
from handoff.domain.summary.problem import problem_line
from handoff.domain.summary.reading import bot_turns, entities_of, entity_sources, evidence_turns, steps_of
from handoff.domain.summary.sentiment import sentiment_of
from handoff.domain.summary.statements import REASON_TEXT, quotes, reason_line, tried_line, understood_line
from handoff.domain.summary.topic import topic_of

SUMMARY_VERSION = 2
LAST_TURNS = 6


@dataclass(frozen=True)
class SummaryInput:
    """Everything the summary is built from (all passed in: no clock, no store access)."""

    conversation_id: str
    reason: str
    handoff: HandoffPayload  # the bot's, checked (contract.handoff_payload); an empty one when the gateway handed off
    priority: Priority
    sla_deadline: datetime
    sla_minutes: float
    skills: Sequence[str]
    today: date
    contact: ContactRecord | None = None
    customer_id: str | None = None
    customer_name: str | None = None
    customer_email: str | None = None
    verified: bool = False
    fast_lane: Sequence[str] = ()
    transcript: Sequence[MessageRecord] = field(default_factory=tuple)
    # The customer's language as decided from their messages (handoff.domain.language) and how many messages showed it.
    language: str | None = None
    language_messages: int = 0


def build_summary(data: SummaryInput) -> dict[str, Any]:
    """The context block as a JSON-safe dict."""
    handoff = data.handoff
    raw_turns = bot_turns(handoff)
    turns = evidence_turns(raw_turns, data.transcript)
    entities = entities_of(handoff, raw_turns)
    steps = steps_of(handoff)
    topic = topic_of(turns, handoff.intent)
    hypothesis = hypothesis_for(handoff, topic, turns, entities, steps, data.reason)
    problem = problem_line(handoff, topic, turns, entities, steps, hypothesis, data.reason, data.transcript)
    contact = data.contact
    customer: dict[str, Any] = {
        "id": data.customer_id,
        "name": data.customer_name or (contact.name if contact else None),
        "email": data.customer_email or (contact.email if contact else None),
        "verified": data.verified,
        "tier": contact.tier if contact else (handoff.customer_tier if data.verified else None),
        "plan": contact.plan if contact else None,
        "mrr": contact.mrr if contact else None,
        "renewal_in_days": (contact.renewal_date - data.today).days if contact and contact.renewal_date else None,
        "status": contact.status if contact else None,
        "fast_lane": bool(data.fast_lane),
        "fast_lane_reasons": list(data.fast_lane),
        # What an unverified customer told the bot: a lead for the agent, not an identity.
        "stated_email": None if data.verified else next(iter(entities.get("email") or []), None),
    }
    strikes = handoff.strikes
    last_turns = [
        {"seq": m.seq, "sender": m.sender, "text": redact(m.text or _payload_text(m.payload))}
        for m in list(data.transcript)[-LAST_TURNS:]
    ]
    sentiment, sentiment_line = sentiment_of(handoff, turns, data.reason)
    lines = [
        problem,
        *quotes(topic, turns),
        *([hypothesis] if hypothesis else []),
        understood_line(turns),
        reason_line(data.reason, strikes, turns),
        tried_line(handoff, turns, steps),
        sentiment_line,
    ]
    return {
        "version": SUMMARY_VERSION,
        "conversation_id": data.conversation_id,
        "customer": customer,
        "problem": problem.text,
        "hypothesis": hypothesis.text if hypothesis else None,
        "escalation": {
            "reason": data.reason,
            "reason_text": REASON_TEXT.get(data.reason, data.reason),
            "strikes": strikes,
        },
        "intent": topic.intent,
        "intents": [
            {
                "text": t["text"],
                "intent": t["intent"],
                "confidence": t["confidence"],
                "ranking": t["ranking"],
                "understood": turn.understood,
                "seq": turn.seq,
            }
            for t, turn in zip(raw_turns, turns, strict=True)
        ],
        "entities": entities,
        "entity_sources": entity_sources(entities, turns),
        "slots": redact_value({k: v for k, v in sorted(handoff.slots.items()) if v is not None}),
        "impact": impact_of(handoff.slots),
        "steps": steps,
        "sentiment": sentiment,
        "lines": [line.as_dict() for line in lines],
        "priority": {"level": data.priority.level, "reasons": list(data.priority.reasons)},
        "sla": {"deadline": iso(data.sla_deadline), "minutes": data.sla_minutes},
        "skills": list(data.skills),
        "language": (
            {"code": data.language, "name": name_of(data.language), "messages": data.language_messages}
            if data.language
            else None
        ),
        "last_turns": last_turns,
    }


def _payload_text(payload: Mapping[str, Any] | None) -> str:
    """A message without text as the last turns show it (an attachment), else nothing."""
    return "[attachment]" if payload and payload.get("attachment") else ""


def impact_of(slots: Mapping[str, Any]) -> dict[str, Any]:
    """Who is affected and how urgent, as the customer told the bot (contract.impact); all None when not asked."""
    scope = slots.get("impact_scope") if slots.get("impact_scope") in SCOPES else None
    urgency = slots.get("impact_urgency") if slots.get("impact_urgency") in URGENCIES else None
    words = redact(str(slots.get("impact") or "").strip()) or None
    told = scope or urgency or words
    return {"scope": scope, "urgency": urgency, "words": words, "text": describe(words, scope, urgency) if told else None}
