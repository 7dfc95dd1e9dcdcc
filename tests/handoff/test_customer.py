"""Customer namespace: Rasa socketio protocol, acks, ordering, replay, identity, outages, bad input."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta

import pytest

from contract.vouch import vouch, vouched_customer_id
from handoff.domain.identity import sign
from handoff.settings import Settings
from handoff.storage import conversations as conversation_store
from handoff.storage import handoffs as handoff_store
from handoff.storage import messages as message_store
from handoff.storage.models import Conversation, utcnow
from tests.handoff.helpers import IDENTITY_SECRET, VOUCH_SECRET, Client, FakeRasa, Running


async def test_fresh_session_id_is_server_issued_and_unguessable(gateway: Running) -> None:
    c = await gateway.customer(None)
    sid = c.of("session_confirm")[-1]
    assert isinstance(sid, str) and len(sid) >= 32
    assert await c.wait_for("conversation_state") == {"state": "bot"}
    other = await gateway.customer(None)
    assert other.of("session_confirm")[-1] != sid


async def test_known_id_resumes_and_guessed_ids_get_fresh_ones(gateway: Running) -> None:
    first = await gateway.customer()
    sid = first.of("session_confirm")[-1]
    await first.say("hello")
    await first.wait_for("bot_uttered")
    await first.close()

    again = await gateway.customer(sid)
    assert again.of("session_confirm")[-1] == sid
    for guess in ("1234", "a" * 32, sid[:-1] + ("A" if sid[-1] != "A" else "B"), "../../etc/passwd"):
        c = Client("/")
        await c.connect(gateway.url)
        gateway.clients.append(c)
        confirmed = await c.session(guess)
        assert confirmed not in (guess, sid)


async def test_acks_carry_id_and_seq_and_replies_keep_order(gateway: Running, rasa: FakeRasa) -> None:
    rasa.delay = 0.05
    c = await gateway.customer()
    acks = [await c.say(f"m{i}") for i in range(5)]
    seqs = [a["seq"] for a in acks]
    assert seqs == sorted(seqs) and len(set(seqs)) == 5
    assert all(isinstance(a["id"], str) and a["id"] for a in acks)
    await c.wait_for("bot_uttered", count=5)
    texts = [m["text"] for m in c.of("bot_uttered")]
    assert texts == [f"echo: m{i}" for i in range(5)]
    assert [m["message"] for m in rasa.messages] == [f"m{i}" for i in range(5)]
    bot_seqs = [m["seq"] for m in c.of("bot_uttered")]
    assert bot_seqs == sorted(bot_seqs)
    assert all(m["metadata"] == {"sender": "bot"} for m in c.of("bot_uttered"))


async def test_buttons_become_quick_replies_and_images_attachments(gateway: Running) -> None:
    c = await gateway.customer()
    await c.say("buttons")
    msg = await c.wait_for("bot_uttered")
    assert msg["text"] == "Pick a topic"
    assert msg["quick_replies"] == [{"content_type": "text", "title": "Billing", "payload": "/billing_invoice"}]
    await c.say("image")
    img = await c.wait_for("bot_uttered", lambda m: "attachment" in m)
    assert img["attachment"] == {"type": "image", "payload": {"src": "https://example.com/help.png"}}


async def test_duplicate_client_id_is_stored_once(gateway: Running, rasa: FakeRasa) -> None:
    c = await gateway.customer()
    first = await c.say("hello", client_id="c-1")
    second = await c.say("hello", client_id="c-1")
    assert first == second
    await c.wait_for("bot_uttered")
    await gateway.gw.idle()
    assert len(rasa.messages) == 1


async def test_reconnect_replay_after_last_seq_without_loss_or_duplicate(gateway: Running) -> None:
    c = await gateway.customer()
    sid = c.of("session_confirm")[-1]
    for text in ("one", "two"):
        await c.say(text)
    await c.wait_for("bot_uttered", count=2)
    seen = max(m["seq"] for m in c.of("bot_uttered"))
    await c.close()

    # While the customer is away, another tab keeps chatting.
    other = await gateway.customer(sid)
    await other.say("three")
    await other.wait_for("bot_uttered")
    await gateway.gw.idle()

    back = Client("/")
    await back.connect(gateway.url)
    gateway.clients.append(back)
    await back.session(sid, last_seq=seen)
    history = await back.wait_for("history")
    seqs = [m["seq"] for m in history["messages"]]
    assert seqs == list(range(seen + 1, seen + 3))
    assert [m.get("text") for m in history["messages"]] == ["three", "echo: three"]
    assert len(back.of("history")) == 1

    # The explicit resume event returns the same, once per request.
    ack = await back.call("resume", {"session_id": sid, "last_seq": 0})
    assert ack["count"] == seen + 2
    full = await back.wait_for("history", count=2)
    assert [m["seq"] for m in full["messages"]] == list(range(1, seen + 3))


async def test_the_extras_go_to_clients_that_ask_for_them_in_the_handshake(gateway: Running) -> None:
    """Our clients connect with auth {"protocol": "frontline.1"}; the same client without it speaks stock Rasa."""
    ours = await gateway.customer()
    assert ours.handshake() == {"protocol": "frontline.1"}
    ack = await ours.say("hello")
    assert set(ack) == {"id", "seq"}
    reply = await ours.wait_for("bot_uttered")
    assert set(reply) == {"id", "seq", "metadata", "text"} and reply["metadata"] == {"sender": "bot"}
    assert await ours.wait_for("conversation_state") == {"state": "bot"}

    plain = Client("/")
    await plain.connect(gateway.url, {})  # an auth without a protocol: stock Rasa
    gateway.clients.append(plain)
    sid = await plain.session()
    assert await plain.call("user_uttered", {"message": "hello", "session_id": sid}) is None
    assert await plain.wait_for("bot_uttered") == {"text": "Hi! How can I help?"}
    await gateway.gw.idle()
    assert {e for e, _ in plain.received} == {"session_confirm", "bot_uttered"}


async def test_signed_identity_is_trusted_and_forged_one_is_not(gateway: Running, rasa: FakeRasa) -> None:
    good = {
        "customer_id": "cus_1002",
        "email": "ben.carter@example.com",
        "name": "Ben Carter",
        "signature": sign(IDENTITY_SECRET, "cus_1002", "ben.carter@example.com", "Ben Carter"),
    }
    c = await gateway.customer()
    sid = c.of("session_confirm")[-1]
    await c.say("hello", customData=good)
    await c.wait_for("bot_uttered")
    assert rasa.messages[-1]["metadata"] == {
        "channel": "widget",
        "conversation_id": sid,
        # The action server trusts the identity only with the gateway's voucher for this conversation.
        "customer": vouch(VOUCH_SECRET, sid, {"id": "cus_1002", "email": "ben.carter@example.com", "name": "Ben Carter"}),
    }
    assert vouched_customer_id(VOUCH_SECRET, sid, rasa.messages[-1]["metadata"]["customer"]) == "cus_1002"
    forged = dict(good, customer_id="cus_1003")
    for custom in (
        forged,
        {**good, "signature": "0" * 64},
        {k: v for k, v in good.items() if k != "signature"},
    ):
        d = await gateway.customer()
        await d.say("hello", customData=custom)
        await d.wait_for("bot_uttered")
        assert rasa.messages[-1]["metadata"]["customer"] is None
    # Rasa widgets send metadata as a JSON string: that works too.
    e = await gateway.customer()
    await e.say("hello", metadata=json.dumps(good))
    await e.wait_for("bot_uttered")
    assert rasa.messages[-1]["metadata"]["customer"]["id"] == "cus_1002"


async def test_rasa_down_queues_bot_unavailable_and_keeps_the_message(gateway: Running, rasa: FakeRasa) -> None:
    rasa.down = True
    c = await gateway.customer()
    sid = c.of("session_confirm")[-1]
    ack = await c.say("my invoice is wrong")
    msg = await c.wait_for("bot_uttered")
    assert "trouble" in msg["text"] and "person" in msg["text"]
    await c.wait_for("conversation_state", lambda d: d["state"] == "queued")
    await c.wait_for("queue_update")
    async with gateway.gw.db.read() as s:
        handoff = await handoff_store.current_handoff(s, sid)
        messages = await message_store.messages_after(s, sid)
    assert handoff is not None and handoff.reason == "bot_unavailable"
    assert any(m.seq == ack["seq"] and m.text == "my invoice is wrong" for m in messages)


async def test_invalid_payloads_get_errors_and_others_are_unaffected(gateway: Running) -> None:
    bystander = await gateway.customer()
    bad = Client("/")
    await bad.connect(gateway.url)
    gateway.clients.append(bad)

    no_session = await bad.call("user_uttered", {"message": "hi"})
    assert no_session["code"] == "no_session"
    await bad.session()
    sid = bad.of("session_confirm")[-1]
    cases = [
        ("user_uttered", "just a string", "invalid_payload"),
        ("user_uttered", {"session_id": sid}, "missing_fields"),
        ("user_uttered", {"message": 42, "session_id": sid}, "invalid_type"),
        ("user_uttered", {"message": ["a"], "session_id": sid}, "invalid_type"),
        ("user_uttered", {"message": "x" * 5000, "session_id": sid}, "too_large"),
        ("user_uttered", {"message": "   ", "session_id": sid}, "empty_message"),
        (
            "user_uttered",
            {"message": "hi", "session_id": bystander.of("session_confirm")[-1]},
            "session_mismatch",
        ),
        ("session_request", {"session_id": 12}, "invalid_type"),
        ("resume", {"session_id": sid, "last_seq": -1}, "invalid_value"),
        ("resume", {"session_id": sid, "last_seq": True}, "invalid_type"),
        ("definitely_not_an_event", {}, "unknown_event"),
        ("claim", {"conversation_id": sid}, "unknown_event"),
    ]
    for event, payload, code in cases:
        ack = await bad.call(event, payload)
        assert ack["code"] == code, (event, payload, ack)
    assert len(bad.of("error")) >= len(cases)
    assert all(set(e) == {"code", "message", "event"} for e in bad.of("error"))
    # The bystander's conversation is untouched and still served; so is the offender.
    await bystander.say("hello")
    assert (await bystander.wait_for("bot_uttered"))["text"] == "Hi! How can I help?"
    assert not bystander.of("error")
    ok = await bad.say("hello")
    assert "seq" in ok


async def test_flood_is_rate_limited_per_connection(gateway_factory) -> None:  # type: ignore[no-untyped-def]
    gw = await gateway_factory(rate_limit_events=5, rate_limit_window_seconds=30.0)
    c = await gw.customer()  # session_request used 1 of 5
    results = [await c.call("typing", {"on": True}) for _ in range(8)]
    assert [r.get("code") for r in results].count("rate_limited") == 4
    other = await gw.customer()
    assert "seq" in await other.say("hello")


async def test_messages_of_different_conversations_run_concurrently(gateway: Running, rasa: FakeRasa) -> None:
    rasa.delay = 0.3
    customers = [await gateway.customer() for _ in range(5)]
    loop = asyncio.get_running_loop()
    start = loop.time()
    await asyncio.gather(*(c.say("hello") for c in customers))
    await asyncio.gather(*(c.wait_for("bot_uttered") for c in customers))
    assert loop.time() - start < 1.2  # five 0.3 s bot calls did not queue behind each other


async def test_non_ascii_identity_claims_are_checked_without_a_crash(
    gateway: Running, caplog: pytest.LogCaptureFixture
) -> None:
    """A signature or id outside ASCII is a wrong signature (anonymous), never an internal error or a traceback."""
    signed = sign(IDENTITY_SECRET, "cus_é1", "zoé@example.com", "Zoé Çelik")
    good = {"customer_id": "cus_é1", "email": "zoé@example.com", "name": "Zoé Çelik", "signature": signed}
    hostile = [
        {"customer_id": "cus_1002", "signature": "é"},
        {"customer_id": "cus_1002", "signature": signed[:-1] + "é"},
        {"customer_id": "cus_1002", "signature": "\U0001f600" * 64},
        {**good, "signature": signed.upper() + "ß"},
        {**good, "customer_id": "cus_é2"},  # signed for another id
        # As a JSON string (what Rasa widgets send), escapes decode to lone surrogates no UTF-8 encoder takes.
        json.dumps({"customer_id": "cus_\ud800", "signature": "ab"}),
        json.dumps({**good, "name": "\udfff", "signature": "\ud800" * 3}),
    ]
    for custom in hostile:
        c = await gateway.customer()
        ack = await c.say("hello", customData=custom)
        assert "seq" in ack, (custom, ack)
        await c.wait_for("bot_uttered")
        async with gateway.gw.db.read() as s:
            conv = await conversation_store.get_conversation(s, c.of("session_confirm")[-1])
        assert conv is not None and not conv.verified and conv.customer_id is None, custom
    # A non-ASCII customer id signed correctly (UTF-8, as documented) is verified.
    c = await gateway.customer()
    assert "seq" in await c.say("hello", customData=good)
    await c.wait_for("bot_uttered")
    async with gateway.gw.db.read() as s:
        conv = await conversation_store.get_conversation(s, c.of("session_confirm")[-1])
    assert conv is not None and conv.verified and conv.customer_id == "cus_é1"
    await gateway.gw.idle()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info], caplog.records


async def _idle_for(gateway: Running, conversation_id: str, hours: float) -> None:
    """Make the conversation's last activity ``hours`` old (instead of waiting a day)."""
    async with gateway.gw.db.write() as s:
        row = await s.get(Conversation, conversation_id)
        row.updated_at = utcnow() - timedelta(hours=hours)


