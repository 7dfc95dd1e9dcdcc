"""The gateway process SIGKILLed mid-conversation and started again on its SQLite file (real bot behind it).

Customers and the agent reconnect (customers replay with ``last_seq``, the agent reloads the conversation like
the console does): every acknowledged message is stored exactly once and in order, reaches its recipient live
or on replay, and customer messages acknowledged but not yet relayed when the process died are answered after
the restart. The in-process variant (clean stop) is ``tests/handoff/test_restart.py``; a gateway killed in
scaled mode is ``tests/scaled/test_failover.py``.
"""

from __future__ import annotations

import secrets
import signal
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from bot.launcher import BotServers, GatewayProcess, start_gateway_process
from tests.faults.support import BOT, LENA, OMAR, agent_console, login, rest, wait_until
from tests.handoff.helpers import Client

pytestmark = pytest.mark.rasa


def _pending(db: Path, sid: str) -> list[int]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT seq FROM messages WHERE conversation_id = ? AND status LIKE 'pending%' ORDER BY seq", (sid,)
        ).fetchall()
    conn.close()
    return [r[0] for r in rows]


def _seen(client: Client) -> dict[int, dict[str, Any]]:
    """Messages the client saw, live (``bot_uttered``) or replayed (``history``), by seq."""
    seen: dict[int, dict[str, Any]] = {}
    for h in client.of("history"):
        for m in h["messages"]:
            seen[m["seq"]] = m
    for m in client.of("bot_uttered"):
        if "seq" in m:
            seen[m["seq"]] = m
    return seen


async def test_gateway_sigkilled_and_restarted_loses_and_doubles_nothing(tmp_path: Path, bot_servers: BotServers) -> None:
    secrets_env = {"TOKEN_SECRET": secrets.token_hex(16), "IDENTITY_SECRET": secrets.token_hex(16),
                   "HANDOFF_AUTO_ASSIGN": "0", "RASA_TIMEOUT": str(BOT)}
    gateway: GatewayProcess = start_gateway_process(tmp_path, bot_servers, **secrets_env)
    db = Path(gateway.database_url.split("///", 1)[1])
    clients: list[Client] = []
    try:
        token = await login(gateway.url, *LENA)
        agent = await agent_console(gateway.url, token)
        clients.append(agent)
        # Customer A talks to the agent; customer B to the bot.
        a = Client("/")
        b = Client("/")
        clients += [a, b]
        for c in (a, b):
            await c.connect(gateway.url)
            await c.session()
        a_sid, b_sid = a.of("session_confirm")[-1], b.of("session_confirm")[-1]
        a_acks = [await a.say("I want to talk to a person")]
        await a.wait_for("conversation_state", lambda d: d["state"] == "queued", timeout=BOT)
        assert (await agent.call("claim", {"conversation_id": a_sid}))["ok"] is True
        await a.wait_for("agent_joined")
        agent_acks = [await agent.call("agent_message", {"conversation_id": a_sid, "text": "Hi, Lena here."})]
        await a.wait_for("bot_uttered", lambda m: m.get("text") == "Hi, Lena here.")
        a_acks.append(await a.say("my invoice INV-1071 looks wrong"))
        await agent.wait_for("customer_message", lambda d: d["message"]["seq"] == a_acks[-1]["seq"])

        b_texts = ["hello", "I forgot my password", "ana.ortiz@example.com"]
        b_acks = [await b.say(b_texts[0])]
        await b.wait_for("bot_uttered", lambda m: m["seq"] > b_acks[0]["seq"], timeout=BOT)
        # Last words before the crash: B's two messages queue behind each other in the bot relay; the agent's
        # and A's are acknowledged (stored) whether or not the other side got them live.
        agent_acks.append(await agent.call("agent_message", {"conversation_id": a_sid, "text": "Checking it now."}))
        a_acks.append(await a.say("thanks, I'll wait"))
        b_acks += [await b.say(t) for t in b_texts[1:]]
        gateway.process.send_signal(signal.SIGKILL)
        gateway.process.wait(10)
        pending_at_kill = _pending(db, b_sid)
        assert pending_at_kill, "expected B's last message still unrelayed at the kill"
        a_last = max(_seen(a))
        b_last = max(_seen(b))
        for c in clients:
            await c.close()

        gateway = start_gateway_process(tmp_path, bot_servers, **secrets_env)
        agent = await agent_console(gateway.url, token)
        a2, b2 = Client("/"), Client("/")
        clients += [agent, a2, b2]
        await a2.connect(gateway.url)
        await b2.connect(gateway.url)
        assert await a2.session(a_sid, last_seq=a_last) == a_sid
        assert await b2.session(b_sid, last_seq=b_last) == b_sid
        await a2.wait_for("conversation_state", lambda d: d["state"] == "assigned")
        # B's unrelayed messages are answered after the restart: the bot asked for the email, then sent the link.
        await wait_until(lambda: any("sent a password reset link" in (m.get("text") or "") for m in _seen(b2).values()),
                         BOT)
        # The agent kept the chat (back within the grace period) and both directions work again.
        agent_acks.append(await agent.call("agent_message", {"conversation_id": a_sid, "text": "Found it."}))
        await a2.wait_for("bot_uttered", lambda m: m.get("text") == "Found it.")
        a_acks.append(await a2.say("great"))
        await agent.wait_for("customer_message", lambda d: d["message"]["seq"] == a_acks[-1]["seq"])

        # The ledger: stored exactly once, in order, and seen by the recipient (live or on replay).
        a_detail = await rest(gateway.url, token, f"/api/conversations/{a_sid}")
        # B never left the bot: only a lead may read it (handoff/domain/access.py).
        b_detail = await rest(gateway.url, await login(gateway.url, *OMAR), f"/api/conversations/{b_sid}")
        for detail in (a_detail, b_detail):
            seqs = [m["seq"] for m in detail["messages"]]
            assert seqs == list(range(1, len(seqs) + 1))
        a_stored = {m["seq"]: m for m in a_detail["messages"]}
        for ack, text in zip(a_acks, ["I want to talk to a person", "my invoice INV-1071 looks wrong",
                                      "thanks, I'll wait", "great"], strict=True):
            assert a_stored[ack["seq"]]["text"] == text
        assert [m["text"] for m in a_detail["messages"] if m["sender"] == "customer"].count("thanks, I'll wait") == 1
        assert [(m["seq"], m["text"]) for m in a_detail["messages"] if m["sender"] == "agent"] == [
            (ack["seq"], text) for ack, text in zip(agent_acks, ["Hi, Lena here.", "Checking it now.", "Found it."],
                                                    strict=True)
        ]
        seen_by_a = _seen(a) | _seen(a2)
        assert {s for s, m in a_stored.items() if m["sender"] != "customer"} <= set(seen_by_a)
        # The agent's view (live, then the reload after reconnecting) has every customer message of A.
        assert {ack["seq"] for ack in a_acks} <= {s for s, m in a_stored.items() if m["sender"] == "customer"}
        b_stored = {m["seq"]: m for m in b_detail["messages"]}
        assert [(s, m["text"]) for s, m in b_stored.items() if m["sender"] == "customer"] == [
            (ack["seq"], text) for ack, text in zip(b_acks, b_texts, strict=True)
        ]
        assert {s for s, m in b_stored.items() if m["sender"] != "customer"} <= set(_seen(b) | _seen(b2))
        assert not _pending(db, b_sid)
    finally:
        for c in clients:
            await c.close()
        if gateway.process.poll() is None:
            gateway.stop()
