"""Who may do what: socket origins, agent tokens on every endpoint, roles and ownership, customers' isolation,
login lockout, security headers, and secrets kept out of the logs.

Already covered elsewhere, not repeated here: identity claims without a valid HMAC are anonymous
(``test_customer.py::test_signed_identity_is_trusted_and_forged_one_is_not``), guessed or malformed session ids get a
fresh conversation and a customer cannot post into another session
(``test_customer.py::test_known_id_resumes_and_guessed_ids_get_fresh_ones``, ``..._invalid_payloads_...``), and
agent events on the customer namespace are unknown there (same test).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio
from aiohttp import web
from sqlalchemy import func, select

from handoff.domain import auth
from handoff.domain.identity import sign
from handoff.settings import Settings
from handoff.storage.models import LoginFailure, utcnow
from handoff.transport.openapi import spec
from handoff.usecases import lockout
from tests.handoff.helpers import IDENTITY_SECRET, L3_FIELDS, PASSWORD, TOKEN_SECRET, Client, FakeRasa, Running

ROOT = Path(__file__).resolve().parents[2]


async def _http(method: str, url: str, **kw: Any) -> tuple[int, dict[str, str], Any]:
    async with aiohttp.ClientSession() as http:
        async with http.request(method, url, **kw) as response:
            body = await response.json(content_type=None) if "json" in response.content_type else await response.text()
            return response.status, dict(response.headers), body


async def _connect(
    gateway: Running, namespace: str = "/", origin: str | None = None, auth_data: Any = None
) -> tuple[Client | None, Any]:
    """Connect a recording client; return (client, None) or (None, the refusal the client saw)."""
    c = Client(namespace)
    refusal: list[Any] = []
    c.sio.on("connect_error", lambda data: refusal.append(data), namespace=namespace)
    try:
        await c.sio.connect(
            gateway.url,
            namespaces=[namespace],
            transports=["websocket"],
            auth=c.handshake(auth_data),
            headers={"Origin": origin} if origin else {},
            wait_timeout=5,
        )
    except socketio.exceptions.ConnectionError as exc:
        return None, refusal[0] if refusal else str(exc)
    gateway.clients.append(c)
    return c, None


def _bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token is not None else {}


def _bad_tokens(agent_id: int) -> dict[str, str | None]:
    """Tokens that must never open anything: what an attacker or a stale console could send."""
    valid_l2 = auth.issue_token(TOKEN_SECRET, agent_id, "l2", 3600)
    mac = valid_l2.split(".")[1]
    as_lead = auth.issue_token(TOKEN_SECRET, agent_id, "lead", 3600).split(".")[0]
    return {
        "missing": None,
        "malformed": "not-a-token",
        "forged": auth.issue_token("a-guessed-secret", agent_id, "lead", 3600),
        "expired": auth.issue_token(TOKEN_SECRET, agent_id, "lead", 60, now=time.time() - 3600),
        "tampered": f"{as_lead}.{mac}",
        "unknown_agent": auth.issue_token(TOKEN_SECRET, 987654, "lead", 3600),
        # Outside ASCII: hmac.compare_digest raises TypeError on non-ASCII str (it was a 500 and a traceback).
        "non_ascii_signature": f"{valid_l2.split('.')[0]}.é",
        "non_ascii_mac_char": f"{valid_l2.split('.')[0]}.{mac[:-1]}é",
        "non_ascii_body": f"é.{mac}",
        "astral": "\U0001f600.\U0001f600",
    }


# ---------------------------------------------------------------- origins


async def test_sockets_from_foreign_origins_are_refused_by_default(gateway: Running) -> None:
    lead = await gateway.add_agent("lead@example.com", role="lead")
    token = auth.issue_token(TOKEN_SECRET, lead.id, "lead", 3600)
    port = gateway.url.rsplit(":", 1)[1]
    for origin in ("https://evil.example", "null", f"http://evil.example:{port}", f"https://127.0.0.1:{port}"):
        client, refusal = await _connect(gateway, "/", origin)
        assert client is None and refusal, origin
        client, refusal = await _connect(gateway, "/agents", origin, {"token": token})
        assert client is None and refusal, origin
    # The gateway's own pages (127.0.0.1 and localhost on its port) and non-browser clients (no Origin) work.
    own: list[str | None] = [gateway.url, f"http://localhost:{port}", None]
    for allowed in own:
        client, refusal = await _connect(gateway, "/", allowed)
        assert client is not None and refusal is None, allowed
        assert len(await client.session()) >= 32
    agent, refusal = await _connect(gateway, "/agents", gateway.url, {"token": token})
    assert agent is not None and refusal is None
    await agent.wait_for("queue_snapshot")


async def test_configured_origins_replace_the_default(gateway_factory: Any) -> None:
    gateway = await gateway_factory(allowed_origins=("https://www.northwind.example",))
    client, _ = await _connect(gateway, "/", "https://www.northwind.example")
    assert client is not None and len(await client.session()) >= 32
    refused, refusal = await _connect(gateway, "/", gateway.url)
    assert refused is None and refusal
    no_origin, _ = await _connect(gateway, "/", None)
    assert no_origin is not None


def test_a_wildcard_origin_is_refused_at_startup() -> None:
    for value in ("*", "https://www.northwind.example,*", "https://*.northwind.example"):
        with pytest.raises(ValueError, match=r"HANDOFF_ALLOWED_ORIGINS.*'\*' is refused"):
            Settings.from_env({"HANDOFF_ALLOWED_ORIGINS": value})
    with pytest.raises(ValueError, match="not an origin"):
        Settings.from_env({"HANDOFF_ALLOWED_ORIGINS": "https://www.northwind.example/"})
    assert Settings.from_env({}).allowed_origins == ()
    # The process says why and stops, without a traceback.
    env = {**os.environ, "HANDOFF_ALLOWED_ORIGINS": "*"}
    done = subprocess.run(
        [sys.executable, "-m", "handoff", "events"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "HANDOFF_ALLOWED_ORIGINS" in done.stderr and "Traceback" not in done.stderr


# ---------------------------------------------------------------- agent tokens

AUTHENTICATED = sorted(
    (method.upper(), path) for path, ops in spec()["paths"].items() for method, op in ops.items() if "security" in op
)
PUBLIC_API = {
    ("GET", "/healthz"),
    ("POST", "/api/login"),
    ("GET", "/api/protocol"),
    ("GET", "/api/openapi.json"),
    ("POST", "/api/demo/identity"),
}


def test_every_api_route_but_a_known_few_requires_a_token() -> None:
    """A new route is either in the parametrized test below or deliberately public (and listed here)."""
    api = {
        (method.upper(), path)
        for path, ops in spec()["paths"].items()
        for method in ops
        if path.startswith("/api/") or path in ("/healthz", "/metrics")
    }
    assert api - set(AUTHENTICATED) == PUBLIC_API
    assert len(AUTHENTICATED) >= 20


@pytest.mark.parametrize(("method", "path"), AUTHENTICATED, ids=[f"{m} {p}" for m, p in AUTHENTICATED])
async def test_agent_endpoint_refuses_missing_expired_and_forged_tokens(gateway: Running, method: str, path: str) -> None:
    l2 = await gateway.add_agent("lena@example.com", role="l2")
    lead = await gateway.add_agent("omar@example.com", role="lead")
    customer = await gateway.customer()
    await customer.say("hello")
    await customer.wait_for("bot_uttered")
    sid = customer.of("session_confirm")[-1]
    await gateway.gw.idle()
    before = await gateway.gw.conversation_detail(sid)
    url = gateway.url + path.replace("{id}", sid)
    body = {"text": "hi", "resolution_code": "fixed", "to_team": "billing", "title": "t", **L3_FIELDS}
    kw: dict[str, Any] = {"json": body} if method == "POST" else {}
    for kind, token in _bad_tokens(l2.id).items():
        status, _, answer = await _http(method, url, headers=_bearer(token), **kw)
        assert status == 401, (kind, status, answer)
        assert answer["code"] == "unauthorized" and answer["error"], kind
        assert token is None or token not in str(answer)
    # Nothing happened to the conversation.
    await gateway.gw.idle()
    assert await gateway.gw.conversation_detail(sid) == before
    assert customer.of("bot_uttered") == [customer.of("bot_uttered")[0]]
    # The same request with a real token gets past authentication.
    status, _, answer = await _http(method, url, headers=_bearer(auth.issue_token(TOKEN_SECRET, lead.id, "lead", 60)), **kw)
    assert status != 401, answer


async def test_agent_namespace_refuses_missing_expired_and_forged_tokens(gateway: Running) -> None:
    lena = await gateway.add_agent("lena@example.com", role="l2")
    customer = await gateway.customer()
    for kind, token in {**_bad_tokens(lena.id), "session_id_as_token": customer.of("session_confirm")[-1]}.items():
        for auth_data in ({"token": token}, token):
            client, refusal = await _connect(gateway, "/agents", None, auth_data)
            assert client is None, kind
            assert isinstance(refusal, dict) and refusal["message"], (kind, refusal)
    assert not await gateway.gw.sockets.all(lena.id)  # no refused socket was registered for the agent
    ok, _ = await _connect(gateway, "/agents", None, {"token": auth.issue_token(TOKEN_SECRET, lena.id, "l2", 60)})
    assert ok is not None
    await ok.wait_for("queue_snapshot")


async def test_non_ascii_credentials_are_refused_without_a_traceback(
    gateway: Running, caplog: pytest.LogCaptureFixture
) -> None:
    """``Bearer abc.é`` is a bad token like any other: 401 over REST, a refusal with a reason on the socket."""
    lena = await gateway.add_agent("lena@example.com", role="l2")
    valid = auth.issue_token(TOKEN_SECRET, lena.id, "l2", 60)
    for token in ("abc.é", f"{valid}é", f"{valid[:-1]}ß", "é", "\u00e9.\u00e9"):
        status, _, answer = await _http("GET", f"{gateway.url}/api/me", headers={"Authorization": f"Bearer {token}"})
        assert status == 401 and answer["code"] == "unauthorized", (token, status, answer)
        client, refusal = await _connect(gateway, "/agents", None, {"token": token})
        assert client is None and isinstance(refusal, dict) and refusal["message"], (token, refusal)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info], caplog.records


# ---------------------------------------------------------------- roles and ownership


async def _queued(gateway: Running) -> tuple[Client, str]:
    customer = await gateway.customer()
    await customer.say("human")
    await customer.wait_for("conversation_state", lambda d: d["state"] == "queued")
    return customer, customer.of("session_confirm")[-1]


async def test_only_the_owner_or_a_lead_acts_on_a_claimed_conversation(gateway_factory: Any, rasa: FakeRasa) -> None:
    gateway = await gateway_factory(auto_assign=False)
    lena = await gateway.add_agent("lena@example.com", name="Lena", role="l2", skills=["general"])
    ivan = await gateway.add_agent("ivan@example.com", name="Ivan", role="l2", skills=["general"])
    omar = await gateway.add_agent("omar@example.com", name="Omar", role="lead", skills=["general"])
    owner, intruder, lead = [await gateway.agent_client(a) for a in (lena, ivan, omar)]
    customer, sid = await _queued(gateway)
    assert (await owner.call("claim", {"conversation_id": sid}))["ok"] is True
    await customer.wait_for("agent_joined")
    bot_lines = len(customer.of("bot_uttered"))

    attempts: dict[str, dict[str, Any]] = {
        "agent_message": {"text": "I'm not your agent"},
        "typing": {"on": True},
        "transfer": {"to_team": "billing"},
        "escalate_l3": L3_FIELDS,
        "resolve": {"resolution_code": "fixed"},
        "handback": {"coaching_note": "no"},
    }
    for event, payload in attempts.items():
        ack = await intruder.call(event, {"conversation_id": sid, **payload})
        assert ack["code"] == "forbidden", (event, ack)
    assert (await intruder.call("claim", {"conversation_id": sid}))["code"] == "already_claimed"
    token = auth.issue_token(TOKEN_SECRET, ivan.id, "l2", 60)
    for route in ("messages", "transfer", "escalate_l3", "resolve", "handback"):
        body = {"text": "hi", "to_team": "billing", "resolution_code": "fixed", "coaching_note": "x", **L3_FIELDS}
        status, _, answer = await _http(
            "POST", f"{gateway.url}/api/conversations/{sid}/{route}", json=body, headers=_bearer(token)
        )
        assert (status, answer["code"]) == (403, "forbidden"), route
    status, _, answer = await _http("POST", f"{gateway.url}/api/conversations/{sid}/claim", headers=_bearer(token))
    assert status == 409

    await gateway.gw.idle()
    detail = await gateway.gw.conversation_detail(sid)
    assert detail["conversation"]["state"] == "assigned" and detail["conversation"]["assigned_agent_id"] == lena.id
    assert not [m for m in detail["messages"] if m.get("sender") == "agent"]
    assert len(customer.of("bot_uttered")) == bot_lines
    assert not [t for t in customer.of("typing") if t["from"] == "agent"]
    assert not [c for c in rasa.api_calls if c[0] == "trigger_intent"]  # no hand-back reached the bot

    # A lead may step in; the owner still can.
    assert "seq" in await lead.call("agent_message", {"conversation_id": sid, "text": "Lead here."})
    from_lead = await customer.wait_for("bot_uttered", lambda m: m.get("text") == "Lead here.")
    assert from_lead["metadata"]["agent_name"] == "Omar"
    assert (await owner.call("resolve", {"conversation_id": sid, "resolution_code": "fixed"}))["state"] == "resolved"


async def test_l2_cannot_do_lead_or_l3_work(gateway_factory: Any) -> None:
    gateway = await gateway_factory(auto_assign=False)
    lena = await gateway.add_agent("lena@example.com", role="l2", skills=["general"])
    ivan = await gateway.add_agent("ivan@example.com", role="l2", skills=["general"])
    tara = await gateway.add_agent("tara@example.com", role="l3", skills=["general"])
    omar = await gateway.add_agent("omar@example.com", role="lead", skills=["general"])

    # Canned replies are managed by leads.
    reply = {"team": "general", "title": "Greeting", "text": "Hello!"}
    for agent, expected in ((lena, 403), (tara, 403), (omar, 201)):
        token = auth.issue_token(TOKEN_SECRET, agent.id, agent.role, 60)
        status, _, answer = await _http("POST", f"{gateway.url}/api/canned_replies", json=reply, headers=_bearer(token))
        assert status == expected, (agent.role, answer)
    status, _, listed = await _http(
        "GET", f"{gateway.url}/api/canned_replies", headers=_bearer(auth.issue_token(TOKEN_SECRET, lena.id, "l2", 60))
    )
    assert [r["title"] for r in listed["canned_replies"]].count("Greeting") == 1

    # An L3 escalation is picked up by L3 or a lead, never by another L2 agent.
    owner = await gateway.agent_client(lena)
    other_l2 = await gateway.agent_client(ivan)
    l3 = await gateway.agent_client(tara)
    _, sid = await _queued(gateway)
    await owner.call("claim", {"conversation_id": sid})
    assert (await owner.call("escalate_l3", {"conversation_id": sid, **L3_FIELDS}))["state"] == "escalated_l3"
    refused = await other_l2.call("claim", {"conversation_id": sid})
    assert "error" in refused, refused
    assert (await gateway.gw.conversation_detail(sid))["conversation"]["assigned_agent_id"] is None
    assert (await l3.call("claim", {"conversation_id": sid}))["ok"] is True


# ---------------------------------------------------------------- customers


async def test_a_customer_cannot_read_a_transcript_over_rest(gateway: Running) -> None:
    customer = await gateway.customer()
    await customer.say("my invoice INV-1071 is wrong")
    sid = customer.of("session_confirm")[-1]
    for path in (f"/api/conversations/{sid}", f"/api/conversations/{sid}/customer", "/api/conversations"):
        for headers in ({}, _bearer(sid), {"Authorization": sid}, {"Cookie": f"session_id={sid}"}):
            status, _, body = await _http("GET", gateway.url + path, headers=headers)
            assert status == 401, (path, headers)
            assert "INV-1071" not in str(body)


async def test_switching_to_another_session_leaves_the_previous_conversation(gateway: Running) -> None:
    first = await gateway.customer()
    old = first.of("session_confirm")[-1]
    ack = await first.call("resume", {"session_id": "f" * 32, "last_seq": 0})  # a guess: a fresh conversation
    fresh = ack["session_id"]
    assert fresh not in (old, "f" * 32)
    assert (await first.wait_for("history"))["messages"] == []
    # Someone holding the old id (another tab of the same customer) chats there: the switched socket hears nothing.
    tab = await gateway.customer(old)
    await tab.say("hello")
    await tab.wait_for("bot_uttered")
    await gateway.gw.idle()
    await asyncio.sleep(0.2)
    assert all(m.get("text") != "Hi! How can I help?" for m in first.of("bot_uttered"))
    assert (await first.say("still here"))["seq"] == 1  # and it posts into its own, new conversation


# ---------------------------------------------------------------- login lockout


async def _login(gateway: Running, email: str, password: str, **headers: str) -> tuple[int, dict[str, str], Any]:
    return await _http("POST", f"{gateway.url}/api/login", json={"email": email, "password": password}, headers=headers)


def _from(address: str) -> dict[str, str]:
    """Headers of a client at ``address`` behind the trusted proxy (the test client on 127.0.0.1)."""
    return {"X-Forwarded-For": address}


async def _failures_recorded(gateway: Running) -> int:
    async with gateway.gw.db.read() as s:
        return int(await s.scalar(select(func.count(LoginFailure.id))))


class Clock:
    """The login throttle's clock, moved by the test: no step depends on how fast this machine answers."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Freeze ``handoff.usecases.lockout``'s clock (the gateways run in this process)."""
    frozen = Clock()
    monkeypatch.setattr(lockout, "utcnow", frozen)
    return frozen


async def test_repeated_failures_lock_the_account_for_that_address_even_for_the_right_password(
    gateway_factory: Any, clock: Clock
) -> None:
    gateway = await gateway_factory(login_max_failures=3, login_lockout_seconds=600)
    await gateway.add_agent("lena@example.com")
    await gateway.add_agent("omar@example.com")
    for _ in range(2):
        assert (await _login(gateway, "lena@example.com", "guess"))[0] == 401
    status, headers, body = await _login(gateway, "lena@example.com", "guess")
    assert status == 429 and body["code"] == "locked_out" and "locked" in body["error"]
    assert int(headers["Retry-After"]) == 600 and body["retry_after"] == 600
    for email in ("lena@example.com", " LENA@example.com "):
        status, _, body = await _login(gateway, email, PASSWORD)
        assert status == 429 and "token" not in body, email
    assert (await _login(gateway, "omar@example.com", PASSWORD))[0] == 200  # other accounts are not locked
    # A second gateway on the same database sees the lock.
    other = await gateway_factory(login_max_failures=3, login_lockout_seconds=600)
    assert (await _login(other, "lena@example.com", PASSWORD))[0] == 429
    clock.advance(599)
    assert (await _login(gateway, "lena@example.com", PASSWORD))[0] == 429
    clock.advance(1)
    status, _, body = await _login(gateway, "lena@example.com", PASSWORD)
    assert status == 200 and body["token"]
    # Success cleared the count: the next mistake is an ordinary 401 again.
    assert (await _login(gateway, "lena@example.com", "guess"))[0] == 401


async def test_failures_for_one_account_do_not_lock_colleagues_out_of_the_same_address(
    gateway_factory: Any, clock: Clock
) -> None:
    """40 wrong passwords for lena from 127.0.0.1 used to pause every agent's login from there for 15 minutes."""
    gateway = await gateway_factory(login_max_failures=5, login_ip_max_failures=20)
    await gateway.add_agent("lena@example.com")
    await gateway.add_agent("omar@example.com")
    async with gateway.gw.db.write() as s:  # the attacker's failures, as the gateway records them
        s.add_all(
            LoginFailure(email="lena@example.com", ip="127.0.0.1", created_at=clock.now - timedelta(seconds=40 - i))
            for i in range(40)
        )
    status, _, body = await _login(gateway, "omar@example.com", PASSWORD)
    assert status == 200 and body["token"], body
    assert (await _login(gateway, "lena@example.com", PASSWORD))[0] == 429  # lena from this address: locked
    # A colleague who mistypes is slowed like anyone with failures from a noisy address: a minute at most.
    status, headers, body = await _login(gateway, "omar@example.com", "typo")
    assert status == 429 and body["code"] == "too_many_attempts" and int(headers["Retry-After"]) == 60
    assert (await _login(gateway, "omar@example.com", PASSWORD))[0] == 429
    clock.advance(60)
    assert (await _login(gateway, "omar@example.com", PASSWORD))[0] == 200


