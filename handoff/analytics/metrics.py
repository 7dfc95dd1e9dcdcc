"""Hand-off metrics of the reference article, computed from the append-only event rows only.

A window is a cohort: the conversations *created* in ``[since, until)``, followed through every event they wrote
before ``until``. So any window can be recomputed later and gives the same answer. Definitions (README, "Metrics"):

- engaged conversation: one with an ``engaged`` event (the customer wrote at least one message).
- escalation: a ``queued`` event whose ``from`` is ``bot`` or ``resolved`` (a transfer re-queues ``from: assigned``
  and is churn, not a new escalation). Its reason, priority, intent and tier are on that event.
- containment (L1 resolution): engaged conversations with no escalation / engaged conversations.
- escalation rate: engaged conversations with at least one escalation / engaged conversations, and by reason.
- handoff delay: escalation -> the agent's first reply (``first_reply`` event); p50/p90 by priority. Escalations
  still waiting for a reply are counted as ``waiting``, not guessed.
- bounceback: escalations that an agent handed back to the bot (L2 -> L1, ``handback``) because the bot escalated
  wrongly (``handback_reason`` ``wrong_escalation``, or not said) / escalations an agent picked up. Hand-backs of a
  solved case, so that the bot carries on (``solved``), are the return path working: counted apart as
  ``handback_solved_rate``, never as bounceback. The hand-back note is the "what was missing".
- context loss: picked-up escalations with a ``context_loss`` flag ("had to ask again") / picked-up escalations.
- re-contact: ``recontact`` events (the customer asked "what's happening with my case?"), counted.
- SLA breach rate: escalations with an ``sla_breach`` event / escalations.
- handoff churn: group/owner changes per escalation: transfers to an agent, re-queues to a team, L3 escalations
  and each return from L3 (every bounce between tiers counts).
- CSAT: mean of ``csat`` scores (1-5) and the share of 4-5; one rating per resolved escalation (the first).
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contract.redact import redact
from handoff.domain.records import EventRecord, iso
from handoff.domain.states import EventType, State
from handoff.storage.models import Contact, Event

GROUPS = ("all", "tier", "intent", "reason", "agent", "model")
# Intents that say nothing about what the customer came for: a conversation's intent is its first other one.
SMALL_TALK = frozenset(
    {"greet", "goodbye", "thank", "affirm", "deny", "bot_challenge", "inform", "unclear", "nlu_fallback", "stop"}
)
PRIORITY_ORDER = ("urgent", "high", "normal", "low")


@dataclass(frozen=True)
class Target:
    """The standard a metric is held to: ``ok`` within [low, high], ``alarm`` beyond ``alarm`` (if set)."""

    text: str
    low: float | None = None
    high: float | None = None
    alarm: float | None = None
    zero_is_warning: bool = False

    def status(self, value: float | None) -> str:
        """Ok / warn / alarm / n/a for a value."""
        if value is None:
            return "n/a"
        if self.zero_is_warning and value == 0:
            return "warn"
        if self.alarm is not None and value > self.alarm:
            return "alarm"
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            return "warn"
        return "ok"


TARGETS: dict[str, Target] = {
    "containment": Target("70-80% resolved at L1 (article: FCR 70-80%)", low=0.70),
    "escalation_rate": Target(
        "5-10% for B2B SaaS; 0% is a warning sign (article)", low=0.05, high=0.10, zero_is_warning=True
    ),
    "handoff_delay_p90_high_seconds": Target("high priority under 30 minutes (article)", high=1800.0),
    "bounceback_rate": Target("5-10%, alarm over 20% (article)", high=0.10, alarm=0.20),
    "handback_solved_rate": Target("no target: solved cases handed back so the bot carries on (the return path)"),
    "context_loss_rate": Target("under 10% of escalations (article)", high=0.10),
    "recontact_rate": Target("as low as possible; the article gives no number (ours: under 10%)", high=0.10),
    "sla_breach_rate": Target("watch it; the article gives no number (ours: under 10%)", high=0.10),
    "handoff_churn": Target("low; the article gives no number (ours: at most 1 change per escalation)", high=1.0),
    "csat": Target("the article gives no absolute number (ours: 4.0 of 5 or better)", low=4.0),
}


@dataclass
class Escalation:
    """One hand-off to a human, followed through its events."""

    conversation_id: str
    at: datetime
    reason: str
    priority: str
    intent: str
    tier: str
    agent: str | None = None
    picked_up: bool = False
    first_reply_seconds: float | None = None
    handed_back: bool = False
    handed_back_solved: bool = False  # handed back because solved: the return path, not a bounceback
    context_loss: bool = False
    sla_breached: bool = False
    churn: int = 0
    csat: list[int] = field(default_factory=list)
    closed: bool = False


@dataclass
class ConversationFacts:
    """What the events of one conversation say, for the cohort."""

    id: str
    created_at: datetime
    engaged: bool = False
    tier: str = "anonymous"
    intent: str = "unknown"
    customer_id: str | None = None
    escalations: list[Escalation] = field(default_factory=list)
    recontacts: int = 0
    model: str = "unknown"  # the Rasa model that answered the conversation's first bot turn


def _agent_of(data: dict[str, Any]) -> str | None:
    agent = data.get("agent_id")
    return f"agent:{agent}" if agent is not None else None


def conversation_facts(events: Sequence[EventRecord], tiers: dict[str, str] | None = None) -> list[ConversationFacts]:
    """Fold every conversation's events (any order in, id order applied) into facts."""
    tiers = tiers or {}
    by_conv: dict[str, list[EventRecord]] = defaultdict(list)
    for e in events:
        if e.conversation_id:
            by_conv[e.conversation_id].append(e)
    result: list[ConversationFacts] = []
    for conv_id, rows in by_conv.items():
        rows.sort(key=lambda e: e.id)
        created = next((e for e in rows if e.type == EventType.CREATED), None)
        if created is None:
            continue
        facts = ConversationFacts(conv_id, created.created_at)
        current: Escalation | None = None
        for e in rows:
            if e.type == EventType.ENGAGED:
                facts.engaged = True
            elif e.type == EventType.IDENTITY_VERIFIED:
                facts.customer_id = str(e.data.get("customer_id") or "") or None
                if facts.customer_id and facts.customer_id in tiers:
                    facts.tier = tiers[facts.customer_id]
            elif e.type == EventType.QUEUED and e.data.get("from") in (State.BOT, State.RESOLVED):
                facts.engaged = True  # a hand-off needs a customer (or an agent barging in on one)
                tier = e.data.get("tier") or facts.tier
                facts.tier = str(tier)
                intent = e.data.get("intent")
                if isinstance(intent, str) and intent:
                    facts.intent = intent
                current = Escalation(
                    conv_id,
                    e.created_at,
                    reason=e.reason or "unknown",
                    priority=str(e.data.get("priority") or "normal"),
                    intent=facts.intent,
                    tier=facts.tier,
                )
                facts.escalations.append(current)
            elif e.type == EventType.BOT_TURN:
                turn = e.data or {}
                if facts.model == "unknown" and isinstance(turn.get("model"), str) and turn["model"]:
                    facts.model = turn["model"]
                # A contained conversation has no hand-off to name its intent: its first topical turn does.
                if facts.intent == "unknown" and isinstance(turn.get("intent"), str) and turn["intent"] not in SMALL_TALK:
                    facts.intent = turn["intent"] or "unknown"
            elif e.type == EventType.RECONTACT:
                facts.recontacts += 1
                intent_ = facts.intent
                if intent_ == "unknown":
                    facts.intent = "case_status"
            elif current is None:
                continue
            elif e.type == EventType.ASSIGNED:
                current.picked_up = True
                current.agent = current.agent or _agent_of(e.data) or e.actor
            elif e.type == EventType.FIRST_REPLY:
                if current.first_reply_seconds is None:
                    current.first_reply_seconds = (e.created_at - current.at).total_seconds()
                    current.picked_up = True
                    current.agent = current.agent or _agent_of(e.data)
            elif e.type == EventType.HANDBACK:
                solved = (e.data or {}).get("handback_reason") == "solved"
                current.handed_back, current.handed_back_solved, current.closed = not solved, solved, True
            elif e.type == EventType.CONTEXT_LOSS:
                current.context_loss = True
            elif e.type == EventType.SLA_BREACH:
                current.sla_breached = True
            elif e.type in (EventType.TRANSFERRED, EventType.ESCALATED_L3, EventType.L3_RETURNED) or (
                e.type == EventType.QUEUED and e.data.get("from") == State.ASSIGNED
            ):
                current.churn += 1
            elif e.type == EventType.RESOLVED:
                current.closed = True
            elif e.type == EventType.CSAT:
                score = e.data.get("score")
                # One rating per resolution: a later one (stuffed before the gateway refused them) does not count.
                if isinstance(score, int) and 1 <= score <= 5 and not current.csat:
                    current.csat.append(score)
        result.append(facts)
    return result


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def _share(name: str, hits: int, of: int) -> dict[str, Any]:
    """A rate metric: hits out of ``of`` (no value for an empty denominator)."""
    return _metric(name, _ratio(hits, of), hits, of)


