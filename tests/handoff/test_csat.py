"""CSAT: one rating per resolved conversation, whatever the customer sends after it (typed digits, quick replies,
the widget's form), and the metrics count that one rating.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from handoff.analytics.metrics import compute
from handoff.domain import auth
from handoff.domain.records import EventRecord
from handoff.storage import conversations as conversation_store
from handoff.storage import events as event_store
from tests.handoff.helpers import TOKEN_SECRET, Client, Running


async def _resolved(gateway: Running) -> tuple[Client, str]:
    lena = await gateway.add_agent("lena@example.com", name="Lena", role="l2", skills=["general"])
    agent = await gateway.agent_client(lena)
    await agent.call("presence", {"status": "away"})
    customer = await gateway.customer()
    sid = customer.of("session_confirm")[-1]
    await customer.say("human")
    await customer.wait_for("conversation_state", lambda d: d["state"] == "queued")
    assert (await agent.call("claim", {"conversation_id": sid}))["ok"] is True
    assert (await agent.call("resolve", {"conversation_id": sid, "resolution_code": "fixed"}))["ok"] is True
    await customer.wait_for("bot_uttered", lambda m: "How did we do" in (m.get("text") or ""))
    return customer, sid


def _texts(customer: Client, needle: str) -> list[str]:
    return [m["text"] for m in customer.of("bot_uttered") if needle in (m.get("text") or "")]


async def test_repeated_digits_after_a_resolve_add_no_ratings(gateway: Running) -> None:
    customer, sid = await _resolved(gateway)
    await customer.say("1")
    await customer.wait_for("bot_uttered", lambda m: "Thank you for your feedback" in (m.get("text") or ""))
    # Stuffing: the same digit again and again, another score, the quick-reply payload, the widget's form.
    for text in ("1", "1", "1", "5", '/csat{"score": 5}'):
        await customer.say(text)
    await gateway.gw.idle()
    refused = await customer.call("csat", {"score": 5, "comment": "again"})
    async with gateway.gw.db.read() as s:
        events = await event_store.events_for(s, sid)
        conv = await conversation_store.get_conversation(s, sid)
    assert [e.data["score"] for e in events if e.type == "csat"] == [1]
    assert refused["code"] == "already_rated", refused
    assert conv is not None and conv.state == "resolved"  # a digit neither reopens the chat nor rates again
    await customer.wait_for("bot_uttered", lambda m: "already rated" in (m.get("text") or ""), count=5)
    assert len(_texts(customer, "Thank you for your feedback")) == 1
    assert len(_texts(customer, "already rated")) == 5

    # The metrics see one rating: the dashboard's CSAT and the Prometheus counter.
    lead = await gateway.add_agent("omar@example.com", role="lead")
    headers = {"Authorization": f"Bearer {auth.issue_token(TOKEN_SECRET, lead.id, 'lead', 60)}"}
    async with aiohttp.ClientSession() as http:
        report = await (await http.get(f"{gateway.url}/api/metrics?window=1d", headers=headers)).json()
        scrape = await (await http.get(f"{gateway.url}/metrics", headers=headers)).text()
    csat = report["overall"]["metrics"]["csat"]
    assert (csat["value"], csat["denominator"]) == (1.0, 1)
    families = {f.name: f for f in text_string_to_metric_families(scrape)}
    assert sum(s.value for s in families["handoff_csat_responses"].samples) == 1.0

    # Anything else than a rating is an ordinary message again: the bot takes it.
    await customer.say("hello")
    await customer.wait_for("bot_uttered", lambda m: m.get("text") == "Hi! How can I help?")


async def test_the_widget_form_after_a_typed_rating_is_refused(gateway: Running) -> None:
    customer, sid = await _resolved(gateway)
    assert (await customer.call("csat", {"score": 4}))["ok"] is True
    await customer.say("2")
    await customer.wait_for("bot_uttered", lambda m: "already rated" in (m.get("text") or ""))
    await gateway.gw.idle()
    async with gateway.gw.db.read() as s:
        assert [e.data["score"] for e in await event_store.events_for(s, sid) if e.type == "csat"] == [4]


def test_metrics_count_one_rating_per_resolved_escalation() -> None:
    """Rows written before the fix (or by any other writer) still count once: the first rating of a resolution."""
    t0 = datetime(2025, 3, 3, 9, 0)
    rows: list[tuple[str, str, dict[str, Any]]] = [
        ("created", "", {}),
        ("engaged", "", {}),
        ("queued", "customer_request", {"from": "bot", "to": "queued", "priority": "normal"}),
        ("assigned", "claim", {"agent_id": 1}),
        ("resolved", "fixed", {}),
        ("csat", "", {"score": 1}),
        ("csat", "", {"score": 1}),
        ("csat", "", {"score": 1}),
    ]
    events = [
        EventRecord(i + 1, "A", type_, "test", reason or None, data, t0 + timedelta(minutes=i))
        for i, (type_, reason, data) in enumerate(rows)
    ]
    report = compute(events, since=t0, until=t0 + timedelta(days=1))
    csat = report["overall"]["metrics"]["csat"]
    assert (csat["value"], csat["numerator"], csat["denominator"]) == (1.0, 1, 1)
