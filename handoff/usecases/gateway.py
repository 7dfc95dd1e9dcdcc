"""The gateway service: shared plumbing (store, Socket.IO emits, ordering) plus queue and assignment.

Namespaces and REST views validate input and call into this service (and ``conversations`` /
``agents``); the service calls the store and emits. No SQL here, no socket code in the store.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from typing import Any

import socketio

from handoff.domain import access
from handoff.domain import events as ev
from handoff.domain.escalation_risk import Predictor
from handoff.domain.language import Detector
from handoff.domain.records import ConversationRecord, HandoffRecord, MessageRecord, QueueItem, iso
from handoff.domain.routing import choose_agent, within_business_hours
from handoff.domain.states import State
from handoff.domain.summary import render_text
from handoff.settings import Settings
from handoff.storage import agents as agent_store
from handoff.storage import conversations as conversation_store
from handoff.storage import escalation_model
from handoff.storage import events as event_store
from handoff.storage import handoffs as handoff_store
from handoff.storage import l3_escalations as l3_escalation_store
from handoff.storage import messages as message_store
from handoff.storage import notes as note_store
from handoff.storage.db import Database
from handoff.storage.models import AGENT_ROLES, utcnow
from handoff.storage.rows import StoreError
from handoff.usecases import notices
from handoff.usecases.presence import AgentSockets
from handoff.usecases.rasa_client import RasaClient
from handoff.usecases.sequencer import Sequencer

log = logging.getLogger(__name__)

AGENTS_ROOM = "agents"
ENGAGED_CACHE_SIZE = 100_000
QUEUE_BROADCAST_COALESCE_SECONDS = 0.2
QUEUE_POSITION_COALESCE_SECONDS = 2.0
LIVE_WINDOW = timedelta(minutes=30)


def agent_room(agent_id: int) -> str:
    """Room of every socket of one agent."""
    return f"agent:{agent_id}"


def conv_room(conversation_id: str) -> str:
    """Agents' room of one conversation (owner and watchers)."""
    return f"conv:{conversation_id}"


def rasa_room(conversation_id: str) -> str:
    """Customers' room of the stock Rasa clients of one conversation (frontline.1 clients are in ``conversation_id``)."""
    return f"rasa:{conversation_id}"


def message_view(m: MessageRecord) -> dict[str, Any]:
    """A stored message as clients see it (history, console)."""
    payload = dict(m.payload or {})
    payload.pop("elements", None)  # Rasa's elements as they came, for stock clients; ``attachment`` holds them here
    meta = payload.pop("metadata", None) or {"sender": m.sender}
    view: dict[str, Any] = {"id": m.id, "seq": m.seq, "sender": m.sender, "metadata": meta}
    if m.text is not None:
        view["text"] = m.text
    view.update(payload)
    view["created_at"] = iso(m.created_at)
    return view


def bot_uttered_view(m: MessageRecord) -> dict[str, Any]:
    """A stored bot/agent/system message as a Rasa-protocol ``bot_uttered`` payload."""
    view = message_view(m)
    view.pop("sender", None)
    view.pop("created_at", None)
    return view


