"""Priority and SLA deadline of a hand-off: reason, sentiment, fast lane (tier/MRR/renewal), intent, wait."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from handoff.domain.records import ContactRecord
from handoff.settings import PRIORITIES, Settings

BASE_PRIORITY: dict[str, str] = {
    "frustration": "high",
    "fast_lane": "high",
    "bot_unavailable": "high",
    "backend_unavailable": "high",
    "technical_issue": "normal",
    "customer_request": "normal",
    "three_strikes": "normal",
    "low_confidence": "normal",
    "policy": "normal",
    "language": "normal",
    "barge_in": "normal",  # an agent already has it; the level only orders it among their own
}
MONEY_INTENTS = ("billing_charge_dispute", "billing_refund")
FRUSTRATION_THRESHOLD = 0.7
NEGATIVE_SENTIMENT = -0.5
LONG_WAIT_SECONDS = 600
FAST_LANE_MRR_FACTOR = 2.0
FAST_LANE_RENEWAL_DAYS = 30


@dataclass(frozen=True)
class Priority:
    """A priority level with the reasons that set it."""

    level: str
    rank: int
    reasons: tuple[str, ...]


def rank_of(level: str) -> int:
    """0 = urgent ... 3 = low."""
    return PRIORITIES.index(level) if level in PRIORITIES else PRIORITIES.index("normal")


def bump(level: str, steps: int = 1) -> str:
    """A level ``steps`` more urgent (never past urgent)."""
    return PRIORITIES[max(0, rank_of(level) - steps)]


def fast_lane_reasons(contact: ContactRecord | None, average_mrr: float, today: date) -> list[str]:
    """Why this customer is in the fast lane (empty when not)."""
    if contact is None:
        return []
    reasons: list[str] = []
    if contact.tier == "enterprise":
        reasons.append("enterprise tier")
    if average_mrr > 0 and contact.mrr >= FAST_LANE_MRR_FACTOR * average_mrr:
        reasons.append(f"MRR ${contact.mrr:,.0f} >= 2x average (${average_mrr:,.0f})")
    if contact.renewal_date is not None:
        days = (contact.renewal_date - today).days
        if 0 <= days <= FAST_LANE_RENEWAL_DAYS:
            reasons.append(f"renewal in {days} days")
    return reasons


def decide(
    reason: str,
    *,
    frustration: float = 0.0,
    sentiment_latest: float | None = None,
    fast_lane: list[str] | None = None,
    intent: str | None = None,
    waited_seconds: float = 0.0,
) -> Priority:
    """Combine the signals into one level; each signal bumps at most one step."""
    level = BASE_PRIORITY.get(reason, "normal")
    reasons = [f"{reason.replace('_', ' ')} -> {level}"]
    if fast_lane:
        level = bump(level)
        reasons.append("fast lane: " + ", ".join(fast_lane))
    if frustration >= FRUSTRATION_THRESHOLD or (sentiment_latest is not None and sentiment_latest <= NEGATIVE_SENTIMENT):
        if reason != "frustration":
            level = bump(level)
        reasons.append("customer is frustrated")
    if intent in MONEY_INTENTS:
        level = bump(level)
        reasons.append(f"money at stake ({intent})")
    if waited_seconds >= LONG_WAIT_SECONDS:
        level = bump(level)
        reasons.append(f"already waited {int(waited_seconds // 60)} min")
    return Priority(level, rank_of(level), tuple(reasons))


def sla_deadline(settings: Settings, level: str, now: datetime) -> datetime:
    """When an agent must have picked the hand-off up."""
    return now + timedelta(minutes=settings.sla_for(level))


def sla_warning_due(started: datetime, deadline: datetime, now: datetime, warn_fraction: float) -> bool:
    """Whether the last ``warn_fraction`` of the window from ``started`` to ``deadline`` has begun (L2 and L3 SLAs)."""
    window = (deadline - started).total_seconds()
    return now >= deadline - timedelta(seconds=window * warn_fraction)
