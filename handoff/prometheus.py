"""Prometheus exposition (``GET /metrics``), computed at scrape time from the event rows.

The event table is append-only, so a count of rows is a monotonic counter by construction: every gateway (and a
restart) reports the same totals, nothing is kept on the side. Handoff delay is a histogram over the
``first_reply`` events (each carries its own delay). Queue length and agents online are gauges.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from handoff.models import Agent, Conversation, Event, Handoff

DELAY_BUCKETS = (30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0)
SIMPLE_COUNTERS = {
    # metric name (without _total): (event type, help)
    "handoff_conversations": ("created", "Conversations started."),
    "handoff_engaged_conversations": ("engaged", "Conversations in which the customer wrote at least one message."),
    "handoff_handbacks": ("handback", "Hand-offs an agent returned to the bot (bounceback)."),
    "handoff_context_loss": ("context_loss", "Escalations where the agent had to ask the customer again."),
    "handoff_recontacts": ("recontact", "Customers asking what is happening with their case."),
    "handoff_l3_escalations": ("escalated_l3", "Escalations from L2 to L3."),
    "handoff_transfers": ("transferred", "Transfers from one agent to another."),
}


@dataclass
class Snapshot:
    """Everything one scrape reports, read in one database session."""

    counts: dict[str, int] = field(default_factory=dict)
    escalations: dict[tuple[str, str], int] = field(default_factory=dict)
    requeues: int = 0
    sla_breaches: dict[str, int] = field(default_factory=dict)
    csat: dict[str, int] = field(default_factory=dict)
    misses: dict[str, int] = field(default_factory=dict)
    delays: dict[str, list[float]] = field(default_factory=dict)
    queue: dict[str, int] = field(default_factory=dict)
    agents: dict[str, int] = field(default_factory=dict)


async def snapshot(s: AsyncSession) -> Snapshot:
    """Aggregate the event rows (and the live queue) for one scrape."""
    snap = Snapshot()
    by_type = (await s.execute(select(Event.type, func.count()).group_by(Event.type))).all()
    snap.counts = {t: int(n) for t, n in by_type}
    for reason, data, in (await s.execute(select(Event.reason, Event.data).where(Event.type == "queued"))).all():
        data = data or {}
        if data.get("from") == "assigned":
            snap.requeues += 1
            continue
        key = (str(reason or "unknown"), str(data.get("priority") or "normal"))
        snap.escalations[key] = snap.escalations.get(key, 0) + 1
    for type_, reason, data in (
        await s.execute(
            select(Event.type, Event.reason, Event.data).where(Event.type.in_(("sla_breach", "csat", "nlu_miss")))
        )
    ).all():
        if type_ == "sla_breach":
            snap.sla_breaches[str(reason or "normal")] = snap.sla_breaches.get(str(reason or "normal"), 0) + 1
        elif type_ == "csat":
            score = str((data or {}).get("score"))
            snap.csat[score] = snap.csat.get(score, 0) + 1
        else:
            snap.misses[str(reason or "nlu_fallback")] = snap.misses.get(str(reason or "nlu_fallback"), 0) + 1
    for (data,) in (await s.execute(select(Event.data).where(Event.type == "first_reply"))).all():
        delay = (data or {}).get("delay_seconds")
        if isinstance(delay, (int, float)):
            snap.delays.setdefault(str((data or {}).get("priority") or "normal"), []).append(float(delay))
    queued = (
        await s.execute(
            select(Handoff.priority, func.count())
            .join(Conversation, Conversation.id == Handoff.conversation_id)
            .where(Conversation.state == "queued", Handoff.status == "open")
            .group_by(Handoff.priority)
        )
    ).all()
    snap.queue = {str(p): int(n) for p, n in queued}
    presence = (await s.execute(select(Agent.status, func.count()).group_by(Agent.status))).all()
    snap.agents = {str(st): int(n) for st, n in presence}
    return snap


class _Collector:
    """A one-shot collector over a :class:`Snapshot` (a fresh registry per scrape)."""

    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap

    def collect(self) -> Iterator[Metric]:
        snap = self.snap
        for name, (event_type, help_) in SIMPLE_COUNTERS.items():
            c = CounterMetricFamily(name, help_)
            c.add_metric([], snap.counts.get(event_type, 0))
            yield c
        yield _labelled(CounterMetricFamily, "handoff_escalations", "Conversations handed from the bot to a human.",
                        ["reason", "priority"], snap.escalations)
        requeues = CounterMetricFamily("handoff_requeues", "Assigned conversations sent back to a team queue (churn).")
        requeues.add_metric([], snap.requeues)
        yield requeues
        yield _labelled(CounterMetricFamily, "handoff_sla_breaches", "Hand-offs not picked up within their SLA.",
                        ["priority"], snap.sla_breaches)
        yield _labelled(CounterMetricFamily, "handoff_csat_responses", "CSAT answers by score (1-5).", ["score"], snap.csat)
        yield _labelled(CounterMetricFamily, "handoff_nlu_misses", "Messages the bot did not understand.", ["kind"],
                        snap.misses)
        hist = HistogramMetricFamily(
            "handoff_first_reply_delay_seconds",
            "Escalation to the agent's first reply (handoff delay).",
            labels=["priority"],
        )
        for priority, values in sorted(snap.delays.items()):
            buckets: list[tuple[str, float]] = [
                (_le(b), float(sum(1 for v in values if v <= b))) for b in DELAY_BUCKETS
            ]
            buckets.append(("+Inf", float(len(values))))
            hist.add_metric([priority], buckets, sum(values))
        yield hist
        yield _labelled(GaugeMetricFamily, "handoff_queue_length", "Conversations waiting for an agent.", ["priority"],
                        snap.queue)
        yield _labelled(GaugeMetricFamily, "handoff_agents", "Agents by presence status.", ["status"], snap.agents)

def _labelled(
    family: type[CounterMetricFamily] | type[GaugeMetricFamily],
    name: str,
    help_: str,
    labels: list[str],
    counts: Mapping[Any, int],
) -> Metric:
    """One metric family with a sample per key of ``counts`` (a tuple key for several labels)."""
    metric = family(name, help_, labels=labels)
    for key, n in sorted(counts.items()):
        metric.add_metric(list(key) if isinstance(key, tuple) else [key], n)
    return metric


def _le(bound: float) -> str:
    return str(int(bound)) + ".0" if bound == int(bound) else str(bound)


def render(snap: Snapshot) -> bytes:
    """The text exposition format of one snapshot."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(snap))  # type: ignore[arg-type]
    return generate_latest(registry)


def families(text: str) -> dict[str, Any]:
    """Parsed families by name (tests and tools)."""
    from prometheus_client.parser import text_string_to_metric_families

    return {f.name: f for f in text_string_to_metric_families(text)}
