"""Hand-off end to end with a fake Rasa: queue, summary, claim, live chat, hand-back, transfer, L3, resolve."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from handoff.domain import auth
from handoff.domain.identity import sign
from handoff.storage import contacts as contact_store
from handoff.storage import conversations as conversation_store
from handoff.storage import events as event_store
from handoff.storage import handoffs as handoff_store
from tests.handoff.helpers import HANDOFF_PAYLOAD, IDENTITY_SECRET, PASSWORD, TOKEN_SECRET, FakeRasa, Running

BEN = {
    "customer_id": "cus_1002",
    "email": "ben.carter@example.com",
    "name": "Ben Carter",
    "signature": sign(IDENTITY_SECRET, "cus_1002", "ben.carter@example.com", "Ben Carter"),
}


async def _seed_contact(gateway: Running) -> None:
    async with gateway.gw.db.write() as s:
        await contact_store.upsert_contact(
            s,
            id="cus_1002",
            email="ben.carter@example.com",
            name="Ben Carter",
            tier="business",
            plan="business",
            mrr=199.0,
            renewal_date=None,
            status="locked",
        )


async def _queued_customer(gateway: Running):  # type: ignore[no-untyped-def]
    c = await gateway.customer()
    await c.say("I can't log in", customData=BEN)
    await c.wait_for("bot_uttered")
    await c.say("human", customData=BEN)
    await c.wait_for("conversation_state", lambda d: d["state"] == "queued")
    return c, c.of("session_confirm")[-1]


async def test_handoff_reaches_agent_with_an_l1_quality_summary(gateway: Running, rasa: FakeRasa) -> None:
    await _seed_contact(gateway)
    lena = await gateway.add_agent("lena@example.com", skills=["general"], role="l2")
    agent = await gateway.agent_client(lena)
    await agent.call("presence", {"status": "away"})  # no auto-assign: it stays queued
    customer, sid = await _queued_customer(gateway)

    queued = await agent.wait_for("handoff_queued")
    assert queued["conversation_id"] == sid
    summary = queued["summary"]
    assert summary["customer"]["id"] == "cus_1002" and summary["customer"]["tier"] == "business"
    assert summary["escalation"]["reason"] == "three_strikes" and summary["escalation"]["strikes"] == 3
    problem = summary["problem"]
    assert problem.startswith("Customer can't log in")
    assert "password reset failed" in problem and "suspect" in problem
    assert "broken" not in problem
    assert summary["entities"]["email"] == ["ben.carter@example.com"]
    assert summary["steps"][0]["outcome"] == "failed"
    assert summary["sentiment"]["direction"] == "worsening"
    assert "4111" not in str(summary), "card numbers are redacted"
    assert summary["sla"]["deadline"] and summary["priority"]["level"] in ("normal", "high", "urgent")
    assert "Problem: Customer can't log in" in queued["summary_text"]
    # The custom payload is not shown to the customer; the bot's text is.
    texts = [m.get("text") for m in customer.of("bot_uttered")]
    assert "Let me get a person for you." in texts
    assert not any("custom" in m or "handoff" in str(m) for m in customer.of("bot_uttered"))
    update = await customer.wait_for("queue_update")
    # The only agent is away: a place in the queue, but no wait estimate (nobody can pick up now).
    assert update["position"] == 1 and update["estimated_wait_seconds"] is None
    snapshot = await agent.wait_for("queue_snapshot", lambda d: d["queue"])
    assert snapshot["queue"][0]["conversation_id"] == sid


async def test_claim_chat_and_handback(gateway: Running, rasa: FakeRasa) -> None:
    lena = await gateway.add_agent("lena@example.com", name="Lena Park", skills=["general"])
    agent = await gateway.agent_client(lena)
    await agent.call("presence", {"status": "away"})
    customer, sid = await _queued_customer(gateway)
    await agent.wait_for("handoff_queued")

    assert (await agent.call("claim", {"conversation_id": sid}))["ok"] is True
    assert (await customer.wait_for("agent_joined"))["name"] == "Lena Park"
    await customer.wait_for("conversation_state", lambda d: d["state"] == "assigned")
    assigned = await agent.wait_for("assigned")
    assert assigned["conversation"]["summary"]["problem"]

    ack = await agent.call("agent_message", {"conversation_id": sid, "text": "Hi Ben, I'm unlocking your account."})
    assert ack["seq"] > 0
    msg = await customer.wait_for("bot_uttered", lambda m: m["metadata"].get("sender") == "agent")
    assert msg["text"] == "Hi Ben, I'm unlocking your account."
    assert msg["metadata"] == {"sender": "agent", "agent_name": "Lena Park"}
    assert msg["seq"] == ack["seq"]

    # Human mode: the customer's words go to the agent, not to Rasa.
    sent_to_rasa = len(rasa.messages)
    await customer.say("thanks, trying now")
    got = await agent.wait_for("customer_message")
    assert got["message"]["text"] == "thanks, trying now" and got["conversation_id"] == sid
    await customer.call("typing", {"on": True})
    assert (await agent.wait_for("typing"))["from"] == "customer"
    await agent.call("typing", {"conversation_id": sid, "on": True})
    assert (await customer.wait_for("typing", lambda d: d["from"] == "agent"))["on"] is True
    assert len(rasa.messages) == sent_to_rasa

    result = await agent.call("handback", {"conversation_id": sid, "coaching_note": "Unlock via admin; L1 can do it."})
    assert result == {"ok": True, "state": "bot"}
    assert rasa.api_calls[0][0] == "events" and rasa.api_calls[0][1] == {"event": "resume"}
    assert rasa.api_calls[1][0] == "trigger_intent"
    assert rasa.api_calls[1][1] == {"name": "handback", "entities": {"agent_name": "Lena Park"}}
    greeting = await customer.wait_for("bot_uttered", lambda m: "Welcome back" in (m.get("text") or ""))
    assert greeting["metadata"] == {"sender": "bot"}
    assert (await customer.wait_for("agent_left"))["name"] == "Lena Park"
    await customer.wait_for("conversation_state", lambda d: d["state"] == "bot", count=1)
    # Bot mode again: the next message goes to Rasa.
    await customer.say("hello")
    await customer.wait_for("bot_uttered", lambda m: m.get("text") == "Hi! How can I help?")

    async with gateway.gw.db.read() as s:
        events = [e.type for e in await event_store.events_for(s, sid)]
    assert events[:1] == ["created"]
    for expected in ("identity_verified", "queued", "assigned", "handback"):
        assert expected in events


async def test_auto_assign_to_least_loaded_online_agent_with_skill(gateway: Running) -> None:
    billing = await gateway.add_agent("bill@example.com", skills=["billing"])
    general = await gateway.add_agent("gen@example.com", skills=["general"])
    a_bill = await gateway.agent_client(billing)
    a_gen = await gateway.agent_client(general)
    _, sid = await _queued_customer(gateway)  # reset_password: general skill
    assigned = await a_gen.wait_for("assigned")
    assert assigned["conversation_id"] == sid and assigned["by"] == "auto"
    assert not a_bill.of("assigned")


async def test_no_agent_online_says_so_and_takes_an_email(gateway: Running) -> None:
    customer, sid = await _queued_customer(gateway)
    notice = await customer.wait_for("bot_uttered", lambda m: "no agent is online" in (m.get("text") or ""))
    # Ben is signed in: not asked for an address we have (tests/handoff/test_queue_notices.py covers the rest).
    assert "b***@example.com" in notice["text"] and "leave your email" not in notice["text"]
    await customer.say("sure, ben@example.com")
    await customer.wait_for("bot_uttered", lambda m: "follow up at ben@example.com" in (m.get("text") or ""))
    async with gateway.gw.db.read() as s:
        conv = await conversation_store.get_conversation(s, sid)
    assert conv is not None and conv.follow_up_email == "ben@example.com" and conv.state == "queued"


async def test_outside_business_hours_is_announced(gateway_factory) -> None:  # type: ignore[no-untyped-def]
    gateway = await gateway_factory(business_hours="mon-sun 00:00-00:00")
    customer, _ = await _queued_customer(gateway)
    await customer.wait_for("bot_uttered", lambda m: "outside our business hours" in (m.get("text") or ""))


async def test_transfer_escalate_resolve_and_csat(gateway: Running) -> None:
    lena = await gateway.add_agent("lena@example.com", name="Lena Park", skills=["general"])
    omar = await gateway.add_agent("omar@example.com", name="Omar Haddad", skills=["technical"], role="lead")
    sam = await gateway.add_agent("sam@example.com", name="Sam Okafor", skills=["technical"], role="l3", team="l3")
    a_lena = await gateway.agent_client(lena)
    a_omar = await gateway.agent_client(omar)
    a_sam = await gateway.agent_client(sam)
    for a in (a_lena, a_omar, a_sam):
        await a.call("presence", {"status": "away"})
    customer, sid = await _queued_customer(gateway)
    await a_lena.call("claim", {"conversation_id": sid})

    bad = await a_sam.call("agent_message", {"conversation_id": sid, "text": "hi"})
    assert bad["code"] == "forbidden"
    note = await a_lena.call("note", {"conversation_id": sid, "text": "Customer already tried twice."})
    assert note["ok"] is True
    # L3 only through the definition of ready: neither the L3 team nor an L3 engineer takes a plain transfer.
    for skip in ({"to_agent_id": sam.id}, {"to_team": "l3"}):
        refused = await a_lena.call("transfer", {"conversation_id": sid, **skip})
        assert refused["code"] == "definition_of_ready", refused
    moved = await a_lena.call("transfer", {"conversation_id": sid, "to_agent_id": omar.id, "note": "needs logs"})
    assert moved["ok"] is True
    got = await a_omar.wait_for("assigned", lambda d: d["by"] == "transfer")
    assert got["conversation"]["notes"][0]["text"] == "Customer already tried twice."
    assert [m["text"] for m in got["conversation"]["messages"]][:1] == ["I can't log in"]
    assert await customer.wait_for("agent_joined", lambda d: d["name"] == "Omar Haddad")

    missing = await a_omar.call("escalate_l3", {"conversation_id": sid, "repro_steps": "1. log in", "logs": ""})
    assert missing["code"] == "missing_fields"
    assert "logs" in missing["error"] and "environment" in missing["error"] and "timestamps" in missing["error"]
    assert "repro_steps" not in missing["error"]
    done = await a_omar.call(
        "escalate_l3",
        {
            "conversation_id": sid,
            "repro_steps": "1. reset password 2. no email",
            "logs": "smtp 550 mailbox unavailable",
            "environment": "prod eu-west, web",
            "timestamps": ["2026-11-27T08:00:00Z"],
            "impact_scope": "one_customer",
            "impact_urgency": "normal",
        },
    )
    assert done["ok"] is True and done["state"] == "escalated_l3" and done["priority"] == "normal", done
    await customer.wait_for("conversation_state", lambda d: d["state"] == "escalated_l3")
    # An L3 engineer claims it and resolves.
    assert (await a_sam.call("claim", {"conversation_id": sid}))["ok"] is True
    resolved = await a_sam.call("resolve", {"conversation_id": sid, "resolution_code": "fixed_mail_relay"})
    assert resolved["state"] == "resolved"
    ask = await customer.wait_for("bot_uttered", lambda m: "How did we do" in (m.get("text") or ""))
    assert len(ask["quick_replies"]) == 5
    await customer.say(ask["quick_replies"][4]["payload"])
    await customer.wait_for("bot_uttered", lambda m: "feedback" in (m.get("text") or ""))
    async with gateway.gw.db.read() as s:
        events = await event_store.events_for(s, sid)
        handoffs = await handoff_store.handoffs_for(s, sid)
    types = [e.type for e in events]
    for expected in ("queued", "assigned", "transferred", "escalated_l3", "l3_claimed", "resolved", "csat"):
        assert expected in types
    assert next(e for e in events if e.type == "csat").data == {"score": 5}
    assert handoffs[-1].status == "resolved" and handoffs[-1].l3 and handoffs[-1].l3["logs"]


async def test_transfer_to_team_requeues_with_skill(gateway: Running) -> None:
    lena = await gateway.add_agent("lena@example.com", skills=["general"])
    a = await gateway.agent_client(lena)
    await a.call("presence", {"status": "away"})
    customer, sid = await _queued_customer(gateway)
    await a.call("claim", {"conversation_id": sid})
    assert (await a.call("transfer", {"conversation_id": sid, "to_team": "billing"}))["to_team"] == "billing"
    await customer.wait_for("conversation_state", lambda d: d["state"] == "queued", count=2)
    async with gateway.gw.db.read() as s:
        handoff = await handoff_store.current_handoff(s, sid)
    assert handoff is not None and handoff.skills == ["billing"] and handoff.status == "open"
    both = await a.call("transfer", {"conversation_id": sid, "to_team": "billing", "to_agent_id": 1})
    assert "error" in both


async def test_transfer_to_team_never_bounces_back_to_the_same_agent(gateway: Running) -> None:
    lena = await gateway.add_agent("lena@example.com", skills=["billing", "general"])
    a = await gateway.agent_client(lena)
    await a.call("presence", {"status": "online"})
    customer, sid = await _queued_customer(gateway)
    async with gateway.gw.db.read() as s:
        conv = await conversation_store.get_conversation(s, sid)
    if conv is None or conv.assigned_agent_id != lena.id:
        await a.call("claim", {"conversation_id": sid})
    assert (await a.call("transfer", {"conversation_id": sid, "to_team": "billing"}))["to_team"] == "billing"
    await customer.wait_for("bot_uttered", lambda m: "billing team" in (m.get("text") or ""))
    async with gateway.gw.db.read() as s:
        conv = await conversation_store.get_conversation(s, sid)
    assert conv is not None and conv.state == "queued" and conv.assigned_agent_id is None


async def test_rest_api_login_and_conversation_detail(gateway: Running) -> None:
    lena = await gateway.add_agent("lena@example.com", skills=["general"])
    _, sid = await _queued_customer(gateway)
    async with aiohttp.ClientSession() as http:
        bad = await http.post(f"{gateway.url}/api/login", json={"email": "lena@example.com", "password": "nope"})
        assert bad.status == 401 and (await bad.json())["error"]
        junk = await http.post(f"{gateway.url}/api/login", data=b"{not json")
        assert junk.status == 400 and "JSON" in (await junk.json())["error"]
        ok = await http.post(f"{gateway.url}/api/login", json={"email": "LENA@example.com", "password": PASSWORD})
        token = (await ok.json())["token"]
        h = {"Authorization": f"Bearer {token}"}
        assert (await http.get(f"{gateway.url}/api/conversations")).status == 401
        listed = await (await http.get(f"{gateway.url}/api/conversations?state=queued", headers=h)).json()
        assert [c["id"] for c in listed["conversations"]] == [sid]
        by_reason = await (await http.get(f"{gateway.url}/api/conversations?reason=policy", headers=h)).json()
        assert by_reason["conversations"] == []
        detail = await (await http.get(f"{gateway.url}/api/conversations/{sid}", headers=h)).json()
        assert detail["summary"]["escalation"]["reason"] == "three_strikes"
        assert "Problem:" in detail["summary_text"]
        assert detail["events"][0]["type"] == "created"
        assert (await http.get(f"{gateway.url}/api/conversations/nope", headers=h)).status == 404
        handoffs = await (await http.get(f"{gateway.url}/api/handoffs", headers=h)).json()
        assert handoffs["handoffs"][0]["conversation_id"] == sid
        claim = await http.post(f"{gateway.url}/api/conversations/{sid}/claim", headers=h)
        assert claim.status == 200
        again = await http.post(f"{gateway.url}/api/conversations/{sid}/claim", headers=h)
        assert again.status == 409
        msg = await http.post(f"{gateway.url}/api/conversations/{sid}/messages", headers=h, json={"text": 5})
        assert msg.status == 400 and "text" in (await msg.json())["error"]
        msg = await http.post(f"{gateway.url}/api/conversations/{sid}/messages", headers=h, json={"text": "hello"})
        assert msg.status == 200 and (await msg.json())["seq"] > 0
    assert lena.id > 0


async def test_watch_a_live_bot_conversation(gateway: Running) -> None:
    omar = await gateway.add_agent("omar@example.com", role="lead")
    a = await gateway.agent_client(omar)
    lena = await gateway.agent_client(await gateway.add_agent("lena@example.com", role="l2"))
    c = await gateway.customer()
    sid = c.of("session_confirm")[-1]
    await c.say("hello")
    await c.wait_for("bot_uttered")
    snap = await a.call("snapshot", {})
    assert snap == {"ok": True}
    live = await a.wait_for("queue_snapshot", lambda d: any(x["id"] == sid for x in d["live"]))
    assert live
    # Watching the bot's conversations (to barge in) is lead work (handoff/domain/access.py).
    assert (await lena.call("watch", {"conversation_id": sid}))["code"] == "forbidden"
    watched = await a.call("watch", {"conversation_id": sid})
    assert [m["text"] for m in watched["conversation"]["messages"]] == ["hello", "Hi! How can I help?"]
    await c.say("buttons")
    assert (await a.wait_for("customer_message"))["message"]["text"] == "buttons"
    assert (await a.wait_for("conversation_message"))["message"]["text"] == "Pick a topic"


async def test_agent_namespace_refuses_bad_tokens(gateway: Running) -> None:
    import socketio

    from tests.handoff.helpers import Client

    lena = await gateway.add_agent("lena@example.com")
    good = auth.issue_token(TOKEN_SECRET, lena.id, "l2", 3600)
    forged = auth.issue_token("another-secret", lena.id, "lead", 3600)
    expired = auth.issue_token(TOKEN_SECRET, lena.id, "l2", 60, now=1_000_000)
    tampered = good.split(".")[0] + "x." + good.split(".")[1]
    unknown = auth.issue_token(TOKEN_SECRET, 999, "l2", 3600)
    for auth_data in (
        None,
        {},
        {"token": ""},
        {"token": forged},
        {"token": expired},
        {"token": tampered},
        {"token": unknown},
        {"token": 12},
    ):
        c = Client("/agents")
        try:
            await c.connect(gateway.url, auth_data)
        except socketio.exceptions.ConnectionError:
            pass
        else:
            await c.close()
            raise AssertionError(f"connection accepted with {auth_data}")
    ok = await gateway.agent_client(lena, good)
    assert ok.of("queue_snapshot")


async def test_message_after_resolution_starts_a_fresh_bot_session(gateway: Running, rasa: FakeRasa) -> None:
    lena = await gateway.add_agent("lena@example.com", skills=["general"])
    agent = await gateway.agent_client(lena)
    await agent.call("presence", {"status": "away"})
    customer, sid = await _queued_customer(gateway)
    await agent.call("claim", {"conversation_id": sid})
    assert (await agent.call("resolve", {"conversation_id": sid, "resolution_code": "answered"}))["ok"] is True
    await customer.wait_for("bot_uttered", lambda m: "How did we do" in (m.get("text") or ""))

    # action_handoff paused the Rasa tracker: without a resume, Rasa would answer nothing.
    await customer.say("hello")
    await customer.wait_for("bot_uttered", lambda m: m.get("text") == "Hi! How can I help?")
    assert ("events", [{"event": "resume"}, {"event": "session_started"}]) in [(k, body) for k, body, _ in rasa.api_calls]
    await customer.wait_for("conversation_state", lambda d: d["state"] == "bot")


@pytest.mark.parametrize(("payload", "field"), [
    ({**HANDOFF_PAYLOAD, "reason": "made_up"}, "reason"),
    ({**HANDOFF_PAYLOAD, "turns": "nope"}, "turns"),
    ({**HANDOFF_PAYLOAD, "customer_verified": "true"}, "customer_verified"),
    ("yes", "handoff payload"),
])
async def test_an_invalid_payload_from_the_bot_still_hands_off_without_it(
    gateway: Running, rasa: FakeRasa, caplog: pytest.LogCaptureFixture, payload: Any, field: str
) -> None:
    # The bot has told the customer a person is coming: a block the contract refuses is logged and the conversation
    # is queued as a customer request, with none of the block's context (the summary starts from the transcript).
    rasa.handoff_payload = payload
    c = await gateway.customer()
    await c.say("human")
    await c.wait_for("conversation_state", lambda d: d["state"] == "queued")
    sid = c.of("session_confirm")[-1]
    await gateway.gw.idle()
    async with gateway.gw.db.read() as s:
        [handoff] = await handoff_store.handoffs_for(s, sid)
        conv = await conversation_store.get_conversation(s, sid)
    assert handoff.reason == "customer_request"
    assert handoff.summary["intents"] == [] and handoff.summary["steps"] == [] and handoff.summary["entities"] == {}
    assert conv is not None and not conv.verified
    [logged] = [r.getMessage() for r in caplog.records if "invalid hand-off payload" in r.getMessage()]
    assert field in logged and "log in" not in logged, "the log names the field, never what the customer wrote"
