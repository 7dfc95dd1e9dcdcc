"""OpenAPI 3.0 description of the REST API (a test keeps it and the router in step)."""

from __future__ import annotations

from typing import Any

from handoff import __version__

_ERR = {
    "description": "error",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}
_OK = {"description": "ok", "content": {"application/json": {"schema": {"type": "object"}}}}
_AUTH: list[dict[str, list[str]]] = [{"bearer": []}]
_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}


def _body(required: list[str], props: dict[str, Any]) -> dict[str, Any]:
    return {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object", "required": required, "properties": props}}},
    }


def _op(
    summary: str, *, auth: bool = True, body: dict[str, Any] | None = None, params: list[Any] | None = None
) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": {"200": _OK, "400": _ERR}}
    if auth:
        op["security"] = _AUTH
        op["responses"]["401"] = _ERR
    if body is not None:
        op["requestBody"] = body
    if params:
        op["parameters"] = params
    return op


_S = {"type": "string"}


def _page(summary: str, media: str = "text/html", params: list[Any] | None = None) -> dict[str, Any]:
    """A built front-end file served from ``widget/dist`` (503 until ``npm run build`` ran)."""
    op: dict[str, Any] = {
        "summary": summary,
        "responses": {
            "200": {"description": "the file", "content": {media: {"schema": {"type": "string"}}}},
            "503": {"description": "front ends not built yet"},
        },
    }
    if params:
        op["parameters"] = params
    return op


def spec() -> dict[str, Any]:
    """The OpenAPI document."""
    from handoff import insights  # imports the views, which import this module

    q = lambda name: {"name": name, "in": "query", "required": False, "schema": _S}  # noqa: E731
    return {
        "openapi": "3.0.3",
        "info": {"title": "Handoff gateway", "version": __version__},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": _S, "code": _S},
                }
            },
        },
        "paths": {
            "/healthz": {"get": _op("Liveness and database check", auth=False)},
            "/api/login": {
                "post": _op(
                    "Agent login: returns a short-lived token",
                    auth=False,
                    body=_body(["email", "password"], {"email": _S, "password": _S}),
                )
            },
            "/api/me": {"get": _op("The agent behind the token")},
            "/api/conversations": {"get": _op("List conversations", params=[q("state"), q("reason"), q("limit")])},
            "/api/conversations/{id}": {"get": _op("Transcript, summary, events, notes, hand-offs", params=[_ID])},
            "/api/conversations/{id}/claim": {"post": _op("Claim a queued conversation", params=[_ID])},
            "/api/conversations/{id}/messages": {
                "post": _op(
                    "Send a message to the customer",
                    params=[_ID],
                    body=_body(["text"], {"text": _S, "client_id": _S}),
                )
            },
            "/api/conversations/{id}/notes": {
                "post": _op("Add a private note", params=[_ID], body=_body(["text"], {"text": _S}))
            },
            "/api/conversations/{id}/transfer": {
                "post": _op(
                    "Transfer to an agent or a team",
                    params=[_ID],
                    body=_body([], {"to_agent_id": {"type": "integer"}, "to_team": _S, "note": _S}),
                )
            },
            "/api/conversations/{id}/escalate_l3": {
                "post": _op(
                    "Escalate to L3 (definition of ready)",
                    params=[_ID],
                    body=_body(
                        ["repro_steps", "logs", "environment", "timestamps"],
                        {"repro_steps": _S, "logs": _S, "environment": _S, "timestamps": _S},
                    ),
                )
            },
            "/api/conversations/{id}/resolve": {
                "post": _op(
                    "Resolve with a resolution code",
                    params=[_ID],
                    body=_body(["resolution_code"], {"resolution_code": _S}),
                )
            },
            "/api/conversations/{id}/handback": {
                "post": _op(
                    "Hand back to the bot with a coaching note",
                    params=[_ID],
                    body=_body(["coaching_note"], {"coaching_note": _S}),
                )
            },
            "/api/conversations/{id}/customer": {
                "get": _op("Customer panel: contact record (tier, MRR, renewal) and past conversations", params=[_ID])
            },
            "/api/conversations/{id}/barge_in": {"post": _op("Take over a live bot conversation", params=[_ID])},
            "/api/conversations/{id}/context_loss": {
                "post": _op(
                    'Flag "had to ask the customer again" (context-loss metric)',
                    params=[_ID],
                    body=_body([], {"note": _S}),
                )
            },
            "/api/handoffs": {"get": _op("List hand-offs", params=[q("status")])},
            "/api/queue": {"get": _op("Queue snapshot")},
            "/api/canned_replies": {
                "get": _op("Canned replies", params=[q("team")]),
                "post": _op(
                    "Add a canned reply (leads)",
                    body=_body(["title", "text"], {"team": _S, "title": _S, "text": _S}),
                ),
            },
            "/api/protocol": {"get": _op("Socket.IO events and payload shapes", auth=False)},
            "/api/openapi.json": {"get": _op("This document", auth=False)},
            **insights.openapi_paths(_op, q),
            "/api/demo/identity": {
                "post": _op(
                    "Demo only: signed identity claims of a seeded demo customer (HANDOFF_DEMO_IDENTITY=0 disables)",
                    auth=False,
                    body=_body(["customer_id"], {"customer_id": _S}),
                )
            },
            "/": {"get": _page("The demo host page (a fictional SaaS site with the widget)")},
            "/console": {"get": _page("The agent console")},
            "/widget.js": {"get": _page("The embeddable customer widget script", "text/javascript")},
            "/assets/{name}": {
                "get": _page(
                    "Built front-end files (console.js, styles)",
                    "text/plain",
                    [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
                )
            },
        },
    }
