"""Hand back with what is still open for the customer: validated, redacted, stored, and passed on to the bot."""

from __future__ import annotations

from typing import Any

import aiohttp

from handoff.domain import auth
from handoff.storage import events as event_store
from handoff.transport.openapi import spec
from tests.handoff.helpers import TOKEN_SECRET, Client, FakeRasa, Running


async def _assigned(gateway: Running, agent: Client) -> tuple[Client, str]:
    customer = await gateway.customer()
    await customer.say("human")
    await customer.wait_for("conversation_state", lambda d: d["state"] == "queued")
    sid = customer.of("session_confirm")[-1]
    assert (await agent.call("claim", {"conversation_id": sid}))["ok"] is True
    return customer, sid


async def _post(gateway: Running, token: str, sid: str, body: Any) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{gateway.url}/api/conversations/{sid}/handback", json=body, headers={"Authorization": f"Bearer {token}"}
        ) as resp:
            return resp.status, await resp.json()


async def _handback_event(gateway: Running, sid: str) -> dict[str, Any]:
    async with gateway.gw.db.read() as s:
        [event] = [e for e in await event_store.events_for(s, sid) if e.type == "handback"]
    return event.data


async def test_the_open_question_reaches_the_bot_redacted(gateway: Running, rasa: FakeRasa) -> None:
    lena = await gateway.add_agent("lena@example.com", name="Lena Park", skills=["general"])
    agent = await gateway.agent_client(lena)
    await agent.call("presence", {"status": "away"})
    customer, sid = await _assigned(gateway, agent)
    question = "  Is the refund for card 4111 1111 1111 1111 approved? Finance decides by Friday.  "
    result = await agent.call(
        "handback", {"conversation_id": sid, "coaching_note": "Refunds: say who decides.", "open_question": question}
    )
    assert result == {"ok": True, "state": "bot"}
    [trigger] = [body for kind, body, _ in rasa.api_calls if kind == "trigger_intent"]
    entities = trigger["entities"]
    assert set(entities) == {"open_question", "agent_name"} and entities["agent_name"] == "Lena Park"
    assert entities["open_question"].startswith("Is the refund for card") and "4111" not in entities["open_question"]
    assert entities["open_question"].endswith("Finance decides by Friday.")
    stored = await _handback_event(gateway, sid)
    assert stored["coaching_note"] == "Refunds: say who decides."
    assert stored["open_question"] == entities["open_question"]
    await customer.wait_for("bot_uttered", lambda m: "Welcome back" in (m.get("text") or ""))


async def test_without_an_open_question_only_the_agent_name_goes(gateway: Running, rasa: FakeRasa) -> None:
    lena = await gateway.add_agent("lena@example.com", name="Lena Park", skills=["general"])
    agent = await gateway.agent_client(lena)
    await agent.call("presence", {"status": "away"})
    _, sid = await _assigned(gateway, agent)
    token = auth.issue_token(TOKEN_SECRET, lena.id, lena.role, 3600)
    status, body = await _post(gateway, token, sid, {"coaching_note": "", "open_question": "   "})
    assert status == 200 and body == {"ok": True, "state": "bot"}
    [trigger] = [body for kind, body, _ in rasa.api_calls if kind == "trigger_intent"]
    assert trigger == {"name": "handback", "entities": {"agent_name": "Lena Park"}}
    assert (await _handback_event(gateway, sid))["open_question"] == ""


async def test_rest_validates_the_open_question(gateway: Running, rasa: FakeRasa) -> None:
    lena = await gateway.add_agent("lena@example.com", name="Lena Park", skills=["general"])
    agent = await gateway.agent_client(lena)
    await agent.call("presence", {"status": "away"})
    _, sid = await _assigned(gateway, agent)
    token = auth.issue_token(TOKEN_SECRET, lena.id, lena.role, 3600)
    for bad, code in (("x" * 501, "too_large"), (42, "invalid_type"), (["a"], "invalid_type")):
        status, body = await _post(gateway, token, sid, {"coaching_note": "n", "open_question": bad})
        assert status == 400 and body["code"] == code, (bad, body)
    assert not [c for c in rasa.api_calls if c[0] == "trigger_intent"], "nothing reached the bot"
    status, _ = await _post(gateway, token, sid, {"coaching_note": "n", "open_question": "y" * 500})
    assert status == 200
    documented = spec()["paths"]["/api/conversations/{id}/handback"]["post"]["requestBody"]
    field = documented["content"]["application/json"]["schema"]["properties"]["open_question"]
    assert field == {"type": "string", "maxLength": 500}
