"""The built front ends (``widget/dist``): demo host page, widget script, agent console; the demo identity signer.

The files are built by ``npm run build`` in ``widget/``; the gateway only serves them. ``POST /api/demo/identity``
signs the claims of a contact the seed file marks as demo, so the demo page can show signed-in customers without the
secret ever reaching the browser. It runs only in demo mode (``HANDOFF_DEMO=1``, loopback host) and only for requests
from this machine; a real host page's own backend computes the signature (:func:`handoff.domain.identity.sign`).
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

from aiohttp import web

from handoff.domain import events as ev
from handoff.domain.identity import sign
from handoff.settings import is_loopback_host
from handoff.storage import contacts as contact_store
from handoff.transport.appkeys import GATEWAY

ASSET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,100}$")
CONTENT_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".html": "text/html",
    ".map": "application/json",
    ".txt": "text/plain",
    ".json": "application/json",
}
# Scripts only from this origin: even a rendering bug could not run an injected script on these pages.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' https: data:; "
    "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
)
NOT_BUILT = (
    "The widget and console are not built yet. Run:  cd widget && npm ci && npm run build  "
    "(make run does it when widget/src changed)."
)


def _dist(request: web.Request) -> Path:
    return Path(request.app[GATEWAY].settings.widget_dist)


def _file(request: web.Request, name: str, *, page: bool = False) -> web.StreamResponse:
    path = _dist(request) / name
    if not path.is_file():
        if not _dist(request).is_dir():
            return web.Response(status=503, text=NOT_BUILT, content_type="text/plain")
        raise web.HTTPNotFound(text="not found", content_type="text/plain")
    headers = {
        "Content-Type": CONTENT_TYPES.get(path.suffix, "application/octet-stream"),
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    }
    if page:
        headers["Content-Security-Policy"] = CSP
    return web.FileResponse(path, headers=headers)


async def demo_page(request: web.Request) -> web.StreamResponse:
    """The demo host page (a fictional SaaS site with the widget)."""
    return _file(request, "index.html", page=True)


async def console_page(request: web.Request) -> web.StreamResponse:
    """The agent console."""
    return _file(request, "console.html", page=True)


async def widget_script(request: web.Request) -> web.StreamResponse:
    """The embeddable widget (``HelpdeskWidget``); aiohttp sends the precompressed twin the browser accepts."""
    return _file(request, "widget.js")


async def asset(request: web.Request) -> web.StreamResponse:
    """Other built files (console.js, styles, source maps; api.html, the embedding API demo, is a page)."""
    name = request.match_info["name"]
    if not ASSET_NAME.match(name) or ".." in name:
        raise web.HTTPNotFound(text="not found", content_type="text/plain")
    return _file(request, name, page=name.endswith(".html"))


@functools.lru_cache(maxsize=4)
def demo_customer_ids(seed_path: str) -> frozenset[str]:
    """The contacts the seed file marks ``"demo": true``: the only ones the demo signer signs."""
    try:
        customers = json.loads(Path(seed_path).read_text(encoding="utf-8")).get("customers", [])
    except (OSError, ValueError, AttributeError):
        return frozenset()
    return frozenset(str(c["id"]) for c in customers if isinstance(c, dict) and c.get("demo") is True and "id" in c)


def _from_this_machine(request: web.Request) -> bool:
    """The request came straight from a loopback peer, not relayed by a proxy for somebody else."""
    if any(h in request.headers for h in ("Forwarded", "X-Forwarded-For", "X-Real-IP")):
        return False
    return is_loopback_host(request.remote or "")


async def demo_identity(request: web.Request) -> web.Response:
    """Signed identity claims of a demo contact, for the demo page: demo mode, on this machine, demo contacts only."""
    gw = request.app[GATEWAY]
    if not gw.settings.demo_mode or not _from_this_machine(request):
        return web.json_response(
            {"error": "the demo identity endpoint only runs in demo mode (HANDOFF_DEMO=1), for this machine",
             "code": "disabled"},
            status=404,
        )
    try:
        body = await request.json()
        ev.check_text("body", body)
    except (ValueError, RecursionError):  # not JSON, too deep, or text no database takes (PayloadError)
        body = None
    customer_id = body.get("customer_id") if isinstance(body, dict) else None
    if not isinstance(customer_id, str) or not customer_id or len(customer_id) > 64:
        return web.json_response({"error": "customer_id is required", "code": "missing_fields"}, status=400)
    contact = None
    if customer_id in demo_customer_ids(gw.settings.seed_path):
        async with gw.db.read() as s:
            contact = await contact_store.get_contact(s, customer_id)
    if contact is None:
        return web.json_response({"error": f"no demo customer {customer_id}", "code": "not_found"}, status=404)
    signature = sign(gw.settings.identity_secret, contact.id, contact.email, contact.name)
    return web.json_response(
        {"id": contact.id, "email": contact.email, "name": contact.name, "tier": contact.tier, "signature": signature}
    )


def add_routes(app: web.Application) -> None:
    """Register the front-end routes (described in ``handoff.transport.openapi`` like every other route)."""
    r = app.router
    r.add_get("/", demo_page)
    r.add_get("/console", console_page)
    r.add_get("/widget.js", widget_script)
    r.add_get("/assets/{name}", asset)
    r.add_post("/api/demo/identity", demo_identity)
