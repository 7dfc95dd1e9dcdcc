"""SQLAlchemy models of the gateway store (written in the 1.4 style; run on 2.x). Times are naive UTC."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import declarative_base

from handoff.domain.states import MessageStatus

Base: Any = declarative_base()

CONVERSATION_STATES = ("bot", "queued", "assigned", "escalated_l3", "resolved")
AGENT_ROLES = ("l2", "l3", "lead", "designer")


def utcnow() -> datetime:
    """Naive UTC now, the one clock of the store."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Contact(Base):
    """A customer record from the business backend; the client never supplies these fields."""

    __tablename__ = "contacts"
    id = Column(String(64), primary_key=True)
    email = Column(String(320), nullable=False, default="")
    name = Column(String(200), nullable=False, default="")
    tier = Column(String(32), nullable=False, default="free")
    plan = Column(String(32), nullable=False, default="free")
    mrr = Column(Float, nullable=False, default=0.0)
    renewal_date: Column[date] = Column(Date, nullable=True)
    status = Column(String(32), nullable=False, default="active")
    created_at = Column(DateTime, nullable=False, default=utcnow)


class Agent(Base):
    """A human agent (L2, L3 or lead) with a hashed password."""

    __tablename__ = "agents"
    id = Column(Integer, primary_key=True, autoincrement=True)
    email = Column(String(320), nullable=False, unique=True)
    name = Column(String(200), nullable=False)
    password_hash = Column(String(255), nullable=False)
    role = Column(String(16), nullable=False, default="l2")
    team = Column(String(64), nullable=False, default="general")
    skills = Column(JSON, nullable=False, default=list)
    languages = Column(JSON, nullable=False, default=list)
    capacity = Column(Integer, nullable=False, default=3)
    status = Column(String(16), nullable=False, default="offline")
    last_seen_at = Column(DateTime, nullable=True)
    created_at = Column(DateTime, nullable=False, default=utcnow)


class Conversation(Base):
    """One customer conversation; ``id`` is the server-issued session id."""

    __tablename__ = "conversations"
    id = Column(String(64), primary_key=True)
    state = Column(String(16), nullable=False, default="bot")
    customer_id = Column(String(64), nullable=True)
    customer_email = Column(String(320), nullable=True)
    customer_name = Column(String(200), nullable=True)
    verified = Column(Boolean, nullable=False, default=False)
    assigned_agent_id = Column(Integer, ForeignKey("agents.id"), nullable=True)
    team = Column(String(64), nullable=True)
    last_seq = Column(Integer, nullable=False, default=0)
    follow_up_email = Column(String(320), nullable=True)
    # The customer's language as decided from their messages (handoff.domain.language); None while undecided.
    language = Column(String(8), nullable=True)
    stale_alerted = Column(Boolean, nullable=False, default=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    updated_at = Column(DateTime, nullable=False, default=utcnow)
    __table_args__ = (Index("ix_conversations_state", "state"),)


class Message(Base):
    """A message of a conversation, ordered by ``seq`` (1, 2, 3... per conversation)."""

    __tablename__ = "messages"
    id = Column(String(32), primary_key=True)
    conversation_id = Column(String(64), ForeignKey("conversations.id"), nullable=False)
    seq = Column(Integer, nullable=False)
    sender = Column(String(16), nullable=False)
    agent_id = Column(Integer, ForeignKey("agents.id"), nullable=True)
    text = Column(Text, nullable=True)
    payload = Column(JSON, nullable=True)
    client_id = Column(String(64), nullable=True)
    status = Column(String(16), nullable=False, default=MessageStatus.DONE.value)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq", name="uq_messages_conversation_seq"),
        UniqueConstraint("conversation_id", "client_id", name="uq_messages_conversation_client"),
    )


