"""A realistic conversation history as event rows, so the dashboard and the predictor have data on a fresh install.

Each simulated conversation writes what a real one writes (``created``, ``engaged``, ``identity_verified``, the
hand-off lifecycle: ``queued`` / ``assigned`` / ``first_reply`` / ``resolved`` / ``csat``, ``handback``,
``context_loss``, ``sla_breach``, ``recontact``) plus one ``bot_turn`` event per bot reply: the NLU intent and its
confidence, the strike count and the message sentiment, i.e. the features the escalation predictor reads.

Outcomes are drawn from a latent "difficulty" that the features reveal only partly (low confidence, strikes,
falling sentiment, enterprise/business tier, a repeat contact within 7 days, intents that are L2 work by nature),
plus noise: a model can learn them, but not perfectly. Ids start with ``sim_`` so the rows can be told apart and
removed (``--reset``). Times are spread over the last ``days`` days, more on weekdays and office hours.
"""

from __future__ import annotations

import math
import random
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select

from handoff.domain.states import EventType, State
from handoff.storage.db import Database
from handoff.storage.models import Agent, Contact, Conversation, Event, utcnow

SIM_PREFIX = "sim_"
CUSTOMERS_PER_TIER = 60  # simulated customers (contacts ``sim_cus_*``), so repeat contacts happen at a realistic rate

# intent -> (share of conversations, base difficulty: how often it ends with a human)
INTENTS: dict[str, tuple[float, float]] = {
    "reset_password": (0.20, -1.6),
    "account_locked": (0.07, -0.6),
    "create_account": (0.06, -1.8),
    "update_account": (0.08, -1.3),
    "close_account": (0.04, 0.2),
    "billing_invoice": (0.12, -1.5),
    "billing_refund": (0.09, -0.2),
    "billing_charge_dispute": (0.05, 0.6),
    "billing_payment_method": (0.07, -1.2),
    "technical_issue": (0.10, 0.5),
    "case_status": (0.04, -0.8),
    "out_of_scope": (0.04, -0.4),
    "request_human": (0.04, 3.0),
}
TIERS: dict[str, tuple[float, float]] = {  # tier -> (share, difficulty offset)
    "anonymous": (0.35, -0.2),
    "free": (0.15, -0.4),
    "pro": (0.25, 0.0),
    "business": (0.15, 0.3),
    "enterprise": (0.10, 0.6),
}
REASON_BY_CAUSE = ("three_strikes", "frustration", "customer_request", "technical_issue", "low_confidence", "policy")


@dataclass
class SimConversation:
    """One simulated conversation before it is written as events."""

    id: str
    start: datetime
    tier: str
    customer_id: str | None
    intent: str
    repeat: bool
    turns: list[dict[str, Any]] = field(default_factory=list)
    escalated_at_turn: int | None = None
    reason: str | None = None


def _choice(rng: random.Random, table: dict[str, tuple[float, float]]) -> str:
    names = list(table)
    return rng.choices(names, weights=[table[n][0] for n in names])[0]


