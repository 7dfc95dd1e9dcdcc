"""Metrics, Prometheus and the designer's review over REST.

``/api/metrics``, ``/metrics``, ``/api/nlu_misses``, ``/api/training/versions``.
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import select

from handoff.analytics import friction, metrics, prometheus, review, series, versions
from handoff.domain import access
from handoff.storage import agents as agent_store
from handoff.storage.models import Conversation, utcnow
from handoff.transport.http import authenticated_agent, error, gateway_of, staff_agent

# This process's running totals of the event rows (each scrape reads only the rows after them).
TALLY = web.AppKey("prometheus_tally", prometheus.Tally)


def _window(request: web.Request, default: str) -> tuple[Any, Any] | web.Response:
    try:
        span = metrics.parse_window(request.query.get("window", default))
    except ValueError as exc:
        return error(400, str(exc), "invalid_value")
    until = utcnow()
    return until - span, until


async def metrics_view(request: web.Request) -> web.StreamResponse:
    """The article's metrics for a window (``?window=7d&group_by=tier``), JSON or ``format=csv``."""
    await staff_agent(request)  # designers see no scorecards
    window = _window(request, "7d")
    if isinstance(window, web.Response):
        return window
    group_by = request.query.get("group_by", "all")
    if group_by not in metrics.GROUPS:
        return error(400, f"group_by must be one of {', '.join(metrics.GROUPS)}", "invalid_value")
    async with gateway_of(request).db.read() as s:
        report = await metrics.metrics_for(s, window[0], window[1], group_by)
        if group_by == "agent":
            # Groups are keyed "agent:<id>" (event rows); people read names. The CSV keeps the stable keys.
            names = {f"agent:{a.id}": a.name for a in await agent_store.agents_with_load(s)}
            for g in report["groups"]:
                g["label"] = names.get(g["key"], g["key"])
    if request.query.get("format") == "csv":
        return web.Response(
            text=metrics.to_csv(report),
            content_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="handoff-metrics-{group_by}.csv"'},
        )
    return web.json_response(report)


async def nlu_misses(request: web.Request) -> web.Response:
    """The console's Needs training page: misunderstood messages grouped by similarity, and the other findings.

    ``findings``: loops, repeated questions, corrected misreads, avoidable hand-offs, coaching notes and "had to ask
    again" flags (``handoff.analytics.friction``), each with its conversation id.
    """
    await authenticated_agent(request)
    window = _window(request, "30d")
    if isinstance(window, web.Response):
        return window
    async with gateway_of(request).db.read() as s:
        misses = await review.load_misses(s, window[0], window[1])
        findings = await friction.load_findings(s, window[0], window[1])
    groups = review.group(misses)
    return web.json_response(
        {
            "total": len(misses),
            "groups": [g.as_dict() for g in groups],
            "findings": [f.as_dict() for f in findings],
            "findings_by_kind": {k: sum(f.kind == k for f in findings) for k in friction.KINDS},
        }
    )


async def model_versions(request: web.Request) -> web.Response:
    """Per intent, containment and escalation rate for each model version of the window (designers and leads)."""
    reason = access.training_refusal(await authenticated_agent(request))
    if reason is not None:
        return error(403, reason, "forbidden")
    window = _window(request, "30d")
    if isinstance(window, web.Response):
        return window
    gateway = gateway_of(request)
    async with gateway.db.read() as s:
        report = await versions.versions_for(s, window[0], window[1], gateway.rasa.model_id)
    return web.json_response(report)


