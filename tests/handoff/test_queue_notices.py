"""What a queued customer is told: no wait estimate when nobody can pick up, no request for an address we have,
and an acknowledgement of what they write while waiting (not one per message of a burst)."""

from __future__ import annotations

from typing import Any

import pytest

from handoff.domain.identity import sign
from handoff.storage import messages as message_store
from handoff.usecases import notices
from tests.handoff.helpers import HANDOFF_PAYLOAD, IDENTITY_SECRET, Client, FakeRasa, Running

BEN = {
    "customer_id": "cus_1002",
    "email": "ben.carter@example.com",
    "name": "Ben Carter",
    "signature": sign(IDENTITY_SECRET, "cus_1002", "ben.carter@example.com", "Ben Carter"),
}


def _texts(c: Client) -> list[str]:
    return [m.get("text") or "" for m in c.of("bot_uttered")]


async def _queued(gateway: Running, custom: dict[str, Any] | None = None) -> tuple[Client, str]:
    c = await gateway.customer()
    extra = {"customData": custom} if custom else {}
    await c.say("human", **extra)
    await c.wait_for("conversation_state", lambda d: d["state"] == "queued")
    return c, c.of("session_confirm")[-1]


async def _notice(c: Client) -> str:
    found = await c.wait_for("bot_uttered", lambda m: "passed your conversation" in (m.get("text") or ""))
    return str(found["text"])


# ---------------------------------------------------------------- the queue notice (item 1)


async def test_nobody_online_means_no_wait_estimate_anywhere(gateway: Running) -> None:
    customer, _ = await _queued(gateway)
    notice = await _notice(customer)
    assert "no agent is online right now" in notice and "can't give you a wait time" in notice
    assert "keep your place in the queue" in notice and "pick up right here when one joins" in notice
    assert "leave your email address" in notice  # anonymous: we have no address
    assert "min" not in notice and "number" not in notice
    update = await customer.wait_for("queue_update")
    assert update == {"position": 1, "estimated_wait_seconds": None}


async def test_a_signed_in_customer_is_not_asked_for_their_email(gateway: Running) -> None:
    customer, _ = await _queued(gateway, BEN)
    notice = await _notice(customer)
    assert "we'll follow up at the address on your account (b***@example.com)" in notice
    assert "leave your email" not in notice.lower() and "ben.carter@example.com" not in notice


async def test_a_customer_the_bot_verified_is_not_asked_for_their_email(gateway: Running, rasa: FakeRasa) -> None:
    rasa.handoff_payload = {
        **HANDOFF_PAYLOAD,
        "customer_id": "cus_1002",
        "customer_verified": True,
        "slots": {"customer_id": "cus_1002", "email": "ben.carter@example.com"},
    }
    customer, _ = await _queued(gateway)
    notice = await _notice(customer)
    assert "(b***@example.com)" in notice and "leave your email" not in notice.lower()


async def test_with_an_agent_online_position_and_estimate(gateway_factory: Any) -> None:
    gateway = await gateway_factory(auto_assign=False)
    lena = await gateway.add_agent("lena@example.com", skills=["general"])
    await gateway.agent_client(lena)  # online, but nothing is assigned automatically here
    customer, _ = await _queued(gateway)
    notice = await _notice(customer)
    assert "You're number 1 in the queue (about 5 min)." in notice and "no agent" not in notice
    update = await customer.wait_for("queue_update")
    assert update == {"position": 1, "estimated_wait_seconds": 300}


def test_notice_and_ack_texts() -> None:
    closed = notices.availability(3, business_open=False)
    assert not closed.open and closed.why == "outside our business hours"
    assert notices.availability(0, business_open=True).why == "no agent is online right now"
    assert notices.mask_email("alice@example.com") == "a***@example.com"
    assert notices.mask_email("not-an-email") == "***"
    text = notices.queue_notice(closed, 4, 20, "zoe@example.org")
    assert "outside our business hours" in text and "#4" not in text and "20 min" not in text
    assert "the address on your account (z***@example.org)" in text
    left = notices.queue_notice(closed, None, None, "zoe@example.org", on_account=False)
    assert "the address you left (z***@example.org)" in left and "leave your email" not in left
    assert notices.ack_text("hello?", 2, notices.availability(1, True)) == (
        "Got it, your message is with our team. You're #2 in the queue."
    )
    assert notices.ack_text("just get me a real human please", 1, notices.availability(1, True)) == (
        "You're already in line for a person: you're #1 in the queue."
    )
    assert notices.asks_for_person("can I talk to an AGENT") and not notices.asks_for_person("my invoice is wrong")


