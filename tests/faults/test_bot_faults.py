"""Faults behind the gateway: Rasa too slow, the action server dead, the business backend broken.

In every case the customer gets a clear message (never silence) and a person takes over with everything the
customer typed. Rasa down (the real process killed) is covered by
``tests/handoff/test_end_to_end.py::test_rasa_killed_mid_conversation``; Rasa answering 503 by
``tests/handoff/test_customer.py::test_rasa_down_queues_bot_unavailable_and_keeps_the_message``.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.launcher import BotServers
from handoff.storage import handoffs as handoff_store
from handoff.storage import messages as message_store
from handoff.usecases.conversations import BOT_DOWN_TEXT
from tests.faults.support import BOT, backend_restored, kill_action_server, restart_action_server
from tests.handoff.helpers import Client, FakeRasa, Running, make_settings, start_gateway

BACKEND_DOWN = "can't reach our account system"


class SlowRasa(FakeRasa):
    """The scripted fake Rasa that also says when it finally answered (after the gateway gave up)."""

    def __init__(self) -> None:
        """Nothing answered yet."""
        super().__init__()
        self.answered: list[str] = []

    async def _webhook(self, request: web.Request) -> web.Response:
        try:
            return await super()._webhook(request)
        finally:
            self.answered.append(self.messages[-1]["message"] if self.messages else "")


def texts(client: Client, fragment: str) -> list[str]:
    """Texts of the ``bot_uttered`` events that contain ``fragment``."""
    return [m["text"] for m in client.of("bot_uttered") if fragment.lower() in (m.get("text") or "").lower()]


async def customer_messages(gateway: Running, sid: str) -> list[tuple[int, str, str]]:
    """(seq, text, status) of the customer's stored messages."""
    async with gateway.gw.db.read() as s:
        messages = await message_store.messages_after(s, sid)
    return [(m.seq, m.text or "", m.status) for m in messages if m.sender == "customer"]


async def test_rasa_slower_than_the_timeout_hands_off_and_keeps_the_message(tmp_path: Path) -> None:
    slow = SlowRasa()
    await slow.start()
    gateway = await start_gateway(make_settings(tmp_path / "handoff.db", slow.url, rasa_timeout=1.0, auto_assign=False))
    try:
        lena = await gateway.add_agent("lena@example.com", name="Lena Park")
        c = await gateway.customer()
        sid = c.of("session_confirm")[-1]
        first = await c.say("hello")
        await c.wait_for("bot_uttered", lambda m: m.get("text") == "Hi! How can I help?")
        slow.delay = 4.0  # beyond rasa_timeout: Rasa is still busy when the gateway gives up
        stuck = await c.say("my invoice is wrong")
        trouble = await c.wait_for("bot_uttered", lambda m: m.get("text") == BOT_DOWN_TEXT, timeout=10)
        assert trouble["seq"] > stuck["seq"]
        await c.wait_for("conversation_state", lambda d: d["state"] == "queued")
        waiting = await c.say("are you there?")  # queued: for the people, not the slow bot
        # The late answer arrives at the gateway's closed request and never reaches the customer.
        await asyncio.wait_for(_until(lambda: "my invoice is wrong" in slow.answered), 10)
        await gateway.gw.idle()
        assert not texts(c, "echo: my invoice")
        assert [m["message"] for m in slow.messages] == ["hello", "my invoice is wrong"]
        assert texts(c, BOT_DOWN_TEXT) == [BOT_DOWN_TEXT]

        agent = await gateway.agent_client(lena)
        assert (await agent.call("claim", {"conversation_id": sid}))["ok"] is True
        detail = await gateway.gw.conversation_detail(sid)
        assert detail["handoffs"][-1]["reason"] == "bot_unavailable"
        assert [(m["seq"], m["text"]) for m in detail["messages"] if m["sender"] == "customer"] == [
            (first["seq"], "hello"), (stuck["seq"], "my invoice is wrong"), (waiting["seq"], "are you there?")
        ]
        assert [status for *_, status in await customer_messages(gateway, sid)] == ["done", "human", "human"]
    finally:
        await gateway.stop()
        await slow.stop()


async def _until(predicate: Any) -> None:
    while not predicate():
        await asyncio.sleep(0.05)


# ------------------------------------------------------------------ the real bot (trained model, action server)


@pytest.fixture
async def bot_gateway(tmp_path: Path, bot_servers: BotServers) -> AsyncIterator[Running]:
    """A gateway in front of the session's real Rasa + action server; hand-offs wait for a claim."""
    settings = make_settings(tmp_path / "handoff.db", bot_servers.rasa_url, rasa_token=bot_servers.token,
                             vouch_secret=bot_servers.vouch_secret, rasa_timeout=BOT, auto_assign=False)
    running = await start_gateway(settings)
    yield running
    await running.stop()


