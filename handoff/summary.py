"""The context block handed to L2: data (a JSON-safe dict) first, text second.

Deterministic: the same inputs give the same summary (no clock reads, sorted keys). Every free-text value
is redacted (cards, passwords, tokens) before it enters the block.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from contract.redact import redact, redact_value
from handoff.priority import Priority
from handoff.records import ContactRecord, MessageRecord, iso

SUMMARY_VERSION = 1
LAST_TURNS = 6

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
}

INTENT_PROBLEM: dict[str, str] = {
    "reset_password": "Customer can't log in and needs a password reset",
    "account_locked": "Customer's account is locked",
    "create_account": "Customer can't finish creating an account",
    "update_account": "Customer needs a change to their account",
    "close_account": "Customer wants to close their account",
    "billing_invoice": "Customer has a question about an invoice",
    "billing_charge_dispute": "Customer disputes a charge",
    "billing_refund": "Customer is asking about a refund",
    "billing_payment_method": "Customer can't update their payment method",
    "technical_issue": "Customer reports a technical problem",
    "request_human": "Customer asked for a person",
    "express_frustration": "Customer is frustrated",
    "out_of_scope": "Customer's request is outside what the bot handles",
}
GENERIC_INTENTS = (
    "greet",
    "goodbye",
    "thank",
    "affirm",
    "deny",
    "inform",
    "bot_challenge",
    "nlu_fallback",
    "step_failed",
    "something_else",
)
FAILED_OUTCOMES = ("failed", "error", "blocked", "not found", "declined")
VAGUE = re.compile(
    r"(?i)^\s*(it'?s?|this|that|thing|stuff)?\s*(is\s+)?(broken|not working|doesn'?t work|"
    r"(a\s+)?problem|help|issue|error)\W*$"
)


@dataclass(frozen=True)
class SummaryInput:
    """Everything the summary is built from (all passed in: no clock, no store access)."""

    conversation_id: str
    reason: str
    handoff: Mapping[str, Any]
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


def _float(value: Any, default: float | None = None) -> float | None:
    if isinstance(value, bool):
        return default
    if isinstance(value, (int, float)):
        return round(float(value), 2)
    return default


def _str(value: Any, limit: int = 500) -> str | None:
    if isinstance(value, str) and value.strip():
        return redact(" ".join(value.split()))[:limit]
    return None


def _turns(handoff: Mapping[str, Any]) -> list[dict[str, Any]]:
    turns = handoff.get("turns")
    result: list[dict[str, Any]] = []
    for turn in turns if isinstance(turns, list) else []:
        if not isinstance(turn, dict):
            continue
        ranking = [
            {"name": str(r.get("name")), "confidence": _float(r.get("confidence"), 0.0)}
            for r in turn.get("ranking") or []
            if isinstance(r, dict) and r.get("name")
        ][:3]
        entities = [
            {"entity": str(e.get("entity")), "value": _str(str(e.get("value")), 200)}
            for e in turn.get("entities") or []
            if isinstance(e, dict) and e.get("entity")
        ]
        result.append(
            {
                "text": _str(turn.get("text")) or "",
                "intent": turn.get("intent") if isinstance(turn.get("intent"), str) else None,
                "confidence": _float(turn.get("confidence")),
                "ranking": ranking,
                "entities": entities,
                "sentiment": _float(turn.get("sentiment")),
                "frustration": _float(turn.get("frustration")),
            }
        )
    return result


def _entities(handoff: Mapping[str, Any], turns: list[dict[str, Any]]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}

    def add(name: str, value: Any) -> None:
        values = value if isinstance(value, list) else [value]
        for v in values:
            text = _str(str(v), 200) if v is not None else None
            if text and text not in found.setdefault(name, []):
                found[name].append(text)

    raw = handoff.get("entities")
    if isinstance(raw, dict):
        for name in sorted(raw):
            add(str(name), raw[name])
    for turn in turns:
        for e in turn["entities"]:
            add(e["entity"], e["value"])
    return {k: found[k] for k in sorted(found) if found[k]}


def _step_name(value: Any) -> str | None:
    """A step as people read it: ``password_reset_link`` -> ``password reset link``."""
    text = _str(value, 200)
    return text.replace("_", " ") if text else None


def _steps(handoff: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Steps tried with outcomes; repeats of the same step and outcome are merged with a ``count``."""
    steps = handoff.get("steps")
    result: list[dict[str, Any]] = []
    seen: dict[tuple[str, str, str], dict[str, Any]] = {}
    for step in steps if isinstance(steps, list) else []:
        if not isinstance(step, dict):
            continue
        name = _step_name(step.get("step"))
        if not name:
            continue
        entry = {
            "step": name,
            "outcome": (_str(step.get("outcome"), 50) or "unknown").replace("_", " "),
            "detail": _str(step.get("detail"), 300) or "",
        }
        key = (entry["step"], entry["outcome"], entry["detail"])
        if key in seen:
            seen[key]["count"] += 1
            continue
        seen[key] = {**entry, "count": 1}
        result.append(seen[key])
    return result