def _start_time(rng: random.Random, now: datetime, days: int) -> datetime:
    while True:
        at = now - timedelta(seconds=rng.uniform(0, days * 86400))
        weight = (1.0 if at.weekday() < 5 else 0.45) * (1.0 if 7 <= at.hour < 19 else 0.35)
        if rng.random() < weight:
            return at.replace(microsecond=0)


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def simulate_conversation(
    rng: random.Random, start: datetime, customers: dict[str, list[str]], recent: dict[str, datetime]
) -> SimConversation:
    """Draw one conversation: its turns and whether (and when, and why) it needs a human."""
    tier = _choice(rng, TIERS)
    customer_id = rng.choice(customers[tier]) if tier != "anonymous" and customers.get(tier) else None
    repeat = bool(customer_id and customer_id in recent and start - recent[customer_id] <= timedelta(days=7))
    intent = _choice(rng, INTENTS)
    conv = SimConversation(f"{SIM_PREFIX}{secrets.token_hex(12)}", start, tier, customer_id, intent, repeat)
    # Latent difficulty: partly visible through the features, partly noise.
    difficulty = INTENTS[intent][1] + TIERS[tier][1] + (0.9 if repeat else 0.0) + rng.gauss(0, 0.8)
    n_turns = max(1, min(12, int(rng.gauss(3 + max(0.0, difficulty), 1.3))))
    strikes = 0
    sentiment = rng.gauss(0.1, 0.25)
    at = start + timedelta(seconds=rng.uniform(5, 40))
    for turn in range(1, n_turns + 1):
        turn_intent = intent if turn == 1 or rng.random() < 0.6 else rng.choice(("inform", "affirm", "deny", intent))
        confidence = min(0.99, max(0.15, rng.gauss(0.9 - 0.12 * max(0.0, difficulty), 0.12)))
        if confidence < 0.7 and rng.random() < 0.75:
            strikes += 1
        elif rng.random() < _sigmoid(difficulty - 2.2):
            strikes += 1  # a step that did not work
        sentiment = max(-1.0, min(1.0, sentiment + rng.gauss(-0.08 * difficulty - 0.05 * strikes, 0.15)))
        conv.turns.append(
            {
                "turn": turn,
                "tier": tier,
                "intent": turn_intent,
                "confidence": round(confidence, 3),
                "strikes": strikes,
                "sentiment": round(sentiment, 3),
                "at": at,
            }
        )
        at += timedelta(seconds=rng.uniform(8, 90))
        if intent == "request_human" and turn >= 1 and rng.random() < 0.85:
            conv.escalated_at_turn, conv.reason = turn, "customer_request"
            break
        if strikes >= 3:
            conv.escalated_at_turn, conv.reason = turn, "three_strikes"
            break
        if sentiment < -0.55 and rng.random() < 0.6:
            conv.escalated_at_turn, conv.reason = turn, "frustration"
            break
        hazard = _sigmoid(difficulty - 2.6 + 0.25 * turn)
        if rng.random() < hazard * 0.5:
            reason = "technical_issue" if intent == "technical_issue" else rng.choice(REASON_BY_CAUSE[2:])
            conv.escalated_at_turn, conv.reason = turn, reason
            break
    if customer_id:
        recent[customer_id] = start
    return conv


def _events(rng: random.Random, conv: SimConversation, agents: list[int]) -> list[Event]:
    def ev(at: datetime, type_: EventType, actor: str, reason: str | None = None, **data: Any) -> Event:
        return Event(conversation_id=conv.id, type=type_.value, actor=actor, reason=reason, data=data, created_at=at)

    rows = [
        ev(conv.start, EventType.CREATED, "customer"),
        ev(conv.start + timedelta(seconds=3), EventType.ENGAGED, "customer"),
    ]
    if conv.customer_id:
        verified_at = conv.start + timedelta(seconds=2)
        rows.append(ev(verified_at, EventType.IDENTITY_VERIFIED, "customer", customer_id=conv.customer_id))
    if conv.repeat and rng.random() < 0.4:
        rows.append(ev(conv.start + timedelta(seconds=4), EventType.RECONTACT, "customer", "case_status", case_state="open"))
    for t in conv.turns:
        data = {k: v for k, v in t.items() if k != "at"}
        rows.append(ev(t["at"], EventType.BOT_TURN, "bot", **data))
    if conv.escalated_at_turn is None:
        return rows
    at = conv.turns[-1]["at"] + timedelta(seconds=2)
    fast = conv.tier == "enterprise" or conv.reason == "frustration"
    priority = "high" if fast else rng.choice(("normal", "normal", "normal", "low"))
    queued = {"from": State.BOT.value, "to": State.QUEUED.value, "priority": priority, "intent": conv.intent,
              "tier": conv.tier, "simulated": True}
    rows.append(ev(at, EventType.QUEUED, "bot", conv.reason, **queued))
    agent = rng.choice(agents) if agents else 1
    wait = rng.lognormvariate(math.log(240 if priority == "high" else 900), 0.8)
    if at + timedelta(seconds=wait) > utcnow():
        return rows  # still waiting
    rows.append(ev(at + timedelta(seconds=wait * 0.8), EventType.ASSIGNED, f"agent:{agent}", "claim", agent_id=agent))
    rows.append(ev(at + timedelta(seconds=wait), EventType.FIRST_REPLY, f"agent:{agent}", agent_id=agent, priority=priority))
    if wait > (1800 if priority == "high" else 4 * 3600):
        rows.append(ev(at + timedelta(seconds=wait + 1), EventType.SLA_BREACH, "system", priority))
    if rng.random() < 0.07:
        rows.append(ev(at + timedelta(seconds=wait + 60), EventType.CONTEXT_LOSS, f"agent:{agent}", "had_to_ask_again"))
    if rng.random() < 0.1:
        rows.append(ev(at + timedelta(seconds=wait + 90), EventType.TRANSFERRED, f"agent:{agent}", "to_agent"))
    end = at + timedelta(seconds=wait + rng.uniform(300, 2400))
    if rng.random() < 0.08:
        rows.append(ev(end, EventType.HANDBACK, f"agent:{agent}", "handback", coaching_note="ask for the invoice id first"))
    else:
        rows.append(ev(end, EventType.RESOLVED, f"agent:{agent}", "fixed"))
        if rng.random() < 0.5:
            score = max(1, min(5, round(rng.gauss(4.3 - (0.8 if wait > 1800 else 0), 0.8))))
            rows.append(ev(end + timedelta(seconds=30), EventType.CSAT, "customer", score=score))
    return rows


