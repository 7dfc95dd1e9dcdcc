"""End to end: the real Rasa server with the trained model and the real action server, over the REST webhook."""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
from typing import Any

import aiohttp
import pytest

from actions.backend.store import DemoBackend
from actions.settings import ActionSettings
from bot.launcher import ROOT, BotServers

CARD = "4111 1111 1111 1111"


async def say(servers: BotServers, sender: str, text: str, metadata: dict[str, Any] | None = None) -> list[dict]:
    """Send one customer message; return the bot's replies."""
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{servers.rasa_url}/webhooks/rest/webhook",
            json={"sender": sender, "message": text, "metadata": metadata or {"channel": "test"}},
            params={"token": servers.token},
        ) as response:
            assert response.status == 200, await response.text()
            return list(await response.json())


async def tracker(servers: BotServers, sender: str) -> dict[str, Any]:
    """The conversation's tracker from Rasa's HTTP API."""
    async with aiohttp.ClientSession() as session:
        async with session.get(
            f"{servers.rasa_url}/conversations/{sender}/tracker", params={"token": servers.token}
        ) as response:
            assert response.status == 200
            return dict(await response.json())


def texts(replies: list[dict]) -> str:
    return " ".join(reply.get("text", "") for reply in replies)


def handoff_of(replies: list[dict]) -> dict[str, Any] | None:
    for reply in replies:
        if "handoff" in (reply.get("custom") or {}):
            return dict(reply["custom"]["handoff"])
    return None


def new_sender() -> str:
    return f"test-{secrets.token_hex(8)}"


def backend(servers: BotServers) -> DemoBackend:
    settings = ActionSettings()
    return DemoBackend(servers.backend_db, settings.seed_path, settings.public_url)


async def test_password_reset_sends_a_single_use_link_and_resolves(bot_servers: BotServers) -> None:
    sender = new_sender()
    assert "email address on your account" in texts(await say(bot_servers, sender, "i forgot my password"))
    replies = await say(bot_servers, sender, "it's ana.ortiz@example.com")
    assert "sent a password reset link to a***@example.com" in texts(replies)
    assert "/reset?token=" not in texts(replies), "the link only goes by email"
    mails = backend(bot_servers).outbox("ana.ortiz@example.com")
    assert mails and mails[-1]["purpose"] == "password_reset"
    assert "glad" in texts(await say(bot_servers, sender, "/affirm")).lower()
    slots = (await tracker(bot_servers, sender))["slots"]
    assert slots["strikes"] == 0 and slots["pending_step"] is None


async def test_locked_account_gets_an_unlock_link(bot_servers: BotServers) -> None:
    sender = new_sender()
    await say(bot_servers, sender, "my account is locked, it says too many attempts")
    replies = await say(bot_servers, sender, "ben.carter@example.com")
    assert "unlocks the account" in texts(replies)  # worded the same whether or not the address has an account
    mails = backend(bot_servers).outbox("ben.carter@example.com")
    assert mails and mails[-1]["purpose"] == "unlock_reset"


async def test_three_failed_attempts_hand_off_with_the_story(bot_servers: BotServers) -> None:
    sender = new_sender()
    await say(bot_servers, sender, "/reset_password")
    await say(bot_servers, sender, "ana.ortiz@example.com")
    await say(bot_servers, sender, "the reset link never came")
    await say(bot_servers, sender, "/step_failed")
    replies = await say(bot_servers, sender, "/step_failed")
    handoff = handoff_of(replies)
    assert handoff is not None, replies
    assert handoff["reason"] == "three_strikes"
    assert handoff["strikes"] == 3
    assert "password reset" in handoff["problem"]
    assert "Reset emails not reaching" in handoff["hypothesis"]
    assert [s["outcome"] for s in handoff["steps"]].count("failed") == 3
    assert "won't need to repeat yourself" in texts(replies)
    assert (await tracker(bot_servers, sender))["paused"] is True


