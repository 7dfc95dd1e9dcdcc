"""Metric definitions on hand-built event sequences with known answers, and the interfaces that serve them."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import count
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from handoff.__main__ import main
from handoff.analytics.metrics import compute, parse_window, percentile
from handoff.domain import auth
from handoff.domain.records import EventRecord
from tests.handoff.helpers import TOKEN_SECRET, FakeRasa, Running

T0 = datetime(2025, 3, 3, 9, 0, 0)
SINCE, UNTIL = T0, T0 + timedelta(days=7)


class Log:
    """Builds the event rows a conversation would have written."""

    def __init__(self) -> None:
        self.events: list[EventRecord] = []
        self.ids = count(1)

    def add(self, conv: str, minutes: float, type_: str, reason: str | None = None, **data: Any) -> Log:
        self.events.append(EventRecord(next(self.ids), conv, type_, "test", reason, data, T0 + timedelta(minutes=minutes)))
        return self

    def engaged(self, conv: str, start: float = 0) -> Log:
        return self.add(conv, start, "created").add(conv, start + 0.1, "engaged")

    def escalate(self, conv: str, at: float, reason: str, priority: str, **data: Any) -> Log:
        return self.add(conv, at, "queued", reason, **{"from": "bot", "to": "queued", "priority": priority, **data})


def sample() -> Log:
    """10 engaged conversations: 7 contained (one asks about its case), 3 escalated (A, B, and C still waiting)."""
    log = Log()
    for n in range(7):
        log.engaged(f"bot{n}", n)
    log.add("bot0", 5, "recontact", "case_status")
    log.add("idle", 1, "created")  # opened the widget, never wrote: not in any denominator
    log.engaged("A", 10).add("A", 10.5, "identity_verified", customer_id="cus_1")
    log.escalate("A", 11, "three_strikes", "high", intent="reset_password", tier="business")
    log.add("A", 13, "assigned", "claim", agent_id=1).add("A", 16, "first_reply", agent_id=1)
    log.add("A", 30, "resolved", "fixed").add("A", 31, "csat", score=5)
    log.engaged("B", 20)
    log.escalate("B", 21, "customer_request", "normal", intent="billing_refund", tier="anonymous")
    log.add("B", 22, "assigned", "claim", agent_id=2).add("B", 41, "first_reply", agent_id=2)
    log.add("B", 42, "context_loss", "had_to_ask_again").add("B", 50, "sla_breach", "normal")
    log.add("B", 52, "transferred", "to_agent", from_agent=2, to_agent=1)
    log.add("B", 60, "handback", "handback", coaching_note="ask for the invoice id first")
    log.engaged("C", 30)
    log.escalate("C", 31, "frustration", "normal", intent="billing_refund", tier="anonymous")
    return log


def metric(report: dict[str, Any], name: str, group: str | None = None) -> Any:
    block = report["overall"] if group is None else next(g for g in report["groups"] if g["key"] == group)
    return block["metrics"][name]


def test_known_answers_over_the_whole_window() -> None:
    report = compute(sample().events, since=SINCE, until=UNTIL)
    overall = report["overall"]
    assert (overall["conversations"], overall["engaged"], overall["escalations"]) == (11, 10, 3)
    assert metric(report, "containment")["value"] == 0.7 and metric(report, "containment")["status"] == "ok"
    assert metric(report, "escalation_rate")["value"] == 0.3 and metric(report, "escalation_rate")["status"] == "warn"
    assert overall["escalations_by_reason"]["three_strikes"] == {"count": 1, "rate": 0.1}
    # Delay: A 5 min (high), B 20 min (normal); C is still waiting and is not guessed.
    high = {"count": 1, "waiting": 0, "p50_seconds": 300.0, "p90_seconds": 300.0}
    assert overall["handoff_delay_by_priority"]["high"] == high
    assert overall["handoff_delay_by_priority"]["normal"]["waiting"] == 1
    assert overall["handoff_delay_by_priority"]["normal"]["p90_seconds"] == 1200.0
    assert metric(report, "handoff_delay_p90_high_seconds")["status"] == "ok"
    # Picked up: A and B; B bounced back to the bot and lost context.
    assert metric(report, "bounceback_rate")["value"] == 0.5 and metric(report, "bounceback_rate")["status"] == "alarm"
    assert metric(report, "context_loss_rate")["value"] == 0.5
    assert metric(report, "sla_breach_rate")["value"] == pytest.approx(1 / 3, abs=1e-4)
    assert metric(report, "handoff_churn")["value"] == pytest.approx(1 / 3, abs=1e-4)
    assert metric(report, "csat")["value"] == 5.0 and overall["csat_satisfied_share"] == 1.0
    assert overall["recontacts"] == 1 and metric(report, "recontact_rate")["value"] == 0.1


def test_a_hand_back_of_a_solved_case_is_not_a_bounceback() -> None:
    """The return path the article asks for ("solved: the bot carries on") is counted apart from wrong escalations."""
    log = Log()
    for conv, why in (("S1", "solved"), ("S2", "solved"), ("W", "wrong_escalation"), ("U", None)):
        log.engaged(conv).escalate(conv, 1, "customer_request", "normal")
        log.add(conv, 2, "assigned", "claim", agent_id=1)
        log.add(conv, 5, "handback", "handback", coaching_note="", **({"handback_reason": why} if why else {}))
    report = compute(log.events, since=SINCE, until=UNTIL)
    # Four picked up: two solved hand-backs, one wrong escalation, one that did not say (counted as before).
    assert metric(report, "bounceback_rate")["numerator"] == 2 and metric(report, "bounceback_rate")["value"] == 0.5
    assert metric(report, "handback_solved_rate")["numerator"] == 2
    assert metric(report, "handback_solved_rate")["value"] == 0.5


def test_empty_window_has_no_values_and_no_verdicts() -> None:
    report = compute(sample().events, since=UNTIL, until=UNTIL + timedelta(days=1))
    assert report["overall"]["engaged"] == 0
    assert all(m["value"] is None and m["status"] == "n/a" for m in report["overall"]["metrics"].values())
    assert compute([], since=SINCE, until=UNTIL, group_by="tier")["groups"] == []


def test_window_end_cuts_events_and_cohort_start_excludes_older_conversations() -> None:
    # Until minute 20: B (created at 20) is outside, A's first reply (16) is in, C does not exist yet.
    report = compute(sample().events, since=SINCE, until=T0 + timedelta(minutes=20))
    assert report["overall"]["engaged"] == 8 and report["overall"]["escalations"] == 1
    # Until minute 15: A is escalated and assigned but has not replied yet: waiting, no delay value.
    early = compute(sample().events, since=SINCE, until=T0 + timedelta(minutes=15))
    assert early["overall"]["handoff_delay_by_priority"]["high"]["waiting"] == 1
    assert metric(early, "handoff_delay_p90_high_seconds")["value"] is None
    later = compute(sample().events, since=T0 + timedelta(minutes=15), until=UNTIL)
    assert later["overall"]["engaged"] == 2  # only B and C started in this window


def test_zero_escalations_is_a_warning_not_a_success() -> None:
    log = Log()
    for n in range(5):
        log.engaged(f"c{n}")
    report = compute(log.events, since=SINCE, until=UNTIL)
    assert metric(report, "escalation_rate")["value"] == 0 and metric(report, "escalation_rate")["status"] == "warn"
    assert metric(report, "containment")["value"] == 1.0


def test_cuts_by_tier_intent_reason_and_agent() -> None:
    events = sample().events
    tiers = compute(events, since=SINCE, until=UNTIL, group_by="tier", tiers={"cus_1": "business"})
    assert {g["key"]: g["engaged"] for g in tiers["groups"]} == {"anonymous": 9, "business": 1}
    assert metric(tiers, "escalation_rate", "business")["value"] == 1.0
    intents = compute(events, since=SINCE, until=UNTIL, group_by="intent")
    assert metric(intents, "bounceback_rate", "billing_refund")["value"] == 1.0
    assert metric(intents, "containment", "unknown")["value"] == 1.0
    assert {g["key"] for g in intents["groups"]} == {"billing_refund", "case_status", "reset_password", "unknown"}
    agents = compute(events, since=SINCE, until=UNTIL, group_by="agent")
    assert {g["key"]: g["escalations"] for g in agents["groups"]} == {"agent:1": 1, "agent:2": 1, "unassigned": 1}
    assert metric(agents, "context_loss_rate", "agent:2")["value"] == 1.0
    assert metric(agents, "containment", "agent:1")["status"] == "n/a"
    reasons = compute(events, since=SINCE, until=UNTIL, group_by="reason")
    assert metric(reasons, "sla_breach_rate", "customer_request")["value"] == 1.0


def test_a_transfer_requeue_is_churn_not_a_new_escalation() -> None:
    log = Log().engaged("X")
    log.escalate("X", 1, "technical_issue", "normal")
    log.add("X", 2, "assigned", agent_id=1).add("X", 3, "first_reply", agent_id=1)
    log.add("X", 4, "queued", "transfer_to_team", **{"from": "assigned", "to": "queued"})
    log.add("X", 5, "assigned", agent_id=3).add("X", 6, "escalated_l3", "l3")
    report = compute(log.events, since=SINCE, until=UNTIL)
    assert report["overall"]["escalations"] == 1
    assert metric(report, "handoff_churn")["value"] == 2.0 and metric(report, "handoff_churn")["status"] == "warn"


def test_percentile_and_window_parsing() -> None:
    assert percentile([], 50) is None
    assert percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90) == 9
    assert percentile([10.0], 50) == 10.0
    assert parse_window("7d") == timedelta(days=7) and parse_window("90m") == timedelta(minutes=90)
    for bad in ("", "7", "d", "-1d", "0d", "7y"):
        with pytest.raises(ValueError):
            parse_window(bad)


# ------------------------------------------------------------ end to end through the gateway


def _rasa_with_signals(rasa: FakeRasa) -> None:
    original = rasa.script

    def script(message: str) -> list[dict[str, Any]]:
        if message == "gibberish":
            miss = {"kind": "nlu_fallback", "text": "my thingy broke, card 4111 1111 1111 1111", "intent": "nlu_fallback",
                    "confidence": 0.31, "ranking": [{"name": "nlu_fallback", "confidence": 0.7},
                                                    {"name": "technical_issue", "confidence": 0.31}]}
            return [{"text": "Did you mean...?"}, {"custom": {"nlu_miss": miss}}]
        if message == "any update on my case?":
            return [{"text": "Let me look up your case."}, {"custom": {"case_status": {"customer_id": None}}}]
        return original(message)

    rasa.script = script  # type: ignore[method-assign]


async def test_gateway_records_the_events_and_serves_metrics_csv_and_prometheus(
    gateway: Running, rasa: FakeRasa
) -> None:
    _rasa_with_signals(rasa)
    agent = await gateway.add_agent("lena@example.com", role="l2", skills=["general", "technical"])
    agent_socket = await gateway.agent_client(agent)
    await agent_socket.call("presence", {"status": "online"})
    customer = await gateway.customer()
    conv_id = str(customer.of("session_confirm")[-1])
    await customer.say("gibberish")
    await customer.wait_for("bot_uttered", lambda d: d.get("text") == "Did you mean...?")
    await customer.say("human")
    await agent_socket.wait_for("assigned")
    await agent_socket.call("agent_message", {"conversation_id": conv_id, "text": "Hi, I'm Lena."})
    await agent_socket.call("agent_message", {"conversation_id": conv_id, "text": "Let me check."})
    await agent_socket.call("resolve", {"conversation_id": conv_id, "resolution_code": "fixed"})
    await customer.say("any update on my case?")
    status = await customer.wait_for("bot_uttered", lambda d: "Your case from" in (d.get("text") or ""))
    assert "was resolved (fixed)" in status["text"] and "Customer can't log in" in status["text"]
    # Signals are never shown to the customer.
    assert not any("custom" in d for d in customer.of("bot_uttered"))

    token = auth.issue_token(TOKEN_SECRET, agent.id, agent.role, 3600)
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as http:
        unauthorized = await http.get(f"{gateway.url}/api/metrics")
        bad = await http.get(f"{gateway.url}/api/metrics?window=7x", headers=headers)
        report = await (await http.get(f"{gateway.url}/api/metrics?window=1d&group_by=agent", headers=headers)).json()
        csv_resp = await http.get(f"{gateway.url}/api/metrics?window=1d&group_by=tier&format=csv", headers=headers)
        csv_text = await csv_resp.text()
        lead = await gateway.add_agent("omar@example.com", role="lead")
        lead_headers = {"Authorization": f"Bearer {auth.issue_token(TOKEN_SECRET, lead.id, 'lead', 3600)}"}
        scrape = await http.get(f"{gateway.url}/metrics", headers=lead_headers)
        scrape_text = await scrape.text()
        misses = await (await http.get(f"{gateway.url}/api/nlu_misses", headers=headers)).json()
    assert unauthorized.status == 401 and bad.status == 400
    overall = report["overall"]
    assert overall["engaged"] == 1 and overall["escalations"] == 1 and overall["recontacts"] == 1
    assert overall["metrics"]["escalation_rate"]["value"] == 1.0
    assert overall["handoff_delay_by_priority"] and report["groups"][0]["key"] == f"agent:{agent.id}"
    assert csv_resp.headers["Content-Type"].startswith("text/csv")
    assert csv_text.splitlines()[0].startswith("window_since,window_until,group_by,group,metric,value")
    assert any(",containment," in line for line in csv_text.splitlines())

    assert scrape.status == 200 and scrape.headers["Content-Type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(scrape_text)}
    escalations = {tuple(sorted(s.labels.items())): s.value for s in families["handoff_escalations"].samples}
    assert escalations[(("priority", "high"), ("reason", "three_strikes"))] == 1.0
    assert families["handoff_escalations"].type == "counter"
    delay = families["handoff_first_reply_delay_seconds"]
    assert delay.type == "histogram"
    assert [s.value for s in delay.samples if s.name.endswith("_count")] == [1.0]  # one first reply, not two
    assert next(s.value for s in families["handoff_recontacts"].samples) == 1.0
    assert next(s.value for s in families["handoff_nlu_misses"].samples) == 1.0

    assert misses["total"] == 1
    text = misses["groups"][0]["examples"][0]["text"]
    assert "4111" not in text and misses["groups"][0]["bot_guess"] == "technical_issue"


def test_report_command_prints_a_table(tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'r.db'}")
    assert main(["report", "--since", "7d"]) == 0
    out = capsys.readouterr().out
    assert "0 engaged conversations" in out and "containment" in out and "70-80%" in out
    assert main(["report", "--since", "7d", "--group-by", "tier", "--csv"]) == 0
    assert capsys.readouterr().out.startswith("window_since,")
    assert main(["report", "--since", "soon"]) == 2
