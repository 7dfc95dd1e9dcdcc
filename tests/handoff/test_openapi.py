"""The OpenAPI document describes exactly the routes the app serves."""

from __future__ import annotations

import aiohttp

from handoff.transport.openapi import spec
from tests.handoff.helpers import Running


async def test_every_route_is_described_and_vice_versa(gateway: Running) -> None:
    served = {
        (route.method.lower(), route.resource.canonical)
        for route in gateway.app.router.routes()
        if route.method not in ("HEAD", "*")
        and route.resource is not None
        and not route.resource.canonical.startswith("/socket.io")
    }
    described = {(method, path) for path, ops in spec()["paths"].items() for method in ops}
    assert served == described


async def test_openapi_is_served(gateway: Running) -> None:
    async with aiohttp.ClientSession() as http:
        doc = await (await http.get(f"{gateway.url}/api/openapi.json")).json()
        health = await http.get(f"{gateway.url}/healthz")
        protocol = await (await http.get(f"{gateway.url}/api/protocol")).json()
    assert doc["openapi"].startswith("3.") and health.status == 200
    assert "user_uttered" in protocol["incoming"]["/"] and "claim" in protocol["incoming"]["/agents"]
