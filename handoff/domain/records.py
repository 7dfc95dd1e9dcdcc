"""Plain records returned by the store (no ORM objects leave ``handoff/storage/``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any


def iso(value: datetime | date | None) -> str | None:
    """ISO 8601 for a naive-UTC datetime (with ``Z``) or a date."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.replace(microsecond=value.microsecond).isoformat(timespec="seconds") + "Z"
    return value.isoformat()


def _jsonable(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return iso(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


class _Record:
    def as_dict(self) -> dict[str, Any]:
        """JSON-safe dict of the record."""
        result: dict[str, Any] = _jsonable(asdict(self))  # type: ignore[call-overload]
        return result


@dataclass(frozen=True)
class ConversationRecord(_Record):
    """A conversation as the gateway sees it."""

    id: str
    state: str
    customer_id: str | None
    customer_email: str | None
    customer_name: str | None
    verified: bool
    assigned_agent_id: int | None
    team: str | None
    last_seq: int
    follow_up_email: str | None
    created_at: datetime
    updated_at: datetime
    language: str | None = None


@dataclass(frozen=True)
class MessageRecord(_Record):
    """One stored message."""

    id: str
    conversation_id: str
    seq: int
    sender: str
    text: str | None
    payload: dict[str, Any] | None
    agent_id: int | None
    client_id: str | None
    status: str
    created_at: datetime
    duplicate: bool = False


@dataclass(frozen=True)
class HandoffRecord(_Record):
    """A hand-off request and its routing data."""

    id: int
    conversation_id: str
    status: str
    reason: str
    priority: str
    priority_rank: int
    sla_deadline: datetime
    skills: list[str]
    summary: dict[str, Any]
    agent_id: int | None
    resolution_code: str | None
    l3: dict[str, Any] | None
    sla_warned: bool
    sla_breached: bool
    created_at: datetime
    assigned_at: datetime | None
    closed_at: datetime | None


@dataclass(frozen=True)
class L3EscalationRecord(_Record):
    """One escalation to L3 (handoff.domain.l3), with the names of the agents involved."""

    id: int
    conversation_id: str
    handoff_id: int | None
    status: str
    priority: str
    priority_rank: int
    impact_scope: str
    impact_urgency: str
    impact_note: str | None
    ready: dict[str, Any]
    escalated_by: int | None
    escalated_at: datetime
    sla_deadline: datetime
    sla_warned: bool
    sla_breached: bool
    claimed_by: int | None
    claimed_at: datetime | None
    last_activity_at: datetime
    stale_alerted: bool
    returned_by: int | None
    returned_at: datetime | None
    outcome: dict[str, Any]
    escalated_by_name: str | None = None
    claimed_by_name: str | None = None
    returned_by_name: str | None = None

    def view(self) -> dict[str, Any]:
        """The console's shape: the definition of ready and the outcome flattened into the escalation."""
        flat = self.as_dict()
        flat.update(flat.pop("ready"))
        flat.update(flat.pop("outcome"))
        return flat


@dataclass(frozen=True)
class AgentRecord(_Record):
    """An agent without the password hash."""

    id: int
    email: str
    name: str
    role: str
    team: str
    skills: list[str]
    languages: list[str]
    capacity: int
    status: str
    last_seen_at: datetime | None
    load: int = 0


@dataclass(frozen=True)
class ContactRecord(_Record):
    """A customer record from the business backend."""

    id: str
    email: str
    name: str
    tier: str
    plan: str
    mrr: float
    renewal_date: date | None
    status: str


@dataclass(frozen=True)
class EventRecord(_Record):
    """An append-only lifecycle event."""

    id: int
    conversation_id: str | None
    type: str
    actor: str
    reason: str | None
    data: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class NoteRecord(_Record):
    """A private note."""

    id: int
    conversation_id: str
    agent_id: int | None
    text: str
    created_at: datetime


@dataclass(frozen=True)
class CannedReplyRecord(_Record):
    """A canned reply of a team."""

    id: int
    team: str
    title: str
    text: str


@dataclass(frozen=True)
class QueueItem(_Record):
    """A queued conversation as the queue shows it: its place (1-based) and what an agent picks by."""

    position: int
    conversation_id: str
    customer_name: str | None
    reason: str
    priority: str
    sla_deadline: datetime
    skills: list[str]
    problem: str | None
    waiting_seconds: int
