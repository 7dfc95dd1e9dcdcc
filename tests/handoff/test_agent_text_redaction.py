"""Text typed by agents is redacted like customers' text: L3 escalation fields, transfer notes (to an agent and to a
team), coaching notes (hand back) and context-loss notes never keep a card number, in the database rows, the events
agents receive, the API answers or the exports.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import select

from handoff.domain import auth
from handoff.storage.models import Event, Handoff, Message, Note
from tests.handoff.helpers import TOKEN_SECRET, Client, Running

CARD = "4111 1111 1111 1111"
FORMS = (CARD, CARD.replace(" ", ""), "4111-1111-1111-1111")


def _leaks(value: Any) -> list[str]:
    text = json.dumps(value, default=str)
    return [form for form in FORMS if form in text]


async def _queued(gateway: Running) -> tuple[Client, str]:
    customer = await gateway.customer()
    await customer.say("hello")
    await customer.wait_for("bot_uttered")
    await customer.say("/request_human")
    await customer.wait_for("conversation_state", lambda d: d["state"] == "queued")
    return customer, customer.of("session_confirm")[-1]


async def test_agent_typed_fields_never_keep_a_card_number(gateway_factory: Any, tmp_path: Path) -> None:
    gateway = await gateway_factory(auto_assign=False)
    lena = await gateway.add_agent("lena@example.com", name="Lena", role="l2", skills=["general"])
    ivan = await gateway.add_agent("ivan@example.com", name="Ivan", role="l2", skills=["general"])
    tara = await gateway.add_agent("tara@example.com", name="Tara", role="l3", skills=["general"])
    omar = await gateway.add_agent("omar@example.com", name="Omar", role="lead", skills=["general"])
    a_lena, a_ivan, a_tara, a_omar = [await gateway.agent_client(a) for a in (lena, ivan, tara, omar)]
    for a in (a_lena, a_ivan, a_tara, a_omar):
        await a.call("presence", {"status": "away"})
    typed = f"customer read out {CARD} on the call"

    # Conversation 1: transfer to an agent, transfer to a team, L3 escalation, context loss, resolve.
    _, first = await _queued(gateway)
    assert (await a_lena.call("claim", {"conversation_id": first}))["ok"] is True
    moved = await a_lena.call("transfer", {"conversation_id": first, "to_agent_id": ivan.id, "note": typed})
    assert moved["ok"] is True, moved
    assigned = await a_ivan.wait_for("assigned", lambda d: d["by"] == "transfer")
    assert assigned["note"] == "customer read out [REDACTED CARD ending 1111] on the call"
    back = await a_ivan.call("transfer", {"conversation_id": first, "to_team": "general", "note": typed})
    assert back["ok"] is True, back
    assert (await a_lena.call("claim", {"conversation_id": first}))["ok"] is True
    l3 = {"repro_steps": typed, "logs": typed, "environment": typed, "timestamps": [typed, "10:02Z"],
          "impact_scope": "several_customers", "impact_urgency": "high", "impact_note": typed}
    assert (await a_lena.call("escalate_l3", {"conversation_id": first, **l3}))["ok"] is True
    assert (await a_tara.call("claim", {"conversation_id": first}))["ok"] is True
    flagged = await a_tara.call("flag_context_loss", {"conversation_id": first, "note": typed})
    assert flagged["ok"] is True, flagged
    assert (await a_tara.call("resolve", {"conversation_id": first, "resolution_code": "fixed"}))["ok"] is True

    # Conversation 2: hand back with a coaching note, over REST this time.
    _, second = await _queued(gateway)
    assert (await a_lena.call("claim", {"conversation_id": second}))["ok"] is True
    lead_token = auth.issue_token(TOKEN_SECRET, omar.id, "lead", 600)
    headers = {"Authorization": f"Bearer {lead_token}"}
    async with aiohttp.ClientSession() as http:
        url = f"{gateway.url}/api/conversations/{second}/handback"
        answer = await http.post(url, json={"coaching_note": typed}, headers={
            "Authorization": f"Bearer {auth.issue_token(TOKEN_SECRET, lena.id, 'l2', 600)}"
        })
        assert answer.status == 200, await answer.text()
        await gateway.gw.idle()
        responses = [await answer.json()]
        for path in (f"/api/conversations/{first}", f"/api/conversations/{second}", "/api/handoffs",
                     "/api/conversations?state=resolved", "/api/metrics?window=1d&group_by=agent"):
            got = await http.get(gateway.url + path, headers=headers)
            assert got.status == 200, path
            responses.append(await got.json())
        csv = await http.get(f"{gateway.url}/api/metrics?window=1d&group_by=agent&format=csv", headers=headers)
        responses.append(await csv.text())

    # The text really was stored (redacted), not dropped.
    async with gateway.gw.db.read() as s:
        events = list(await s.scalars(select(Event)))
        handoffs = list(await s.scalars(select(Handoff)))
        notes = list(await s.scalars(select(Note)))
        messages = list(await s.scalars(select(Message)))
    by_type = {e.type: e.data for e in events}
    assert "on the call" in by_type["transferred"]["note"]
    assert "on the call" in by_type["handback"]["coaching_note"]
    assert "on the call" in by_type["context_loss"]["note"]
    assert "on the call" in by_type["escalated_l3"]["l3"]["repro_steps"]
    rows = {
        "events": [(e.type, e.reason, e.data) for e in events],
        "handoffs": [(h.l3, h.summary) for h in handoffs],
        "notes": [n.text for n in notes],
        "messages": [(m.text, m.payload) for m in messages],
    }
    for table, content in rows.items():
        assert not _leaks(content), (table, content)
    for name, client in {"lena": a_lena, "ivan": a_ivan, "tara": a_tara, "omar": a_omar}.items():
        assert not _leaks(client.received), (name, [e for e, d in client.received if _leaks(d)])
    for response in responses:
        assert not _leaks(response), response
    for path in tmp_path.glob("handoff.db*"):
        data = path.read_bytes()
        assert not [form for form in FORMS if form.encode() in data], path