async def test_an_idle_session_id_gets_a_fresh_conversation_and_a_recent_one_resumes(gateway_factory) -> None:  # type: ignore[no-untyped-def]
    assert Settings().session_idle_hours == 24
    assert Settings.from_env({"HANDOFF_SESSION_IDLE_HOURS": "2"}).session_idle_hours == 2
    gateway = await gateway_factory()
    ids = []
    for _ in range(2):
        c = await gateway.customer()
        await c.say("hello")
        await c.wait_for("bot_uttered")
        ids.append(c.of("session_confirm")[-1])
        await c.close()
    old, recent = ids
    await _idle_for(gateway, old, 25)
    await _idle_for(gateway, recent, 23)
    await gateway.gw.idle()

    # The idle id is not resumed, by session_request or by resume: a fresh, empty conversation instead.
    for how in ("session_request", "resume"):
        c = Client("/")
        await c.connect(gateway.url)
        gateway.clients.append(c)
        if how == "session_request":
            fresh = await c.session(old, last_seq=0)
        else:
            fresh = (await c.call("resume", {"session_id": old, "last_seq": 0}))["session_id"]
        assert fresh != old and fresh not in ids, how
        assert (await c.wait_for("history"))["messages"] == [], how
        assert "seq" in await c.call("user_uttered", {"message": "hi again", "session_id": fresh})
        assert (await c.call("user_uttered", {"message": "x", "session_id": old}))["code"] == "session_mismatch"
    # The old conversation stays, untouched, for agents and metrics.
    detail = await gateway.gw.conversation_detail(old)
    assert [m["text"] for m in detail["messages"]][:1] == ["hello"] and len(detail["messages"]) == 2

    # Within the idle time, the id resumes with its history.
    again = await gateway.customer(recent)
    assert again.of("session_confirm")[-1] == recent
    assert (await again.call("resume", {"session_id": recent, "last_seq": 0}))["count"] == 2
    assert [m["text"] for m in (await again.wait_for("history"))["messages"]] == ["hello", "Hi! How can I help?"]
