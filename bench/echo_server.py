"""A bare python-socketio relay (the baseline for the gateway's human relay): customer ``msg`` -> agent room.

No store, no auth, no ordering: what python-socketio + aiohttp cost on their own. Usage:
``python -m bench.echo_server PORT``.
"""

from __future__ import annotations

import sys
from typing import Any

import socketio
from aiohttp import web


def create_app() -> web.Application:
    """Customers emit ``msg`` (acked); every socket that sent ``join`` receives it as ``relayed``."""
    sio = socketio.AsyncServer(async_mode="aiohttp", async_handlers=False)
    app = web.Application()
    sio.attach(app)

    @sio.on("join")
    async def join(sid: str, data: Any = None) -> dict[str, bool]:
        await sio.enter_room(sid, "agents")
        return {"ok": True}

    @sio.on("msg")
    async def msg(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        await sio.emit("relayed", data, room="agents")
        return {"ok": True}

    async def health(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app.router.add_get("/healthz", health)
    return app


if __name__ == "__main__":
    web.run_app(create_app(), host="127.0.0.1", port=int(sys.argv[1]), print=None)
