"""Socket.IO namespaces: customers on ``/`` (Rasa socketio protocol) and agents on ``/agents``.

Handlers validate, call the service, and emit; every failure becomes an ``error`` event plus an ack
``{"error": ...}`` (for a stock Rasa client, a ``bot_uttered`` text) and never reaches another conversation.
A customer socket speaks stock Rasa unless its handshake asks for frontline.1 (``handoff.domain.events``).
"""

from __future__ import annotations

import logging
from typing import Any

import socketio

from handoff import logref
from handoff.domain import access, auth
from handoff.domain import events as ev
from handoff.domain.events import PayloadError
from handoff.domain.records import AgentRecord
from handoff.domain.states import State
from handoff.storage import agents as agent_store
from handoff.storage.rows import StoreError
from handoff.transport.ratelimit import ClientLimits, RateLimiter
from handoff.usecases import agents, conversations, l3
from handoff.usecases.gateway import Gateway, rasa_room

log = logging.getLogger(__name__)


class _Base(socketio.AsyncNamespace):
    """Rate limit, validation and error handling around every ``on_<event>`` handler."""

    def __init__(self, namespace: str, gw: Gateway, limits: ClientLimits | None = None) -> None:
        super().__init__(namespace)
        self.gw = gw
        self.limiter = RateLimiter(gw.settings.rate_limit_events, gw.settings.rate_limit_window_seconds)
        self.limits = limits or ClientLimits(gw.settings)
        self.ips: dict[str, str] = {}  # sid -> client IP, for the per-IP event limit
        self.stock: set[str] = set()  # sockets speaking stock Rasa: no acks, no extras, errors as text

    def _admit(self, environ: dict[str, Any]) -> str:
        """Count the connection against its client IP; refuse it (with a reason the client sees) over the limit."""
        ip = self.limits.ip_of(environ)
        if not self.limits.connections.allow(ip):
            log.warning("connection to %s refused: too many connections from %s", self.namespace, ip)
            raise socketio.exceptions.ConnectionRefusedError(
                "too many connections from your network; retry in a minute", {"code": "too_many_connections"}
            )
        return ip

    async def trigger_event(self, event: str, *args: Any) -> Any:
        """Dispatch with validation; the server's own connect/disconnect go straight through."""
        if event in ("connect", "disconnect") and self._lifecycle(event, args):
            return await super().trigger_event(event, *args)
        sid = args[0]
        ip = self.ips.get(sid)
        if not self.limiter.allow(sid) or (ip is not None and not self.limits.events.allow(ip)):
            return await self._fail(sid, event, "rate_limited", "too many events; slow down")
        try:
            if len(args) > 2:
                raise PayloadError("invalid_payload", f"{event}: send one payload object")
            data = ev.validate(
                self.namespace,
                event,
                args[1] if len(args) > 1 else None,
                max_message_bytes=self.gw.settings.max_message_bytes,
                stock=sid in self.stock,
            )
            return await getattr(self, f"on_{event}")(sid, data)
        except PayloadError as exc:
            return await self._fail(sid, event, exc.code, exc.message)
        except (StoreError, agents.Refused) as exc:
            return await self._fail(sid, event, exc.code, exc.message)
        except Exception:
            # The socket id is a handle on the connection (engine.io polling accepts it): a reference only.
            log.exception("handler %s%s failed (socket %s)", self.namespace, event, logref.ref(sid))
            return await self._fail(sid, event, "internal_error", "something went wrong; please retry")

    def _lifecycle(self, event: str, args: tuple[Any, ...]) -> bool:
        """True for the server's own connect/disconnect call, False for a client event that merely uses the name.

        python-socketio routes a client's ``emit("disconnect")`` to the same handler as a real disconnect. The real
        connect passes the socket's environ object; the real disconnect comes after the socket was marked as leaving.
        """
        sid = args[0]
        if event == "connect":
            return len(args) > 1 and args[1] is self.server.get_environ(sid, self.namespace)
        return not self.server.manager.is_connected(sid, self.namespace)

    async def _fail(self, sid: str, event: str, code: str, message: str) -> dict[str, str] | None:
        if sid in self.stock:  # a stock widget shows bot_uttered only, and Rasa acknowledges nothing
            await self.emit(ev.BOT_UTTERED, {"text": f"Sorry, that did not go through: {message}"}, to=sid)
            return None
        await self.emit(ev.ERROR, {"code": code, "message": message, "event": str(event)[:64]}, to=sid)
        return {"error": message, "code": code}