async def test_guessing_one_account_backs_off_exponentially_and_cannot_go_faster(
    gateway_factory: Any, clock: Clock
) -> None:
    """From a new address each time (no pair lock), the account's back-off paces every guess: 1 s, 2 s ... 60 s."""
    gateway = await gateway_factory(login_max_failures=3, login_ip_max_failures=1000, trusted_proxies=("127.0.0.1",))
    await gateway.add_agent("lena@example.com")
    addresses = (f"198.51.{i // 250}.{i % 250 + 1}" for i in range(10_000))
    for _ in range(2):
        assert (await _login(gateway, "lena@example.com", "guess", **_from(next(addresses))))[0] == 401
    # Parallel guesses do not share a slot: one is checked (the third failure), the others are refused unchecked.
    answers = await asyncio.gather(
        *(_login(gateway, "lena@example.com", f"guess{i}", **_from(next(addresses))) for i in range(8))
    )
    assert [a[0] for a in answers] == [429] * 8 and await _failures_recorded(gateway) == 3
    waits = []
    for _ in range(8):
        # Hammering during the back-off: refused, not checked, not counted, even with the right password.
        for password in ("guess", "guess", PASSWORD):
            status, headers, body = await _login(gateway, "lena@example.com", password, **_from(next(addresses)))
            assert status == 429 and body["code"] == "too_many_attempts" and "token" not in body
        waits.append(int(headers["Retry-After"]))
        clock.advance(waits[-1] - 0.5)
        assert (await _login(gateway, "lena@example.com", "guess", **_from(next(addresses))))[0] == 429
        before = await _failures_recorded(gateway)
        clock.advance(0.5)
        status, _, _ = await _login(gateway, "lena@example.com", "guess", **_from(next(addresses)))
        assert status == 429 and await _failures_recorded(gateway) == before + 1  # this one was checked
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60]
    assert await _failures_recorded(gateway) == 3 + 8  # out of 2 + 8 + 8 * 5 attempts


