"""End to end: the real gateway in front of the real Rasa server, action server and trained model.

Customers and agents are real ``socketio.AsyncClient``s (websocket transport); agents log in through
``POST /api/login`` with the seeded demo credentials. The bot servers are the session's shared pair
(``bot_servers``); only the Rasa-outage test starts (and kills) a Rasa server of its own.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.launcher import ROOT, BotServers, start_rasa_server
from handoff.domain.identity import sign
from handoff.usecases import seed
from tests.handoff.helpers import IDENTITY_SECRET, Client, Running, make_settings, start_gateway

pytestmark = pytest.mark.rasa

BOT = 30.0  # seconds a real bot reply may take (cold NLU, action server round trip)
SEED = ROOT / "actions" / "backend" / "seed.json"
LENA = ("lena@example.com", "lena-demo-pass")
CHLOE = {
    "customer_id": "cus_1003",
    "email": "chloe.nguyen@megacorp.example",
    "name": "Chloe Nguyen",
    "signature": sign(IDENTITY_SECRET, "cus_1003", "chloe.nguyen@megacorp.example", "Chloe Nguyen"),
}


async def _start(tmp_path: Path, servers: BotServers, **overrides: Any) -> Running:
    options: dict[str, Any] = {"rasa_token": servers.token, "vouch_secret": servers.vouch_secret, "rasa_timeout": BOT,
                               "seed_path": str(SEED), **overrides}
    settings = make_settings(tmp_path / "handoff.db", servers.rasa_url, **options)
    running = await start_gateway(settings)
    await seed.seed(running.gw.db, SEED, demo_agents=True)  # demo contacts (tier, MRR, renewal) and the two demo agents
    return running


@pytest.fixture
async def stack(tmp_path: Path, bot_servers: BotServers) -> AsyncIterator[Running]:
    """A gateway on the shared bot servers; hand-offs wait in the queue until an agent claims them."""
    running = await _start(tmp_path, bot_servers, auto_assign=False)
    yield running
    await running.stop()


async def login(gateway: Running, email: str, password: str) -> tuple[str, dict[str, Any]]:
    """POST /api/login -> (token, agent)."""
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{gateway.url}/api/login", json={"email": email, "password": password}) as r:
            assert r.status == 200, await r.text()
            body = await r.json()
    return body["token"], body["agent"]


async def agent_socket(gateway: Running, email: str, password: str) -> Client:
    """A logged-in agent console on ``/agents`` (after its first queue snapshot)."""
    token, _ = await login(gateway, email, password)
    agent = Client("/agents")
    await agent.connect(gateway.url, {"token": token})
    gateway.clients.append(agent)
    await agent.wait_for("queue_snapshot")
    await agent.call("presence", {"status": "online"})  # a console signs in away
    return agent


async def rest(gateway: Running, path: str) -> dict[str, Any]:
    """GET an agent REST resource with Lena's token."""
    token, _ = await login(gateway, *LENA)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{gateway.url}{path}", headers={"Authorization": f"Bearer {token}"}) as r:
            assert r.status == 200, await r.text()
            return dict(await r.json())


async def bot_reply(customer: Client, ack: dict[str, Any], fragment: str) -> dict[str, Any]:
    """The bot's ``bot_uttered`` after the acknowledged message that contains ``fragment``."""
    reply: dict[str, Any] = await customer.wait_for(
        "bot_uttered",
        lambda m: m["seq"] > ack["seq"] and fragment.lower() in (m.get("text") or "").lower(),
        timeout=BOT,
    )
    return reply


