"""L3 as a tier, over real Socket.IO clients against a running gateway (a fake Rasa stands in for the bot).

The journey (L2 escalates with the definition of ready and the impact -> the L3 queue -> an engineer claims ->
returns the root cause -> L2 has it back and the customer reads the update), the paths that must not skip the
definition of ready, the L3 SLA and staleness, auto-assignment, and the impact in the summary.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from handoff.analytics.metrics import conversation_facts
from handoff.domain import auth
from handoff.storage import events as event_store
from handoff.storage import l3_escalations as l3_escalation_store
from tests.handoff.helpers import HANDOFF_PAYLOAD, TOKEN_SECRET, Client, FakeRasa, Running

READY = {
    "repro_steps": "1. open Sync 2. press Sync now 3. spinner, then E-504",
    "logs": "2026-12-01T09:14:03Z sync-worker ERR_SYNC_TIMEOUT db=eu-2 after 30001 ms",
    "environment": "web app 4.12, Chrome 131, eu-west",
    "timestamps": ["2026-12-01T09:14:03Z", "2026-12-01T09:20:41Z"],
}
RETURN = {
    "resolution": "Raised the sync worker's database timeout and restarted the eu-2 pool",
    "root_cause": "The eu-2 connection pool was exhausted by a stuck migration",
    "workaround": "Sync from the desktop app until 14:00",
    "customer_update": "We found the cause (a stuck database job) and fixed it; sync works again.",
}


async def _escalated(gateway: Running, owner: Client, **impact: Any) -> tuple[Client, str, dict[str, Any]]:
    """A customer handed off, claimed by ``owner`` and escalated to L3."""
    customer, sid = await gateway.queued_customer()
    assert (await owner.call("claim", {"conversation_id": sid}))["ok"] is True
    fields = {"impact_scope": "several_customers", "impact_urgency": "high", **impact}
    done = await owner.call("escalate_l3", {"conversation_id": sid, **READY, **fields})
    assert done["ok"] is True, done
    return customer, sid, done


async def _team(gateway: Running) -> tuple[Client, Client, Any, Any]:
    await gateway.add_agent("dana@example.com", name="Dana", role="designer", team="design", skills=[])
    lena = await gateway.add_agent("lena@example.com", name="Lena Park", role="l2", team="billing", skills=["general"])
    sam = await gateway.add_agent("sam@example.com", name="Sam Okafor", role="l3", team="l3", skills=["technical"])
    a_lena, a_sam = await gateway.agent_client(lena), await gateway.agent_client(sam)
    for a in (a_lena, a_sam):
        await a.call("presence", {"status": "away"})  # no auto-assignment unless a test goes online
    return a_lena, a_sam, lena, sam


async def test_the_l3_journey_from_escalation_to_the_customer_update(gateway: Running) -> None:
    a_lena, a_sam, lena, _sam = await _team(gateway)
    customer, sid = await gateway.queued_customer()
    assert (await a_lena.call("claim", {"conversation_id": sid}))["ok"] is True

    # The definition of ready and the impact are mandatory and checked.
    missing = await a_lena.call("escalate_l3", {"conversation_id": sid, **READY})
    assert missing["code"] == "missing_fields" and "impact_scope" in missing["error"], missing
    wrong = await a_lena.call(
        "escalate_l3", {"conversation_id": sid, **READY, "impact_scope": "the whole planet", "impact_urgency": "high"}
    )
    assert wrong["code"] == "invalid_value", wrong
    direct_to_l2 = await a_lena.call(
        "escalate_l3",
        {"conversation_id": sid, **READY, "impact_scope": "one_customer", "impact_urgency": "low", "to_agent_id": lena.id},
    )
    assert direct_to_l2["code"] == "invalid_value", direct_to_l2

    done = await a_lena.call(
        "escalate_l3",
        {
            "conversation_id": sid,
            **READY,
            "impact_scope": "all_customers",
            "impact_urgency": "high",
            "impact_note": "every EU customer who syncs, ~40 tickets this morning",
        },
    )
    assert done["state"] == "escalated_l3" and done["priority"] == "urgent", done  # high, one up for an outage
    await customer.wait_for("conversation_state", lambda d: d["state"] == "escalated_l3")
    await customer.wait_for("bot_uttered", lambda m: "engineering team (L3)" in (m.get("text") or ""))

    # The L3 queue reaches L3 engineers (not L2), with the definition of ready and the impact.
    snapshot = await a_sam.wait_for("queue_snapshot", lambda d: any(c["id"] == sid for c in d["l3"]))
    item = next(c for c in snapshot["l3"] if c["id"] == sid)
    escalation = item["escalation"]
    assert escalation["status"] == "waiting" and escalation["priority"] == "urgent"
    assert escalation["logs"] == READY["logs"] and escalation["timestamps"] == READY["timestamps"]
    assert escalation["impact_scope"] == "all_customers" and escalation["escalated_by_name"] == "Lena Park"
    assert escalation["sla_deadline"] and not escalation["sla_breached"]
    lena_view = await a_lena.call("snapshot")
    assert lena_view.get("l3", []) == [], "L2 agents do not read the L3 queue"
    roles = {a["name"]: a["role"] for a in snapshot["agents"]}
    assert roles == {"Lena Park": "l2", "Sam Okafor": "l3"}, "the team list names roles (transfers offer no L3 target)"

    claimed = await a_sam.call("claim", {"conversation_id": sid})
    assert claimed["ok"] is True, claimed
    joined = "Sam Okafor from our engineering team (L3) has joined the conversation."
    await customer.wait_for("bot_uttered", lambda m: m.get("text") == joined)
    got = await a_sam.wait_for("assigned", lambda d: d["conversation_id"] == sid)
    assert got["conversation"]["l3"][-1]["status"] == "claimed"
    assert got["conversation"]["l3"][-1]["claimed_by_name"] == "Sam Okafor"
    assert (await a_sam.call("agent_message", {"conversation_id": sid, "text": "Looking into it now."}))["seq"]

    # The return carries the root cause; all of resolution, root cause and the customer's update are required.
    incomplete = await a_sam.call("return_l2", {"conversation_id": sid, "resolution": "fixed"})
    assert incomplete["code"] == "missing_fields"
    assert "root_cause" in incomplete["error"] and "customer_update" in incomplete["error"]
    not_owner = await a_lena.call("return_l2", {"conversation_id": sid, **RETURN})
    assert not_owner["code"] == "forbidden", not_owner
    back = await a_sam.call("return_l2", {"conversation_id": sid, **RETURN})
    assert back == {"ok": True, "state": "assigned", "to_agent_id": lena.id}, back

    returned = await a_lena.wait_for("assigned", lambda d: d["by"] == "l3_return")
    detail = returned["conversation"]
    assert detail["conversation"]["assigned_agent_id"] == lena.id and detail["conversation"]["state"] == "assigned"
    answer = detail["l3"][-1]
    assert answer["status"] == "returned" and answer["root_cause"] == RETURN["root_cause"]
    assert answer["workaround"] == RETURN["workaround"] and answer["returned_by_name"] == "Sam Okafor"
    assert any("Root cause: The eu-2 connection pool" in n["text"] for n in detail["notes"])
    removed = await a_sam.wait_for("conversation_removed", lambda d: d["conversation_id"] == sid)
    assert removed["state"] == "assigned"

    update = await customer.wait_for("bot_uttered", lambda m: m.get("text") == RETURN["customer_update"])
    assert update["metadata"] == {"sender": "agent", "agent_name": "Sam Okafor"}
    await customer.wait_for("bot_uttered", lambda m: "Lena Park is back with you" in (m.get("text") or ""))
    assert (await a_lena.call("agent_message", {"conversation_id": sid, "text": "All good on your side now?"}))["seq"]
    assert (await a_sam.call("agent_message", {"conversation_id": sid, "text": "hi"}))["code"] == "forbidden"

    async with gateway.gw.db.read() as s:
        events = await event_store.events_for(s, sid)
    types = [e.type for e in events]
    assert types.index("escalated_l3") < types.index("l3_claimed") < types.index("l3_returned")
    (facts,) = conversation_facts(events)
    assert facts.escalations[-1].churn == 2, "the escalation and the return each count as a bounce"
    omar = await gateway.add_agent("omar@example.com", name="Omar", role="lead", skills=["general"])
    async with aiohttp.ClientSession() as http:
        headers = {"Authorization": f"Bearer {auth.issue_token(TOKEN_SECRET, omar.id, 'lead', 60)}"}
        async with http.get(f"{gateway.url}/metrics", headers=headers) as resp:
            scraped = await resp.text()
    assert "handoff_l3_escalations_total 1.0" in scraped and "handoff_l3_returns_total 1.0" in scraped


async def test_no_path_reaches_l3_without_the_definition_of_ready(gateway: Running) -> None:
    a_lena, a_sam, lena, sam = await _team(gateway)
    omar = await gateway.add_agent("omar@example.com", name="Omar", role="lead", skills=["technical"])
    _customer, sid = await gateway.queued_customer()
    assert (await a_lena.call("claim", {"conversation_id": sid}))["ok"] is True
    for skip in ({"to_agent_id": sam.id}, {"to_team": "l3"}):
        refused = await a_lena.call("transfer", {"conversation_id": sid, **skip})
        assert refused["code"] == "definition_of_ready" and "definition of ready" in refused["error"], refused
    assert (await a_lena.call("transfer", {"conversation_id": sid, "to_agent_id": omar.id}))["ok"] is True

    # Once in L3, it moves between engineers, and back to L2 only with the root cause.
    _, sid2, _ = await _escalated(gateway, a_lena)
    tom = await gateway.add_agent("tom@example.com", name="Tom", role="l3", team="l3", skills=["technical"])
    assert (await a_sam.call("claim", {"conversation_id": sid2}))["ok"] is True
    to_l2 = await a_sam.call("transfer", {"conversation_id": sid2, "to_agent_id": lena.id})
    assert to_l2["code"] == "definition_of_ready" and "Return to L2" in to_l2["error"], to_l2
    to_team = await a_sam.call("transfer", {"conversation_id": sid2, "to_team": "billing"})
    assert "error" in to_team, to_team
    assert (await a_sam.call("transfer", {"conversation_id": sid2, "to_agent_id": tom.id}))["ok"] is True
    async with gateway.gw.db.read() as s:
        escalation = (await l3_escalation_store.escalations_for(s, sid2))[-1]
    assert escalation.status == "claimed" and escalation.claimed_by == tom.id


async def test_an_online_engineer_gets_the_escalation_and_the_sla_and_staleness_fire(gateway_factory) -> None:  # type: ignore[no-untyped-def]
    # Tiny windows so the background checker (every 0.2 s) sees a warning, a breach and a stale escalation.
    gateway = await gateway_factory(
        l3_sla_minutes={"urgent": 0.01, "high": 0.01, "normal": 0.01, "low": 0.01}, l3_stale_minutes=0.01
    )
    a_lena, a_sam, _lena, sam = await _team(gateway)
    _, sid, _ = await _escalated(gateway, a_lena, impact_urgency="normal", impact_scope="one_customer")
    breached = await a_sam.wait_for("sla_breached", lambda d: d["conversation_id"] == sid and d.get("tier") == "l3")
    assert breached["sla_deadline"]
    await a_sam.wait_for("sla_warning", lambda d: d["conversation_id"] == sid and d.get("tier") == "l3")

    # Going online pulls the waiting escalation to the engineer.
    await a_sam.call("presence", {"status": "online"})
    auto = await a_sam.wait_for("assigned", lambda d: d["conversation_id"] == sid)
    assert auto["by"] == "auto" and auto["conversation"]["l3"][-1]["claimed_by"] == sam.id
    stale = await a_sam.wait_for("stale_alert", lambda d: d["conversation_id"] == sid and d["tier"] == "l3", timeout=10)
    assert stale["minutes"] >= 0.01
    async with gateway.gw.db.read() as s:
        events = await event_store.events_for(s, sid)
    kinds = [(e.type, e.reason) for e in events]
    assert ("l3_sla_warning", "normal") in kinds and ("l3_sla_breach", "high") in kinds  # the warning raised it
    assert kinds.count(("stale_alert", "l3_stale")) == 1, "one alert per stretch of inactivity"
    # Activity (a message to the customer) ends the stretch; the next one alerts again.
    assert (await a_sam.call("agent_message", {"conversation_id": sid, "text": "Still on it."}))["seq"]
    await a_sam.wait_for("stale_alert", lambda d: d["conversation_id"] == sid and d["tier"] == "l3", count=2, timeout=10)


async def test_the_summary_states_the_impact_and_the_technical_answers(gateway: Running, rasa: FakeRasa) -> None:
    rasa.handoff_payload = {
        **HANDOFF_PAYLOAD,
        "reason": "technical_issue",
        "slots": {
            "error_details": "sync fails with ERR_SYNC_TIMEOUT every time",
            "steps_tried": "restarted the app and cleared the cache",
            "impact": "nobody in our office can sync, we can't work",
            "impact_scope": "all_customers",
            "impact_urgency": "critical",
        },
    }
    lena = await gateway.add_agent("lena@example.com", name="Lena Park", role="l2", skills=["general"])
    a_lena = await gateway.agent_client(lena)
    await a_lena.call("presence", {"status": "away"})
    _, sid = await gateway.queued_customer()
    queued = await a_lena.wait_for("handoff_queued", lambda d: d["conversation_id"] == sid)
    impact = queued["summary"]["impact"]
    assert impact["scope"] == "all_customers" and impact["urgency"] == "critical"
    text = queued["summary_text"]
    assert "Impact: Everyone (outage), urgency critical" in text and "we can't work" in text
    assert "Error (customer's words): sync fails with ERR_SYNC_TIMEOUT" in text

    rasa.handoff_payload = HANDOFF_PAYLOAD  # not a fault: the bot did not ask
    _, other = await gateway.queued_customer()
    plain = await a_lena.wait_for("handoff_queued", lambda d: d["conversation_id"] == other)
    assert plain["summary"]["impact"]["text"] is None and "Impact: not asked at L1" in plain["summary_text"]