async def test_asking_for_a_person_hands_off_at_once(bot_servers: BotServers) -> None:
    sender = new_sender()
    replies = await say(bot_servers, sender, "I want to talk to a human")
    handoff = handoff_of(replies)
    assert handoff is not None and handoff["reason"] == "customer_request"
    assert handoff["turns"][-1]["intent"] == "request_human"
    assert 0 < handoff["turns"][-1]["confidence"] <= 1


async def test_frustration_hands_off_at_once(bot_servers: BotServers) -> None:
    sender = new_sender()
    replies = await say(bot_servers, sender, "THIS IS RIDICULOUS, you are useless, worst support ever!!!")
    handoff = handoff_of(replies)
    assert handoff is not None and handoff["reason"] == "frustration"
    assert handoff["frustration"] is not None and handoff["frustration"] > 0.5


IMPACT_QUESTION = "only affecting you, or other people too"


async def test_technical_issue_collects_details_then_hands_off(bot_servers: BotServers) -> None:
    sender = new_sender()
    replies = await say(bot_servers, sender, "the export keeps failing with error E-504 since this morning")
    assert "tried" in texts(replies), "the error is already known, so the bot asks what was tried"
    replies = await say(bot_servers, sender, "i reloaded and tried another browser")
    assert IMPACT_QUESTION in texts(replies) and handoff_of(replies) is None, "L1 is not done without the impact"
    replies = await say(bot_servers, sender, "only me so far, but it's pretty urgent, the month end report is due")
    handoff = handoff_of(replies)
    assert handoff is not None and handoff["reason"] == "technical_issue"
    assert "gateway timeout" in handoff["hypothesis"] and "E-504" in handoff["hypothesis"]
    assert handoff["slots"]["impact"] == "only me so far, but it's pretty urgent, the month end report is due"
    assert (handoff["slots"]["impact_scope"], handoff["slots"]["impact_urgency"]) == ("one_customer", "high")


async def test_who_is_affected_said_up_front_is_not_asked(bot_servers: BotServers) -> None:
    sender = new_sender()
    first = "nobody in our office can log in since this morning, error E-504"
    replies = await say(bot_servers, sender, first)
    assert "tried" in texts(replies) and IMPACT_QUESTION not in texts(replies)
    replies = await say(bot_servers, sender, "cleared the cookies, restarted, no change. we can't do any work")
    assert IMPACT_QUESTION not in texts(replies)
    handoff = handoff_of(replies)
    assert handoff is not None and handoff["reason"] == "technical_issue"
    assert handoff["slots"]["impact"] == first
    assert (handoff["slots"]["impact_scope"], handoff["slots"]["impact_urgency"]) == ("all_customers", "critical")


async def test_not_sure_who_is_affected_is_an_answer(bot_servers: BotServers) -> None:
    sender = new_sender()
    await say(bot_servers, sender, "the reports page crashes with HTTP 500 every time I open it")
    assert IMPACT_QUESTION in texts(await say(bot_servers, sender, "nothing yet"))
    handoff = handoff_of(await say(bot_servers, sender, "not sure"))
    assert handoff is not None and handoff["reason"] == "technical_issue"
    assert handoff["slots"]["impact"] == "not sure"
    assert "impact_scope" not in handoff["slots"] and "impact_urgency" not in handoff["slots"]


async def test_fast_lane_customer_closing_goes_to_a_specialist(bot_servers: BotServers) -> None:
    sender = new_sender()
    metadata = {"channel": "test", "customer": bot_servers.customer(sender, "cus_1003")}
    replies = await say(bot_servers, sender, "I'd like to close our account please", metadata)
    handoff = handoff_of(replies)
    assert handoff is not None and handoff["reason"] == "fast_lane"
    assert handoff["customer_id"] == "cus_1003" and handoff["customer_tier"] == "enterprise"