def rasa_views(m: MessageRecord) -> list[Any]:
    """A stored bot/agent/system message as stock Rasa 3.6's socketio channel emits it: ``bot_uttered`` payloads.

    ``OutputChannel.send_response`` with ``SocketIOOutput``, key for key: buttons (quick replies), else text, split in
    paragraphs; then custom json (Rasa emits its ``data``), the image or attachment, the elements one by one. A person's
    message or a notice is text, so it is ``{text}`` (or ``{text, quick_replies}`` when it offers choices).
    """
    payload = m.payload or {}
    views: list[Any] = []
    quick_replies = payload.get("quick_replies")
    if isinstance(quick_replies, list) and quick_replies:
        parts = (m.text or "").strip().split("\n\n")
        views.extend({"text": part, "quick_replies": []} for part in parts)
        views[-1]["quick_replies"] = [
            {"content_type": "text", "title": q.get("title"), "payload": q.get("payload")}
            for q in quick_replies
            if isinstance(q, dict)
        ]
    elif m.text:
        views.extend({"text": part} for part in m.text.strip().split("\n\n"))
    custom = payload.get("custom")
    if custom:
        # Rasa calls ``sio.emit(event, **custom)``: the payload is ``custom["data"]`` (the convention rasa-webchat users
        # follow). Custom json without ``data`` (Rasa would fail or emit nothing) goes as it is.
        data = custom["data"] if isinstance(custom, dict) and "data" in custom else custom
        if data is not None:
            views.append(data)
    elements = payload.get("elements")
    if isinstance(elements, list):
        views.extend(
            {"attachment": {"type": "template", "payload": {"template_type": "generic", "elements": element}}}
            for element in elements
        )
    elif payload.get("attachment"):
        views.append({"attachment": payload["attachment"]})
    return views


class RecentSet:
    """A set that forgets its oldest members beyond ``size`` (a cache of facts that never become false)."""

    def __init__(self, size: int) -> None:
        """Empty."""
        self.size = size
        self._items: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, key: object) -> bool:
        """Membership."""
        return key in self._items

    def add(self, key: str) -> None:
        """Remember ``key`` (as the newest member)."""
        self._items[key] = None
        self._items.move_to_end(key)
        if len(self._items) > self.size:
            self._items.popitem(last=False)


