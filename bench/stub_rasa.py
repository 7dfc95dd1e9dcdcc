"""A stand-in Rasa REST webhook for the scaled benchmark: every message hands off to a human at once.

The scaled benchmark measures the gateways, Redis and PostgreSQL; the bot is measured by
``bench.gateway_latency``. Usage: ``python -m bench.stub_rasa PORT``.
"""

from __future__ import annotations

import sys

from aiohttp import web

HANDOFF = {
    "reason": "customer_request",
    "strikes": 0,
    "problem": "Customer asked for a person",
    "turns": [],
    "entities": {},
    "slots": {},
    "steps": [],
    "sentiment": {"latest": 0.0, "trend": []},
    "frustration": 0.0,
}


async def webhook(request: web.Request) -> web.Response:
    """Hand off every conversation."""
    body = await request.json()
    return web.json_response(
        [
            {"recipient_id": body["sender"], "text": "Let me get a person for you."},
            {"recipient_id": body["sender"], "custom": {"handoff": HANDOFF}},
        ]
    )


async def root(_request: web.Request) -> web.Response:
    """Health check."""
    return web.Response(text="Hello from the stub Rasa")


if __name__ == "__main__":
    app = web.Application()
    app.router.add_post("/webhooks/rest/webhook", webhook)
    app.router.add_get("/", root)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
