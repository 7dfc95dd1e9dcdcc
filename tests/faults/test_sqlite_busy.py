"""SQLite busy: another process holds a write transaction on the gateway's database file.

While it holds it, nothing is acknowledged (an ack means "stored"); once it lets go, every acknowledged message is
stored exactly once, in order, and answered. Held beyond the busy timeout, a sender gets an error ack it can retry
(never a crash, never a silent loss) and every conversation works again afterwards.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from handoff.storage import db as handoff_db
from handoff.storage import messages as message_store
from tests.faults.support import sqlite_write_lock, wait_until
from tests.handoff.helpers import Client, FakeRasa, Running, make_settings, start_gateway

CUSTOMERS = 3
PER_CUSTOMER = 4


async def _send(c: Client, texts: list[str], tag: str) -> list[asyncio.Task[Any]]:
    sid = c.of("session_confirm")[-1]
    return [
        asyncio.create_task(c.call("user_uttered", {"message": t, "session_id": sid, "client_id": f"{tag}-{i}"}, 30))
        for i, t in enumerate(texts)
    ]


async def _stored(gateway: Running, sid: str) -> list[tuple[int, str, str]]:
    async with gateway.gw.db.read() as s:
        return [(m.seq, m.sender, m.text or "") for m in await message_store.messages_after(s, sid)]


async def test_lock_within_the_busy_timeout_delays_but_loses_and_doubles_nothing(tmp_path: Path, rasa: FakeRasa) -> None:
    path = tmp_path / "handoff.db"
    gateway = await start_gateway(make_settings(path, rasa.url))
    try:
        customers = [await gateway.customer() for _ in range(CUSTOMERS)]
        texts = {i: [f"c{i} m{j}" for j in range(PER_CUSTOMER)] for i in range(CUSTOMERS)}
        async with sqlite_write_lock(path):
            tasks = {i: await _send(c, texts[i], f"c{i}") for i, c in enumerate(customers)}
            await asyncio.sleep(2.0)  # the fault: the other writer keeps its transaction 2 s (busy timeout: 10 s)
            assert not any(t.done() for ts in tasks.values() for t in ts), "acked before it was stored"
        acks = {i: await asyncio.wait_for(asyncio.gather(*ts), 30) for i, ts in tasks.items()}
        for i, c in enumerate(customers):
            assert all("seq" in a for a in acks[i]), acks[i]
            seqs = [a["seq"] for a in acks[i]]
            assert seqs == sorted(seqs) and len(set(seqs)) == PER_CUSTOMER
            await c.wait_for("bot_uttered", lambda m: (m.get("text") or "").startswith("echo:"), timeout=20,
                             count=PER_CUSTOMER)
            echoes = [m["text"] for m in c.of("bot_uttered") if m["text"].startswith("echo:")]
            assert echoes == [f"echo: {t}" for t in texts[i]]
            stored = await _stored(gateway, c.of("session_confirm")[-1])
            mine = [(seq, text) for seq, sender, text in stored if sender == "customer"]
            assert mine == list(zip(seqs, texts[i], strict=True))  # once each, in order
        assert sorted(m["message"] for m in rasa.messages) == sorted(t for ts in texts.values() for t in ts)
    finally:
        await gateway.stop()


async def test_lock_beyond_the_busy_timeout_gets_an_error_ack_then_everyone_recovers(
    tmp_path: Path, rasa: FakeRasa, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(handoff_db, "BUSY_TIMEOUT_MS", 1000)  # 10 s in production; 1 s keeps the test short
    path = tmp_path / "handoff.db"
    gateway = await start_gateway(make_settings(path, rasa.url))
    try:
        blocked, bystander = await gateway.customer(), await gateway.customer()
        sid = blocked.of("session_confirm")[-1]
        before = await blocked.say("hello")
        await blocked.wait_for("bot_uttered", lambda m: m.get("text") == "Hi! How can I help?")
        inflight = await gateway.customer()
        inflight_sid = inflight.of("session_confirm")[-1]
        rasa.delay = 0.5
        acked = await inflight.say("slow one")  # stored and acked; its bot reply is stored while the lock is held
        async with sqlite_write_lock(path):
            (failed,) = await asyncio.gather(*await _send(blocked, ["is my order shipped?"], "retry-me"))
            assert failed.get("code") and failed.get("error"), failed
            assert blocked.of("error"), "the widget is told with an error event too"
            await wait_until(lambda: len(rasa.messages) == 2, 10)
            await asyncio.sleep(2.5)  # the fault goes on: the reply's write waits past its busy timeout too
        rasa.delay = 0
        # The acknowledged message is answered once the database is free again (not only after a restart).
        reply = await inflight.wait_for("bot_uttered", lambda m: m.get("text") == "echo: slow one", timeout=20)
        assert reply["seq"] == acked["seq"] + 1
        assert [text for _, sender, text in await _stored(gateway, inflight_sid) if sender == "bot"] == ["echo: slow one"]
        # The process is fine: the bystander chats on, the sender retries with the same client id.
        ok = await bystander.say("hello")
        assert "seq" in ok
        await bystander.wait_for("bot_uttered", lambda m: m.get("text") == "Hi! How can I help?")
        (retried,) = await asyncio.gather(*await _send(blocked, ["is my order shipped?"], "retry-me"))
        (again,) = await asyncio.gather(*await _send(blocked, ["is my order shipped?"], "retry-me"))
        assert retried == again and retried["seq"] == before["seq"] + 2  # stored once; the failed try took no seq
        await blocked.wait_for("bot_uttered", lambda m: m.get("text") == "echo: is my order shipped?", timeout=10)
        stored = await _stored(gateway, sid)
        assert [text for _, sender, text in stored if sender == "customer"] == ["hello", "is my order shipped?"]
        assert [seq for seq, _, _ in stored] == list(range(1, len(stored) + 1))
    finally:
        await gateway.stop()

