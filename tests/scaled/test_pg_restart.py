"""PostgreSQL restarted under two gateways (Redis between them) in the middle of a live chat.

During the outage a sender gets an error ack (never an ack for a message that is not stored); afterwards both
gateways work again on fresh connections (``pool_pre_ping``) and every acknowledged message is stored once,
in order, and delivered. The Redis restart is ``tests/scaled/test_failover.py``.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from typing import Any

from handoff.storage import messages as message_store
from handoff.storage.db import Database
from tests.handoff.helpers import Client
from tests.scaled.conftest import GatewayFactory
from tests.scaled.infra import START_PG, live_chat, needs_pg, needs_redis, pg_up, wait_until

pytestmark = [needs_pg, needs_redis]

RESTART_PG = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main restart"


def _restart_pg() -> None:
    subprocess.run(RESTART_PG, shell=True, check=True, capture_output=True, timeout=120)


def _ensure_pg() -> None:
    """Whatever happened in the test, leave PostgreSQL running."""
    deadline = time.monotonic() + 60
    while not pg_up():
        if time.monotonic() > deadline:
            raise RuntimeError(f"PostgreSQL did not come back; start it: {START_PG}")
        subprocess.run(START_PG, shell=True, capture_output=True, timeout=120)
        time.sleep(0.5)


async def _say_until_acked(c: Client, text: str, client_id: str, timeout: float = 60) -> dict[str, Any]:
    """Retry with the same client id until the gateway stores it (what the widget does)."""
    sid = c.of("session_confirm")[-1]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        ack = await c.call("user_uttered", {"message": text, "session_id": sid, "client_id": client_id}, 30)
        if "seq" in ack:
            return dict(ack)
        assert ack.get("code") and ack.get("error"), ack
        if loop.time() > deadline:
            raise AssertionError(f"not stored after {timeout}s: {ack}")
        await asyncio.sleep(0.2)


async def test_postgresql_restart_mid_chat_loses_nothing_and_both_gateways_recover(
    cluster: GatewayFactory, pg_url: str
) -> None:
    a = await cluster()
    b = await cluster()
    customer, agent, sid = await live_chat(a, b)
    acked: dict[int, str] = {}
    ack = await customer.say("before the restart")
    acked[ack["seq"]] = "before the restart"

    outcomes: list[dict[str, Any]] = []
    try:
        restart = asyncio.get_running_loop().run_in_executor(None, _restart_pg)
        i = 0
        while not restart.done():  # keep talking while PostgreSQL goes down and comes back
            text = f"during {i}"
            result = await customer.call(
                "user_uttered", {"message": text, "session_id": sid, "client_id": f"during-{i}"}, 30
            )
            outcomes.append(result)
            if "seq" in result:
                acked[result["seq"]] = text
            else:
                assert result.get("code") and result.get("error"), result
            i += 1
            await asyncio.sleep(0.05)
        await restart
    finally:
        _ensure_pg()
    print(f"during the restart: {len(outcomes)} sends, {sum('seq' in o for o in outcomes)} acked, "
          f"{sum('seq' not in o for o in outcomes)} error acks")
    assert any("seq" not in o for o in outcomes), "the outage was not noticed (did PostgreSQL restart?)"

    # Both gateways recover: a retried send is stored once, and both directions cross the two gateways again.
    after = await _say_until_acked(customer, "after the restart", "after-1")
    again = await _say_until_acked(customer, "after the restart", "after-1")
    assert again == after
    acked[after["seq"]] = "after the restart"
    await agent.wait_for("customer_message", lambda d: d["message"]["seq"] == after["seq"], timeout=20)
    reply = None
    deadline = asyncio.get_running_loop().time() + 60
    while reply is None or "seq" not in reply:
        reply = await agent.call("agent_message", {"conversation_id": sid, "text": "back online", "client_id": "r1"}, 30)
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"agent could not send after the restart: {reply}")
    await customer.wait_for("bot_uttered", lambda m: m.get("text") == "back online", timeout=20)
    b_customer = Client("/")
    await b_customer.connect(b.url)
    b.clients.append(b_customer)
    assert await b_customer.session(sid, last_seq=0) == sid
    replayed = (await b_customer.wait_for("history"))["messages"]

    db = Database(pg_url)
    try:
        async with db.read() as s:
            stored = await message_store.messages_after(s, sid, 0)
    finally:
        await db.dispose()
    assert [m.seq for m in stored] == list(range(1, len(stored) + 1))
    customer_texts = {m.seq: m.text for m in stored if m.sender == "customer"}
    for seq, text in acked.items():
        assert customer_texts.get(seq) == text  # every ack is a stored message
    assert sorted(customer_texts.values()).count("after the restart") == 1
    assert [m.text for m in stored if m.sender == "agent"] == ["back online"]
    # Delivered: the agent (on B) saw every acknowledged customer message live, the customer every other one.
    await wait_until(lambda: set(acked) <= {d["message"]["seq"] for d in agent.of("customer_message")}, 20)
    seen_by_customer = {m["seq"] for m in customer.of("bot_uttered") if "seq" in m}
    assert {m.seq for m in stored if m.sender != "customer"} <= seen_by_customer
    assert [m["seq"] for m in replayed] == [m.seq for m in stored]

