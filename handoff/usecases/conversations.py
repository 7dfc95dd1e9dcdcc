"""The customer pipeline: session, persist -> ack -> bot or human mode, hand-off, bot outage, CSAT."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
from datetime import date, timedelta
from typing import Any

from contract import handoff_payload
from contract.handoff_payload import HandoffPayload, InvalidHandoffPayload
from contract.redact import redact
from contract.vouch import vouch
from handoff import logref
from handoff.domain import access, language
from handoff.domain import events as ev
from handoff.domain.evidence import NOT_UNDERSTOOD_INTENTS
from handoff.domain.identity import ANONYMOUS, verify
from handoff.domain.priority import Priority, decide, fast_lane_reasons, rank_of, sla_deadline
from handoff.domain.records import ConversationRecord, MessageRecord
from handoff.domain.routing import skills_for, speakers
from handoff.domain.states import EventType, MessageStatus, Move, State
from handoff.domain.summary import SummaryInput, build_summary, render_text
from handoff.storage import agents as agent_store
from handoff.storage import contacts as contact_store
from handoff.storage import conversations as conversation_store
from handoff.storage import events as event_store
from handoff.storage import handoffs as handoff_store
from handoff.storage import messages as message_store
from handoff.storage.db import UNAVAILABLE_ERRORS
from handoff.storage.models import utcnow
from handoff.storage.rows import StoreError
from handoff.usecases import escalation, notices, signals
from handoff.usecases.gateway import Gateway, message_view
from handoff.usecases.rasa_client import RasaUnavailable

log = logging.getLogger(__name__)

SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
CSAT = re.compile(r'^\s*(?:/csat\{\s*"score"\s*:\s*"?([1-5])"?\s*\}|([1-5]))\s*$')
BOT_DOWN_TEXT = "I'm having trouble right now, I'm bringing in a person to help you."
MAX_CUSTOMER_ID = 64  # the conversations.customer_id column
MAX_EMAIL = 320
ALREADY_RATED_TEXT = "You already rated this conversation, thank you! If you need anything else, just write your question."


def new_session_id() -> str:
    """A fresh, unguessable session id (192 bits; logs show it only as ``logref.ref``)."""
    return secrets.token_urlsafe(logref.SESSION_ID_BYTES)


def idle_expired(gw: Gateway, conv: ConversationRecord) -> bool:
    """True when nothing happened in the conversation (a message, a state change) for ``session_idle_hours``."""
    return utcnow() - conv.updated_at > timedelta(hours=gw.settings.session_idle_hours)


async def open_session(gw: Gateway, requested: str | None) -> tuple[ConversationRecord, bool]:
    """Resume a known conversation or create one with a server-issued id; returns (conversation, resumed).

    A session id idle for longer than ``session_idle_hours`` is not resumed: the customer starts afresh, and the
    old conversation stays as it was for agents and metrics.
    """
    if isinstance(requested, str) and SESSION_ID.match(requested):
        async with gw.db.read() as s:
            conv = await conversation_store.get_conversation(s, requested)
        if conv is not None and not idle_expired(gw, conv):
            return conv, True
        if conv is not None:
            log.info("conversation %s: session idle since %s, not resumed", logref.ref(conv.id), conv.updated_at)
    async with gw.db.write() as s:
        conv = await conversation_store.create_conversation(s, new_session_id())
    log.info("conversation %s created", logref.ref(conv.id))
    return conv, False


async def history(gw: Gateway, conversation_id: str, last_seq: int) -> list[dict[str, Any]]:
    """Messages after ``last_seq`` as clients see them."""
    async with gw.db.read() as s:
        return [message_view(m) for m in await message_store.messages_after(s, conversation_id, last_seq)]


def parse_custom_data(data: dict[str, Any]) -> Any:
    """``customData`` (or Rasa's ``metadata``), possibly JSON-encoded."""
    raw = data.get("customData")
    if raw is None:
        raw = data.get("metadata")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return None
    return raw if isinstance(raw, dict) else None


async def receive(gw: Gateway, conversation_id: str, text: str, custom_data: Any, client_id: str | None) -> dict[str, Any]:
    """Persist a customer message, schedule its delivery in order, and return the ack."""
    identity = verify(custom_data, gw.settings.identity_secret) if custom_data else ANONYMOUS
    clean = redact(text)
    async with gw.sequencer.lock(conversation_id):
        async with gw.db.write() as s:
            if identity.verified and identity.customer_id:
                await conversation_store.set_identity(
                    s, conversation_id, identity.customer_id, identity.email, identity.name
                )
            m = await message_store.append_customer_message(s, conversation_id, clean, client_id, gw.pending_status)
            if not m.duplicate and conversation_id not in gw.engaged:
                await signals.mark_engaged(s, conversation_id, m.seq)
        if not m.duplicate:
            gw.engaged.add(conversation_id)
            await gw.publish(m)
    if not m.duplicate and m.status != MessageStatus.HUMAN:  # with a human in the chat, publishing it was the delivery
        gw.sequencer.submit(conversation_id, lambda: deliver(gw, m))
    return {"id": m.id, "seq": m.seq}


async def deliver(gw: Gateway, m: MessageRecord) -> None:
    """Route one customer message: Rasa in bot mode, agents in human mode (runs in order)."""
    async with gw.db.read() as s:
        conv = await conversation_store.get_conversation(s, m.conversation_id)
    if conv is None:
        return
    if conv.state == State.RESOLVED:
        if await _maybe_csat(gw, conv, m):
            return
        async with gw.db.write() as s:
            conv = await conversation_store.transition(s, conv.id, Move.REOPEN, actor="customer")
        await gw.set_state(conv.id, State.BOT)
        await _relay_to_bot(gw, conv, m, new_session=True)
        return
    if conv.state == State.BOT:
        if await _language_handoff(gw, conv, m):
            return
        if not await escalation.handle_decline(gw, m):
            await _relay_to_bot(gw, conv, m)
    else:
        await _to_humans(gw, conv, m)


async def _language_handoff(gw: Gateway, conv: ConversationRecord, m: MessageRecord) -> bool:
    """Weigh the message as evidence of the customer's language; in one the bot does not speak, hand off.

    True when the gateway answered (in that language) and queued the conversation for an agent who speaks it: the
    message does not go to the bot. Short or uncertain messages are no evidence (``handoff.domain.language.vote``).
    """
    if gw.language is None or not m.text:
        return False
    detection = await gw.language.detect(m.text)
    voted = language.vote(detection)
    if voted is None:
        return False
    async with gw.db.write() as s:
        await event_store.add_language_vote(s, conv.id, voted, detection.confidence, m.seq)
        decision = language.decide(await event_store.language_votes(s, conv.id))
        if decision.language is not None:
            await conversation_store.set_language(s, conv.id, decision.language, decision.messages)
        if decision.foreign:
            await message_store.set_message_status(s, m.id, MessageStatus.HUMAN)
    if not decision.foreign or decision.language is None:
        return False
    log.info("conversation %s: customer writes %s; handing off", logref.ref(conv.id), decision.language)
    await gw.say(conv.id, language.handoff_text(decision.language), sender="bot")
    await start_handoff(gw, conv.id, "language", None, actor="system")
    return True


async def _maybe_csat(gw: Gateway, conv: ConversationRecord, m: MessageRecord) -> bool:
    match = CSAT.match(m.text or "")
    if not match:
        return False
    score = int(match.group(1) or match.group(2))
    async with gw.db.write() as s:
        recorded = await event_store.add_csat(s, conv.id, {"score": score})
        await message_store.set_message_status(s, m.id, MessageStatus.DONE)
    # A rating counts once; more digits (or quick replies) after it are answered, not counted.
    await gw.say(conv.id, "Thank you for your feedback!" if recorded else ALREADY_RATED_TEXT, sender="bot")
    return True


async def _to_humans(gw: Gateway, conv: ConversationRecord, m: MessageRecord) -> None:
    async with gw.db.write() as s:
        await message_store.set_message_status(s, m.id, MessageStatus.HUMAN)
    if conv.state != State.QUEUED:
        return  # an agent has it: publishing the message was the delivery
    if not conv.follow_up_email:
        found = EMAIL.search(m.text or "")
        if found:
            async with gw.db.write() as s:
                await conversation_store.set_follow_up_email(s, conv.id, found.group(0))
            await gw.say(
                conv.id,
                f"Thanks, we'll follow up at {found.group(0)} if no one can get to you in time. "
                "You keep your place in the queue.",
            )
            return
    await acknowledge_queued(gw, conv.id, m.text or "")


async def acknowledge_queued(gw: Gateway, conversation_id: str, text: str) -> None:
    """Answer a message written while queued (the customer is not talking to nobody), not every one of a burst.

    The last acknowledgement is an event row (``queue_ack`` with the position told), so every gateway of a scaled
    deployment sees it: at most one per ``notices.ACK_INTERVAL_SECONDS``, unless the position changed meanwhile.
    """
    online = await gw.online_agents()
    available = notices.availability(online, gw.business_open())
    position = await gw.queue_position(conversation_id, online)
    place = position["position"] if position else None
    async with gw.db.write() as s:
        events = await event_store.events_for(s, conversation_id)
        last = next((e for e in reversed(events) if e.type == EventType.QUEUE_ACK), None)
        previous = (last.created_at.timestamp(), last.data.get("position")) if last is not None else None
        if not notices.should_ack(previous, utcnow().timestamp(), place):
            return
        await event_store.add_event(s, conversation_id, EventType.QUEUE_ACK, "system", data={"position": place})
    await gw.say(conversation_id, notices.ack_text(text, place, available))


def metadata_for(conv: ConversationRecord, vouch_secret: str, *, person_declined: bool = False) -> dict[str, Any]:
    """Metadata sent to Rasa with every message: a verified customer goes with the gateway's voucher.

    ``person_declined``: the customer said "No, keep going" to the early offer of a person in this case (the
    bot's three-strike rule respects it); the key is present only then.
    """
    customer = (
        vouch(vouch_secret, conv.id, {"id": conv.customer_id, "email": conv.customer_email, "name": conv.customer_name})
        if conv.verified
        else None
    )
    metadata: dict[str, Any] = {"channel": "widget", "conversation_id": conv.id, "customer": customer}
    if person_declined:
        metadata["person_declined"] = True
    return metadata


def reply_payload(reply: dict[str, Any]) -> tuple[str | None, dict[str, Any]] | None:
    """Convert one Rasa REST reply into the stored (text, payload); None when empty.

    The payload is what frontline.1 clients get besides id, seq and text; stock Rasa clients get it in Rasa's
    socketio shapes (``gateway.rasa_views``), so what those need is kept too (``elements`` as Rasa sent them).
    """
    text = reply.get("text") if isinstance(reply.get("text"), str) else None
    payload: dict[str, Any] = {"metadata": {"sender": "bot"}}
    buttons = reply.get("buttons")
    if isinstance(buttons, list) and buttons:
        payload["quick_replies"] = [
            {"content_type": "text", "title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
            for b in buttons
            if isinstance(b, dict)
        ]
    if isinstance(reply.get("image"), str):
        payload["attachment"] = {"type": "image", "payload": {"src": reply["image"]}}
    elif reply.get("attachment") is not None:
        payload["attachment"] = reply["attachment"]
    elif isinstance(reply.get("elements"), list):
        payload["attachment"] = {
            "type": "template",
            "payload": {"template_type": "generic", "elements": reply["elements"]},
        }
        payload["elements"] = reply["elements"]  # Rasa's socketio channel sends them one by one
    custom = reply.get("custom")
    if custom is not None and not signals.is_signal(custom):
        payload["custom"] = custom
    if text is None and len(payload) == 1:
        return None
    return text, payload


def handoff_signal(reply: dict[str, Any]) -> HandoffPayload | InvalidHandoffPayload | None:
    """The ``custom.handoff`` block of a Rasa reply, if any: the bot's payload, or why it is not a valid one."""
    custom = reply.get("custom")
    if not isinstance(custom, dict) or "handoff" not in custom:
        return None
    try:
        return handoff_payload.parse(custom["handoff"])
    except InvalidHandoffPayload as exc:
        return exc


async def _relay_to_bot(gw: Gateway, conv: ConversationRecord, m: MessageRecord, *, new_session: bool = False) -> None:
    """Send the message to Rasa (after a resolution, in a fresh Rasa session); store and emit the replies."""
    await gw.to_customer(conv.id, ev.TYPING, {"from": "bot", "on": True})
    async with gw.db.read() as s:
        declined = await event_store.early_offer_declined_this_case(s, conv.id)
    metadata = metadata_for(conv, gw.settings.vouch_secret, person_declined=declined)
    try:
        if new_session:
            await gw.rasa.new_session(conv.id)
        replies = await gw.rasa.send_message(conv.id, m.text or "", metadata)
    except RasaUnavailable as exc:
        log.warning("conversation %s: %s", conv.id, exc)
        await gw.to_customer(conv.id, ev.TYPING, {"from": "bot", "on": False})
        async with gw.db.write() as s:
            await message_store.set_message_status(s, m.id, MessageStatus.HUMAN)
        await gw.say(conv.id, BOT_DOWN_TEXT, sender="bot")
        await start_handoff(gw, conv.id, "bot_unavailable", None, actor="system")
        return
    await gw.to_customer(conv.id, ev.TYPING, {"from": "bot", "on": False})
    # Until stored, the replies exist only here: a busy (SQLite lock past busy_timeout) or briefly unreachable
    # database (PostgreSQL restarting) is waited out, so the acknowledged message still gets its answer.
    loop = asyncio.get_running_loop()
    give_up, pause = loop.time() + 120.0, 0.25
    while True:
        signal: HandoffPayload | InvalidHandoffPayload | None = None
        stored: list[MessageRecord] = []
        try:
            async with gw.sequencer.lock(conv.id):
                async with gw.db.write() as s:
                    for reply in replies:
                        found = handoff_signal(reply)
                        if found is not None:
                            signal = found
                        custom = reply.get("custom")
                        if isinstance(custom, dict) and "nlu_miss" in custom:
                            await signals.record_miss(s, conv.id, custom["nlu_miss"])
                        if isinstance(custom, dict) and "case_status" in custom:
                            status_text, _ = await signals.case_status(s, conv.id)
                            stored.append(await message_store.append_message(
                                s, conv.id, "bot", status_text, payload={"metadata": {"sender": "bot"}}
                            ))
                        converted = reply_payload(reply)
                        if converted is None:
                            continue
                        text, payload = converted
                        stored.append(await message_store.append_message(s, conv.id, "bot", text, payload=payload))
                    # Rasa 3.6 answers 200 with no reply when a custom action fails (action server down, an action
                    # raising): it logs the error and listens again. Silence is never an answer: a person takes over.
                    silent = not stored and signal is None
                    await message_store.set_message_status(s, m.id, MessageStatus.HUMAN if silent else MessageStatus.DONE)
                for reply_message in stored:
                    await gw.publish(reply_message)
            break
        except UNAVAILABLE_ERRORS as exc:
            if loop.time() + pause > give_up:
                raise  # the message stays pending: the next start re-delivers it
            log.warning("conversation %s: storing the bot's replies failed (%s); retrying", conv.id, type(exc).__name__)
            await asyncio.sleep(pause)
            pause = min(pause * 2, 5.0)
    if silent:
        log.warning("conversation %s: the bot answered message %s with nothing (failing actions?)", conv.id, m.seq)
        await gw.say(conv.id, BOT_DOWN_TEXT, sender="bot")
        await start_handoff(gw, conv.id, "bot_unavailable", None, actor="system")
        return
    if isinstance(signal, InvalidHandoffPayload):
        # The bot asked for a person and told the customer so: a hand-off without the bot's context, not none at all.
        log.warning("conversation %s: invalid hand-off payload from the bot (%s); handing off without it",
                    logref.ref(conv.id), signal)
        await start_handoff(gw, conv.id, "customer_request", None)
    elif signal is not None:
        await adopt_bot_verification(gw, conv.id, signal)
        await start_handoff(gw, conv.id, signal.reason, signal)
    else:
        # Off the latency path: the replies are out; the customer's next message does not wait for this either.
        gw.background(escalation.after_bot_turn(gw, conv.id, m.seq), f"escalation prediction for {conv.id}")


async def adopt_bot_verification(gw: Gateway, conversation_id: str, payload: HandoffPayload) -> bool:
    """Bind the identity the bot verified (an emailed code) to the conversation; True when it did.

    Called only with the hand-off block of a reply that came back from Rasa: our own action server checked the code
    and built it (``actions/handoff.py``), so it is trusted like the host page's signature. A customer cannot reach
    this: their text goes to Rasa as text and their ``customData`` through ``identity.verify`` only. A conversation
    already verified as someone else keeps that identity (the signature wins; the mismatch is logged).
    """
    customer_id = payload.customer_id
    if not payload.customer_verified or customer_id is None or not customer_id.strip():
        return False
    if len(customer_id) > MAX_CUSTOMER_ID:
        return False
    email = payload.slots.get("email")
    email = email if isinstance(email, str) and len(email) <= MAX_EMAIL and EMAIL.fullmatch(email) else None
    async with gw.db.write() as s:
        conv = await conversation_store.get_conversation(s, conversation_id)
        if conv is None:
            return False
        if conv.verified and conv.customer_id != customer_id:
            log.warning("conversation %s: the bot verified another customer than the signed-in one", logref.ref(conv.id))
            return False
        contact = await contact_store.get_contact(s, customer_id)
        # The address on file first: the bot's ``email`` slot is filled from what the customer typed, also after
        # the code was checked; ``customer_id`` is set by the actions only.
        email = (contact.email if contact and contact.email else None) or email
        await conversation_store.set_identity(
            s, conversation_id, customer_id, email, contact.name if contact and contact.name else None, actor="bot"
        )
    return True


async def start_handoff(
    gw: Gateway,
    conversation_id: str,
    reason: str,
    payload: HandoffPayload | None,
    actor: str = "bot",
    *,
    auto_assign: bool = True,
) -> None:
    """Queue the conversation for a human with priority, SLA, skills and the summary; notify everyone.

    ``payload`` is what the bot knows (its hand-off block), ``None`` when the gateway hands off by itself.
    ``auto_assign=False`` leaves the assignment to the caller (an agent barging in claims it next).
    """
    bot = payload if payload is not None else HandoffPayload(reason=reason)
    now = utcnow()
    today = date.today()
    async with gw.db.write() as s:
        conv = await conversation_store.get_conversation(s, conversation_id)
        if conv is None or conv.state not in (State.BOT, State.RESOLVED):
            return
        contact = await contact_store.get_contact(s, conv.customer_id) if conv.verified and conv.customer_id else None
        lane = fast_lane_reasons(contact, await contact_store.average_mrr(s), today)
        intents = [t.intent for t in bot.turns if t.intent is not None]
        priority = decide(
            reason,
            frustration=bot.frustration if bot.frustration is not None else 0.0,
            sentiment_latest=bot.sentiment.latest,
            fast_lane=lane,
            intent=next((i for i in reversed(intents)), None),
            waited_seconds=(now - conv.created_at).total_seconds(),
        )
        skills = skills_for(reason, intents)
        spoken = language.decide(await event_store.language_votes(s, conversation_id))
        if spoken.foreign and spoken.language is not None:  # an agent who speaks it (routing), whatever the reason
            skills.append(language.skill(spoken.language))
        offer = escalation.predicted_handoff(await event_store.events_for(s, conversation_id), reason)
        if offer is not None:  # the customer accepted the early offer of a person: a senior agent, high priority
            skills.append(escalation.SENIOR_SKILL)
            if priority.rank > rank_of("high"):
                priority = Priority("high", rank_of("high"), (*priority.reasons, "predicted escalation -> high"))
        deadline = sla_deadline(gw.settings, priority.level, now)
        transcript = await message_store.last_messages(s, conversation_id, 20)
        summary = build_summary(
            SummaryInput(
                conversation_id=conversation_id,
                reason=reason,
                handoff=bot,
                priority=priority,
                sla_deadline=deadline,
                sla_minutes=gw.settings.sla_for(priority.level),
                skills=skills,
                today=today,
                contact=contact,
                customer_id=conv.customer_id if conv.verified else None,
                customer_name=conv.customer_name,
                customer_email=conv.customer_email,
                verified=conv.verified,
                fast_lane=lane,
                transcript=transcript,
                language=spoken.language,
                language_messages=spoken.messages,
            )
        )
        handoff = await handoff_store.create_handoff(
            s,
            conversation_id,
            reason=reason,
            priority=priority.level,
            priority_rank=priority.rank,
            sla_deadline=deadline,
            skills=skills,
            summary=summary,
            actor=actor,
            # Read by the metrics (cut by intent and tier) straight from the event row.
            event_data={
                "intent": bot.intent if bot.intent is not None else next(
                    (i for i in intents if i not in NOT_UNDERSTOOD_INTENTS and i != "out_of_scope"), None
                ),
                "tier": contact.tier if contact else ("unknown" if conv.verified else "anonymous"),
                **({"predicted": True, "probability": offer.get("probability")} if offer is not None else {}),
            },
        )
    log.info("conversation %s queued: reason=%s priority=%s", conversation_id, reason, priority.level)
    await gw.set_state(conversation_id, State.QUEUED)
    await gw.to_agents(
        ev.HANDOFF_QUEUED,
        {
            "conversation_id": conversation_id,
            "handoff": handoff.as_dict(),
            "summary": summary,
            "summary_text": render_text(summary),
        },
        [access.role_room("l2"), access.role_room("lead")],  # L3 agents do not read the L2 queue (handoff.domain.access)
    )
    if not auto_assign:
        return
    if await gw.try_auto_assign(conversation_id):
        return
    await gw.broadcast_queue()
    await tell_queue_status(gw, conversation_id)


async def rate(gw: Gateway, conversation_id: str, score: int, comment: str | None) -> dict[str, Any]:
    """Post-chat CSAT from the widget's form (1-5 and an optional comment): once per resolution."""
    async with gw.db.write() as s:
        conv = await conversation_store.get_conversation(s, conversation_id)
        if conv is None or conv.state != State.RESOLVED:
            raise StoreError("invalid_state", "feedback is asked for once the conversation is resolved")
        data: dict[str, Any] = {"score": score}
        if comment and comment.strip():
            data["comment"] = redact(comment.strip())
        if not await event_store.add_csat(s, conversation_id, data):
            raise StoreError("already_rated", "this conversation is already rated, thank you")
    await gw.say(conversation_id, "Thank you for your feedback!", sender="bot")
    return {"ok": True, "score": score}


async def known_email(gw: Gateway, conv: ConversationRecord) -> tuple[str | None, bool]:
    """Where we can follow up without asking, and whether it is the account's address.

    The verified customer's address (or their contact's), else one the customer left earlier.
    """
    if conv.verified and conv.customer_email:
        return conv.customer_email, True
    if conv.verified and conv.customer_id:
        async with gw.db.read() as s:
            contact = await contact_store.get_contact(s, conv.customer_id)
        if contact is not None and contact.email:
            return contact.email, True
    return conv.follow_up_email, False


async def tell_queue_status(gw: Gateway, conversation_id: str) -> None:
    """Say honestly what happens next: position and estimate, or (nobody available) no estimate and a follow-up.

    A hand-off that needs a language nobody online speaks says so first, in that language (anyone may still claim it).
    """
    async with gw.db.read() as s:
        handoff = await handoff_store.current_handoff(s, conversation_id)
        needed = language.language_of_skills(handoff.skills) if handoff is not None else None
        agents = await agent_store.agents_with_load(s) if needed else []
    if needed and not speakers(agents, needed):
        await gw.say(conversation_id, language.no_speaker_text(needed))
    online = await gw.online_agents()
    available = notices.availability(online, gw.business_open())
    position = await gw.queue_position(conversation_id, online)
    if available.open:
        if position is None:
            return
        minutes = max(1, round((position["estimated_wait_seconds"] or 0) / 60))
        await gw.say(conversation_id, notices.queue_notice(available, position["position"], minutes, None))
        return
    async with gw.db.read() as s:
        conv = await conversation_store.get_conversation(s, conversation_id)
    email, on_account = await known_email(gw, conv) if conv is not None else (None, False)
    await gw.say(conversation_id, notices.queue_notice(available, None, None, email, on_account=on_account))
