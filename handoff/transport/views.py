"""REST views under ``/api`` (plus ``/healthz``): login, conversations, hand-offs, agent actions."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from aiohttp import web

from handoff.domain import access, auth
from handoff.domain import events as ev
from handoff.domain.events import PayloadError
from handoff.domain.records import AgentRecord
from handoff.domain.training import LabelError
from handoff.storage import agents as agent_store
from handoff.storage import canned_replies as canned_reply_store
from handoff.storage import contacts as contact_store
from handoff.storage import conversations as conversation_store
from handoff.storage import handoffs as handoff_store
from handoff.storage.rows import StoreError
from handoff.transport import ratelimit
from handoff.transport.appkeys import TRAINING
from handoff.transport.http import authenticated_agent, error, gateway_of, json_body, staff_agent
from handoff.transport.openapi import spec
from handoff.usecases import agents, l3, lockout, training
from handoff.usecases.gateway import Gateway

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# For responses that are data, not pages (the pages' own CSP is in handoff.transport.frontend).
API_CSP = "default-src 'none'; frame-ancestors 'none'"


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """On every response (pages, files, API, errors): no sniffing, no framing, no referrer leaks; API never cached.

    The widget is embedded by a ``<script>`` tag, never a frame, so nothing here needs to be framable.
    """
    h = response.headers
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("X-Frame-Options", "DENY")
    h.setdefault("Referrer-Policy", "same-origin")
    path = request.path
    if path.startswith("/api/") or path in ("/healthz", "/metrics"):
        h["Cache-Control"] = "no-store"
        h.setdefault("Content-Security-Policy", API_CSP)


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn refusals into 4xx JSON and unexpected errors into a 500 without details."""
    try:
        return await handler(request)
    except PayloadError as exc:
        return error(400, exc.message, exc.code)
    except agents.Refused as exc:
        status = {
            "not_found": 404,
            "forbidden": 403,
            "already_claimed": 409,
            "invalid_state": 409,
            "retrain_running": 409,
            "no_training_project": 409,
            "no_bot_python": 409,
        }.get(exc.code, 400)
        return error(status, exc.message, exc.code)
    except StoreError as exc:
        return error(404 if exc.code == "not_found" else 409, exc.message, exc.code)
    except web.HTTPException as exc:
        if exc.content_type == "application/json":
            raise
        return error(exc.status, exc.reason, "http_error")
    except Exception:
        log.exception("REST %s %s failed", request.method, request.path)
        return error(500, "internal error", "internal_error")


async def healthz(request: web.Request) -> web.Response:
    """Liveness plus a database round trip."""
    await gateway_of(request).db.ping()
    return web.json_response({"status": "ok"})


async def login(request: web.Request) -> web.Response:
    """Email + password -> short-lived token."""
    body = await json_body(request)
    email, password = body.get("email"), body.get("password")
    if not isinstance(email, str) or not isinstance(password, str) or not email or not password:
        return error(400, "email and password are required", "missing_fields")
    gw = gateway_of(request)
    ip = ratelimit.client_ip(
        request.remote, request.headers.get("X-Forwarded-For"), ratelimit.networks(gw.settings.trusted_proxies)
    )
    async with gw.db.write() as s:  # refused, or counted as a failure until the password proves right
        lock = await lockout.begin_attempt(s, gw.settings, email, ip)
        found = await agent_store.agent_credentials(s, email[:320]) if lock is None else None
    if lock is not None:
        return _locked(lock)
    if found is None or not auth.verify_password(found[1], password[:1024]):
        async with gw.db.read() as s:  # this failure may be the one that starts a lockout or a back-off
            lock = await lockout.check(s, gw.settings, email, ip)
        log.info("failed login from %s", ip)
        return _locked(lock) if lock is not None else error(401, "wrong email or password", "unauthorized")
    async with gw.db.write() as s:
        await lockout.succeeded(s, email, ip)
    agent = found[0]
    token = auth.issue_token(gw.settings.token_secret, agent.id, agent.role, gw.settings.token_ttl_seconds)
    return web.json_response({"token": token, "expires_in": gw.settings.token_ttl_seconds, "agent": agent.as_dict()})


def _locked(lock: lockout.Lock) -> web.Response:
    """429 with the reason and when to come back."""
    return web.json_response(
        {"error": lock.message, "code": lock.code, "retry_after": lock.retry_after},
        status=429,
        headers={"Retry-After": str(lock.retry_after)},
    )


async def me(request: web.Request) -> web.Response:
    """The agent behind the token."""
    return web.json_response((await authenticated_agent(request)).as_dict())


