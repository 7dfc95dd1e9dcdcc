"""``GET /metrics`` (Prometheus) needs a credential and reads only the event rows it has not counted yet;
``simulate --reset`` removes simulated rows only.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import event, func, select

from handoff.analytics import simulate
from handoff.domain import auth
from handoff.storage import conversations as conversation_store
from handoff.storage import events as event_store
from handoff.storage.models import Contact, Conversation, Event, utcnow
from tests.handoff.helpers import TOKEN_SECRET, Running

METRICS_TOKEN = "prometheus-scrape-token-0123456789"


async def _get(url: str, token: str | None = None) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    async with aiohttp.ClientSession() as http:
        async with http.get(url, headers=headers) as response:
            return response.status, await response.text()


def _values(text: str) -> dict[str, float]:
    """Sample name (with labels) -> value."""
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[s.name + str(sorted(s.labels.items()))] = s.value
    return out


async def test_a_scrape_needs_the_metrics_token_or_a_lead(gateway_factory: Any) -> None:
    gateway = await gateway_factory()
    lena = await gateway.add_agent("lena@example.com", role="l2")
    omar = await gateway.add_agent("omar@example.com", role="lead")
    url = f"{gateway.url}/metrics"
    lead_token = auth.issue_token(TOKEN_SECRET, omar.id, "lead", 60)
    # No metrics token configured: only a lead's token opens it.
    for token in (None, "", "not-a-token", METRICS_TOKEN, auth.issue_token("guessed-secret", omar.id, "lead", 60)):
        status, body = await _get(url, token)
        assert status == 401, (token, status, body[:200])
        assert "handoff_" not in body
    status, body = await _get(url, auth.issue_token(TOKEN_SECRET, lena.id, "l2", 60))
    assert status == 403 and "handoff_" not in body, (status, body[:200])
    status, body = await _get(url, lead_token)
    assert status == 200 and "handoff_conversations_total" in body

    # With HANDOFF_METRICS_TOKEN: that token (for Prometheus) or a lead's token.
    scraped = await gateway_factory(metrics_token=METRICS_TOKEN)
    url = f"{scraped.url}/metrics"
    assert (await _get(url, METRICS_TOKEN))[0] == 200
    assert (await _get(url, lead_token))[0] == 200
    for token in (None, METRICS_TOKEN[:-1], METRICS_TOKEN + "x", METRICS_TOKEN.upper()):
        assert (await _get(url, token))[0] == 401, token


async def test_a_scrape_reads_only_event_rows_it_has_not_counted(gateway_factory: Any) -> None:
    # No SLA loop in the way: every statement seen during a scrape is the scrape's.
    gateway: Running = await gateway_factory(sla_check_interval_seconds=3600.0)
    omar = await gateway.add_agent("omar@example.com", role="lead")
    token = auth.issue_token(TOKEN_SECRET, omar.id, "lead", 600)
    url = f"{gateway.url}/metrics"
    db = gateway.gw.db
    await simulate.simulate(db, days=3, per_day=20, seed=7, now=utcnow() - timedelta(days=2))
    async with db.read() as s:
        n_events = int((await s.execute(select(func.count()).select_from(Event))).scalar_one())
        high = int((await s.execute(select(func.max(Event.id)))).scalar_one())
        csat = int((await s.execute(select(func.count()).where(Event.type == "csat"))).scalar_one())
        created = int((await s.execute(select(func.count()).where(Event.type == "created"))).scalar_one())
    assert n_events > 200 and csat > 0

    statements: list[tuple[str, Any]] = []

    def seen(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        statements.append((statement, parameters))

    event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        status, first = await _get(url, token)
        assert status == 200
        statements.clear()
        status, second = await _get(url, token)
        assert status == 200
        on_events = [(sql, params) for sql, params in statements if "FROM events" in sql]
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", seen)

    values = _values(second)
    assert values == _values(first)
    assert values["handoff_conversations_total[]"] == created
    assert sum(v for k, v in values.items() if k.startswith("handoff_csat_responses_total")) == csat
    # The second scrape asked only for rows after the ones already counted: none of the history was read again.
    assert on_events, statements
    for sql, params in on_events:
        assert "events.id >" in sql, sql
        assert params[0] >= high, (sql, params)  # the id the rows must come after

    # New rows are counted, also one that commits after a later id was already seen (ids are not commit order
    # on PostgreSQL): a recent row is read again until it is old enough that nothing can still commit before it.
    async with db.write() as s:
        s.add(Event(id=high + 10, conversation_id=None, type="created", actor="test", data={}))
    assert _values((await _get(url, token))[1])["handoff_conversations_total[]"] == created + 1
    async with db.write() as s:
        s.add(Event(id=high + 5, conversation_id=None, type="created", actor="test", data={}))
    assert _values((await _get(url, token))[1])["handoff_conversations_total[]"] == created + 2
    assert _values((await _get(url, token))[1])["handoff_conversations_total[]"] == created + 2


async def test_simulate_reset_keeps_real_rows_whose_id_starts_with_sim(gateway: Running) -> None:
    db = gateway.gw.db
    real_id = "simA" + "x" * 36  # a server-issued session id can start with "sim" and any character
    async with db.write() as s:
        await conversation_store.create_conversation(s, real_id)
        await event_store.add_event(s, real_id, "engaged", "customer")
        s.add(Contact(id="simon_1", email="simon@example.com", name="Simon", tier="pro", plan="pro", mrr=49.0))
    await simulate.simulate(db, days=1, per_day=5, seed=3)
    removed = await simulate.reset(db)
    assert removed > 0
    async with db.read() as s:
        assert await s.get(Conversation, real_id) is not None
        assert [e.type for e in await event_store.events_for(s, real_id)] == ["created", "engaged"]
        assert await s.get(Contact, "simon_1") is not None
        simulated = Conversation.id.startswith("sim_", autoescape=True)
        assert (await s.execute(select(func.count()).where(simulated))).scalar_one() == 0