async def test_the_owner_elsewhere_waits_at_most_the_back_off_while_the_attacker_stays_locked(
    gateway_factory: Any, clock: Clock
) -> None:
    """The owner's right password from another address is delayed by the account back-off (<= 60 s), no more."""
    gateway = await gateway_factory(login_max_failures=5, login_lockout_seconds=900, trusted_proxies=("127.0.0.1",))
    await gateway.add_agent("lena@example.com")
    attacker, owner = _from("203.0.113.7"), _from("198.51.100.2")
    for _ in range(4):
        assert (await _login(gateway, "lena@example.com", "guess", **attacker))[0] == 401
    status, _, body = await _login(gateway, "lena@example.com", "guess", **attacker)
    assert status == 429 and body["code"] == "locked_out"
    for _ in range(20):
        assert (await _login(gateway, "lena@example.com", "guess", **attacker))[0] == 429
    status, headers, body = await _login(gateway, "lena@example.com", PASSWORD, **owner)
    assert status == 429 and body["code"] == "too_many_attempts" and int(headers["Retry-After"]) == 1
    clock.advance(1)
    status, _, body = await _login(gateway, "lena@example.com", PASSWORD, **owner)
    assert status == 200 and body["token"]
    # The owner's success cleared the owner's address only: the attacker's address stays locked out of lena.
    status, _, body = await _login(gateway, "lena@example.com", PASSWORD, **attacker)
    assert status == 429 and body["code"] == "locked_out"


