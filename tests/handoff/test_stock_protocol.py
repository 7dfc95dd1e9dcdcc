"""A client that speaks stock Rasa (no opt-in in the handshake) gets exactly what Rasa 3.6's socketio channel sends.

The clients here are plain ``socketio.AsyncClient``s that connect without ``auth``, as rasa-webchat does: they send
``session_request`` and ``user_uttered`` only, and every payload they receive is compared key for key with the
shapes of ``rasa/core/channels/socketio.py`` (``SocketIOOutput``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
import socketio

from handoff.domain import events as ev
from handoff.storage import messages as message_store
from tests.handoff.helpers import FakeRasa, Running, wait_until


class Stock:
    """A stock Rasa socketio client: no ``auth``, records every event it receives (with all its arguments)."""

    def __init__(self) -> None:
        """Not connected yet."""
        self.sio = socketio.AsyncClient(reconnection=False)
        self.received: list[tuple[str, tuple[Any, ...]]] = []
        self.sio.on("*", self._on_any)

    async def _on_any(self, event: str, *args: Any) -> None:
        self.received.append((event, args))

    async def connect(self, url: str, auth: Any = None) -> None:
        """Connect (websocket) with nothing in the handshake, like rasa-webchat."""
        await self.sio.connect(url, transports=["websocket"], auth=auth, wait_timeout=5)

    def events(self) -> set[str]:
        """Names of the events received so far."""
        return {e for e, _ in self.received}

    def of(self, event: str) -> list[Any]:
        """Payloads of ``event`` (each event must carry exactly one argument)."""
        found = [args for e, args in self.received if e == event]
        assert all(len(args) == 1 for args in found), found
        return [args[0] for args in found]

    async def wait_for(self, event: str, count: int = 1, pred: Callable[[Any], bool] | None = None) -> list[Any]:
        """Wait until ``count`` payloads of ``event`` (matching ``pred``) arrived; return them all."""
        await wait_until(lambda: len([d for d in self.of(event) if pred is None or pred(d)]) >= count, timeout=5)
        return [d for d in self.of(event) if pred is None or pred(d)]

    async def session(self, session_id: str | None = None) -> str:
        """session_request -> session_confirm (a bare string, as Rasa sends it)."""
        before = len(self.of("session_confirm"))
        await self.sio.emit("session_request", {"session_id": session_id})
        confirmed = (await self.wait_for("session_confirm", before + 1))[-1]
        assert isinstance(confirmed, str)
        return confirmed

    async def say(self, sid: str, message: Any = ..., **extra: Any) -> Any:
        """user_uttered as rasa-webchat sends it (``...``: no ``message`` key at all); returns what the ack carried."""
        data: dict[str, Any] = {"session_id": sid, "customData": {"language": "en"}, **extra}
        if message is not ...:
            data["message"] = message
        return await self.sio.call("user_uttered", data, timeout=5)

    async def close(self) -> None:
        """Disconnect (before the server closes)."""
        if self.sio.connected:
            await self.sio.disconnect()


@pytest.fixture
async def stock(gateway: Running) -> Any:
    """``await stock()``: a connected stock client (disconnected at the end)."""
    made: list[Stock] = []

    async def new() -> Stock:
        c = Stock()
        await c.connect(gateway.url)
        made.append(c)
        return c

    yield new
    for c in made:
        await c.close()


async def _settle(gateway: Running) -> None:
    await gateway.gw.idle()
    await asyncio.sleep(0.1)  # emits already sent reach the client


async def test_stock_client_gets_session_confirm_and_rasa_shapes_only(gateway: Running, stock: Any) -> None:
    c = await stock()
    sid = await c.session()
    assert len(sid) >= 32
    # Stock Rasa acknowledges nothing: an ack, if the client asks for one, carries no data.
    assert await c.say(sid, "hello") is None
    assert await c.wait_for("bot_uttered") == [{"text": "Hi! How can I help?"}]

    await c.say(sid, "buttons")
    (buttons,) = await c.wait_for("bot_uttered", pred=lambda m: "quick_replies" in m)
    assert buttons == {
        "text": "Pick a topic",
        "quick_replies": [{"content_type": "text", "title": "Billing", "payload": "/billing_invoice"}],
    }
    await c.say(sid, "image")
    (image,) = await c.wait_for("bot_uttered", pred=lambda m: "attachment" in m)
    assert image == {"attachment": {"type": "image", "payload": {"src": "https://example.com/help.png"}}}
    await _settle(gateway)
    # Nothing else: no ids, seq or sender, no typing, conversation state, history or queue events.
    assert c.events() == {"session_confirm", "bot_uttered"}
    assert [sorted(m) for m in c.of("bot_uttered")] == [["text"], ["quick_replies", "text"], ["attachment"]]


async def test_text_buttons_custom_json_attachments_and_elements_as_rasa_sends_them(gateway: Running, stock: Any) -> None:
    c = await stock()
    sid = await c.session()
    # send_text_with_buttons: one message per paragraph, the buttons on the last one, empty lists before it.
    await c.say(sid, "paragraphs")
    assert await c.wait_for("bot_uttered", 2) == [
        {"text": "First paragraph.", "quick_replies": []},
        {
            "text": "Second paragraph.",
            "quick_replies": [
                {"content_type": "text", "title": "Yes", "payload": "/affirm"},
                {"content_type": "text", "title": "No", "payload": "/deny"},
            ],
        },
    ]
    # send_custom_json: Rasa emits the custom payload's ``data``; a payload without it goes as it is.
    await c.say(sid, "custom")
    assert (await c.wait_for("bot_uttered", 3))[-1] == {"kind": "map", "city": "Lisbon"}
    await c.say(sid, "custom_raw")
    assert (await c.wait_for("bot_uttered", 4))[-1] == {"blocks": [{"type": "divider"}]}
    # send_attachment: the attachment as it is.
    await c.say(sid, "attachment")
    assert (await c.wait_for("bot_uttered", 5))[-1] == {
        "attachment": {"type": "video", "payload": {"src": "https://example.com/help.mp4", "title": "Help"}}
    }
    # send_elements: one generic template per element.
    await c.say(sid, "elements")
    assert (await c.wait_for("bot_uttered", 7))[-2:] == [
        {"attachment": {"type": "template", "payload": {"template_type": "generic", "elements": {"title": "A"}}}},
        {"attachment": {"type": "template", "payload": {"template_type": "generic", "elements": {"title": "B"}}}},
    ]
    await _settle(gateway)
    assert c.events() == {"session_confirm", "bot_uttered"}


async def test_extras_clients_keep_their_shapes_beside_stock_ones(gateway: Running, stock: Any) -> None:
    """Both kinds of client on one conversation: each gets its own shapes of the same message."""
    ours = await gateway.customer()
    sid = ours.of("session_confirm")[-1]
    c = await stock()
    assert await c.session(sid) == sid
    ack = await ours.say("paragraphs")
    assert set(ack) == {"id", "seq"}
    extras = await ours.wait_for("bot_uttered")
    assert set(extras) == {"id", "seq", "metadata", "text", "quick_replies"}
    assert extras["text"] == "First paragraph.\n\nSecond paragraph." and len(extras["quick_replies"]) == 2
    assert [m["text"] for m in await c.wait_for("bot_uttered", 2)] == ["First paragraph.", "Second paragraph."]
    await ours.say("elements")
    assert (await ours.wait_for("bot_uttered", count=2))["attachment"] == {
        "type": "template",
        "payload": {"template_type": "generic", "elements": [{"title": "A"}, {"title": "B"}]},
    }
    await _settle(gateway)
    assert {"conversation_state", "typing"} <= {e for e, _ in ours.received}
    assert c.events() == {"session_confirm", "bot_uttered"}


async def test_an_init_payload_is_never_an_error(gateway: Running, rasa: FakeRasa, stock: Any) -> None:
    c = await stock()
    sid = await c.session()
    # rasa-webchat without initPayload sends ``message: null``; other clients leave the key out or send "".
    for message in (..., None, "", "   "):
        assert await c.say(sid, message) is None
    await _settle(gateway)
    assert c.received == [("session_confirm", (sid,))]
    assert rasa.messages == []
    async with gateway.gw.db.read() as s:
        assert await message_store.messages_after(s, sid, 0) == []
    # An init payload with an intent goes to the bot like any message (stored first, as every customer message).
    assert await c.say(sid, "/greet") is None
    assert await c.wait_for("bot_uttered") == [{"text": "echo: /greet"}]
    assert [m["message"] for m in rasa.messages] == ["/greet"]
    async with gateway.gw.db.read() as s:
        assert [(m.sender, m.text) for m in await message_store.messages_after(s, sid, 0)] == [
            ("customer", "/greet"),
            ("bot", "echo: /greet"),
        ]


async def test_a_person_reaches_the_stock_client_as_plain_text(gateway: Running, rasa: FakeRasa, stock: Any) -> None:
    lena = await gateway.add_agent("lena@example.com", name="Lena")
    agent = await gateway.agent_client(lena)
    await agent.call("presence", {"status": "away"})  # no auto-assign: the hand-off waits in the queue
    c = await stock()
    sid = await c.session()
    await c.say(sid, "human")
    texts = await c.wait_for("bot_uttered", 2)
    assert texts[0] == {"text": "Let me get a person for you."}
    assert set(texts[1]) == {"text"} and "no agent is online" in texts[1]["text"]

    assert (await agent.call("claim", {"conversation_id": sid}))["ok"] is True
    joined = (await c.wait_for("bot_uttered", 3))[-1]
    assert joined == {"text": "Lena from our support team has joined the conversation."}
    assert "seq" in await agent.call("agent_message", {"conversation_id": sid, "text": "Hi, Lena here. Let me look."})
    assert (await c.wait_for("bot_uttered", 4))[-1] == {"text": "Hi, Lena here. Let me look."}
    # The customer's answer goes to the agent (stored first), not to the bot.
    assert await c.say(sid, "thanks, it's invoice INV-1001") is None
    got = await agent.wait_for("customer_message", lambda d: d["conversation_id"] == sid)
    assert got["message"]["text"] == "thanks, it's invoice INV-1001"
    assert [m["message"] for m in rasa.messages] == ["human"]

    await agent.call("resolve", {"conversation_id": sid, "resolution_code": "fixed"})
    csat = (await c.wait_for("bot_uttered", 5))[-1]
    assert set(csat) == {"text", "quick_replies"}
    assert [set(q) for q in csat["quick_replies"]] == [{"content_type", "title", "payload"}] * 5
    await c.say(sid, csat["quick_replies"][4]["payload"])
    assert (await c.wait_for("bot_uttered", 6))[-1] == {"text": "Thank you for your feedback!"}
    await _settle(gateway)
    assert c.events() == {"session_confirm", "bot_uttered"}
    assert all(len(m) == 1 or set(m) == {"text", "quick_replies"} for m in c.of("bot_uttered"))


async def test_reconnecting_with_the_same_session_id_keeps_the_conversation(
    gateway: Running, rasa: FakeRasa, stock: Any
) -> None:
    first = await stock()
    sid = await first.session()
    await first.say(sid, "hello")
    await first.wait_for("bot_uttered")
    await first.close()

    again = await stock()  # a reload: rasa-webchat asks for the session id it kept in storage
    assert await again.session(sid) == sid
    await again.say(sid, "buttons")
    assert (await again.wait_for("bot_uttered"))[-1]["text"] == "Pick a topic"
    await _settle(gateway)
    # No replay: rasa-webchat shows what it kept in storage, a replay would show everything twice.
    assert again.events() == {"session_confirm", "bot_uttered"} and len(again.of("bot_uttered")) == 1
    detail = await gateway.gw.conversation_detail(sid)
    assert [m["text"] for m in detail["messages"]] == ["hello", "Hi! How can I help?", "buttons", "Pick a topic"]
    assert [m["sender"] for m in rasa.messages] == [sid, sid]


async def test_extras_only_events_and_bad_payloads_are_told_as_text(gateway: Running, stock: Any) -> None:
    """A stock widget shows only bot_uttered: what went wrong comes as a plain text message, never as an ack."""
    c = await stock()
    assert await c.say("not-bound", "hi") is None
    (told,) = await c.wait_for("bot_uttered")
    assert set(told) == {"text"} and "session_request" in told["text"]
    sid = await c.session()
    assert await c.say(sid, "x" * 5000) is None
    assert "larger than" in (await c.wait_for("bot_uttered", 2))[-1]["text"]
    assert await c.say(sid, 42) is None
    assert await c.sio.call("resume", {"session_id": sid, "last_seq": 0}, timeout=5) is None
    assert "frontline.1" in (await c.wait_for("bot_uttered", 4))[-1]["text"]
    await _settle(gateway)
    assert c.events() == {"session_confirm", "bot_uttered"}
    assert all(set(m) == {"text"} for m in c.of("bot_uttered"))


async def test_the_handshake_decides_the_protocol(gateway: Running) -> None:
    # Anything but a known protocol in ``auth`` (a JWT for Rasa's channel, say) is a stock client.
    other = Stock()
    await other.connect(gateway.url, {"token": "a-jwt-for-rasa"})
    try:
        await other.session()
        await _settle(gateway)
        assert other.events() == {"session_confirm"}
    finally:
        await other.close()
    # Asking for a protocol this gateway does not speak is refused with the reason.
    refused = Stock()
    reasons: list[Any] = []
    refused.sio.on("connect_error", reasons.append)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await refused.connect(gateway.url, {"protocol": "frontline.9"})
    assert "frontline.9" in str(reasons) and ev.FRONTLINE_PROTOCOL in str(reasons)
    # The opt-in gets the extras from the first event on.
    ours = Stock()
    await ours.connect(gateway.url, {"protocol": ev.FRONTLINE_PROTOCOL})
    try:
        assert await ours.sio.call("session_request", {"session_id": None}, timeout=5) == {
            "session_id": (await ours.wait_for("session_confirm"))[0]
        }
        await ours.wait_for("conversation_state")
    finally:
        await ours.close()


async def test_stock_tabs_count_against_the_tab_limit(gateway_factory: Any) -> None:
    """Stock sockets sit in a room of their own; the limit of tabs per session still counts them."""
    gateway = await gateway_factory(max_sockets_per_session=2)
    ours = await gateway.customer()
    sid = ours.of("session_confirm")[-1]
    tab, extra = Stock(), Stock()
    try:
        await tab.connect(gateway.url)
        assert await tab.session(sid) == sid
        await extra.connect(gateway.url)
        await extra.sio.emit("session_request", {"session_id": sid})
        (told,) = await extra.wait_for("bot_uttered")
        assert "2 tabs" in told["text"] and not extra.of("session_confirm")
        more = await gateway.customer()
        assert (await more.call("session_request", {"session_id": sid}))["code"] == "too_many_sockets"
    finally:
        await tab.close()
        await extra.close()


def test_the_protocol_description_has_both_protocols() -> None:
    """``GET /api/protocol`` (and ``python -m handoff events``) tell a client what each handshake gets."""
    protocols = ev.describe()["protocols"]
    assert protocols[ev.FRONTLINE_PROTOCOL]["handshake"] == {"auth": {"protocol": "frontline.1"}}
    rasa = protocols["rasa"]
    assert set(rasa["incoming"]) == {"session_request", "user_uttered"}
    assert rasa["incoming"]["user_uttered"]["message"]["required"] is False
    assert set(rasa["outgoing"]) == {"session_confirm", "bot_uttered"}