@pytest.mark.parametrize("claim", [
    {"id": "cus_1003", "verified": False},
    # The forged identity of the security report: "verified" without the gateway's voucher.
    {"id": "cus_1004", "verified": True},
    {"id": "cus_1004", "verified": True, "email": "dev.patel@example.com", "voucher": "0" * 64},
])
async def test_unverified_identity_claims_are_ignored(bot_servers: BotServers, claim: dict[str, Any]) -> None:
    sender = new_sender()
    replies = await say(bot_servers, sender, "show me my latest invoice", {"channel": "test", "customer": claim})
    assert "email address on your account" in texts(replies)
    assert "INV-" not in texts(replies), "no invoice of anyone's before the customer is verified"


async def test_a_voucher_for_another_conversation_is_anonymous(bot_servers: BotServers) -> None:
    sender = new_sender()
    replayed = {"channel": "test", "customer": bot_servers.customer(new_sender(), "cus_1004")}
    replies = await say(bot_servers, sender, "show me my latest invoice", replayed)
    assert "email address on your account" in texts(replies) and "INV-" not in texts(replies)


async def test_rasas_webhook_refuses_callers_without_the_gateways_token(bot_servers: BotServers) -> None:
    body = {"sender": new_sender(), "message": "show me my latest invoice",
            "metadata": {"customer": {"id": "cus_1004", "verified": True}}}
    async with aiohttp.ClientSession() as session:
        for params, headers in [({}, {}), ({"token": "wrong-token-0123456789"}, {}), ({"token": "é"}, {}),
                                ({}, {"Authorization": "Bearer wrong-token-0123456789"})]:
            async with session.post(f"{bot_servers.rasa_url}/webhooks/rest/webhook", json=body, params=params,
                                    headers=headers) as response:
                assert response.status == 401, (params, headers)
                assert "INV-" not in await response.text()
        async with session.post(f"{bot_servers.rasa_url}/webhooks/rest/webhook", json=body,
                                headers={"Authorization": f"Bearer {bot_servers.token}"}) as response:
            assert response.status == 200  # the bearer form works too


async def test_the_action_server_refuses_callers_without_rasas_token(bot_servers: BotServers) -> None:
    # A tracker that claims a verified customer, posted straight to the action server as an attacker would.
    call = {"next_action": "action_billing_invoice", "sender_id": new_sender(), "version": "3.6.21",
            "tracker": {"sender_id": "x", "slots": {"customer_id": "cus_1004", "customer_verified": True},
                        "latest_message": {}, "events": [], "paused": False, "latest_event_time": None,
                        "followup_action": None, "active_loop": {}, "latest_action_name": "action_listen"},
            "domain": {}}
    async with aiohttp.ClientSession() as session:
        for params in ({}, {"token": "wrong-token-0123456789"}, {"token": "ü" * 40}):
            async with session.post(f"{bot_servers.actions_url}/webhook", json=call, params=params) as response:
                assert response.status == 401
                assert "INV-" not in await response.text()
            async with session.get(f"{bot_servers.actions_url}/actions", params=params) as response:
                assert response.status == 401
        async with session.get(f"{bot_servers.actions_url}/health") as response:
            assert response.status == 200
        async with session.get(f"{bot_servers.actions_url}/actions", params={"token": bot_servers.actions_token}) as r:
            assert r.status == 200 and {"name": "action_session_start"} in await r.json()


async def test_duplicate_charge_is_refunded_after_email_verification(bot_servers: BotServers) -> None:
    sender = new_sender()
    await say(bot_servers, sender, "I was charged twice for invoice INV-1071")
    replies = await say(bot_servers, sender, "dev.patel@example.com")
    assert "6-digit code" in texts(replies)
    code = re.search(r"\d{6}", backend(bot_servers).outbox("dev.patel@example.com")[-1]["body"])
    assert code is not None
    replies = await say(bot_servers, sender, code.group(0))
    assert "refunded the duplicate charge" in texts(replies), replies
    assert handoff_of(replies) is None