async def test_failures_from_one_address_slow_its_guesses_but_not_colleagues(gateway_factory: Any, clock: Clock) -> None:
    gateway = await gateway_factory(login_max_failures=100, login_ip_max_failures=4, trusted_proxies=("127.0.0.1",))
    await gateway.add_agent("lena@example.com")
    spray = _from("203.0.113.7")
    for i in range(3):
        assert (await _login(gateway, f"user{i}@example.com", "guess", **spray))[0] == 401
    status, headers, body = await _login(gateway, "user9@example.com", "guess", **spray)
    assert status == 429 and body["code"] == "too_many_attempts" and int(headers["Retry-After"]) > 0
    # Accounts already guessed from this address wait; a colleague's right password there is never refused.
    assert (await _login(gateway, "user0@example.com", "guess", **spray))[0] == 429
    assert (await _login(gateway, "lena@example.com", PASSWORD, **spray))[0] == 200
    # Another client behind the same trusted proxy is not affected.
    assert (await _login(gateway, "user0@example.com", "guess", **_from("198.51.100.2")))[0] == 401


async def test_forwarded_for_is_ignored_without_a_trusted_proxy(gateway_factory: Any, clock: Clock) -> None:
    gateway = await gateway_factory(login_max_failures=100, login_ip_max_failures=3)
    for i in range(3):  # a different X-Forwarded-For each time does not make a different client
        await _login(gateway, f"user{i}@example.com", "guess", **_from(f"198.51.100.{i}"))
    status, _, body = await _login(gateway, "user0@example.com", "guess", **_from("198.51.100.99"))
    assert status == 429 and body["code"] == "too_many_attempts"


