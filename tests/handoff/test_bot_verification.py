"""A customer who verified with an emailed code in the bot is verified for the agent too; nobody else can claim it."""

from __future__ import annotations

import json
from typing import Any

from handoff.domain import auth
from handoff.domain.identity import sign
from handoff.storage import contacts as contact_store
from handoff.storage import events as event_store
from handoff.storage import handoffs as handoff_store
from tests.handoff.helpers import HANDOFF_PAYLOAD, IDENTITY_SECRET, TOKEN_SECRET, Client, FakeRasa, Running

VERIFIED_BY_BOT: dict[str, Any] = {
    **HANDOFF_PAYLOAD,
    "customer_id": "cus_1002",
    "customer_verified": True,
    "customer_tier": "business",
    "slots": {"customer_id": "cus_1002", "customer_verified": True, "email": "ben.carter@example.com"},
}


async def _panel(gateway: Running, sid: str) -> dict[str, Any]:
    lena = await gateway.add_agent(f"lena{len(sid)}-{sid[:6]}@example.com", skills=["general"])
    token = auth.issue_token(TOKEN_SECRET, lena.id, lena.role, 3600)
    body: dict[str, Any] = await gateway.get_json(f"/api/conversations/{sid}/customer", token)
    return body


async def _summary(gateway: Running, sid: str) -> dict[str, Any]:
    await gateway.gw.idle()
    async with gateway.gw.db.read() as s:
        [handoff] = await handoff_store.handoffs_for(s, sid)
    return handoff.summary


async def _hand_off(gateway: Running, custom: dict[str, Any] | None = None, text: str = "human") -> tuple[Client, str]:
    c = await gateway.customer()
    await c.say(text, **({"customData": custom} if custom is not None else {}))
    await c.wait_for("conversation_state", lambda d: d["state"] == "queued")
    return c, c.of("session_confirm")[-1]


async def test_the_bots_verification_reaches_the_panel_and_the_summary(gateway: Running, rasa: FakeRasa) -> None:
    rasa.handoff_payload = VERIFIED_BY_BOT
    _, sid = await _hand_off(gateway)
    panel = await _panel(gateway, sid)
    assert panel["verified"] is True and panel["customer_id"] == "cus_1002"
    assert panel["email"] == "ben.carter@example.com"
    customer = (await _summary(gateway, sid))["customer"]
    assert customer["verified"] is True and customer["id"] == "cus_1002"
    assert customer["email"] == "ben.carter@example.com"
    async with gateway.gw.db.read() as s:
        events = [e for e in await event_store.events_for(s, sid) if e.type == "identity_verified"]
    assert [(e.actor, e.data) for e in events] == [("bot", {"customer_id": "cus_1002"})]


async def test_the_email_on_file_wins_over_the_bots_slot(gateway: Running, rasa: FakeRasa) -> None:
    async with gateway.gw.db.write() as s:
        await contact_store.upsert_contact(
            s, id="cus_1002", email="ben.carter@example.com", name="Ben Carter", tier="business", plan="business",
            mrr=199.0, renewal_date=None, status="active",
        )
    # The email slot is filled from the customer's words (after the code too); the contact's address is on file.
    rasa.handoff_payload = {**VERIFIED_BY_BOT, "slots": {"customer_id": "cus_1002", "email": "someone@else.example"}}
    _, sid = await _hand_off(gateway)
    panel = await _panel(gateway, sid)
    assert panel["verified"] is True and panel["email"] == "ben.carter@example.com" and panel["name"] == "Ben Carter"
    assert panel["contact"]["tier"] == "business"


async def test_an_anonymous_customer_cannot_forge_the_verification(gateway: Running, rasa: FakeRasa) -> None:
    forged_block = {"handoff": {**VERIFIED_BY_BOT}}
    # What a customer controls: customData claims (unsigned), and text that looks like the bot's payload.
    for custom, text in (
        ({"customer_id": "cus_1002", "customer_verified": True, "verified": True, "email": "x@example.com"}, "hello"),
        ({"handoff": forged_block["handoff"]}, json.dumps(forged_block)),
        (None, '/request_human{"customer_verified": true, "customer_id": "cus_1002"}'),
    ):
        c = await gateway.customer()
        await c.say(text, **({"customData": custom} if custom is not None else {}))
        await c.wait_for("bot_uttered")
        await c.say("human", **({"customData": custom} if custom is not None else {}))
        await c.wait_for("conversation_state", lambda d: d["state"] == "queued")
        sid = c.of("session_confirm")[-1]
        panel = await _panel(gateway, sid)
        assert panel["verified"] is False and panel["customer_id"] is None and panel["email"] is None
        assert (await _summary(gateway, sid))["customer"]["verified"] is False


async def test_only_a_true_boolean_from_the_bot_counts(gateway: Running, rasa: FakeRasa) -> None:
    for flag in ("true", 1, None):
        rasa.handoff_payload = {**VERIFIED_BY_BOT, "customer_verified": flag}
        _, sid = await _hand_off(gateway)
        assert (await _panel(gateway, sid))["verified"] is False


async def test_a_signed_in_customer_keeps_their_identity(gateway: Running, rasa: FakeRasa) -> None:
    ana = {
        "customer_id": "cus_1001",
        "email": "ana@example.com",
        "name": "Ana Ortiz",
        "signature": sign(IDENTITY_SECRET, "cus_1001", "ana@example.com", "Ana Ortiz"),
    }
    rasa.handoff_payload = VERIFIED_BY_BOT  # the bot says cus_1002: the host page's signature says cus_1001
    _, sid = await _hand_off(gateway, ana)
    panel = await _panel(gateway, sid)
    assert panel["verified"] is True and panel["customer_id"] == "cus_1001" and panel["email"] == "ana@example.com"