class Handoff(Base):
    """A request for a human, with its priority, SLA deadline and summary (context block)."""

    __tablename__ = "handoffs"
    id = Column(Integer, primary_key=True, autoincrement=True)
    conversation_id = Column(String(64), ForeignKey("conversations.id"), nullable=False)
    status = Column(String(16), nullable=False, default="open")
    reason = Column(String(32), nullable=False)
    priority = Column(String(16), nullable=False, default="normal")
    priority_rank = Column(Integer, nullable=False, default=2)
    sla_deadline = Column(DateTime, nullable=False)
    skills = Column(JSON, nullable=False, default=list)
    summary = Column(JSON, nullable=False, default=dict)
    agent_id = Column(Integer, ForeignKey("agents.id"), nullable=True)
    resolution_code = Column(String(64), nullable=True)
    l3 = Column(JSON, nullable=True)
    sla_warned = Column(Boolean, nullable=False, default=False)
    sla_breached = Column(Boolean, nullable=False, default=False)
    stale_alerted = Column(Boolean, nullable=False, default=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    assigned_at = Column(DateTime, nullable=True)
    closed_at = Column(DateTime, nullable=True)
    __table_args__ = (Index("ix_handoffs_status_rank", "status", "priority_rank", "sla_deadline"),)


class L3Escalation(Base):
    """One escalation to L3: the definition of ready, the customer impact, its L3 SLA and what L3 sent back."""

    __tablename__ = "l3_escalations"
    id = Column(Integer, primary_key=True, autoincrement=True)
    conversation_id = Column(String(64), ForeignKey("conversations.id"), nullable=False)
    handoff_id = Column(Integer, ForeignKey("handoffs.id"), nullable=True)
    status = Column(String(16), nullable=False, default="waiting")
    priority = Column(String(16), nullable=False, default="normal")
    priority_rank = Column(Integer, nullable=False, default=2)
    impact_scope = Column(String(32), nullable=False)
    impact_urgency = Column(String(16), nullable=False)
    impact_note = Column(Text, nullable=True)
    ready = Column(JSON, nullable=False, default=dict)  # the definition of ready: repro_steps, logs, environment...
    escalated_by = Column(Integer, ForeignKey("agents.id"), nullable=True)
    escalated_at = Column(DateTime, nullable=False, default=utcnow)
    sla_deadline = Column(DateTime, nullable=False)
    sla_warned = Column(Boolean, nullable=False, default=False)
    sla_breached = Column(Boolean, nullable=False, default=False)
    claimed_by = Column(Integer, ForeignKey("agents.id"), nullable=True)
    claimed_at = Column(DateTime, nullable=True)
    last_activity_at = Column(DateTime, nullable=False, default=utcnow)
    stale_alerted = Column(Boolean, nullable=False, default=False)
    returned_by = Column(Integer, ForeignKey("agents.id"), nullable=True)
    returned_at = Column(DateTime, nullable=True)
    outcome = Column(JSON, nullable=True)  # resolution, root_cause, workaround, customer_update
    __table_args__ = (
        Index("ix_l3_status_rank", "status", "priority_rank", "sla_deadline"),
        Index("ix_l3_conversation", "conversation_id", "id"),
    )


class Event(Base):
    """Append-only lifecycle row: every state change, who did it, when and why."""

    __tablename__ = "events"
    id = Column(Integer, primary_key=True, autoincrement=True)
    conversation_id = Column(String(64), ForeignKey("conversations.id"), nullable=True)
    type = Column(String(32), nullable=False)
    actor = Column(String(64), nullable=False)
    reason = Column(String(64), nullable=True)
    data = Column(JSON, nullable=False, default=dict)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    __table_args__ = (Index("ix_events_conversation", "conversation_id", "id"),)


class Note(Base):
    """A private agent note on a conversation (never shown to the customer)."""

    __tablename__ = "notes"
    id = Column(Integer, primary_key=True, autoincrement=True)
    conversation_id = Column(String(64), ForeignKey("conversations.id"), nullable=False)
    agent_id = Column(Integer, ForeignKey("agents.id"), nullable=True)
    text = Column(Text, nullable=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)


class CannedReply(Base):
    """A reusable reply, stored per team."""

    __tablename__ = "canned_replies"
    id = Column(Integer, primary_key=True, autoincrement=True)
    team = Column(String(64), nullable=False, default="general")
    title = Column(String(200), nullable=False)
    text = Column(Text, nullable=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)


class LoginFailure(Base):
    """A failed agent login (by email and client IP): the lockout counts these, so it holds across gateways."""

    __tablename__ = "login_failures"
    id = Column(Integer, primary_key=True, autoincrement=True)
    email = Column(String(320), nullable=False)
    ip = Column(String(64), nullable=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    __table_args__ = (
        Index("ix_login_failures_email", "email", "created_at"),
        Index("ix_login_failures_ip", "ip", "created_at"),
    )