async def list_conversations(request: web.Request) -> web.Response:
    """Conversations, filtered by ``state`` and hand-off ``reason`` (only those the agent may read)."""
    agent = await staff_agent(request)
    state, reason = request.query.get("state"), request.query.get("reason")
    if state and state not in ("bot", "queued", "assigned", "escalated_l3", "resolved"):
        return error(400, f"unknown state {state!r}", "invalid_value")
    try:
        limit = min(int(request.query.get("limit", "100")), 500)
    except ValueError:
        return error(400, "limit must be an integer", "invalid_value")
    if limit < 1:  # SQLite reads LIMIT -1 as "no limit"; PostgreSQL refuses it
        return error(400, "limit must be at least 1", "invalid_value")
    async with gateway_of(request).db.read() as s:
        rows = await conversation_store.list_conversations(s, state=state, reason=reason, limit=limit)
    return web.json_response({"conversations": [r for r in rows if access.can(agent, access.READ, r)]})


async def get_conversation(request: web.Request) -> web.Response:
    """Transcript, summary, events, notes and hand-offs (of a conversation the agent may read)."""
    conv = await agents.readable(gateway_of(request), await staff_agent(request), request.match_info["id"])
    return web.json_response(await gateway_of(request).conversation_detail(conv.id))


async def customer_panel(request: web.Request) -> web.Response:
    """The customer behind a conversation: contact record (tier, MRR, renewal) and past conversations."""
    conv = await agents.readable(gateway_of(request), await staff_agent(request), request.match_info["id"])
    conversation_id = conv.id
    async with gateway_of(request).db.read() as s:
        known = conv.verified and conv.customer_id
        contact = await contact_store.get_contact(s, conv.customer_id) if known and conv.customer_id else None
        past = await conversation_store.customer_conversations(s, conv.customer_id) if known and conv.customer_id else []
    renewal_in_days = (contact.renewal_date - date.today()).days if contact and contact.renewal_date else None
    return web.json_response(
        {
            "conversation_id": conversation_id,
            "verified": conv.verified,
            "customer_id": conv.customer_id if conv.verified else None,
            "name": conv.customer_name,
            "email": conv.customer_email,
            "follow_up_email": conv.follow_up_email,
            "contact": contact.as_dict() if contact else None,
            "renewal_in_days": renewal_in_days,
            "past_conversations": [p for p in past if p["id"] != conversation_id],
        }
    )


async def list_handoffs(request: web.Request) -> web.Response:
    """Hand-offs, optionally by status (of the conversations the agent may read)."""
    agent = await staff_agent(request)
    async with gateway_of(request).db.read() as s:
        rows = await handoff_store.list_handoffs(s, status=request.query.get("status"))
        convs = await conversation_store.conversations_by_id(s, (h.conversation_id for h in rows))
    visible = [h for h in rows if h.conversation_id in convs and access.can(agent, access.READ, convs[h.conversation_id])]
    return web.json_response({"handoffs": [h.as_dict() for h in visible]})


async def queue_view(request: web.Request) -> web.Response:
    """The queue snapshot (same as ``queue_snapshot`` on the socket)."""
    agent = await staff_agent(request)
    return web.json_response(access.snapshot_for(agent.role, await gateway_of(request).snapshot(agent.id)))


def _action(event: str, op: Callable[[Gateway, AgentRecord, dict[str, Any]], Awaitable[Any]]) -> Handler:
    """A REST twin of an agent socket event: same validation, same operation."""

    async def handler(request: web.Request) -> web.Response:
        agent = await staff_agent(request)
        gw = gateway_of(request)
        body = await json_body(request) if request.can_read_body else {}
        body["conversation_id"] = request.match_info["id"]
        data = ev.validate(ev.AGENT_NS, event, body, max_message_bytes=gw.settings.max_message_bytes)
        return web.json_response(await op(gw, agent, data))

    handler.__doc__ = f"REST version of the ``{event}`` agent event."
    return handler


async def list_canned(request: web.Request) -> web.Response:
    """Canned replies (of a team with ``?team=``)."""
    await staff_agent(request)
    async with gateway_of(request).db.read() as s:
        rows = await canned_reply_store.canned_replies(s, request.query.get("team"))
    return web.json_response({"canned_replies": [r.as_dict() for r in rows]})