def test_should_ack_once_per_interval_unless_the_position_moved() -> None:
    assert notices.should_ack(None, 100.0, 2)
    assert not notices.should_ack((100.0, 2), 130.0, 2)
    assert notices.should_ack((100.0, 2), 130.0, 1)
    assert notices.should_ack((100.0, 2), 100.0 + notices.ACK_INTERVAL_SECONDS, 2)


# ---------------------------------------------------------------- acknowledgement while queued (item 3)


async def _acks(gateway: Running, sid: str) -> list[str]:
    await gateway.gw.idle()
    async with gateway.gw.db.read() as s:
        messages = await message_store.messages_after(s, sid, 0)
    return [m.text or "" for m in messages if m.sender == "system" and "in the queue" in (m.text or "")
            and ("Got it" in (m.text or "") or "already in line" in (m.text or ""))]


async def test_a_queued_customer_is_acknowledged_once_per_burst(gateway_factory: Any) -> None:
    gateway = await gateway_factory(auto_assign=False)
    lena = await gateway.add_agent("lena@example.com", skills=["general"])
    agent = await gateway.agent_client(lena)
    first, first_sid = await _queued(gateway)
    second, sid = await _queued(gateway)
    await agent.call("watch", {"conversation_id": sid})

    await second.say("hello? is anyone there")
    ack = await second.wait_for("bot_uttered", lambda m: (m.get("text") or "").startswith("Got it"))
    assert ack["text"] == "Got it, your message is with our team. You're #2 in the queue."
    assert ack["metadata"] == {"sender": "system"}
    for text in ("my invoice is still wrong", "just get me a real human please"):
        await second.say(text)
    await gateway.gw.idle()
    assert await _acks(gateway, sid) == [ack["text"]], "a burst gets one acknowledgement"
    # The agent watching still sees every customer message.
    seen = [d["message"]["text"] for d in agent.of("customer_message") if d["conversation_id"] == sid]
    assert seen == ["hello? is anyone there", "my invoice is still wrong", "just get me a real human please"]

    # The conversation ahead is claimed: the position changed, so the next message is acknowledged at once.
    await agent.call("claim", {"conversation_id": first_sid})
    await first.wait_for("conversation_state", lambda d: d["state"] == "assigned")
    await second.say("get me a person")
    await second.wait_for("bot_uttered", lambda m: "already in line" in (m.get("text") or ""))
    assert (await _acks(gateway, sid))[-1] == "You're already in line for a person: you're #1 in the queue."
    assert len(await _acks(gateway, sid)) == 2


async def test_after_the_interval_the_same_position_is_acknowledged_again(
    gateway: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer, sid = await _queued(gateway)  # nobody online: the ack says a person picks up when one joins
    await customer.say("just get me a real human please")
    ack = await customer.wait_for("bot_uttered", lambda m: "already in line" in (m.get("text") or ""))
    assert ack["text"] == (
        "You're already in line for a person: you're #1 in the queue, "
        "and a person will pick up right here when one joins."
    )
    await customer.say("hello??")
    assert len(await _acks(gateway, sid)) == 1
    monkeypatch.setattr(notices, "ACK_INTERVAL_SECONDS", 0.0)
    await customer.say("hello???")
    await customer.wait_for("bot_uttered", lambda m: (m.get("text") or "").startswith("Got it"))
    assert len(await _acks(gateway, sid)) == 2


async def test_an_assigned_conversation_gets_no_acknowledgement(gateway: Running) -> None:
    lena = await gateway.add_agent("lena@example.com", skills=["general"])
    await gateway.agent_client(lena)  # online: the hand-off is auto-assigned
    customer, sid = await _queued(gateway)
    await customer.wait_for("conversation_state", lambda d: d["state"] == "assigned")
    await customer.say("thanks for joining")
    assert await _acks(gateway, sid) == []