def _sentiment(handoff: Mapping[str, Any], turns: list[dict[str, Any]]) -> dict[str, Any]:
    raw = handoff.get("sentiment") if isinstance(handoff.get("sentiment"), dict) else {}
    assert isinstance(raw, dict)
    trend = [v for v in (_float(x) for x in raw.get("trend") or []) if v is not None]
    if not trend:
        trend = [t["sentiment"] for t in turns if t["sentiment"] is not None]
    latest = _float(raw.get("latest"), trend[-1] if trend else None)
    direction = "unknown"
    if len(trend) >= 2:
        delta = trend[-1] - trend[0]
        direction = "worsening" if delta <= -0.2 else "improving" if delta >= 0.2 else "stable"
    elif trend:
        direction = "stable"
    frustration = _float(handoff.get("frustration"))
    if frustration is None:
        values = [t["frustration"] for t in turns if t["frustration"] is not None]
        frustration = max(values) if values else None
    return {"latest": latest, "trend": trend, "direction": direction, "frustration": frustration}


def _main_intent(turns: list[dict[str, Any]]) -> str | None:
    """The most telling intent: the latest non-generic one, else the latest."""
    for turn in reversed(turns):
        if turn["intent"] and turn["intent"] not in GENERIC_INTENTS:
            return str(turn["intent"])
    return next((str(t["intent"]) for t in reversed(turns) if t["intent"]), None)


def _first_customer_words(transcript: Sequence[MessageRecord]) -> str | None:
    for m in transcript:
        if m.sender == "customer" and m.text and not m.text.startswith("/") and len(m.text.split()) >= 3:
            return _str(m.text, 160)
    return None


def hypothesis_for(
    handoff: Mapping[str, Any],
    intent: str | None,
    entities: Mapping[str, list[str]],
    steps: list[dict[str, Any]],
) -> str | None:
    """The bot's hypothesis, else one derived from entities and failed steps."""
    given = _str(handoff.get("hypothesis"), 300)
    if given:
        return given
    failed = [s for s in steps if s["outcome"].lower() in FAILED_OUTCOMES]
    codes = entities.get("error_code") or []
    if codes:
        return f"error code {codes[0]} points to a server-side fault rather than user error"
    if intent in ("reset_password", "account_locked") and failed:
        return "account lockout or security hold is blocking the self-service reset"
    if intent == "billing_charge_dispute":
        return "possible duplicate or unexpected charge; check the charge history"
    if handoff.get("reason") == "backend_unavailable":
        return "the business backend was unreachable; the request itself may be routine"
    return None


def _suspicion(hypothesis: str) -> str:
    """The hypothesis as the tail of the problem sentence: its first clause, starting lower-case."""
    clause = hypothesis.split(";")[0].strip().rstrip(".")
    if clause[:1].isupper() and not clause[1:2].isupper():
        clause = clause[0].lower() + clause[1:]
    return clause if clause.lower().startswith("suspect") else f"suspect {clause}"


def problem_statement(
    handoff: Mapping[str, Any],
    intent: str | None,
    steps: list[dict[str, Any]],
    hypothesis: str | None,
    transcript: Sequence[MessageRecord],
    reason: str,
) -> str:
    """One or two sentences an L2 agent can act on, never "customer says it's broken"."""
    given = _str(handoff.get("problem"), 300)
    if given and not VAGUE.match(given) and len(given.split()) >= 3:
        head = given.rstrip(".")
    elif intent in INTENT_PROBLEM:
        head = INTENT_PROBLEM[intent]
    else:
        words = _first_customer_words(transcript)
        head = f'Customer wrote: "{words}"' if words else "Customer needs help the bot could not give"
    parts = [head]
    mentioned = head.lower().replace("_", " ")
    for step in steps:
        if step["outcome"].lower() not in FAILED_OUTCOMES or step["step"].lower() in mentioned:
            continue
        text = f"{step['step']} {step['outcome']}"
        if step["count"] > 1:
            text += f" {step['count']} times"
        if step["detail"]:
            text += f" ({step['detail']})"
        parts.append(text)
        mentioned += " " + step["step"].lower()
    if hypothesis and "suspect" not in head.lower():
        parts.append(_suspicion(hypothesis))
    if reason == "bot_unavailable" and len(parts) == 1:
        parts.append("the bot was unavailable, so nothing was tried yet")
    return "; ".join(parts)


