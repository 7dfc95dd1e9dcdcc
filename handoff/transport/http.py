"""What every HTTP view shares: JSON errors, the gateway of a request, its JSON body, its authenticated agent.

The REST views (``handoff.transport.views``) and the analytics routes (``handoff.analytics.insights``,
``handoff.analytics.series``) both use these, so neither imports the other.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from handoff.domain import access, auth
from handoff.domain import events as ev
from handoff.domain.events import PayloadError
from handoff.domain.records import AgentRecord
from handoff.storage import agents as agent_store
from handoff.transport.appkeys import GATEWAY
from handoff.usecases.gateway import Gateway


def error(status: int, message: str, code: str = "bad_request") -> web.Response:
    """A JSON error with a reason."""
    return web.json_response({"error": message, "code": code}, status=status)


def gateway_of(request: web.Request) -> Gateway:
    """The gateway serving this request."""
    return request.app[GATEWAY]


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object, checked: no lone surrogates, NUL or deep nesting (else PayloadError)."""
    try:
        data = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PayloadError("invalid_json", "body must be a JSON object") from exc
    except RecursionError as exc:  # the JSON decoder's own stack guard: "[[[[...]]]]" thousands deep
        raise PayloadError("invalid_json", "body is nested too deeply") from exc
    if not isinstance(data, dict):
        raise PayloadError("invalid_json", "body must be a JSON object")
    ev.check_text("body", data)  # no lone surrogates, NUL or deep nesting reaches a query or the database
    return data


async def authenticated_agent(request: web.Request) -> AgentRecord:
    """The agent of the request's bearer token (401 when missing, expired, forged or unknown)."""
    header = request.headers.get("Authorization", "")
    token = header[7:] if header.lower().startswith("bearer ") else None
    gw = gateway_of(request)
    try:
        claims = auth.verify_token(gw.settings.token_secret, token)
    except auth.TokenError as exc:
        raise web.HTTPUnauthorized(
            text=json.dumps({"error": str(exc), "code": "unauthorized"}), content_type="application/json"
        ) from exc
    async with gw.db.read() as s:
        agent = await agent_store.get_agent(s, claims.agent_id)
    if agent is None:
        raise web.HTTPUnauthorized(
            text=json.dumps({"error": "unknown agent", "code": "unauthorized"}),
            content_type="application/json",
        )
    return agent


async def staff_agent(request: web.Request) -> AgentRecord:
    """The agent of the request, if one who works conversations: a designer gets 403 with the reason."""
    agent = await authenticated_agent(request)
    reason = access.staff_refusal(agent)
    if reason is not None:
        raise web.HTTPForbidden(text=json.dumps({"error": reason, "code": "forbidden"}), content_type="application/json")
    return agent