class Gateway:
    """Holds the resources and the cross-cutting operations of the gateway."""

    def __init__(self, settings: Settings, db: Database, sio: socketio.AsyncServer, rasa: RasaClient) -> None:
        """Wire the service to its resources."""
        self.settings = settings
        self.db = db
        self.sio = sio
        self.rasa = rasa
        self.sequencer = Sequencer(settings.max_concurrent_deliveries)
        self.sockets = AgentSockets(prefix=settings.redis_channel)
        # This process's sockets per agent (the same dict as ``sockets.local``).
        self.agent_sids: dict[int, set[str]] = self.sockets.local
        self._tasks: set[asyncio.Task[None]] = set()
        self._predictor: Predictor | None = None
        # This process's name among the gateways: it owns the messages it acknowledged until they are relayed.
        self.instance = secrets.token_hex(4)
        self.pending_status = message_store.pending_status(self.instance)
        # Conversations whose customer has written before (saves the relay path a query per message).
        self.engaged = RecentSet(ENGAGED_CACHE_SIZE)
        self._coalescing: dict[str, bool] = {}  # key -> changed since its send began
        self.language = Detector(settings.detect_languages) if settings.language_detection else None

    @property
    def predictor(self) -> Predictor:
        """The escalation predictor, loaded once on first use (a cold-start one when there is no model file)."""
        if self._predictor is None:
            self._predictor = escalation_model.load(
                self.settings.prediction_model_path, self.settings.prediction_threshold
            )
            log.info(
                "escalation predictor: %s, threshold %.2f",
                "cold-start rule" if self._predictor.cold_start else "trained model",
                self._predictor.threshold,
            )
        return self._predictor

    def background(self, coro: Coroutine[Any, Any, None], what: str) -> None:
        """Run ``coro`` as a tracked task; failures are logged with ``what``."""

        async def guarded() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background task failed: %s", what)

        task = asyncio.get_running_loop().create_task(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def idle(self) -> None:
        """Wait until background tasks and per-conversation jobs are done (shutdown, tests)."""
        while self._tasks or self.sequencer._tails:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
            await self.sequencer.drain()

    async def close(self) -> None:
        """Cancel what is still running (shutdown)."""
        for task in list(self._tasks):
            task.cancel()
        self.sequencer.cancel_all()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # ------------------------------------------------------------ emits

    async def to_customer(self, conversation_id: str, event: str, data: Any) -> None:
        """Emit an extra (typing, state, queue, agent events) to the conversation's frontline.1 customer sockets.

        Stock Rasa clients get none of these: only ``bot_uttered`` in Rasa's shapes (:meth:`publish`).
        """
        await self.sio.emit(event, data, room=conversation_id, namespace=ev.CUSTOMER_NS)

    async def to_agents(self, event: str, data: Any, room: str | list[str] = AGENTS_ROOM) -> None:
        """Emit on the agents namespace (default: every agent; a list of rooms: each socket once)."""
        await self.sio.emit(event, data, room=room, namespace=ev.AGENT_NS)

    async def publish(self, m: MessageRecord) -> None:
        """Deliver a stored message: customers get ``bot_uttered`` (each protocol its shapes), agents a copy."""
        if m.sender == "customer":
            await self.to_agents(
                ev.CUSTOMER_MESSAGE,
                {"conversation_id": m.conversation_id, "message": message_view(m)},
                conv_room(m.conversation_id),
            )
            return
        await self.to_customer(m.conversation_id, ev.BOT_UTTERED, bot_uttered_view(m))
        for view in rasa_views(m):
            await self.sio.emit(ev.BOT_UTTERED, view, room=rasa_room(m.conversation_id), namespace=ev.CUSTOMER_NS)
        await self.to_agents(
            ev.CONVERSATION_MESSAGE,
            {"conversation_id": m.conversation_id, "message": message_view(m)},
            conv_room(m.conversation_id),
        )

    async def say(
        self,
        conversation_id: str,
        text: str,
        *,
        sender: str = "system",
        quick_replies: list[dict[str, str]] | None = None,
    ) -> MessageRecord:
        """Persist and deliver a message from the system (or bot) to the customer."""
        payload: dict[str, Any] = {"metadata": {"sender": sender}}
        if quick_replies:
            payload["quick_replies"] = quick_replies
        async with self.sequencer.lock(conversation_id):
            async with self.db.write() as s:
                m = await message_store.append_message(s, conversation_id, sender, text, payload=payload)
            await self.publish(m)
        return m

    async def set_state(self, conversation_id: str, state: str) -> None:
        """Tell the customer and the agents the conversation's new state."""
        await self.to_customer(conversation_id, ev.CONVERSATION_STATE, {"state": state})
        await self.to_agents(ev.CONVERSATION_UPDATED, {"conversation_id": conversation_id, "state": state})

    # ------------------------------------------------------------ agent sockets

    async def join_agent(self, agent_id: int, conversation_id: str) -> None:
        """Put every socket of the agent in the conversation's room."""
        for sid in await self.sockets.all(agent_id):
            await self.sio.enter_room(sid, conv_room(conversation_id), namespace=ev.AGENT_NS)

    async def leave_agent(self, agent_id: int, conversation_id: str) -> None:
        """Take every socket of the agent out of the conversation's room."""
        for sid in await self.sockets.all(agent_id):
            await self.sio.leave_room(sid, conv_room(conversation_id), namespace=ev.AGENT_NS)

    # ------------------------------------------------------------ queue

    async def online_agents(self) -> int:
        """Number of agents online now."""
        async with self.db.read() as s:
            return await agent_store.count_online_agents(s)

    def estimate_seconds(self, position: int, online: int) -> int:
        """Honest, simple estimate: position x average handle time / agents online."""
        return int(position * self.settings.average_handle_seconds / max(online, 1))

    def business_open(self) -> bool:
        """Whether we are inside business hours (settings)."""
        return within_business_hours(self.settings.business_hours, self.settings.timezone, utcnow())

    async def queue_items(self) -> list[QueueItem]:
        """Queued conversations in order."""
        async with self.db.read() as s:
            return await handoff_store.queue(s)

    async def queue_position(self, conversation_id: str, online: int | None = None) -> dict[str, int | None] | None:
        """``queue_update`` payload of one conversation (None when not queued); ``online``: agents, if known."""
        async with self.db.read() as s:
            position = await handoff_store.queue_position(s, conversation_id)
            if position is None:
                return None
            if online is None:
                online = await agent_store.count_online_agents(s)
        return self._position_payload(position, online)

    def _position_payload(self, position: int, online: int) -> dict[str, int | None]:
        """Place and estimate; no estimate (None) when nobody can pick up now (no agent online, or closed)."""
        available = notices.availability(online, self.business_open()).open
        estimate = self.estimate_seconds(position, online) if available else None
        return {"position": position, "estimated_wait_seconds": estimate}

    async def snapshot(self, agent_id: int | None = None) -> dict[str, Any]:
        """``queue_snapshot`` payload: queue by priority then SLA, the L3 queue (most urgent first), live bot chats."""
        async with self.db.read() as s:
            items = await handoff_store.queue(s)
            live = await conversation_store.bot_conversations(s, utcnow() - LIVE_WINDOW)
            l3_queue = await l3_escalation_store.waiting(s)
            escalated = await conversation_store.conversations_by_id(s, [e.conversation_id for e in l3_queue])
            mine = await conversation_store.conversations_of_agent(s, agent_id) if agent_id else []
            agents = await agent_store.agents_with_load(s)
        waiting_conversations = {i: c.as_dict() for i, c in escalated.items() if c.assigned_agent_id is None}
        return {
            "queue": [i.as_dict() for i in items],
            "l3": [
                {**waiting_conversations[e.conversation_id], "escalation": e.view()}
                for e in l3_queue
                if e.conversation_id in waiting_conversations
            ],
            "live": [c.as_dict() for c in live],
            "mine": [c.as_dict() for c in mine],
            "agents": [
                {"id": a.id, "name": a.name, "status": a.status, "load": a.load, "capacity": a.capacity, "role": a.role}
                for a in agents
                if a.role != access.DESIGNER  # designers take no conversations: not in the team list or transfers
            ],
        }

    async def broadcast_queue(self) -> None:
        """Send the queue to agents and positions to queued customers, shortly: a burst of changes makes one send.

        Every send costs a query, and the positions an emit per queued customer: a hundred hand-offs arriving
        together would otherwise make a hundred of each (quadratic in the queue). Agents get the queue within
        0.2 s; customers their place within 2 s (a claim moves everyone behind it, and nobody needs that faster
        than they can read it). Each trailing send sees the latest state.
        """
        self._coalesce("agents", QUEUE_BROADCAST_COALESCE_SECONDS, self._send_queue_to_agents)
        self._coalesce("customers", QUEUE_POSITION_COALESCE_SECONDS, self._send_positions_to_customers)

    def _coalesce(self, key: str, delay: float, send: Callable[[], Awaitable[None]]) -> None:
        """Run ``send`` ``delay`` seconds from the first call of a burst (later calls join it).

        Sends of one key never overlap: a call while one runs makes one more, ``delay`` after it ends. So when a
        send gets slow (a long queue) the sends get rarer instead of piling up.
        """
        if key in self._coalescing:
            self._coalescing[key] = True
            return
        self._coalescing[key] = False

        async def later() -> None:
            try:
                while True:
                    await asyncio.sleep(delay)
                    self._coalescing[key] = False  # a change from now on needs another send
                    await send()
                    if not self._coalescing[key]:
                        return
            finally:
                del self._coalescing[key]

        self.background(later(), f"coalesced {key} queue send")

    async def _send_queue_to_agents(self) -> None:
        snapshot = await self.snapshot()
        for role in AGENT_ROLES:  # each role gets what it may read (handoff.domain.access)
            await self.to_agents(ev.QUEUE_SNAPSHOT, access.snapshot_for(role, snapshot), access.role_room(role))

    async def _send_positions_to_customers(self) -> None:
        items = await self.queue_items()
        online = await self.online_agents()
        for item in items:
            await self.to_customer(item.conversation_id, ev.QUEUE_UPDATE, self._position_payload(item.position, online))

    # ------------------------------------------------------------ assignment

    async def assign(
        self, conversation_id: str, agent_id: int, *, auto: bool = False
    ) -> tuple[ConversationRecord, HandoffRecord]:
        """Claim (or auto-assign) atomically, then tell the customer and the agent."""
        async with self.db.write() as s:
            conv, handoff = await handoff_store.claim(
                s,
                conversation_id,
                agent_id,
                is_postgres=not self.db.is_sqlite,
                actor="system" if auto else None,
            )
            agent = await agent_store.get_agent(s, agent_id)
        assert agent is not None
        log.info("conversation %s assigned to agent %s (auto=%s)", conversation_id, agent_id, auto)
        await self.join_agent(agent_id, conversation_id)
        await self.to_customer(conversation_id, ev.AGENT_JOINED, {"name": agent.name})
        await self.set_state(conversation_id, conv.state)
        team = "engineering team (L3)" if agent.role == "l3" else "support team"
        await self.say(conversation_id, f"{agent.name} from our {team} has joined the conversation.")
        detail = await self.conversation_detail(conversation_id)
        await self.to_agents(
            ev.ASSIGNED,
            {"conversation_id": conversation_id, "conversation": detail, "by": "auto" if auto else "claim"},
            agent_room(agent_id),
        )
        await self.broadcast_queue()
        return conv, handoff

    async def try_auto_assign(self, conversation_id: str, exclude_agent_id: int | None = None) -> bool:
        """Assign to the least-loaded online agent with the skill and free capacity, if any.

        ``exclude_agent_id`` keeps a conversation an agent just transferred away from bouncing back to them.
        """
        if not self.settings.auto_assign:
            return False
        async with self.db.read() as s:
            agents = await agent_store.agents_with_load(s)
            handoff = await handoff_store.current_handoff(s, conversation_id)
            conv = await conversation_store.get_conversation(s, conversation_id)
        if handoff is None or conv is None or conv.state != State.QUEUED:
            return False
        agent = choose_agent([a for a in agents if a.id != exclude_agent_id], handoff.skills)
        if agent is None:
            return False
        try:
            await self.assign(conversation_id, agent.id, auto=True)
        except StoreError as exc:
            log.info("auto-assign of %s skipped: %s", conversation_id, exc.message)
            return False
        return True

    async def drain_queue(self) -> None:
        """Auto-assign as much of the queue as agents can take (after presence or capacity changes)."""
        for item in await self.queue_items():
            await self.try_auto_assign(item.conversation_id)

    # ------------------------------------------------------------ read models

    async def conversation_detail(self, conversation_id: str) -> dict[str, Any]:
        """Transcript, summary (data and text), events, notes and hand-offs of one conversation."""
        async with self.db.read() as s:
            conv = await conversation_store.get_conversation(s, conversation_id)
            if conv is None:
                raise StoreError("not_found", f"conversation {conversation_id} not found")
            messages = await message_store.messages_after(s, conversation_id, 0)
            events_ = await event_store.events_for(s, conversation_id)
            notes = await note_store.notes_for(s, conversation_id)
            handoffs = await handoff_store.handoffs_for(s, conversation_id)
            escalations = await l3_escalation_store.escalations_for(s, conversation_id)
        summary = handoffs[-1].summary if handoffs else None
        return {
            "conversation": conv.as_dict(),
            "messages": [message_view(m) for m in messages],
            "summary": summary,
            "summary_text": render_text(summary) if summary else None,
            "handoffs": [h.as_dict() for h in handoffs],
            "events": [e.as_dict() for e in events_],
            "notes": [n.as_dict() for n in notes],
            "l3": [e.view() for e in escalations],
        }