def build_summary(data: SummaryInput) -> dict[str, Any]:
    """The context block as a JSON-safe dict."""
    handoff = data.handoff if isinstance(data.handoff, Mapping) else {}
    turns = _turns(handoff)
    entities = _entities(handoff, turns)
    steps = _steps(handoff)
    intent = _main_intent(turns)
    hypothesis = hypothesis_for(handoff, intent, entities, steps)
    contact = data.contact
    customer: dict[str, Any] = {
        "id": data.customer_id,
        "name": data.customer_name or (contact.name if contact else None),
        "email": data.customer_email or (contact.email if contact else None),
        "verified": data.verified,
        "tier": contact.tier if contact else (handoff.get("customer_tier") if data.verified else None),
        "plan": contact.plan if contact else None,
        "mrr": contact.mrr if contact else None,
        "renewal_in_days": (contact.renewal_date - data.today).days if contact and contact.renewal_date else None,
        "status": contact.status if contact else None,
        "fast_lane": bool(data.fast_lane),
        "fast_lane_reasons": list(data.fast_lane),
        # What an unverified customer told the bot: a lead for the agent, not an identity.
        "stated_email": None if data.verified else next(iter(entities.get("email") or []), None),
    }
    strikes = handoff.get("strikes")
    last_turns = [
        {"seq": m.seq, "sender": m.sender, "text": redact(m.text or _payload_text(m.payload))}
        for m in list(data.transcript)[-LAST_TURNS:]
    ]
    summary = {
        "version": SUMMARY_VERSION,
        "conversation_id": data.conversation_id,
        "customer": customer,
        "problem": problem_statement(handoff, intent, steps, hypothesis, data.transcript, data.reason),
        "hypothesis": hypothesis,
        "escalation": {
            "reason": data.reason,
            "reason_text": REASON_TEXT.get(data.reason, data.reason),
            "strikes": strikes if isinstance(strikes, int) and not isinstance(strikes, bool) else 0,
        },
        "intent": intent,
        "intents": [
            {"text": t["text"], "intent": t["intent"], "confidence": t["confidence"], "ranking": t["ranking"]} for t in turns
        ],
        "entities": entities,
        "slots": redact_value(
            {k: v for k, v in sorted((handoff.get("slots") or {}).items()) if v is not None}
            if isinstance(handoff.get("slots"), dict)
            else {}
        ),
        "steps": steps,
        "sentiment": _sentiment(handoff, turns),
        "priority": {"level": data.priority.level, "reasons": list(data.priority.reasons)},
        "sla": {"deadline": iso(data.sla_deadline), "minutes": data.sla_minutes},
        "skills": list(data.skills),
        "last_turns": last_turns,
    }
    return summary


def _payload_text(payload: Mapping[str, Any] | None) -> str:
    if not payload:
        return ""
    if payload.get("attachment"):
        return "[attachment]"
    return ""


def render_text(summary: Mapping[str, Any]) -> str:
    """The context block as text for the console and exports."""
    c = summary.get("customer") or {}
    esc = summary.get("escalation") or {}
    pri = summary.get("priority") or {}
    sla = summary.get("sla") or {}
    who = c.get("name") or "Anonymous customer"
    if c.get("email"):
        who += f" <{c['email']}>"
    elif c.get("stated_email"):
        who += f", says they are {c['stated_email']}"
    facts = []
    if c.get("id"):
        facts.append(str(c["id"]))
    if c.get("tier"):
        facts.append(f"{c['tier']} tier")
    if c.get("mrr") is not None:
        facts.append(f"MRR ${c['mrr']:,.0f}")
    if c.get("renewal_in_days") is not None:
        facts.append(f"renews in {c['renewal_in_days']} days")
    facts.append("verified" if c.get("verified") else "unverified")
    lines = [
        f"[{str(pri.get('level', 'normal')).upper()}] Hand-off: {esc.get('reason_text', esc.get('reason'))}"
        + (f" ({esc['strikes']} strikes)" if esc.get("strikes") else ""),
        f"Customer: {who} ({', '.join(facts)})"
        + (" FAST LANE: " + "; ".join(c["fast_lane_reasons"]) if c.get("fast_lane") else ""),
        f"Problem: {summary.get('problem')}",
        f"Hypothesis: {summary.get('hypothesis') or 'none from L1'}",
    ]
    if summary.get("steps"):
        lines.append("Steps tried:")
        for s in summary["steps"]:
            times = f" x{s['count']}" if s.get("count", 1) > 1 else ""
            lines.append(f"  - {s['step']}: {s['outcome']}{times}" + (f" ({s['detail']})" if s["detail"] else ""))
    intents = [
        f"{t['intent']} {t['confidence']:.2f}" if t.get("confidence") is not None else str(t["intent"])
        for t in summary.get("intents") or []
        if t.get("intent")
    ]
    if intents:
        lines.append("Intents: " + ", ".join(intents))
    if summary.get("entities"):
        lines.append("Entities: " + ", ".join(f"{k}={'/'.join(v)}" for k, v in summary["entities"].items()))
    sent = summary.get("sentiment") or {}
    if sent.get("latest") is not None or sent.get("frustration") is not None:
        lines.append(
            f"Sentiment: {sent.get('latest')} ({sent.get('direction')})"
            + (f", frustration {sent['frustration']}" if sent.get("frustration") is not None else "")
        )
    lines.append(
        f"Priority: {pri.get('level')} ({'; '.join(pri.get('reasons') or [])}); "
        f"SLA: pick up by {sla.get('deadline')} ({sla.get('minutes')} min)"
    )
    if summary.get("last_turns"):
        lines.append("Last turns:")
        for t in summary["last_turns"]:
            lines.append(f"  {t['sender']}: {t['text']}")
    return "\n".join(lines)