# ---------------------------------------------------------------- headers


def _dist(tmp_path: Path) -> Path:
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "index.html").write_text("<!doctype html><title>demo</title>")
    (dist / "console.html").write_text("<!doctype html><title>console</title>")
    (dist / "widget.js").write_text("var HelpdeskWidget={};")
    (dist / "console.css").write_text("body{}")
    return dist


async def test_security_headers_on_every_page_and_api_response(gateway_factory: Any, tmp_path: Path) -> None:
    gateway = await gateway_factory(widget_dist=str(_dist(tmp_path)))
    lead = await gateway.add_agent("omar@example.com", role="lead")
    customer = await gateway.customer()
    sid = customer.of("session_confirm")[-1]
    auth_headers = _bearer(auth.issue_token(TOKEN_SECRET, lead.id, "lead", 60))
    gets = [
        path.replace("{id}", sid).replace("{name}", "console.css")
        for path, ops in spec()["paths"].items()
        if "get" in ops
    ]
    requests = [("GET", p, auth_headers) for p in gets] + [
        ("GET", "/api/conversations/nope", auth_headers),  # 404
        ("GET", "/api/me", {}),  # 401
        ("POST", "/api/login", {}),  # 400
        ("GET", "/no/such/page", {}),  # 404 from the router
        ("GET", "/socket.io/?EIO=4&transport=polling", {}),  # engine.io handshake
    ]
    assert len(gets) >= 15
    for method, path, headers in requests:
        status, h, _ = await _http(method, gateway.url + path, headers=headers)
        assert h.get("X-Content-Type-Options") == "nosniff", (path, status)
        assert h.get("X-Frame-Options") == "DENY", path
        assert h.get("Referrer-Policy") in ("same-origin", "no-referrer"), path
        if path.startswith("/api/") or path in ("/healthz", "/metrics"):
            assert h.get("Cache-Control") == "no-store", path
            assert "frame-ancestors 'none'" in h.get("Content-Security-Policy", ""), path
    for page in ("/", "/console"):
        status, h, _ = await _http("GET", gateway.url + page)
        assert status == 200 and "frame-ancestors 'none'" in h["Content-Security-Policy"]
    # The widget is embedded with a <script> tag from other sites: nothing stops that.
    status, h, _ = await _http("GET", gateway.url + "/widget.js", headers={"Origin": "https://www.northwind.example"})
    assert status == 200 and "Cross-Origin-Resource-Policy" not in h


