"""OpenAPI 3.0 description of the REST API (a test keeps it and the router in step)."""

from __future__ import annotations

from typing import Any

from contract.impact import SCOPES, URGENCIES
from handoff import __version__
from handoff.analytics import insights
from handoff.domain.events import HANDBACK_REASONS, OPEN_QUESTION_MAX

_ERR: dict[str, Any] = {
    "description": "error",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}
_OK: dict[str, Any] = {"description": "ok", "content": {"application/json": {"schema": {"type": "object"}}}}
_AUTH: list[dict[str, list[str]]] = [{"bearer": []}]
_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
# What a refused conversation action answers: unknown id, another agent's conversation, wrong state or already claimed.
_CONVERSATION_ERRORS = (403, 404, 409)
_REASONS = {
    400: "invalid request (the reason is in the body)",
    401: "missing, expired or invalid token",
    403: "not allowed for this agent",
    404: "not found",
    409: "conflict with the conversation's state",
    413: "body larger than the gateway accepts",
    429: "too many failed attempts; retry later",
}


def _body(required: list[str], props: dict[str, Any]) -> dict[str, Any]:
    return {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object", "required": required, "properties": props}}},
    }


def _op(
    summary: str,
    *,
    auth: bool = True,
    body: dict[str, Any] | None = None,
    params: list[Any] | None = None,
    errors: tuple[int, ...] = (),
    ok: int = 200,
) -> dict[str, Any]:
    """An operation answering JSON: ``ok`` on success, a JSON ``Error`` for 400, 401 (with ``auth``), 413 and ``errors``.

    Every operation may answer 413: the size limit applies to any request body, declared or not.
    """
    statuses = {400, 413, *errors} | ({401} if auth else set())
    responses: dict[str, Any] = {str(ok): _OK}
    responses.update({str(code): {**_ERR, "description": _REASONS[code]} for code in sorted(statuses)})
    op: dict[str, Any] = {"summary": summary, "responses": responses}
    if auth:
        op["security"] = _AUTH
    if body is not None:
        op["requestBody"] = body
    if params:
        op["parameters"] = params
    return op


