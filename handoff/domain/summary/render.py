"""The context block as text for the console and exports; each statement names its turns."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# A summary without impact: the bot asks it only for faults; L2 gives it when escalating to L3.
IMPACT_NOT_ASKED = "not asked at L1"


def _refs_text(line: Mapping[str, Any]) -> str:
    nums = [i + 1 for i in line.get("turns") or [] if isinstance(i, int) and i >= 0]
    if not nums:
        return ""
    return f" [turn{'s' if len(nums) > 1 else ''} {', '.join(str(n) for n in nums)}]"


def render_text(summary: Mapping[str, Any]) -> str:
    """The context block as text for the console and exports; each statement names its turns."""
    c = summary.get("customer") or {}
    esc = summary.get("escalation") or {}
    pri = summary.get("priority") or {}
    sla = summary.get("sla") or {}
    slots = summary.get("slots") or {}
    lines_by_key: dict[str, list[Mapping[str, Any]]] = {}
    for line in summary.get("lines") or []:
        if isinstance(line, Mapping):
            lines_by_key.setdefault(str(line.get("key")), []).append(line)

    def stated(key: str, label: str, fallback: str | None) -> list[str]:
        found = lines_by_key.get(key)
        if not found:
            return [f"{label}: {fallback}"] if fallback is not None else []
        return [f"{label}: {line.get('text')}{_refs_text(line)}" for line in found]

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
        *stated("problem", "Problem", str(summary.get("problem"))),
        *stated("words", "In their words", None),
        *stated("hypothesis", "Hypothesis", summary.get("hypothesis") or "none from L1"),
        *stated("understood", "Bot understood", None),
        *stated("tried", "Customer tried", None),
        *([f"Error (customer's words): {slots['error_details']}"] if slots.get("error_details") else []),
        f"Impact: {(summary.get('impact') or {}).get('text') or IMPACT_NOT_ASKED}",
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
    if "sentiment" in lines_by_key:
        lines.extend(stated("sentiment", "Sentiment", None))
    elif sent.get("latest") is not None or sent.get("frustration") is not None:
        lines.append(
            f"Sentiment: {sent.get('latest')} ({sent.get('direction')})"
            + (f", frustration {sent['frustration']}" if sent.get("frustration") is not None else "")
        )
    spoken = summary.get("language")
    if isinstance(spoken, Mapping) and spoken.get("code"):
        count = spoken.get("messages") or 0
        lines.append(f"Language: {spoken.get('name')} (detected from {count} message{'' if count == 1 else 's'})")
    lines.append(
        f"Priority: {pri.get('level')} ({'; '.join(pri.get('reasons') or [])}); "
        f"SLA: pick up by {sla.get('deadline')} ({sla.get('minutes')} min)"
    )
    if summary.get("last_turns"):
        lines.append("Last turns:")
        for t in summary["last_turns"]:
            lines.append(f"  {t['sender']}: {t['text']}")
    return "\n".join(lines)