# ---------------------------------------------------------------- secrets and logs


class QuietRasa(FakeRasa):
    """The fake Rasa without an access log: it runs in this process, and Rasa's own log is not the gateway's."""

    async def start(self) -> None:
        """Like FakeRasa.start, with ``access_log=None``."""
        await super().start()
        assert self.runner is not None
        await self.runner.cleanup()
        self.runner = web.AppRunner(self.runner.app, access_log=None)
        await self.runner.setup()
        port = int(self.url.rsplit(":", 1)[1])
        await web.TCPSite(self.runner, "127.0.0.1", port).start()


@pytest.fixture
async def quiet_rasa() -> AsyncIterator[QuietRasa]:
    """A fake Rasa that logs nothing of its own."""
    server = QuietRasa()
    await server.start()
    yield server
    await server.stop()


async def test_no_secret_reaches_the_logs(
    gateway_factory: Any, quiet_rasa: QuietRasa, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    rasa = quiet_rasa
    rasa_token = "rasa-api-token-5f1e0c"
    gateway = await gateway_factory(rasa_urls=(rasa.url,), rasa_token=rasa_token, auto_assign=False)
    await gateway.add_agent("omar@example.com", name="Omar", role="lead", skills=["general"])

    # Login: a wrong password first (it is a secret too), then the right one.
    wrong_password = "hunter2-wrong-password"
    assert (await _login(gateway, "omar@example.com", wrong_password))[0] == 401
    status, _, body = await _login(gateway, "omar@example.com", PASSWORD)
    assert status == 200
    token = body["token"]
    forged = auth.issue_token("forged-secret", 1, "lead", 60)
    assert (await _http("GET", f"{gateway.url}/api/me", headers=_bearer(forged)))[0] == 401
    agent, _ = await _connect(gateway, "/agents", None, {"token": token})
    assert agent is not None
    await agent.wait_for("queue_snapshot")
    refused, _ = await _connect(gateway, "/agents", None, {"token": forged})
    assert refused is None

    # A signed-in customer asks for a person; the agent claims, replies, hands back (Rasa API with its token).
    signature = sign(IDENTITY_SECRET, "cus_1002", "ben.carter@example.com", "Ben Carter")
    claims = {"customer_id": "cus_1002", "email": "ben.carter@example.com", "name": "Ben Carter", "signature": signature}
    customer = await gateway.customer()
    sid = customer.of("session_confirm")[-1]
    await customer.say("human", customData=claims)
    await customer.wait_for("conversation_state", lambda d: d["state"] == "queued")
    assert (await agent.call("claim", {"conversation_id": sid}))["ok"] is True
    await agent.call("agent_message", {"conversation_id": sid, "text": "Hi Ben"})
    assert (await agent.call("handback", {"conversation_id": sid, "coaching_note": "ok"}))["state"] == "bot"
    assert [c for c in rasa.api_calls if c[2].get("token") == rasa_token]  # the Rasa token was really used
    # And a Rasa outage, which is logged.
    rasa.down = True
    await customer.say("are you there?", customData=claims)
    await customer.wait_for("conversation_state", lambda d: d["state"] == "queued")
    # The customer comes back with its session id; the agent reads the conversation over REST (URLs name it).
    again = await gateway.customer(sid)
    assert again.of("session_confirm")[-1] == sid
    for path in (f"/api/conversations/{sid}", f"/api/conversations/{sid}/customer"):
        assert (await _http("GET", gateway.url + path, headers=_bearer(token)))[0] == 200
    await gateway.gw.idle()

    secrets = {
        "token secret": TOKEN_SECRET,
        "identity secret": IDENTITY_SECRET,
        "agent password": PASSWORD,
        "wrong password": wrong_password,
        "bearer token": token,
        "bearer token signature": token.split(".")[1],
        "forged token": forged,
        "identity signature": signature,
        "Rasa token": rasa_token,
        # The session id resumes the conversation: a credential, in no log line at any level.
        "customer session id": sid,
    }
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    text = "\n".join(formatter.format(r) + repr(r.__dict__) for r in caplog.records)
    assert len(caplog.records) > 5  # the flow did log (the handoff loggers at least)
    leaked = [(name, line) for name, value in secrets.items() for line in text.splitlines() if value in line]
    assert leaked == []
    # Lines about the conversation carry a short reference instead (sha256, 8 hex), the same in every line.
    assert hashlib.sha256(sid.encode()).hexdigest()[:8] in text
