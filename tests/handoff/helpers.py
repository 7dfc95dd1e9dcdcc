"""Test helpers: a scriptable fake Rasa, Socket.IO clients that record events, a gateway runner."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
import socketio
from aiohttp import web

from handoff.app import create_app
from handoff.domain import auth
from handoff.domain import events as ev
from handoff.domain.records import AgentRecord
from handoff.settings import Settings
from handoff.storage import agents as agent_store
from handoff.transport.appkeys import GATEWAY
from handoff.usecases.gateway import Gateway

TOKEN_SECRET = "test-token-secret"
IDENTITY_SECRET = "test-identity-secret"
VOUCH_SECRET = "test-vouch-secret-for-actions"
RASA_TOKEN = "test-rasa-token-0123456789"
PASSWORD = "correct horse battery"
PASSWORD_HASH = auth.hash_password(PASSWORD)
# An escalation to L3's definition of ready and customer impact (handoff.domain.l3), as a test agent fills it.
L3_FIELDS = {
    "repro_steps": "1. log in",
    "logs": "E-504 at 10:02",
    "environment": "Chrome 120",
    "timestamps": "10:02Z",
    "impact_scope": "one_customer",
    "impact_urgency": "normal",
}
# The customer handshake of our widget: the gateway's extras (acks, ids, seq, states, replay) instead of stock Rasa.
FRONTLINE_AUTH = {"protocol": ev.FRONTLINE_PROTOCOL}

HANDOFF_PAYLOAD: dict[str, Any] = {
    "reason": "three_strikes",
    "strikes": 3,
    "customer_id": "cus_1002",
    "customer_tier": "business",
    "hypothesis": None,
    "problem": "Customer can't log in",
    "turns": [
        {
            "text": "I can't log in to my account",
            "intent": "reset_password",
            "confidence": 0.91,
            "ranking": [
                {"name": "reset_password", "confidence": 0.91},
                {"name": "account_locked", "confidence": 0.05},
            ],
            "entities": [{"entity": "email", "value": "ben.carter@example.com"}],
            "sentiment": -0.1,
            "frustration": 0.2,
        },
        {
            "text": "the reset link never arrives, my card 4111 1111 1111 1111 is fine",
            "intent": "step_failed",
            "confidence": 0.62,
            "ranking": [{"name": "step_failed", "confidence": 0.62}],
            "entities": [],
            "sentiment": -0.5,
            "frustration": 0.6,
        },
    ],
    "entities": {"email": "ben.carter@example.com"},
    "slots": {"customer_id": "cus_1002"},
    "steps": [
        {"step": "password reset", "outcome": "failed", "detail": "reset email not received"},
        {"step": "account status check", "outcome": "found", "detail": "5 failed logins"},
    ],
    "sentiment": {"latest": -0.5, "trend": [-0.1, -0.3, -0.5]},
    "frustration": 0.6,
}


def free_port() -> int:
    """An unused TCP port on localhost."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class FakeRasa:
    """An aiohttp server standing in for Rasa: scripted replies, recorded calls, switchable outage."""

    def __init__(self) -> None:
        """Default script; nothing recorded yet."""
        self.messages: list[dict[str, Any]] = []
        self.api_calls: list[tuple[str, dict[str, Any], dict[str, str]]] = []
        self.down = False
        self.delay = 0.0
        self.handoff_payload = HANDOFF_PAYLOAD
        # What GET /conversations/{id}/tracker answers (the escalation predictor reads it after each bot turn).
        self.slots: dict[str, Any] = {"strikes": 0.0, "customer_tier": None, "fast_lane": False}
        self.tracker_down = False
        self.tracker_calls: list[tuple[str, dict[str, str]]] = []
        # What GET /status says is loaded (the gateway's health check learns it; a retrain changes it).
        self.model_id = "model-a"
        self.latest_intent = "inform"  # the intent the tracker's latest message was read as
        self.status_calls: list[dict[str, str]] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    def script(self, message: str) -> list[dict[str, Any]]:
        """The bot's replies to ``message``."""
        if message == "hello":
            return [{"text": "Hi! How can I help?"}]
        if message == "buttons":
            return [{"text": "Pick a topic", "buttons": [{"title": "Billing", "payload": "/billing_invoice"}]}]
        if message == "image":
            return [{"image": "https://example.com/help.png"}]
        if message == "paragraphs":  # Rasa's REST channel keeps text with buttons whole; socketio splits it
            return [
                {
                    "text": "First paragraph.\n\nSecond paragraph.",
                    "buttons": [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}],
                }
            ]
        if message == "custom":
            return [{"custom": {"data": {"kind": "map", "city": "Lisbon"}}}]
        if message == "custom_raw":
            return [{"custom": {"blocks": [{"type": "divider"}]}}]
        if message == "attachment":
            return [{"attachment": {"type": "video", "payload": {"src": "https://example.com/help.mp4", "title": "Help"}}}]
        if message == "elements":
            return [{"elements": [{"title": "A"}, {"title": "B"}]}]
        if message == "/request_human":
            return [
                {"text": "Let me get a person for you."},
                {"custom": {"handoff": {**self.handoff_payload, "reason": "customer_request"}}},
            ]
        if message == "human":
            return [
                {"text": "Let me get a person for you."},
                {"custom": {"handoff": self.handoff_payload}},
            ]
        return [{"text": f"echo: {message}"}]

    async def _webhook(self, request: web.Request) -> web.Response:
        if self.down:
            return web.Response(status=503)
        body = await request.json()
        self.messages.append(body)
        if self.delay:
            await asyncio.sleep(self.delay)
        replies = [{"recipient_id": body["sender"], **r} for r in self.script(body["message"])]
        return web.json_response(replies)

    async def _events(self, request: web.Request) -> web.Response:
        self.api_calls.append(("events", await request.json(), dict(request.query)))
        return web.json_response({"events": []})

    async def _tracker(self, request: web.Request) -> web.Response:
        self.tracker_calls.append((request.match_info["cid"], dict(request.query)))
        if self.tracker_down:
            return web.Response(status=500)
        text = self.messages[-1]["message"] if self.messages else ""
        return web.json_response(
            {
                "sender_id": request.match_info["cid"],
                "slots": dict(self.slots),
                "latest_message": {
                    "text": text,
                    "intent": {"name": self.latest_intent, "confidence": 0.93},
                    "intent_ranking": [{"name": self.latest_intent, "confidence": 0.93}],
                    "frustration": {"score": 0.0, "sentiment": 0.0},
                },
            }
        )

    async def _status(self, request: web.Request) -> web.Response:
        self.status_calls.append(dict(request.query))
        if self.down:
            return web.Response(status=500)
        if request.query.get("token") != RASA_TOKEN:
            return web.json_response({"status": "failure", "reason": "NotAuthenticated"}, status=401)
        return web.json_response({"model_id": self.model_id, "model_file": f"models/{self.model_id}.tar.gz"})

    async def _trigger(self, request: web.Request) -> web.Response:
        self.api_calls.append(("trigger_intent", await request.json(), dict(request.query)))
        cid = request.match_info["cid"]
        return web.json_response(
            {
                "tracker": {},
                "messages": [{"recipient_id": cid, "text": "Welcome back! The assistant is here again."}],
            }
        )

    async def start(self) -> None:
        """Listen on a free port."""
        app = web.Application()
        app.router.add_post("/webhooks/rest/webhook", self._webhook)
        app.router.add_post("/conversations/{cid}/tracker/events", self._events)
        app.router.add_post("/conversations/{cid}/trigger_intent", self._trigger)
        app.router.add_get("/conversations/{cid}/tracker", self._tracker)
        app.router.add_get("/status", self._status)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        port = free_port()
        await web.TCPSite(self.runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        """Close the server."""
        if self.runner:
            await self.runner.cleanup()


class Client:
    """A Socket.IO client (websocket transport) that records every event of its namespace.

    On the customer namespace it connects as our widget does, asking for frontline.1 (see :meth:`handshake`);
    tests/handoff/test_stock_protocol.py uses plain clients for stock Rasa.
    """

    def __init__(self, namespace: str = "/") -> None:
        """Not connected yet."""
        self.ns = namespace
        self.sio = socketio.AsyncClient(reconnection=False)
        self.received: list[tuple[str, Any]] = []
        self._new = asyncio.Event()
        self.sio.on("*", self._on_any, namespace=namespace)

    async def _on_any(self, event: str, *args: Any) -> None:
        self.received.append((event, args[0] if args else None))
        self._new.set()

    def handshake(self, auth_data: Any = None) -> Any:
        """The ``auth`` to connect with: ``auth_data`` when given, else the frontline.1 opt-in on ``/``."""
        return FRONTLINE_AUTH if auth_data is None and self.ns == ev.CUSTOMER_NS else auth_data

    async def connect(self, url: str, auth_data: Any = None) -> None:
        """Connect with the websocket transport."""
        await self.sio.connect(
            url, namespaces=[self.ns], transports=["websocket"], auth=self.handshake(auth_data), wait_timeout=5
        )

    def of(self, event: str) -> list[Any]:
        """Payloads received for ``event`` so far."""
        return [d for e, d in self.received if e == event]

    async def wait_for(
        self, event: str, pred: Callable[[Any], bool] | None = None, timeout: float = 5.0, count: int = 1
    ) -> Any:
        """Wait until ``count`` matching ``event`` payloads arrived; return the last of them."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            self._new.clear()
            matches = [d for e, d in self.received if e == event and (pred is None or pred(d))]
            if len(matches) >= count:
                return matches[count - 1]
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"timed out waiting for {event}; got {[e for e, _ in self.received]}")
            try:
                await asyncio.wait_for(self._new.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    async def call(self, event: str, data: Any = None, timeout: float = 10.0) -> Any:
        """Emit and return the ack."""
        return await self.sio.call(event, data, namespace=self.ns, timeout=timeout)

    async def emit(self, event: str, data: Any = None) -> None:
        """Emit without ack."""
        await self.sio.emit(event, data, namespace=self.ns)

    async def session(self, session_id: str | None = None, last_seq: int | None = None) -> str:
        """session_request -> the confirmed session id."""
        before = len(self.of("session_confirm"))
        payload: dict[str, Any] = {"session_id": session_id}
        if last_seq is not None:
            payload["last_seq"] = last_seq
        await self.emit("session_request", payload)
        return str(await self.wait_for("session_confirm", count=before + 1))

    async def say(self, text: str, **extra: Any) -> dict[str, Any]:
        """user_uttered with the bound session; returns the ack."""
        sid = self.of("session_confirm")[-1]
        result: dict[str, Any] = await self.call("user_uttered", {"message": text, "session_id": sid, **extra})
        return result

    async def close(self) -> None:
        """Disconnect (before the server closes)."""
        if self.sio.connected:
            await self.sio.disconnect()


@dataclass
class Running:
    """A gateway listening on a port."""

    app: web.Application
    runner: web.AppRunner
    url: str
    settings: Settings
    clients: list[Client] = field(default_factory=list)
    stopped: bool = False

    @property
    def gw(self) -> Gateway:
        """The gateway service."""
        return self.app[GATEWAY]

    async def customer(self, session_id: str | None = None) -> Client:
        """A connected customer with a confirmed session."""
        c = Client("/")
        await c.connect(self.url)
        self.clients.append(c)
        await c.session(session_id)
        return c

    async def queued_customer(self) -> tuple[Client, str]:
        """A customer who asked for a person and whose conversation is in the queue; and its id."""
        c = await self.customer()
        await c.say("human")
        await c.wait_for("conversation_state", lambda d: d["state"] == "queued")
        return c, str(c.of("session_confirm")[-1])

    async def agent_client(self, agent: AgentRecord, token: str | None = None) -> Client:
        """A connected agent (waits for its first queue snapshot)."""
        c = Client("/agents")
        token = token or auth.issue_token(TOKEN_SECRET, agent.id, agent.role, 3600)
        await c.connect(self.url, {"token": token})
        self.clients.append(c)
        await c.wait_for("queue_snapshot")
        await c.call("presence", {"status": "online"})  # a console signs in away; going online pulls work
        return c

    async def get_json(self, path: str, token: str) -> Any:
        """GET ``path`` of the REST API as the agent holding ``token``; the body of a 200 answer."""
        await self.gw.idle()  # what the last socket events started is done
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{self.url}{path}", headers={"Authorization": f"Bearer {token}"}) as resp:
                assert resp.status == 200, await resp.text()
                return await resp.json()

    async def add_agent(self, email: str, **kw: Any) -> AgentRecord:
        """Create an agent directly in the store."""
        async with self.gw.db.write() as s:
            return await agent_store.create_agent(
                s,
                email=email,
                name=kw.pop("name", email.split("@")[0].title()),
                password_hash=PASSWORD_HASH,
                **kw,
            )

    async def stop(self) -> None:
        """Disconnect clients, then close the server."""
        if self.stopped:
            return
        self.stopped = True
        for c in self.clients:
            await c.close()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 3
        while self.gw.agent_sids and loop.time() < deadline:  # server-side disconnects still running
            await asyncio.sleep(0.01)
        await self.gw.idle()
        await self.runner.cleanup()


def make_settings(db_path: Path, rasa_url: str, **overrides: Any) -> Settings:
    """Settings for a test gateway."""
    base = Settings(
        host="127.0.0.1",
        port=0,
        database_url=f"sqlite+aiosqlite:///{db_path}",
        rasa_url=rasa_url,
        rasa_timeout=2.0,
        identity_secret=IDENTITY_SECRET,
        token_secret=TOKEN_SECRET,
        vouch_secret=VOUCH_SECRET,
        rasa_token=RASA_TOKEN,
        sla_check_interval_seconds=0.2,
        agent_grace_seconds=60.0,
        average_handle_seconds=300,
        # No trained model: the escalation predictor uses its cold-start rule (deterministic).
        prediction_model_path=str(db_path.parent / "no_escalation_model.joblib"),
        # Never the checkout's data/: labels and retrains of a test gateway go nowhere unless a test says where.
        training_project=str(db_path.parent / "no-training-project"),
        bot_python=str(db_path.parent / "no-bot-python"),
    )
    return replace(base, **overrides)


async def start_gateway(settings: Settings) -> Running:
    """Run ``create_app(settings)`` on a free port."""
    app = create_app(settings)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return Running(app, runner, f"http://127.0.0.1:{port}", settings)


async def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> None:
    """Poll ``predicate`` (sync or async) until true."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval)