def speaks_stock_rasa(auth: Any) -> bool:
    """Whether a customer's handshake is a stock Rasa client's (no ``auth.protocol``) rather than frontline.1's.

    Raises:
        socketio.exceptions.ConnectionRefusedError: a protocol this gateway does not speak.
    """
    protocol = auth.get("protocol") if isinstance(auth, dict) else None
    if protocol is None:
        return True
    if protocol == ev.FRONTLINE_PROTOCOL:
        return False
    raise socketio.exceptions.ConnectionRefusedError(
        f"unsupported protocol {str(protocol)[:64]!r}: this gateway speaks {ev.FRONTLINE_PROTOCOL} "
        f'(auth {{"protocol": "{ev.FRONTLINE_PROTOCOL}"}}) or stock Rasa (no protocol)',
        {"code": "unsupported_protocol"},
    )


class CustomerNamespace(_Base):
    """``/``: session_request, user_uttered (Rasa protocol) plus, for frontline.1 sockets, resume, typing and csat."""

    def __init__(self, gw: Gateway, limits: ClientLimits | None = None) -> None:
        """Bind to the gateway."""
        super().__init__(ev.CUSTOMER_NS, gw, limits)

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
        """Anyone may connect (within the per-IP limit); identity comes with the messages, the protocol with ``auth``."""
        ip = self._admit(environ)
        stock = speaks_stock_rasa(auth)
        self.ips[sid] = ip
        if stock:
            self.stock.add(sid)
        return True

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        """Forget per-connection state."""
        self.limiter.forget(sid)
        self.ips.pop(sid, None)
        self.stock.discard(sid)

    async def _bind(self, sid: str, requested: str | None, last_seq: int | None) -> str:
        session = await self.get_session(sid)
        conv, resumed = await conversations.open_session(self.gw, requested)
        previous = session.get("conversation_id")
        stock = sid in self.stock
        # A stock client's room gets bot_uttered in Rasa's shapes only; the conversation's own room, the extras.
        room = rasa_room if stock else str
        async with self.gw.sequencer.lock(conv.id):
            if resumed and conv.id != previous:
                self._check_tabs(sid, conv.id)
            if previous and previous != conv.id:
                await self.leave_room(sid, room(previous))
            await self.enter_room(sid, room(conv.id))
            await self.save_session(sid, {"conversation_id": conv.id})
            await self.emit(ev.SESSION_CONFIRM, conv.id, to=sid)
            if stock:  # Rasa confirms the session and says nothing else (no state, no replay, no queue position)
                return conv.id
            await self.emit(ev.CONVERSATION_STATE, {"state": conv.state}, to=sid)
            if last_seq is not None and (resumed or last_seq == 0):
                messages = await conversations.history(self.gw, conv.id, last_seq if resumed else 0)
                await self.emit(ev.HISTORY, {"messages": messages}, to=sid)
        if conv.state == State.QUEUED:
            position = await self.gw.queue_position(conv.id)
            if position:
                await self.emit(ev.QUEUE_UPDATE, position, to=sid)
        return conv.id

    def _check_tabs(self, sid: str, conversation_id: str) -> None:
        """At most ``max_sockets_per_session`` sockets (tabs) of this gateway on one conversation."""
        present = {
            s
            for room in (conversation_id, rasa_room(conversation_id))
            for s, _ in self.server.manager.get_participants(self.namespace, room)
        }
        limit = self.gw.settings.max_sockets_per_session
        if sid not in present and len(present) >= limit:
            raise PayloadError(
                "too_many_sockets", f"this conversation is open in {limit} tabs already; close one and try again"
            )

    async def on_session_request(self, sid: str, data: dict[str, Any]) -> dict[str, Any] | None:
        """Confirm the session: resume a known id, else issue a fresh one."""
        conversation_id = await self._bind(sid, data.get("session_id"), data.get("last_seq"))
        return None if sid in self.stock else {"session_id": conversation_id}

    async def on_resume(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        """Replay the messages after ``last_seq`` (binding the session first if needed)."""
        session = await self.get_session(sid)
        if session.get("conversation_id") == data["session_id"]:
            async with self.gw.sequencer.lock(data["session_id"]):
                messages = await conversations.history(self.gw, data["session_id"], data["last_seq"])
                await self.emit(ev.HISTORY, {"messages": messages}, to=sid)
            return {"session_id": data["session_id"], "count": len(messages)}
        conversation_id = await self._bind(sid, data["session_id"], data["last_seq"])
        return {"session_id": conversation_id}

    async def _conversation(self, sid: str, claimed: str | None) -> str:
        conversation_id = (await self.get_session(sid)).get("conversation_id")
        if not conversation_id:
            raise PayloadError("no_session", "send session_request first")
        if claimed and claimed != conversation_id:
            raise PayloadError("session_mismatch", "session_id does not belong to this connection")
        return str(conversation_id)

    async def on_user_uttered(self, sid: str, data: dict[str, Any]) -> dict[str, Any] | None:
        """Persist, ack with id and seq (frontline.1), then deliver in order (bot or humans).

        From a stock Rasa client a missing, null or blank message is an empty init payload: ignored, as an empty
        text has nothing for the bot (stock Rasa would run it through NLU and likely answer with a fallback). An init
        payload with text (``/greet``) is a message like any other.
        """
        conversation_id = await self._conversation(sid, data.get("session_id"))
        message = data.get("message")
        stock = sid in self.stock
        if stock and (message is None or not message.strip()):
            log.debug("conversation %s: empty init payload ignored", logref.ref(conversation_id))
            return None
        if message is None or not message.strip():
            raise PayloadError("empty_message", "message is empty")
        ack = await conversations.receive(
            self.gw,
            conversation_id,
            message,
            conversations.parse_custom_data(data),
            data.get("client_id"),
        )
        return None if stock else ack

    async def on_csat(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        """Post-chat rating (1-5) with an optional comment."""
        conversation_id = await self._conversation(sid, None)
        return await conversations.rate(self.gw, conversation_id, data["score"], data.get("comment"))

    async def on_typing(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        """Customer typing, shown to the agents of the conversation."""
        conversation_id = await self._conversation(sid, None)
        await self.gw.to_agents(
            ev.TYPING,
            {"conversation_id": conversation_id, "from": "customer", "on": data["on"]},
            f"conv:{conversation_id}",
        )
        return {"ok": True}


class AgentNamespace(_Base):
    """``/agents``: token-authenticated agent console."""

    def __init__(self, gw: Gateway, limits: ClientLimits | None = None) -> None:
        """Bind to the gateway."""
        super().__init__(ev.AGENT_NS, gw, limits)

    async def on_connect(self, sid: str, environ: dict[str, Any], auth_data: Any = None) -> None:
        """Refuse connections without a valid, unexpired token (and over the per-IP limit)."""
        ip = self._admit(environ)
        token = auth_data.get("token") if isinstance(auth_data, dict) else None
        try:
            claims = auth.verify_token(self.gw.settings.token_secret, token)
        except auth.TokenError as exc:
            raise socketio.exceptions.ConnectionRefusedError(str(exc)) from exc
        async with self.gw.db.read() as s:
            agent = await agent_store.get_agent(s, claims.agent_id)
        if agent is None:
            raise socketio.exceptions.ConnectionRefusedError("unknown agent")
        refused = access.staff_refusal(agent)
        if refused is not None:  # designers: no queue, no conversations, no agents' presence (REST refuses them too)
            raise socketio.exceptions.ConnectionRefusedError(refused, {"code": "forbidden"})
        await self.save_session(sid, {"agent_id": agent.id})
        self.ips[sid] = ip
        # Emits must wait until the CONNECT packet is out, hence a task (it starts after this returns).
        self.gw.background(self._after_connect(agent, sid), f"agent {agent.id} connect")

    async def _after_connect(self, agent: AgentRecord, sid: str) -> None:
        snapshot = await agents.connected(self.gw, agent, sid)
        if snapshot is None:  # gone already
            return
        await self.emit(ev.QUEUE_SNAPSHOT, snapshot, to=sid)
        await self.gw.broadcast_queue()
        await self.gw.drain_queue()

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        """The last socket of an agent going away starts the grace period."""
        self.limiter.forget(sid)
        self.ips.pop(sid, None)
        session = await self.get_session(sid)
        if session.get("agent_id"):
            # Tracked task: shutdown waits for it instead of cancelling a half-done write.
            self.gw.background(agents.disconnected(self.gw, int(session["agent_id"]), sid), "agent disconnect")

    async def _agent(self, sid: str) -> AgentRecord:
        session = await self.get_session(sid)
        async with self.gw.db.read() as s:
            agent = await agent_store.get_agent(s, int(session["agent_id"]))
        if agent is None:
            raise agents.Refused("forbidden", "unknown agent")
        refused = access.staff_refusal(agent)
        if refused is not None:  # a role changed while the socket was open
            raise agents.Refused("forbidden", refused)
        return agent

    async def on_presence(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        """Online / away."""
        return await agents.presence(self.gw, await self._agent(sid), data)

    async def on_snapshot(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        """Send the queue snapshot again."""
        agent = await self._agent(sid)
        snapshot = access.snapshot_for(agent.role, await self.gw.snapshot(agent.id))
        await self.emit(ev.QUEUE_SNAPSHOT, snapshot, to=sid)
        return {"ok": True}

    async def on_claim(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        """Claim a queued conversation (one winner)."""
        return await agents.claim(self.gw, await self._agent(sid), data)

    async def on_agent_message(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        """Message to the customer."""
        return await agents.send_message(self.gw, await self._agent(sid), data)

    async def on_typing(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        """Typing indicator to the customer."""
        await agents.typing(self.gw, await self._agent(sid), data)
        return {"ok": True}

    async def on_note(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        """Private note."""
        return await agents.note(self.gw, await self._agent(sid), data)

    async def on_transfer(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        """Transfer to an agent or a team."""
        return await agents.transfer(self.gw, await self._agent(sid), data)

    async def on_escalate_l3(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        """Escalate to L3 (definition of ready and customer impact enforced)."""
        return await l3.escalate(self.gw, await self._agent(sid), data)

    async def on_return_l2(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        """L3 returns the escalation to the L2 agent (resolution, root cause, workaround, customer update)."""
        return await l3.return_to_l2(self.gw, await self._agent(sid), data)

    async def on_resolve(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        """Resolve with a resolution code."""
        return await agents.resolve(self.gw, await self._agent(sid), data)

    async def on_handback(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        """Hand back to the bot with a coaching note."""
        return await agents.handback(self.gw, await self._agent(sid), data)

    async def on_watch(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        """Watch a conversation live."""
        return await agents.watch(self.gw, await self._agent(sid), sid, data)

    async def on_barge_in(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        """Take over a live bot conversation."""
        return await agents.barge_in(self.gw, await self._agent(sid), data)

    async def on_flag_context_loss(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        """"Had to ask the customer again" (context-loss metric)."""
        return await agents.flag_context_loss(self.gw, await self._agent(sid), data)

    async def on_unwatch(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        """Stop watching."""
        await self.leave_room(sid, f"conv:{data['conversation_id']}")
        return {"ok": True}