async def _reset_flow(c: Client) -> dict[str, Any]:
    """Start a password reset; the bot asks for the email (the next step needs the business backend)."""
    ack = await c.say("I forgot my password")
    await c.wait_for("bot_uttered", lambda m: m["seq"] > ack["seq"] and "email address" in (m.get("text") or ""),
                     timeout=BOT)
    return ack


@pytest.mark.rasa
async def test_action_server_down_the_customer_is_told_and_a_person_takes_over(
    bot_gateway: Running, bot_servers: BotServers
) -> None:
    lena = await bot_gateway.add_agent("lena@example.com", name="Lena Park")
    c = await bot_gateway.customer()
    sid = c.of("session_confirm")[-1]
    await _reset_flow(c)
    kill_action_server(bot_servers)
    try:
        # Rasa 3.6 answers 200 [] when the action endpoint is unreachable: without the gateway's guard, silence.
        ack = await c.say("ana.ortiz@example.com")
        trouble = await c.wait_for("bot_uttered", lambda m: m.get("text") == BOT_DOWN_TEXT, timeout=BOT)
        assert trouble["seq"] > ack["seq"]
        await c.wait_for("conversation_state", lambda d: d["state"] == "queued", timeout=BOT)
        later = await c.say("hello? anyone?")
        agent = await bot_gateway.agent_client(lena)
        assert (await agent.call("claim", {"conversation_id": sid}))["ok"] is True
        detail = await bot_gateway.gw.conversation_detail(sid)
        assert detail["handoffs"][-1]["reason"] == "bot_unavailable"
        kept = {m["seq"]: m["text"] for m in detail["messages"] if m["sender"] == "customer"}
        assert kept[ack["seq"]] == "ana.ortiz@example.com" and kept[later["seq"]] == "hello? anyone?"
        assert len(texts(c, BOT_DOWN_TEXT)) == 1
        # The agent now has the chat: the customer's next words reach the agent, not the dead bot.
        await c.say("thanks for picking this up")
        await agent.wait_for("customer_message", lambda d: d["message"]["text"] == "thanks for picking this up")
    finally:
        restart_action_server(bot_servers)
    # The bot is back for the next customer.
    other = await bot_gateway.customer()
    await _reset_flow(other)


def _corrupt(db: Path) -> None:
    db.write_bytes(b"this is not a SQLite database" * 100)


def _remove(db: Path) -> None:
    db.unlink()


def _garbage_row(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE customers SET renewal_date = 'next tuesday' WHERE email = 'ana.ortiz@example.com'")
    conn.close()


@pytest.mark.rasa
@pytest.mark.parametrize(
    ("breakage", "told", "reason"),
    [
        # sqlite3 errors become BackendUnavailable: the action itself says so and hands off.
        (_corrupt, BACKEND_DOWN, "backend_unavailable"),
        (_remove, BACKEND_DOWN, "backend_unavailable"),
        # Unparseable data raises inside the action (HTTP 500 from the action server, [] from Rasa): the gateway
        # still tells the customer and hands off.
        (_garbage_row, BOT_DOWN_TEXT, "bot_unavailable"),
    ],
    ids=["corrupt-file", "file-removed", "unparseable-row"],
)
async def test_broken_business_backend_is_said_and_handed_off(
    bot_gateway: Running, bot_servers: BotServers, breakage: Any, told: str, reason: str
) -> None:
    c = await bot_gateway.customer()
    sid = c.of("session_confirm")[-1]
    with backend_restored(bot_servers) as db:
        # Another customer's lookup first: the action server opens (and, if missing, seeds) the backend on first use.
        warm = await bot_gateway.customer()
        await _reset_flow(warm)
        await warm.say("ana.ortiz@example.com")
        await warm.wait_for("bot_uttered", lambda m: "sent a password reset link" in (m.get("text") or ""), timeout=BOT)
        await _reset_flow(c)
        breakage(db)
        ack = await c.say("ana.ortiz@example.com")
        said = await c.wait_for("bot_uttered", lambda m: told.lower() in (m.get("text") or "").lower(), timeout=BOT)
        assert said["seq"] > ack["seq"]
        await c.wait_for("conversation_state", lambda d: d["state"] == "queued", timeout=BOT)
    await bot_gateway.gw.idle()
    async with bot_gateway.gw.db.read() as s:
        handoff = await handoff_store.current_handoff(s, sid)
        stored = await message_store.messages_after(s, sid)
    assert handoff is not None and handoff.reason == reason
    assert any(m.seq == ack["seq"] and m.text == "ana.ortiz@example.com" for m in stored)
    assert not texts(c, "sent a password reset link"), "no link may be claimed as sent while the backend is broken"
    # One explanation, said once: the backend's fault by the bot, or the gateway's outage notice when the bot
    # itself could not say anything.
    assert len(texts(c, told)) == 1
    assert len(texts(c, BOT_DOWN_TEXT)) == (1 if told == BOT_DOWN_TEXT else 0)
    async with bot_gateway.gw.db.read() as s:
        assert len(await handoff_store.handoffs_for(s, sid)) == 1