async def test_handback_resumes_the_bot_and_greets(bot_servers: BotServers) -> None:
    sender = new_sender()
    assert handoff_of(await say(bot_servers, sender, "agent please")) is not None
    async with aiohttp.ClientSession() as session:
        params = {"token": bot_servers.token}
        async with session.post(f"{bot_servers.rasa_url}/conversations/{sender}/tracker/events",
                                params=params, json={"event": "resume"}) as response:
            assert response.status == 200
        async with session.post(f"{bot_servers.rasa_url}/conversations/{sender}/trigger_intent",
                                params=params, json={"name": "handback", "entities": {}}) as response:
            assert response.status == 200
            body = await response.json()
    assert "handed this chat back to me" in " ".join(m.get("text", "") for m in body["messages"])
    assert "email address on your account" in texts(await say(bot_servers, sender, "/billing_invoice"))
    slots = (await tracker(bot_servers, sender))["slots"]
    assert slots["strikes"] == 0 and slots["handoff_reason"] is None


@pytest.mark.parametrize(
    "message",
    ["", "   ", "x" * 5000, "🙂🙂🙂", "¿Dónde está mi factura?", "Где мой счёт?", "<script>alert(1)</script>"],
)
async def test_odd_messages_get_a_sensible_answer(bot_servers: BotServers, message: str) -> None:
    replies = await say(bot_servers, new_sender(), message)
    assert replies, "the bot never goes silent"
    assert all("text" in reply or "custom" in reply for reply in replies)


async def test_pasted_card_number_is_never_echoed_or_kept_in_slots(bot_servers: BotServers) -> None:
    sender = new_sender()
    replies = await say(bot_servers, sender, f"I was charged twice, my card is {CARD}")
    assert CARD not in json.dumps(replies) and CARD.replace(" ", "") not in json.dumps(replies)
    await say(bot_servers, sender, f"my password is hunter2 and card {CARD}")
    slots = json.dumps((await tracker(bot_servers, sender))["slots"])
    assert CARD not in slots and CARD.replace(" ", "") not in slots and "hunter2" not in slots


async def test_backend_down_tells_the_customer_and_hands_off(bot_servers: BotServers) -> None:
    sender = new_sender()
    metadata = {"channel": "test", "customer": bot_servers.customer(sender, "cus_1001")}
    await say(bot_servers, sender, "hello", metadata)
    with sqlite3.connect(bot_servers.backend_db) as db:
        db.execute("ALTER TABLE invoices RENAME TO invoices_offline")
    try:
        replies = await say(bot_servers, sender, "/billing_invoice", metadata)
    finally:
        with sqlite3.connect(bot_servers.backend_db) as db:
            db.execute("ALTER TABLE invoices_offline RENAME TO invoices")
    assert "can't reach our account system" in texts(replies)
    handoff = handoff_of(replies)
    assert handoff is not None and handoff["reason"] == "backend_unavailable"


def listening_addresses(port: int) -> set[str]:
    """Local addresses of the sockets listening on ``port`` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as rows:
            for row in list(rows)[1:]:
                local, state = row.split()[1], row.split()[3]
                address, hex_port = local.split(":")
                if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                    found.add(address)
    return found


async def test_rasa_and_the_action_server_listen_on_loopback_only(bot_servers: BotServers) -> None:
    loopback = {"0100007F", "00000000000000000000000001000000"}  # 127.0.0.1, ::1
    for url in (bot_servers.rasa_url, bot_servers.actions_url):
        addresses = listening_addresses(int(url.rsplit(":", 1)[1]))
        assert addresses and addresses <= loopback, (url, addresses)
    procfiles = [(ROOT / name).read_text() for name in ("Procfile", "Procfile.scaled")]
    rasa_lines = [line for text in procfiles for line in text.splitlines() if "rasa run" in line]
    assert rasa_lines and all('--interface "${RASA_HOST:-127.0.0.1}"' in line for line in rasa_lines)
    assert all("rasa run actions" not in text and "actions.server" in text for text in procfiles)