async def test_three_strikes_to_agent_and_back_to_the_bot(stack: Running) -> None:
    agent = await agent_socket(stack, *LENA)
    customer = await stack.customer()
    sid = customer.of("session_confirm")[-1]

    await bot_reply(customer, await customer.say("I forgot my password"), "email address")
    await bot_reply(customer, await customer.say("ana.ortiz@example.com"), "reset link")
    for _ in range(3):
        ack = await customer.say("the reset link never came")
        await customer.wait_for("bot_uttered", lambda m, seq=ack["seq"]: m["seq"] > seq, timeout=BOT)
    await customer.wait_for("conversation_state", lambda d: d["state"] == "queued", timeout=BOT)

    queued = await agent.wait_for("handoff_queued", timeout=BOT)
    assert queued["conversation_id"] == sid
    summary = queued["summary"]
    assert summary["escalation"]["reason"] == "three_strikes" and summary["escalation"]["strikes"] == 3
    assert "password reset" in summary["problem"].lower()
    assert "broken" not in summary["problem"].lower()
    assert "reset emails not reaching" in (summary["hypothesis"] or "").lower()
    # Steps tried with outcomes, repeats merged: the link was sent three times and failed three times.
    assert {"step": "password reset link", "outcome": "failed", "detail": "", "count": 3} in summary["steps"]
    assert any(s["outcome"] == "sent" and s["count"] == 3 for s in summary["steps"]), summary["steps"]
    assert summary["problem"].count("password reset link") == 1, summary["problem"]
    assert "suspect reset emails not reaching" in summary["problem"]
    assert summary["intent"] == "reset_password"
    assert summary["intents"][0]["intent"] == "reset_password"
    assert all(0 < t["confidence"] <= 1 for t in summary["intents"]), summary["intents"]
    assert summary["entities"]["email"] == ["ana.ortiz@example.com"]
    text = queued["summary_text"]
    for line in (
        "Hand-off: bot failed three times (three-strike rule) (3 strikes)",
        "Customer: Anonymous customer, says they are ana.ortiz@example.com (unverified)",
        "Problem: Customer can't log in and needs a password reset",
        "Hypothesis: Reset emails not reaching a***@example.com",
        "  - password reset link: failed x3",
    ):
        assert line in text, text
    assert re.search(r"Intents: reset_password [01]\.\d\d, inform [01]\.\d\d, step_failed [01]\.\d\d", text), text
    # The customer is told honestly what happens next: the queue position and an estimate.
    await customer.wait_for("bot_uttered", lambda m: "number 1 in the queue" in (m.get("text") or ""))
    assert (await customer.wait_for("queue_update"))["position"] == 1

    assert (await agent.call("claim", {"conversation_id": sid}))["ok"] is True
    assert (await customer.wait_for("agent_joined"))["name"] == "Lena Park"
    ack = await agent.call("agent_message", {"conversation_id": sid, "text": "Hi Ana, Lena here. Checking your mailbox."})
    said = await customer.wait_for("bot_uttered", lambda m: m["metadata"].get("sender") == "agent")
    assert said["text"] == "Hi Ana, Lena here. Checking your mailbox."
    assert said["metadata"]["agent_name"] == "Lena Park" and said["seq"] == ack["seq"]

    await customer.say("thanks, I'll wait")
    got = await agent.wait_for("customer_message", lambda d: d["message"]["text"] == "thanks, I'll wait")
    assert got["conversation_id"] == sid

    note = "Reset mails bounced at our mail provider; L1 can resend once the bounce is cleared."
    before = max(m["seq"] for m in customer.of("bot_uttered"))
    assert await agent.call("handback", {"conversation_id": sid, "coaching_note": note}, timeout=BOT) == {
        "ok": True,
        "state": "bot",
    }
    greeting = await customer.wait_for(
        "bot_uttered", lambda m: m["seq"] > before and "handed this chat back to me" in (m.get("text") or ""), timeout=BOT
    )
    assert greeting["metadata"] == {"sender": "bot"}
    await customer.wait_for("agent_left")

    # The bot is in charge again and answers a new request: it still knows the email, so it asks for the
    # one-time code that protects invoices (an anonymous customer must prove they own the address).
    ack = await customer.say("/billing_invoice")
    await bot_reply(customer, ack, "emailed a 6-digit code to a***@example.com")

    detail = await rest(stack, f"/api/conversations/{sid}")
    handback = [e for e in detail["events"] if e["type"] == "handback"]
    assert handback and handback[0]["data"]["coaching_note"] == note
    assert detail["handoffs"][0]["status"] == "handed_back"


async def test_verified_enterprise_customer_goes_to_the_fast_lane(stack: Running) -> None:
    agent = await agent_socket(stack, *LENA)
    customer = await stack.customer()
    ack = await customer.say("I'd like to close my account", customData=CHLOE)
    await customer.wait_for("bot_uttered", lambda m: m["seq"] > ack["seq"], timeout=BOT)
    queued = await agent.wait_for("handoff_queued", timeout=BOT)
    summary = queued["summary"]
    assert summary["escalation"]["reason"] == "fast_lane"
    customer_block = summary["customer"]
    assert customer_block["id"] == "cus_1003" and customer_block["verified"] is True
    assert customer_block["tier"] == "enterprise" and customer_block["fast_lane"] is True
    assert summary["priority"]["level"] in ("high", "urgent")
    assert "FAST LANE" in queued["summary_text"]


