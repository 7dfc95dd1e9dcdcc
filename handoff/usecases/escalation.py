"""Escalation prediction in live conversations: after each bot turn, offer a person early when it looks needed.

After the bot's replies to a customer message are out (a background task: the customer never waits for this), the
gateway reads the Rasa tracker (slots and the latest message's NLU), writes a ``bot_turn`` event row with the fields
the simulator writes (so live history trains the same model), and scores the conversation so far with the
``Predictor`` (trained model, or the cold-start rule). Above the threshold, once per case, it offers a person
(``early_offer`` event). Accepting sends ``/request_human`` (the bot hands off with reason ``customer_request``,
routed to a senior agent, see ``predicted_handoff``); declining is answered here and never reaches Rasa (the bot's
``deny`` means "the step did not work", a strike).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from handoff.domain.escalation_risk import turn_features
from handoff.domain.records import EventRecord, MessageRecord
from handoff.domain.routing import SENIOR
from handoff.domain.states import EventType, MessageStatus, State
from handoff.storage import conversations as conversation_store
from handoff.storage import events as event_store
from handoff.storage import messages as message_store
from handoff.usecases.rasa_client import RasaUnavailable

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger(__name__)

ACCEPT_PAYLOAD = "/request_human"
DECLINE_PAYLOAD = "/keep_going"
OFFER_TEXT = "It looks like this might need a person. Would you like me to bring someone in now?"
DECLINED_TEXT = "Sure, let's keep going."
OFFER_REPLIES = [
    {"content_type": "text", "title": "Yes, a person please", "payload": ACCEPT_PAYLOAD},
    {"content_type": "text", "title": "No, keep going", "payload": DECLINE_PAYLOAD},
]
SENIOR_SKILL = SENIOR


def current_case(events: list[EventRecord]) -> list[EventRecord]:
    """The events since the conversation's latest hand-off (a reopened conversation is a new case)."""
    start = max((i for i, e in enumerate(events) if e.type == EventType.QUEUED), default=-1)
    return events[start + 1 :]


def turn_row(tracker: dict[str, Any], turn: int) -> dict[str, Any]:
    """The ``bot_turn`` event data from a Rasa tracker (the simulator's fields)."""

    def obj(parent: dict[str, Any], key: str) -> dict[str, Any]:
        value = parent.get(key)
        return value if isinstance(value, dict) else {}

    slots, latest = obj(tracker, "slots"), obj(tracker, "latest_message")
    intent, frustration = obj(latest, "intent"), obj(latest, "frustration")

    def number(value: Any) -> float:
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0

    return {
        "turn": turn,
        "tier": str(slots.get("customer_tier") or "anonymous"),
        "intent": str(intent.get("name") or ""),
        "confidence": round(number(intent.get("confidence")), 3),
        "strikes": int(number(slots.get("strikes"))),
        "sentiment": round(number(frustration.get("sentiment")), 3),
    }


async def _repeat_contact(s: AsyncSession, conversation_id: str) -> bool:
    """Whether the verified customer had another conversation in the 7 days before this one."""
    conv = await conversation_store.get_conversation(s, conversation_id)
    if conv is None or not conv.verified or not conv.customer_id:
        return False
    return await conversation_store.customer_has_other_conversation(
        s, conv.customer_id, conversation_id, conv.created_at - timedelta(days=7), conv.created_at
    )


async def after_bot_turn(gw: Any, conversation_id: str, customer_seq: int) -> None:
    """Record the bot turn that answered message ``customer_seq`` and offer a person if the prediction says so."""
    try:
        tracker = await gw.rasa.tracker(conversation_id)
    except RasaUnavailable as exc:
        log.warning("conversation %s: no escalation prediction (%s)", conversation_id, exc)
        return
    async with gw.sequencer.lock(conversation_id):
        async with gw.db.write() as s:
            conv = await conversation_store.get_conversation(s, conversation_id)
            newer = await message_store.messages_after(s, conversation_id, customer_seq)
            if conv is None or conv.state != State.BOT or any(m.sender == "customer" for m in newer):
                return  # handed off meanwhile, or the customer already wrote again: that turn is scored instead
            case = current_case(await event_store.events_for(s, conversation_id))
            turns = [e.data for e in case if e.type == EventType.BOT_TURN]
            row = turn_row(tracker, len(turns) + 1)
            if gw.rasa.model_id:
                row["model"] = gw.rasa.model_id  # the version that answered: containment per intent per model
            await event_store.add_event(s, conversation_id, EventType.BOT_TURN, "bot", data=row)
            turns.append(row)
            if any(e.type == EventType.EARLY_OFFER for e in case):
                return
            features = turn_features(turns, row["tier"], await _repeat_contact(s, conversation_id))
            probability, source = gw.predictor.probability(features)
            if probability < gw.predictor.threshold:
                return
            await event_store.add_event(
                s,
                conversation_id,
                EventType.EARLY_OFFER,
                "system",
                data={"probability": round(probability, 4), "source": source, "turn": row["turn"]},
            )
            payload = {"metadata": {"sender": "bot"}, "quick_replies": OFFER_REPLIES}
            offer = await message_store.append_message(s, conversation_id, "bot", OFFER_TEXT, payload=payload)
        log.info("conversation %s: early offer of a person (p=%.2f, %s)", conversation_id, probability, source)
        await gw.publish(offer)


async def handle_decline(gw: Any, m: MessageRecord) -> bool:
    """Answer "No, keep going" after an early offer here (never sent to Rasa); False for any other message."""
    if (m.text or "").strip() != DECLINE_PAYLOAD:
        return False
    async with gw.db.write() as s:
        await event_store.add_event(s, m.conversation_id, EventType.EARLY_OFFER_DECLINED, "customer")
        await message_store.set_message_status(s, m.id, MessageStatus.DONE)
    await gw.say(m.conversation_id, DECLINED_TEXT, sender="bot")
    return True


def predicted_handoff(events: list[EventRecord], reason: str) -> dict[str, Any] | None:
    """The ``early_offer`` data when this hand-off is the customer accepting it (then: a senior agent), else None."""
    if reason != "customer_request":
        return None
    offer = next((e for e in reversed(current_case(events)) if e.type == EventType.EARLY_OFFER), None)
    return dict(offer.data) if offer is not None else None