async def training_transcript(request: web.Request) -> web.Response:
    """Read-only transcript of a conversation a Needs training item links to (designers; leads any).

    Customer, bot and agent messages as stored (redacted, and again here); no agent names, notes, events or customer
    contact fields: what the designer needs to label, nothing of the agents' or the customer's private data.
    """
    agent = await authenticated_agent(request)
    conversation_id = request.match_info["id"]
    async with gateway_of(request).db.read() as s:
        is_linked = await friction.linked(s, conversation_id)
        reason = access.transcript_refusal(agent, is_linked)
        if reason is not None:
            return error(403, reason, "forbidden")
        said = await friction.transcript(s, conversation_id)
        state = await s.scalar(select(Conversation.state).where(Conversation.id == conversation_id))
    if state is None:
        return error(404, f"conversation {conversation_id} not found", "not_found")
    return web.json_response(
        {
            "conversation_id": conversation_id,
            "state": state,
            "messages": [
                {"seq": m.seq, "sender": m.sender, "text": m.text, "at": m.at.isoformat(timespec="seconds") + "Z"}
                for m in said
            ],
        }
    )


async def _scraper(request: web.Request) -> None:
    """Let in Prometheus' bearer token (``HANDOFF_METRICS_TOKEN``) or a lead's login token.

    Raises:
        web.HTTPUnauthorized: no token, or neither the metrics token nor a valid agent token (JSON with the reason).
        web.HTTPForbidden: a valid token of an agent who is not a lead.
    """
    header = request.headers.get("Authorization", "")
    token = header[7:] if header.lower().startswith("bearer ") else ""
    configured = gateway_of(request).settings.metrics_token
    if configured and token and hmac.compare_digest(token.encode(), configured.encode()):
        return
    agent = await authenticated_agent(request)
    if agent.role != "lead":
        raise web.HTTPForbidden(
            text=json.dumps({"error": "metrics are for leads and the metrics token", "code": "forbidden"}),
            content_type="application/json",
        )


async def prometheus_view(request: web.Request) -> web.Response:
    """Prometheus text exposition: the event counters brought up to date (new rows only) and the live gauges."""
    await _scraper(request)
    async with gateway_of(request).db.read() as s:
        snap = await prometheus.snapshot(s, request.app[TALLY])
    resp = web.Response(body=prometheus.render(snap))
    resp.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return resp


def add_routes(app: web.Application) -> None:
    """Register the routes (described in :func:`openapi_paths`)."""
    app[TALLY] = prometheus.Tally()
    app.router.add_get("/api/metrics", metrics_view)
    app.router.add_get("/api/metrics/series", series.series_view)
    app.router.add_get("/api/nlu_misses", nlu_misses)
    app.router.add_get("/api/training/conversations/{id}", training_transcript)
    app.router.add_get("/api/training/versions", model_versions)
    app.router.add_get("/metrics", prometheus_view)


def openapi_paths(op: Any, q: Any) -> dict[str, Any]:
    """OpenAPI entries of these routes (``op`` and ``q`` are the builders of ``handoff.transport.openapi``)."""
    return {
        "/api/metrics": {
            "get": op(
                "Hand-off metrics of a window, cut by tier, intent, reason or agent (format=csv for CSV)",
                params=[q("window"), q("group_by"), q("format")],
            )
        },
        "/api/metrics/series": {
            "get": op("Containment and escalations per UTC day, for the Scorecards chart", params=[q("days")])
        },
        "/api/nlu_misses": {
            "get": op(
                "Needs training: misunderstood messages grouped by similarity, and findings (loops, repeated "
                "questions, corrected misreads, avoidable hand-offs, coaching notes, had-to-ask-again flags) with "
                "the conversation id",
                params=[q("window")],
            )
        },
        "/api/training/conversations/{id}": {
            "get": op(
                "Read-only transcript of a conversation a Needs training item links to (no agent names, notes or "
                "contact fields; designers: linked conversations only, leads: any)",
                params=[{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                errors=(403, 404),
            )
        },
        "/api/training/versions": {
            "get": op(
                "Did a retrain help? Per intent, engaged conversations, containment and escalation rate for each "
                "model version that answered conversations in the window (designers and leads)",
                params=[q("window")],
                errors=(403,),
            )
        },
        "/metrics": {
            "get": op("Prometheus metrics (bearer: HANDOFF_METRICS_TOKEN or a lead's token)", errors=(403,))
        },
    }
