"""Size and rate limits: Engine.IO packet size, message and metadata size, REST body size, connections and events
per client IP, tabs per session. Each limit hits only the client over it; the gateway and others keep working."""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Any

import aiohttp
import socketio

from handoff.domain import auth
from handoff.settings import Settings
from handoff.transport.appkeys import SIO
from handoff.transport.ratelimit import client_ip
from tests.handoff.helpers import TOKEN_SECRET, Client, Running


async def _connect(gateway: Running, namespace: str = "/", forwarded_for: str | None = None, auth_data: Any = None) -> Any:
    """A connected client, or the refusal it got."""
    c = Client(namespace)
    refusal: list[Any] = []
    c.sio.on("connect_error", lambda data: refusal.append(data), namespace=namespace)
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    try:
        await c.sio.connect(
            gateway.url,
            namespaces=[namespace],
            transports=["websocket"],
            headers=headers,
            auth=c.handshake(auth_data),
            wait_timeout=5,
        )
    except socketio.exceptions.ConnectionError as exc:
        return refusal[0] if refusal else str(exc)
    gateway.clients.append(c)
    return c


async def _until(condition: Any, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


# ---------------------------------------------------------------- sizes


async def test_an_oversized_engineio_packet_drops_only_that_client(gateway: Running) -> None:
    assert Settings().max_payload_bytes == 64 * 1024
    assert gateway.app[SIO].eio.max_http_buffer_size == 64 * 1024
    bystander = await gateway.customer()
    offender = await gateway.customer()
    sid = offender.of("session_confirm")[-1]
    # Under the packet limit but over the message limit: a clear error, the connection stays.
    ack = await offender.call("user_uttered", {"message": "x" * 60_000, "session_id": sid})
    assert ack["code"] == "too_large"
    assert offender.sio.connected
    # Over the packet limit: that connection is closed (aiohttp refuses the frame before buffering it).
    await offender.emit("user_uttered", {"message": "x" * 70_000, "session_id": sid})
    await _until(lambda: not offender.sio.connected)
    # Nothing was stored, and the gateway serves the others: the bystander, and a new customer.
    await gateway.gw.idle()
    assert (await gateway.gw.conversation_detail(sid))["messages"] == []
    await bystander.say("hello")
    assert (await bystander.wait_for("bot_uttered"))["text"] == "Hi! How can I help?"
    newcomer = await gateway.customer()
    assert "seq" in await newcomer.say("hello")
    # The dropped customer comes back into its conversation.
    back = await gateway.customer(sid)
    assert back.of("session_confirm")[-1] == sid


async def test_an_oversized_frame_is_refused_by_aiohttp_before_it_is_buffered(gateway: Running) -> None:
    """Close code 1009 (message too big) comes from aiohttp's reader; engine.io's own check would close with 1000."""
    ws_url = gateway.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    async with aiohttp.ClientSession() as http, http.ws_connect(ws_url) as ws:
        assert (await ws.receive_str()).startswith("0{")  # engine.io OPEN
        await ws.send_str("40")  # socket.io CONNECT to /
        assert (await ws.receive_str()).startswith("40")
        await ws.send_str('42["typing",{"on":true,"pad":"' + "p" * 70_000 + '"}]')
        closing = await ws.receive(timeout=5)
        while closing.type == aiohttp.WSMsgType.TEXT:
            closing = await ws.receive(timeout=5)
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert ws.close_code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG


async def test_oversized_metadata_is_refused_with_a_reason(gateway: Running, rasa: Any) -> None:
    c = await gateway.customer()
    big = {"customer_id": "cus_1002", "note": "y" * 5000}
    for field in ("customData", "metadata"):
        ack = await c.say("hello", **{field: big})
        assert ack["code"] == "too_large" and field in ack["error"], (field, ack)
    assert rasa.messages == []
    ok = await c.say("hello", customData={"customer_id": "cus_1002"})
    assert "seq" in ok


async def test_an_oversized_rest_body_is_refused(gateway: Running) -> None:
    lead = await gateway.add_agent("omar@example.com", role="lead")
    headers = {"Authorization": f"Bearer {auth.issue_token(TOKEN_SECRET, lead.id, 'lead', 60)}"}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{gateway.url}/api/login", json={"email": "a@b.c", "password": "p" * 70_000}) as r:
            assert r.status == 413
        big = {"team": "general", "title": "t", "text": "z" * 5000}
        async with http.post(f"{gateway.url}/api/canned_replies", json=big, headers=headers) as r:
            assert r.status == 400 and (await r.json())["code"] == "too_large"
        async with http.get(f"{gateway.url}/healthz") as r:
            assert r.status == 200


# ---------------------------------------------------------------- per client IP


async def test_connections_per_ip_are_limited_on_both_namespaces(gateway_factory: Any) -> None:
    gateway = await gateway_factory(ip_connections=3, ip_connection_window_seconds=60.0)
    lena = await gateway.add_agent("lena@example.com")
    token = auth.issue_token(TOKEN_SECRET, lena.id, "l2", 60)
    first = await _connect(gateway)
    second = await _connect(gateway)
    agent = await _connect(gateway, "/agents", auth_data={"token": token})
    assert all(isinstance(c, Client) for c in (first, second, agent))
    for namespace, auth_data in (("/", None), ("/agents", {"token": token})):
        refusal = await _connect(gateway, namespace, auth_data=auth_data)
        assert isinstance(refusal, dict), refusal
        assert "too many connections" in refusal["message"] and refusal["data"] == {"code": "too_many_connections"}
    # Those already connected keep working.
    await first.session()
    assert "seq" in await first.say("hello")


async def test_events_per_ip_are_summed_over_its_sockets(gateway_factory: Any) -> None:
    gateway = await gateway_factory(rate_limit_events=100, ip_rate_limit_events=6, rate_limit_window_seconds=30.0)
    a = await gateway.customer()  # 1 event (session_request)
    b = await gateway.customer()  # 2
    results = []
    for _ in range(3):
        results.append(await a.call("typing", {"on": True}))
        results.append(await b.call("typing", {"on": True}))
    codes = [r.get("code") for r in results]
    assert codes == [None, None, None, None, "rate_limited", "rate_limited"], codes
    assert (await a.wait_for("error"))["code"] == "rate_limited"


async def test_forwarded_for_counts_only_behind_a_trusted_proxy(gateway_factory: Any) -> None:
    trusting = await gateway_factory(ip_connections=2, trusted_proxies=("127.0.0.0/8",))
    assert isinstance(await _connect(trusting, forwarded_for="203.0.113.5"), Client)
    assert isinstance(await _connect(trusting, forwarded_for="203.0.113.5"), Client)
    assert isinstance(await _connect(trusting, forwarded_for="203.0.113.5"), dict)  # the third from that client
    assert isinstance(await _connect(trusting, forwarded_for="203.0.113.6"), Client)  # another client is fine
    # A client cannot escape by prepending addresses of its own.
    assert isinstance(await _connect(trusting, forwarded_for="10.1.1.1, 203.0.113.5"), dict)

    direct = await gateway_factory(ip_connections=2)  # no trusted proxy: the header means nothing
    for i in range(2):
        assert isinstance(await _connect(direct, forwarded_for=f"198.51.100.{i}"), Client)
    assert isinstance(await _connect(direct, forwarded_for="198.51.100.77"), dict)


def test_client_ip_takes_the_last_untrusted_hop() -> None:
    proxies = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("192.0.2.1/32")]
    assert client_ip("198.51.100.1", None, proxies) == "198.51.100.1"
    assert client_ip("198.51.100.1", "203.0.113.9", proxies) == "198.51.100.1"  # peer is not a proxy
    assert client_ip("10.0.0.2", "203.0.113.9", proxies) == "203.0.113.9"
    assert client_ip("10.0.0.2", "1.2.3.4, 203.0.113.9, 192.0.2.1", proxies) == "203.0.113.9"
    assert client_ip("10.0.0.2", "not-an-ip", proxies) == "not-an-ip"
    assert client_ip("10.0.0.2", "10.0.0.3", proxies) == "10.0.0.3"  # only proxies: the farthest one
    assert client_ip(None, None, proxies) == "unknown"


