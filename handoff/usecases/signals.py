"""Events the metrics need beyond state changes: engagement, an agent's first reply, bot signals.

The bot sends two signals besides ``custom.handoff``: ``custom.nlu_miss`` (a message it did not understand, for the
designer's review) and ``custom.case_status`` (the customer asked "what's happening with my case?": a re-contact,
answered here because the gateway owns the cases). Every one becomes an append-only event row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from contract.redact import redact
from handoff.domain.states import EventType, State
from handoff.storage import agents as agent_store
from handoff.storage import conversations as conversation_store
from handoff.storage import events as event_store
from handoff.storage import handoffs as handoff_store
from handoff.storage import messages as message_store
from handoff.storage.models import utcnow

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

SIGNAL_KEYS = frozenset({"handoff", "nlu_miss", "case_status"})
MISS_KINDS = ("nlu_fallback", "out_of_scope", "clarification_rejected")


def is_signal(custom: Any) -> bool:
    """Whether a Rasa ``custom`` payload is meant for the gateway (never shown to the customer)."""
    return isinstance(custom, dict) and bool(SIGNAL_KEYS & custom.keys())


async def mark_engaged(s: AsyncSession, conversation_id: str, seq: int) -> None:
    """An ``engaged`` event on the customer's first message (the containment denominator)."""
    if not await message_store.has_customer_message_before(s, conversation_id, seq):
        await event_store.add_event(s, conversation_id, EventType.ENGAGED, "customer")


async def mark_first_reply(s: AsyncSession, conversation_id: str, agent_id: int) -> None:
    """A ``first_reply`` event on an agent's first message since the latest escalation (handoff delay)."""
    rows = await event_store.latest_queued_and_first_replies(s, conversation_id, limit=20)
    for type_, data, created_at in rows:
        if type_ == EventType.FIRST_REPLY:
            return
        if (data or {}).get("from") in (State.BOT, State.RESOLVED):
            delay = max(0.0, (utcnow() - created_at).total_seconds())
            await event_store.add_event(
                s,
                conversation_id,
                EventType.FIRST_REPLY,
                f"agent:{agent_id}",
                data={"agent_id": agent_id, "priority": (data or {}).get("priority"), "delay_seconds": round(delay, 3)},
            )
            return


def clean_miss(raw: Any) -> dict[str, Any] | None:
    """The ``nlu_miss`` signal, checked and redacted again (the gateway trusts no payload)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("text"), str) or not raw["text"].strip():
        return None
    kind = raw.get("kind") if raw.get("kind") in MISS_KINDS else "nlu_fallback"
    ranking = []
    for item in raw.get("ranking") or []:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            try:
                ranking.append({"name": item["name"][:64], "confidence": round(float(item.get("confidence") or 0), 3)})
            except (TypeError, ValueError):
                continue
    confidence = raw.get("confidence")
    return {
        "kind": kind,
        "text": redact(raw["text"])[:1000],
        "intent": str(raw.get("intent") or kind)[:64],
        "confidence": round(float(confidence), 3) if isinstance(confidence, (int, float)) else None,
        "ranking": ranking[:5],
    }


async def record_miss(s: AsyncSession, conversation_id: str, raw: Any) -> None:
    """Keep a misunderstood message for the designer's review."""
    miss = clean_miss(raw)
    if miss is not None:
        await event_store.add_event(s, conversation_id, EventType.NLU_MISS, "bot", miss["kind"], miss)


STATUS_TEXT = {
    "open": "is waiting in our support queue; the next available agent will pick it up",
    "assigned": "is with {agent}, who will reply here",
    "escalated_l3": "is with our engineering team (L3), who have everything we found; we'll update you here",
    "resolved": "was resolved",
    "handed_back": "was handed back to me",
}


async def case_status(s: AsyncSession, conversation_id: str) -> tuple[str, dict[str, Any]]:
    """The status text of the customer's latest case, and the ``recontact`` event data (event written here)."""
    conv = await conversation_store.get_conversation(s, conversation_id)
    candidates = [conversation_id]
    if conv is not None and conv.verified and conv.customer_id:
        candidates = [c["id"] for c in await conversation_store.customer_conversations(s, conv.customer_id)] or candidates
    case = None
    for cid in candidates:
        handoffs = await handoff_store.handoffs_for(s, cid)
        if handoffs:
            case = (cid, handoffs[-1])
            break
    if case is None:
        text = "I can't find a case with our team for you yet. If you'd like a person to look into something, just say so."
        data: dict[str, Any] = {"case_conversation_id": None, "case_state": None}
    else:
        cid, handoff = case
        agent = await agent_store.get_agent(s, handoff.agent_id) if handoff.agent_id else None
        problem = str(handoff.summary.get("problem") or "your request").split(";")[0].rstrip(".")
        when = handoff.created_at.strftime("%d %b %H:%M UTC")
        status = STATUS_TEXT.get(handoff.status, "is open").format(agent=agent.name if agent else "an agent")
        if handoff.status == "resolved" and handoff.resolution_code:
            status += f" ({handoff.resolution_code.replace('_', ' ')})"
        text = f"Your case from {when} ({problem}) {status}."
        data = {"case_conversation_id": cid, "case_state": handoff.status}
    await event_store.add_event(s, conversation_id, EventType.RECONTACT, "customer", "case_status", data)
    return text, data
