"""Prometheus exposition (``GET /metrics``): counters over the append-only event rows, gauges of the live queue.

The event table is append-only, so a count of rows is a monotonic counter by construction: every gateway (and a
restart) converges to the same totals, and nothing is written on the side. A scrape does not read the table again:
each gateway process keeps a :class:`Tally` of the rows it has counted and reads only the rows after them, so a
scrape costs the events written since the last one (plus the last ``settle`` seconds, see :class:`Tally`), not the
whole history (the first scrape after a start reads it once). Handoff delay is a histogram over the ``first_reply``
events (each carries its own delay). Queue length and agents online are gauges, read at every scrape.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from handoff.domain.states import EventType, HandoffStatus, State
from handoff.storage.models import Agent, Conversation, Event, Handoff, utcnow

DELAY_BUCKETS = (30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0)
SIMPLE_COUNTERS = {
    # metric name (without _total): (event type, help)
    "handoff_conversations": (EventType.CREATED, "Conversations started."),
    "handoff_engaged_conversations": (EventType.ENGAGED, "Conversations in which the customer wrote at least one message."),
    "handoff_handbacks": (EventType.HANDBACK, "Hand-offs an agent returned to the bot (bounceback)."),
    "handoff_context_loss": (EventType.CONTEXT_LOSS, "Escalations where the agent had to ask the customer again."),
    "handoff_recontacts": (EventType.RECONTACT, "Customers asking what is happening with their case."),
    "handoff_l3_escalations": (EventType.ESCALATED_L3, "Escalations from L2 to L3."),
    "handoff_l3_returns": (EventType.L3_RETURNED, "L3 escalations returned to L2 with the root cause."),
    "handoff_l3_sla_breaches": (EventType.L3_SLA_BREACH, "L3 escalations not claimed within their L3 SLA."),
    "handoff_transfers": (EventType.TRANSFERRED, "Transfers from one agent to another."),
}
# Rows younger than this are read again at the next scrape: on PostgreSQL ids are handed out at insert, so a row
# with a smaller id can still commit after a larger one was seen. Older than this, no transaction of ours is open.
SETTLE_SECONDS = 120.0
BATCH = 5000  # rows per query while catching up (the first scrape after a start reads the history once)


@dataclass
class Snapshot:
    """Everything one scrape reports: the counters (from the tally) and the gauges (read at the scrape)."""

    counts: dict[str, int] = field(default_factory=dict)
    escalations: dict[tuple[str, str], int] = field(default_factory=dict)
    requeues: int = 0
    sla_breaches: dict[str, int] = field(default_factory=dict)
    csat: dict[str, int] = field(default_factory=dict)
    misses: dict[str, int] = field(default_factory=dict)
    # priority -> counts per bucket of DELAY_BUCKETS (cumulative, Prometheus style) then +Inf; and the sum.
    delay_buckets: dict[str, list[int]] = field(default_factory=dict)
    delay_sums: dict[str, float] = field(default_factory=dict)
    queue: dict[str, int] = field(default_factory=dict)
    agents: dict[str, int] = field(default_factory=dict)


def _add(counter: dict[Any, int], key: Any) -> None:
    counter[key] = counter.get(key, 0) + 1


def fold(snap: Snapshot, type_: str, reason: str | None, data: dict[str, Any] | None) -> None:
    """Count one event row into the counters of ``snap``."""
    data = data or {}
    _add(snap.counts, type_)
    if type_ == EventType.QUEUED:
        if data.get("from") == State.ASSIGNED:
            snap.requeues += 1
        else:
            _add(snap.escalations, (str(reason or "unknown"), str(data.get("priority") or "normal")))
    elif type_ == EventType.SLA_BREACH:
        _add(snap.sla_breaches, str(reason or "normal"))
    elif type_ == EventType.CSAT:
        _add(snap.csat, str(data.get("score")))
    elif type_ == EventType.NLU_MISS:
        _add(snap.misses, str(reason or "nlu_fallback"))
    elif type_ == EventType.FIRST_REPLY:
        delay = data.get("delay_seconds")
        if isinstance(delay, (int, float)) and not isinstance(delay, bool):
            priority = str(data.get("priority") or "normal")
            buckets = snap.delay_buckets.setdefault(priority, [0] * (len(DELAY_BUCKETS) + 1))
            for i, bound in enumerate(DELAY_BUCKETS):
                if delay <= bound:
                    buckets[i] += 1
            buckets[-1] += 1
            snap.delay_sums[priority] = snap.delay_sums.get(priority, 0.0) + float(delay)


class Tally:
    """The counters of the event rows one process has read, and which rows those were.

    Every row with an id up to ``high`` is counted; ``recent`` holds the counted ids above it (rows younger than
    ``settle`` when last read, and any after them). A scrape reads the rows with an id above ``high`` only, counts
    those not in ``recent``, and moves ``high`` up to the last row of an unbroken run of settled ones. A row that stays
    uncommitted longer than ``settle`` after its insert would be missed (no gateway transaction lasts that long).
    Rows deleted later (``simulate --reset``) stay counted: counters never go down.
    """

    def __init__(self, settle_seconds: float = SETTLE_SECONDS) -> None:
        """Nothing counted yet."""
        self.settle = timedelta(seconds=settle_seconds)
        self.high = 0
        self.recent: set[int] = set()
        self.totals = Snapshot()
        self._lock = asyncio.Lock()

    async def update(self, s: AsyncSession, now: datetime | None = None) -> Snapshot:
        """Count the rows not counted yet; returns a copy of the counters."""
        async with self._lock:  # concurrent scrapes would count the same new rows twice
            cutoff = (now or utcnow()) - self.settle
            cursor, high, settled = self.high, self.high, True
            above: set[int] = set()
            while True:
                rows = (
                    await s.execute(
                        select(Event.id, Event.type, Event.reason, Event.data, Event.created_at)
                        .where(Event.id > cursor)
                        .order_by(Event.id)
                        .limit(BATCH)
                    )
                ).all()
                for id_, type_, reason, data, created_at in rows:
                    if id_ not in self.recent:
                        fold(self.totals, type_, reason, data)
                    if settled and created_at < cutoff:
                        high = id_
                    else:
                        settled = False
                        above.add(id_)
                if len(rows) < BATCH:
                    break
                cursor = rows[-1][0]
            self.high, self.recent = high, above
            return self._copy()

    def _copy(self) -> Snapshot:
        t = self.totals
        return replace(
            t,
            counts=dict(t.counts),
            escalations=dict(t.escalations),
            sla_breaches=dict(t.sla_breaches),
            csat=dict(t.csat),
            misses=dict(t.misses),
            delay_buckets={k: list(v) for k, v in t.delay_buckets.items()},
            delay_sums=dict(t.delay_sums),
        )


async def snapshot(s: AsyncSession, tally: Tally) -> Snapshot:
    """One scrape: the tally brought up to date, plus the live queue and agent presence."""
    snap = await tally.update(s)
    queued = (
        await s.execute(
            select(Handoff.priority, func.count())
            .join(Conversation, Conversation.id == Handoff.conversation_id)
            .where(Conversation.state == State.QUEUED.value, Handoff.status == HandoffStatus.OPEN.value)
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
        for priority, counts in sorted(snap.delay_buckets.items()):
            buckets: list[tuple[str, float]] = [(_le(b), float(n)) for b, n in zip(DELAY_BUCKETS, counts[:-1], strict=True)]
            buckets.append(("+Inf", float(counts[-1])))
            hist.add_metric([priority], buckets, snap.delay_sums.get(priority, 0.0))
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
