"""L3 as a tier: the definition of ready, customer impact, the L3 priority and SLA, staleness, the return to L2.

An L2 agent reaches L3 only by escalating with the definition of ready (steps to reproduce, logs, environment,
timestamps) and the customer impact (who is affected, how urgent); transferring to the L3 team or to an L3 engineer
is refused on every path (REST and socket), so nothing reaches engineering without them. An escalation waits in
the L3 queue (most urgent first, with its own SLA to be claimed), is claimed by an L3 engineer (or auto-assigned),
goes stale when the engineer leaves it untouched too long, and returns to the L2 agent who escalated it with the
resolution, the root cause, a workaround and an update for the customer.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from enum import Enum

from handoff.domain.priority import bump
from handoff.domain.records import AgentRecord

# The definition of ready: what an L3 engineer needs to start without asking L2 again.
DOR_FIELDS = ("repro_steps", "logs", "environment", "timestamps")
# What L3 sends back to the L2 owner; ``workaround`` may be empty ("none"), the rest may not.
RETURN_FIELDS = ("resolution", "root_cause", "workaround", "customer_update")

# Why a transfer is refused: L3 is reached only with the definition of ready.
DOR_REQUIRED = (
    "L3 is reached only through Escalate to L3, with the definition of ready (steps to reproduce, logs, "
    "environment, timestamps) and the customer impact"
)
L3_TRANSFER_TO_L2 = "an L3 escalation goes back to L2 through Return to L2, with the root cause and the resolution"

# The team name that stands for L3 engineering (handoff.domain.routing.TEAMS).
L3_TEAM = "l3"

URGENCY_PRIORITY = {"critical": "urgent", "high": "high", "normal": "normal", "low": "low"}


class L3Status(str, Enum):
    """Where one L3 escalation is."""

    WAITING = "waiting"  # in the L3 queue
    CLAIMED = "claimed"  # an L3 engineer has it
    RETURNED = "returned"  # back with the L2 agent who escalated, with the root cause
    RESOLVED = "resolved"  # resolved while with L3 (the conversation closed there)

    def __str__(self) -> str:
        return str(self.value)


OPEN_L3 = (L3Status.WAITING, L3Status.CLAIMED)


def l3_priority(urgency: str, scope: str, fast_lane: bool) -> str:
    """The L3 queue's priority: the urgency L2 gave, one step up for an outage and one for a fast-lane customer."""
    level = URGENCY_PRIORITY.get(urgency, "normal")
    if scope == "all_customers":
        level = bump(level)
    if fast_lane:
        level = bump(level)
    return level


def l3_deadline(escalated_at: datetime, priority: str, sla_minutes: Mapping[str, float]) -> datetime:
    """When the escalation must have been claimed by L3."""
    minutes = float(sla_minutes.get(priority, sla_minutes["normal"]))
    return escalated_at + timedelta(minutes=minutes)


def stale_minutes(last_activity_at: datetime, now: datetime) -> float:
    """Minutes since the L3 engineer last did something visible on the escalation (claim, message, note)."""
    return (now - last_activity_at).total_seconds() / 60


def transfer_refusal(state: str, target_role: str) -> str | None:
    """Why a transfer of a conversation in ``state`` to an agent of ``target_role`` is refused (None: allowed).

    A team counts as the role of its members: the L3 team as ``l3``, the other teams as ``l2``. Leads take any
    conversation; designers none.
    """
    if target_role == "designer":
        return "conversation designers do not take conversations"
    if target_role == "lead":
        return None
    if state == "escalated_l3":
        return None if target_role == "l3" else L3_TRANSFER_TO_L2
    return DOR_REQUIRED if target_role == "l3" else None


def choose_engineer(agents: Iterable[AgentRecord]) -> AgentRecord | None:
    """The least-loaded online L3 engineer with free capacity (None when there is none)."""
    candidates = [a for a in agents if a.role == "l3" and a.status == "online" and a.load < a.capacity]
    return min(candidates, key=lambda a: (a.load / max(a.capacity, 1), a.load, a.id), default=None)