async def add_canned(request: web.Request) -> web.Response:
    """Add a canned reply (leads only)."""
    agent = await authenticated_agent(request)
    if agent.role != "lead":
        return error(403, "only leads manage canned replies", "forbidden")
    body = await json_body(request)
    team, title, text_ = body.get("team", agent.team), body.get("title"), body.get("text")
    if not all(isinstance(v, str) and v.strip() for v in (team, title, text_)):
        return error(400, "team, title and text are required strings", "missing_fields")
    if len(str(text_).encode()) > gateway_of(request).settings.max_message_bytes:
        return error(400, "text is too large", "too_large")
    async with gateway_of(request).db.write() as s:
        row = await canned_reply_store.add_canned_reply(s, str(team)[:64], str(title)[:200], str(text_))
    return web.json_response(row.as_dict(), status=201)


def _training(request: web.Request) -> training.Training:
    return request.app[TRAINING]


async def training_intents(request: web.Request) -> web.Response:
    """The intents a message may be labelled with (designers and leads)."""
    agent = await authenticated_agent(request)
    try:
        return web.json_response(_training(request).intents(gateway_of(request).settings, agent))
    except LabelError as exc:
        return error(409, exc.message, exc.code)


async def training_label(request: web.Request) -> web.Response:
    """Write a labelled example into the training data (designers and leads); the reason when it may not go in."""
    agent = await authenticated_agent(request)
    body = await json_body(request)
    try:
        gateway = gateway_of(request)
        written = await _training(request).label(gateway.settings, agent, body, gateway.language)
    except LabelError as exc:
        status = 409 if exc.code in ("no_training_project", "broken_training_data") else 400
        return error(status, exc.message, exc.code)
    return web.json_response(written, status=201 if written["added"] else 200)


async def retrain_status(request: web.Request) -> web.Response:
    """The last or current retrain: status, times and bot.retrain's JSON report."""
    agent = await authenticated_agent(request)
    return web.json_response(_training(request).status(agent))


async def retrain_start(request: web.Request) -> web.Response:
    """Start a retrain (one at a time: 409 while one runs)."""
    agent = await authenticated_agent(request)
    return web.json_response(await _training(request).start(gateway_of(request).settings, agent), status=202)


async def _close_training(app: web.Application) -> None:
    await app[TRAINING].close()


async def protocol(request: web.Request) -> web.Response:
    """The Socket.IO protocol (event names and payload shapes) as JSON."""
    return web.json_response(ev.describe())


async def openapi(request: web.Request) -> web.Response:
    """The OpenAPI description of this API."""
    return web.json_response(spec())


def add_routes(app: web.Application) -> None:
    """Register every REST route (the OpenAPI test checks this list against ``openapi.spec``)."""
    r = app.router
    r.add_get("/healthz", healthz)
    r.add_post("/api/login", login)
    r.add_get("/api/me", me)
    r.add_get("/api/conversations", list_conversations)
    r.add_get("/api/conversations/{id}", get_conversation)
    r.add_get("/api/conversations/{id}/customer", customer_panel)
    r.add_post("/api/conversations/{id}/claim", _action(ev.CLAIM, agents.claim))
    r.add_post("/api/conversations/{id}/messages", _action(ev.AGENT_MESSAGE, agents.send_message))
    r.add_post("/api/conversations/{id}/notes", _action(ev.NOTE, agents.note))
    r.add_post("/api/conversations/{id}/transfer", _action(ev.TRANSFER, agents.transfer))
    r.add_post("/api/conversations/{id}/escalate_l3", _action(ev.ESCALATE_L3, l3.escalate))
    r.add_post("/api/conversations/{id}/return_l2", _action(ev.RETURN_L2, l3.return_to_l2))
    r.add_post("/api/conversations/{id}/resolve", _action(ev.RESOLVE, agents.resolve))
    r.add_post("/api/conversations/{id}/handback", _action(ev.HANDBACK, agents.handback))
    r.add_post("/api/conversations/{id}/barge_in", _action(ev.BARGE_IN, agents.barge_in))
    r.add_post("/api/conversations/{id}/context_loss", _action(ev.FLAG_CONTEXT_LOSS, agents.flag_context_loss))
    r.add_get("/api/handoffs", list_handoffs)
    r.add_get("/api/queue", queue_view)
    r.add_get("/api/canned_replies", list_canned)
    r.add_post("/api/canned_replies", add_canned)
    app[TRAINING] = training.Training()
    app.on_cleanup.append(_close_training)
    r.add_get("/api/training/intents", training_intents)
    r.add_post("/api/training/labels", training_label)
    r.add_get("/api/training/retrain", retrain_status)
    r.add_post("/api/training/retrain", retrain_start)
    r.add_get("/api/protocol", protocol)
    r.add_get("/api/openapi.json", openapi)