def _metric(name: str, value: float | None, num: float | None = None, den: int | None = None) -> dict[str, Any]:
    target = TARGETS.get(name)
    return {
        "value": None if value is None else round(value, 4),
        "numerator": num,
        "denominator": den,
        "target": target.text if target else None,
        "status": target.status(value) if target else "n/a",
    }


def summarize(conversations: Sequence[ConversationFacts], escalations: Sequence[Escalation]) -> dict[str, Any]:
    """Every metric over one group of conversations and escalations."""
    engaged = [c for c in conversations if c.engaged]
    escalated = [c for c in engaged if c.escalations]
    picked = [e for e in escalations if e.picked_up]
    replied = [e for e in escalations if e.first_reply_seconds is not None]
    waiting = [e for e in escalations if e.first_reply_seconds is None and not e.closed]
    recontacts = sum(c.recontacts for c in conversations)
    delays: dict[str, dict[str, Any]] = {}
    for priority in PRIORITY_ORDER:
        values = [e.first_reply_seconds for e in replied if e.priority == priority and e.first_reply_seconds is not None]
        pending = sum(1 for e in waiting if e.priority == priority)
        if values or pending:
            delays[priority] = {
                "count": len(values),
                "waiting": pending,
                "p50_seconds": percentile(values, 50),
                "p90_seconds": percentile(values, 90),
            }
    high = [e.first_reply_seconds for e in replied if e.priority in ("urgent", "high") and e.first_reply_seconds is not None]
    scores = [s for e in escalations for s in e.csat]
    reasons = Counter(e.reason for e in escalations)
    n_eng = len(engaged)
    return {
        "conversations": len(conversations),
        "engaged": n_eng,
        "escalations": len(escalations),
        "metrics": {
            "containment": _share("containment", n_eng - len(escalated), n_eng),
            "escalation_rate": _share("escalation_rate", len(escalated), n_eng),
            "handoff_delay_p90_high_seconds": _metric(
                "handoff_delay_p90_high_seconds", percentile(high, 90), None, len(high)
            ),
            "bounceback_rate": _share("bounceback_rate", sum(e.handed_back for e in picked), len(picked)),
            "handback_solved_rate": _share(
                "handback_solved_rate", sum(e.handed_back_solved for e in picked), len(picked)
            ),
            "context_loss_rate": _share("context_loss_rate", sum(e.context_loss for e in picked), len(picked)),
            "recontact_rate": _share("recontact_rate", recontacts, n_eng),
            "sla_breach_rate": _share("sla_breach_rate", sum(e.sla_breached for e in escalations), len(escalations)),
            "handoff_churn": _share("handoff_churn", sum(e.churn for e in escalations), len(escalations)),
            "csat": _metric("csat", sum(scores) / len(scores) if scores else None, sum(scores), len(scores)),
        },
        "recontacts": recontacts,
        "csat_satisfied_share": round(sum(1 for s in scores if s >= 4) / len(scores), 4) if scores else None,
        "handoff_delay_by_priority": delays,
        "escalations_by_reason": {
            reason: {"count": count, "rate": round(count / n_eng, 4) if n_eng else None}
            for reason, count in reasons.most_common()
        },
    }