async def simulate(
    db: Database, days: int = 30, per_day: int = 40, seed: int | None = None, now: datetime | None = None
) -> dict[str, int]:
    """Write ``days`` days of simulated conversations (about ``per_day`` a day) ending at ``now`` into the store.

    With ``seed`` and ``now`` both given the history is the same on every run.
    """
    rng = random.Random(seed)
    now = now or utcnow()
    async with db.write() as s:
        customers: dict[str, list[str]] = {}
        simulated = Contact.id.startswith(f"{SIM_PREFIX}cus_", autoescape=True)
        existing = set(await s.scalars(select(Contact.id).where(simulated)))
        for tier in TIERS:
            if tier == "anonymous":
                continue
            ids = [f"{SIM_PREFIX}cus_{tier}_{n}" for n in range(CUSTOMERS_PER_TIER)]
            for cid in ids:
                if cid not in existing:
                    s.add(Contact(id=cid, email=f"{cid}@example.com", name=f"Simulated {tier} {cid[-2:]}", tier=tier,
                                  plan=tier, mrr=0.0, status="active"))
            customers[tier] = ids
        agents = list(await s.scalars(select(Agent.id).order_by(Agent.id)))
    starts = sorted(_start_time(rng, now, days) for _ in range(days * per_day))
    recent: dict[str, datetime] = {}
    convs = [simulate_conversation(rng, at, customers, recent) for at in starts]
    n_events = 0
    async with db.write() as s:
        for conv in convs:
            rows = _events(rng, conv, agents)
            # Still-waiting simulated escalations stay out of the live queue (they have no Handoff row).
            state = State.RESOLVED.value if rows[-1].type in (EventType.RESOLVED, EventType.CSAT) else State.BOT.value
            last = max(r.created_at for r in rows)
            s.add(
                Conversation(id=conv.id, state=state, customer_id=conv.customer_id,
                             verified=conv.customer_id is not None, created_at=conv.start, updated_at=last)
            )
            await s.flush()
            s.add_all(rows)
            n_events += len(rows)
    return {
        "conversations": len(convs),
        "escalated": sum(c.escalated_at_turn is not None for c in convs),
        "events": n_events,
    }


async def reset(db: Database) -> int:
    """Remove every simulated conversation, its events and the simulated contacts.

    ``startswith(..., autoescape=True)`` escapes the ``_`` of ``sim_``: a bare ``LIKE 'sim_%'`` would also match (and
    delete) a real conversation whose server-issued id happens to start with "sim" and any character.
    """
    opts = {"synchronize_session": False}
    async with db.write() as s:
        await s.execute(
            delete(Event).where(Event.conversation_id.startswith(SIM_PREFIX, autoescape=True)).execution_options(**opts)
        )
        result = await s.execute(
            delete(Conversation).where(Conversation.id.startswith(SIM_PREFIX, autoescape=True)).execution_options(**opts)
        )
        await s.execute(delete(Contact).where(Contact.id.startswith(SIM_PREFIX, autoescape=True)).execution_options(**opts))
    return int(result.rowcount or 0)