async def test_forged_identity_is_anonymous_for_the_bot(stack: Running) -> None:
    agent = await agent_socket(stack, *LENA)
    customer = await stack.customer()
    forged = {**CHLOE, "signature": sign("not-the-site-secret", "cus_1003", CHLOE["email"], CHLOE["name"])}
    ack = await customer.say("I'd like to close my account", customData=forged)
    # Anonymous: the bot asks who they are instead of fast-laning them.
    await bot_reply(customer, ack, "email")
    assert not agent.of("handoff_queued")


async def test_stock_rasa_protocol_client_chats_with_the_real_bot(stack: Running) -> None:
    """Only session_request / user_uttered / bot_uttered, no acks, no extra events (like rasa-webchat)."""
    c = Client("/")
    await c.connect(stack.url)
    stack.clients.append(c)
    await c.emit("session_request", {"session_id": None})
    sid = await c.wait_for("session_confirm")
    assert isinstance(sid, str) and len(sid) >= 22
    await c.emit("user_uttered", {"message": "I forgot my password", "session_id": sid})
    asked = await c.wait_for("bot_uttered", lambda m: "email address" in (m.get("text") or ""), timeout=BOT)
    assert asked["metadata"]["sender"] == "bot"
    await c.emit("user_uttered", {"message": "ana.ortiz@example.com", "session_id": sid})
    sent = await c.wait_for("bot_uttered", lambda m: "sent a password reset link" in (m.get("text") or ""), timeout=BOT)
    assert "a***@example.com" in sent["text"]
    buttons = [m for m in c.of("bot_uttered") if m.get("quick_replies")]
    assert buttons, "the bot's buttons arrive as quick_replies"
    assert all({"title", "payload"} <= set(q) for q in buttons[-1]["quick_replies"])


async def test_rasa_killed_mid_conversation(tmp_path: Path, bot_servers: BotServers) -> None:
    own = start_rasa_server(tmp_path / "rasa", bot_servers)
    gateway = await _start(tmp_path, own, rasa_timeout=5.0)
    try:
        customer = await gateway.customer()
        sid = customer.of("session_confirm")[-1]
        await bot_reply(customer, await customer.say("I forgot my password"), "email address")

        own.processes[0].kill()
        own.processes[0].wait(timeout=20)
        typed = ["ana.ortiz@example.com", "hello? is anyone there", "please call me back"]
        acks = [await customer.say(text) for text in typed]
        trouble = await customer.wait_for("bot_uttered", lambda m: "trouble" in (m.get("text") or ""), timeout=BOT)
        assert "person" in trouble["text"]
        await customer.wait_for("conversation_state", lambda d: d["state"] == "queued", timeout=BOT)

        detail = await rest(gateway, f"/api/conversations/{sid}")
        assert detail["conversation"]["state"] == "queued"
        assert detail["handoffs"][-1]["reason"] == "bot_unavailable"
        stored = {m["seq"]: m for m in detail["messages"]}
        for ack, text in zip(acks, typed, strict=True):
            assert stored[ack["seq"]]["text"] == text and stored[ack["seq"]]["sender"] == "customer"
        assert len([m for m in customer.of("bot_uttered") if "trouble" in (m.get("text") or "")]) == 1
    finally:
        await gateway.stop()
        own.stop()


async def test_resolved_conversation_gets_the_bot_again(stack: Running) -> None:
    agent = await agent_socket(stack, *LENA)
    customer = await stack.customer()
    sid = customer.of("session_confirm")[-1]
    await customer.say("I want to talk to a human")
    queued = await agent.wait_for("handoff_queued", timeout=BOT)
    assert queued["summary"]["escalation"]["reason"] == "customer_request"
    await agent.call("claim", {"conversation_id": sid})
    await customer.wait_for("agent_joined")
    await agent.call("agent_message", {"conversation_id": sid, "text": "Your invoice is attached to your email."})
    assert await agent.call("resolve", {"conversation_id": sid, "resolution_code": "answered"}, timeout=BOT) == {
        "ok": True,
        "state": "resolved",
    }
    csat = await customer.wait_for("bot_uttered", lambda m: bool(m.get("quick_replies")) and "How did we do" in m["text"])
    await customer.say(csat["quick_replies"][4]["payload"])
    await customer.wait_for("bot_uttered", lambda m: "Thank you for your feedback" in (m.get("text") or ""))

    # A new request after the resolution is the bot's again (Rasa was paused by the hand-off).
    await bot_reply(customer, await customer.say("I forgot my password"), "email address")
    await customer.wait_for("conversation_state", lambda d: d["state"] == "bot")
    detail = await rest(stack, f"/api/conversations/{sid}")
    types = [e["type"] for e in detail["events"]]
    assert types.index("resolved") < types.index("csat") < types.index("reopened")