def _action(summary: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """A conversation action (the REST twin of an agent event)."""
    return _op(summary, params=[_ID], body=body, errors=_CONVERSATION_ERRORS)


_S = {"type": "string"}


def _page(
    summary: str, media: str = "text/html", params: list[Any] | None = None, errors: tuple[int, ...] = ()
) -> dict[str, Any]:
    """A built front-end file served from ``widget/dist`` (503 until ``npm run build`` ran)."""
    op: dict[str, Any] = {
        "summary": summary,
        "responses": {
            "200": {"description": "the file", "content": {media: {"schema": {"type": "string"}}}},
            **{str(code): {**_ERR, "description": _REASONS[code]} for code in errors},
            "503": {"description": "front ends not built yet", "content": {"text/plain": {"schema": {"type": "string"}}}},
        },
    }
    if params:
        op["parameters"] = params
    return op


def _insights(paths: dict[str, Any]) -> dict[str, Any]:
    """The metrics routes, with the non-JSON answers they give: CSV on request, Prometheus' text format."""
    responses = paths["/api/metrics"]["get"]["responses"]
    responses["200"] = {**_OK, "content": {**_OK["content"], "text/csv": {"schema": {"type": "string"}}}}
    paths["/metrics"]["get"]["responses"]["200"] = {
        "description": "Prometheus text exposition format",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
    return paths


def _training() -> dict[str, Any]:
    """The designer's learning loop: label into the training data, retrain, the retrain's status and report."""
    label = _op(
        "Label a message into the training data (designers, leads): an intent of domain.yml, a new intent "
        "(new_intent: true, name ^[a-z][a-z0-9_]{2,39}$) or out_of_scope; 201 written, 200 already there; 400 with "
        "the reason when refused (hold-out message, another intent's example, line breaks, brackets, > 300 chars)",
        body=_body(
            ["text", "intent"],
            {"text": _S, "intent": _S, "new_intent": {"type": "boolean"}, "conversation_id": _S},
        ),
        errors=(403, 409),
        ok=201,
    )
    label["responses"]["200"] = _OK
    return {
        "/api/training/intents": {
            "get": _op("The intents a message may be labelled with (designers, leads)", errors=(403, 409))
        },
        "/api/training/labels": {"post": label},
        "/api/training/retrain": {
            "get": _op(
                "The last or current retrain: status (idle, running, done, refused, failed), started_at, "
                "finished_at and bot.retrain's JSON report (before/after figures, worse, loaded_into)",
                errors=(403,),
            ),
            "post": _op(
                "Retrain from the training project, compare with the model in service and load it into Rasa only if "
                "no figure got worse (designers, leads); 409 while a retrain runs",
                errors=(403, 409),
                ok=202,
            ),
        },
    }


def spec() -> dict[str, Any]:
    """The OpenAPI document."""
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
                    errors=(401, 429),
                )
            },
            "/api/me": {"get": _op("The agent behind the token")},
            "/api/conversations": {"get": _op("List conversations", params=[q("state"), q("reason"), q("limit")])},
            "/api/conversations/{id}": {
                "get": _op("Transcript, summary, events, notes, hand-offs", params=[_ID], errors=(403, 404))
            },
            "/api/conversations/{id}/claim": {"post": _action("Claim a queued conversation")},
            "/api/conversations/{id}/messages": {
                "post": _action("Send a message to the customer", _body(["text"], {"text": _S, "client_id": _S}))
            },
            "/api/conversations/{id}/notes": {"post": _action("Add a private note", _body(["text"], {"text": _S}))},
            "/api/conversations/{id}/transfer": {
                "post": _action(
                    "Transfer to an agent or a team (exactly one of to_agent_id and to_team)",
                    _body([], {"to_agent_id": {"type": "integer"}, "to_team": _S, "note": _S}),
                )
            },
            "/api/conversations/{id}/escalate_l3": {
                "post": _action(
                    "Escalate to L3 with the definition of ready and the customer impact; to_agent_id: an L3 engineer "
                    "to take it at once (otherwise the L3 queue)",
                    _body(
                        ["repro_steps", "logs", "environment", "timestamps", "impact_scope", "impact_urgency"],
                        {
                            "repro_steps": _S,
                            "logs": _S,
                            "environment": _S,
                            "timestamps": {"oneOf": [_S, {"type": "array", "items": _S}]},
                            "impact_scope": {"type": "string", "enum": list(SCOPES)},
                            "impact_urgency": {"type": "string", "enum": list(URGENCIES)},
                            "impact_note": _S,
                            "to_agent_id": {"type": "integer"},
                        },
                    ),
                )
            },
            "/api/conversations/{id}/return_l2": {
                "post": _action(
                    "Return an L3 escalation to the L2 agent who escalated it; the customer gets customer_update",
                    _body(
                        ["resolution", "root_cause", "customer_update"],
                        {"resolution": _S, "root_cause": _S, "workaround": _S, "customer_update": _S},
                    ),
                )
            },
            "/api/conversations/{id}/resolve": {
                "post": _action(
                    "Resolve with a resolution code (avoidable: the bot could have handled this)",
                    _body(["resolution_code"], {"resolution_code": _S, "avoidable": {"type": "boolean"}}),
                )
            },
            "/api/conversations/{id}/handback": {
                "post": _action(
                    "Hand back to the bot with a coaching note and, optionally, what is still open for the customer "
                    "(the bot resumes with it) and why (solved: the bot carries on; wrong_escalation: a bounceback)",
                    _body(
                        ["coaching_note"],
                        {
                            "coaching_note": _S,
                            "open_question": {"type": "string", "maxLength": OPEN_QUESTION_MAX},
                            "handback_reason": {"type": "string", "enum": list(HANDBACK_REASONS)},
                        },
                    ),
                )
            },
            "/api/conversations/{id}/customer": {
                "get": _op(
                    "Customer panel: contact record (tier, MRR, renewal) and past conversations",
                    params=[_ID],
                    errors=(403, 404),
                )
            },
            "/api/conversations/{id}/barge_in": {"post": _action("Take over a live bot conversation")},
            "/api/conversations/{id}/context_loss": {
                "post": _action(
                    'Flag "had to ask the customer again" (context-loss metric)', _body([], {"note": _S})
                )
            },
            "/api/handoffs": {"get": _op("List hand-offs", params=[q("status")])},
            "/api/queue": {"get": _op("Queue snapshot")},
            "/api/canned_replies": {
                "get": _op("Canned replies", params=[q("team")]),
                "post": _op(
                    "Add a canned reply (leads)",
                    body=_body(["title", "text"], {"team": _S, "title": _S, "text": _S}),
                    errors=(403,),
                    ok=201,
                ),
            },
            **_training(),
            "/api/protocol": {"get": _op("Socket.IO events and payload shapes", auth=False)},
            "/api/openapi.json": {"get": _op("This document", auth=False)},
            **_insights(insights.openapi_paths(_op, q)),
            "/api/demo/identity": {
                "post": _op(
                    "Demo mode only (HANDOFF_DEMO=1, loopback): signed identity claims of a demo contact",
                    auth=False,
                    body=_body(["customer_id"], {"customer_id": _S}),
                    errors=(404,),
                )
            },
            "/": {"get": _page("The demo host page (a fictional SaaS site with the widget)")},
            "/console": {"get": _page("The agent console")},
            "/widget.js": {"get": _page("The embeddable customer widget script", "text/javascript")},
            "/assets/{name}": {
                "get": _page(
                    "Built front-end files (console.js, styles, source maps; the type follows the extension)",
                    "*/*",
                    [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
                    errors=(404,),
                )
            },
        },
    }