# ---------------------------------------------------------------- tabs per session


async def test_sockets_per_session_are_limited(gateway_factory: Any) -> None:
    gateway = await gateway_factory(max_sockets_per_session=3)
    first = await gateway.customer()
    sid = first.of("session_confirm")[-1]
    tabs = [await gateway.customer(sid) for _ in range(2)]
    extra = Client("/")
    await extra.connect(gateway.url)
    gateway.clients.append(extra)
    ack = await extra.call("session_request", {"session_id": sid})
    assert ack["code"] == "too_many_sockets" and "3 tabs" in ack["error"]
    assert (await extra.wait_for("error"))["code"] == "too_many_sockets"
    assert not extra.of("session_confirm")
    ack = await extra.call("resume", {"session_id": sid, "last_seq": 0})
    assert ack["code"] == "too_many_sockets"
    # The open tabs still chat; closing one frees a place.
    await tabs[0].say("hello")
    assert (await first.wait_for("bot_uttered"))["text"] == "Hi! How can I help?"
    await tabs[1].close()
    await _until(lambda: len(list(gateway.app[SIO].manager.get_participants("/", sid))) == 2)
    assert await extra.session(sid) == sid
    # Re-sending session_request from a tab already on the session does not count twice.
    assert await first.session(sid) == sid