def compute(
    events: Sequence[EventRecord],
    *,
    since: datetime,
    until: datetime,
    group_by: str = "all",
    tiers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Metrics of the cohort created in ``[since, until)``, optionally cut by tier, intent, reason, agent or model."""
    if group_by not in GROUPS:
        raise ValueError(f"group_by must be one of {', '.join(GROUPS)}")
    facts = [
        f for f in conversation_facts([e for e in events if e.created_at < until], tiers) if since <= f.created_at < until
    ]
    escalations = [e for f in facts for e in f.escalations]
    result: dict[str, Any] = {
        "window": {"since": iso(since), "until": iso(until)},
        "group_by": group_by,
        "overall": summarize(facts, escalations),
        "groups": [],
    }
    if group_by == "all":
        return result
    buckets: dict[str, tuple[list[ConversationFacts], list[Escalation]]] = defaultdict(lambda: ([], []))
    if group_by == "tier":
        for f in facts:
            buckets[f.tier][0].append(f)
            buckets[f.tier][1].extend(f.escalations)
    elif group_by in ("intent", "model"):
        for f in facts:
            key = f.intent if group_by == "intent" else f.model
            buckets[key][0].append(f)
            buckets[key][1].extend(f.escalations)
    else:
        # Reason and agent describe escalations; rates over conversations are not defined for them.
        for esc in escalations:
            key = esc.reason if group_by == "reason" else (esc.agent or "unassigned")
            buckets[key][1].append(esc)
    for key in sorted(buckets):
        convs, escs = buckets[key]
        summary = summarize(convs, escs)
        if group_by in ("reason", "agent"):
            for name in ("containment", "escalation_rate", "recontact_rate"):
                summary["metrics"][name] = _metric(name, None)
        result["groups"].append({"key": key, **summary})
    return result


def parse_window(text: str) -> timedelta:
    """``7d``, ``24h``, ``90m`` or ``2w`` as a timedelta."""
    units = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
    text = text.strip().lower()
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit() or int(text[:-1]) <= 0:
        raise ValueError("window must look like 90m, 24h, 7d or 2w")
    return timedelta(**{units[text[-1]]: int(text[:-1])})


async def load_events(s: AsyncSession, since: datetime, until: datetime) -> tuple[list[EventRecord], dict[str, str]]:
    """Every event (before ``until``) of the conversations created in the window, and customer tiers."""
    cohort = select(Event.conversation_id).where(
        Event.type == EventType.CREATED.value, Event.created_at >= since, Event.created_at < until
    )
    rows = await s.scalars(
        select(Event).where(Event.conversation_id.in_(cohort), Event.created_at < until).order_by(Event.id)
    )
    events = [
        EventRecord(r.id, r.conversation_id, r.type, r.actor, r.reason, dict(r.data or {}), r.created_at) for r in rows
    ]
    tiers = {cid: tier for cid, tier in (await s.execute(select(Contact.id, Contact.tier))).all()}
    return events, tiers


async def metrics_for(s: AsyncSession, since: datetime, until: datetime, group_by: str = "all") -> dict[str, Any]:
    """Load the cohort's events and compute its metrics."""
    events, tiers = await load_events(s, since, until)
    return compute(events, since=since, until=until, group_by=group_by, tiers=tiers)


METRIC_NAMES = tuple(TARGETS)


def rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Flat rows (one per group and metric): the CSV and the terminal table."""
    groups: Iterable[dict[str, Any]] = report["groups"] or [{"key": "all", **report["overall"]}]
    out: list[dict[str, Any]] = []
    for g in groups:
        for name in METRIC_NAMES:
            m = g["metrics"][name]
            out.append(
                {
                    "group_by": report["group_by"],
                    "group": g["key"],
                    "metric": name,
                    "value": m["value"],
                    "numerator": m["numerator"],
                    "denominator": m["denominator"],
                    "status": m["status"],
                    "target": m["target"],
                }
            )
    return out


def to_csv(report: dict[str, Any]) -> str:
    """The report as CSV (header + one row per group and metric)."""
    buffer = io.StringIO()
    fields = ["window_since", "window_until", "group_by", "group", "metric", "value", "numerator", "denominator",
              "status", "target"]
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in rows(report):
        # Group keys (intent, agent, tier) come from event rows; an export file is no place for a stray secret.
        row["group"] = redact(row["group"]) if isinstance(row["group"], str) else row["group"]
        writer.writerow({"window_since": report["window"]["since"], "window_until": report["window"]["until"], **row})
    return buffer.getvalue()


def _fmt(name: str, value: Any) -> str:
    if value is None:
        return "-"
    if name.endswith("_seconds"):
        return f"{value / 60:.1f} min"
    if name in ("csat", "handoff_churn"):
        return f"{value:.2f}"
    return f"{value * 100:.1f}%"


def to_table(report: dict[str, Any]) -> str:
    """A plain-text table for the terminal."""
    header = ("group", "metric", "value", "n", "status", "target")
    lines = [header]
    for r in rows(report):
        n = "" if r["denominator"] is None else f"{r['numerator'] if r['numerator'] is not None else ''}/{r['denominator']}"
        lines.append((str(r["group"]), r["metric"], _fmt(r["metric"], r["value"]), n, r["status"], str(r["target"])))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    out = [f"Window {report['window']['since']} .. {report['window']['until']}, "
           f"{report['overall']['engaged']} engaged conversations, {report['overall']['escalations']} escalations"]
    for line in lines:
        out.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line[:-1])) + "  " + line[-1])
    return "\n".join(out)
