"""The app factory: ``create_app(settings) -> web.Application`` with resources in ``cleanup_ctx``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import socketio
from aiohttp import web
from redis import asyncio as aioredis

from contract import redact
from handoff import logref
from handoff.analytics import insights
from handoff.settings import Settings
from handoff.storage import agents as agent_store
from handoff.storage import migrate
from handoff.storage.db import Database
from handoff.transport import frontend, scaling
from handoff.transport.appkeys import DB, GATEWAY, HTTP, SETTINGS, SIO, STOPPING
from handoff.transport.namespaces import AgentNamespace, CustomerNamespace
from handoff.transport.ratelimit import ClientLimits
from handoff.transport.views import add_routes, errors_middleware, security_headers
from handoff.usecases import recovery, sla
from handoff.usecases.gateway import Gateway
from handoff.usecases.rasa_client import RasaClient

log = logging.getLogger(__name__)

# How long a stop waits for in-flight requests and background tasks (aiohttp's shutdown_timeout).
SHUTDOWN_SECONDS = 5.0


def _socketio_server(settings: Settings) -> socketio.AsyncServer:
    kwargs: dict[str, Any] = {}
    if settings.redis_url:
        # The manager's logger defaults to silent: a deaf listener (python-socketio #1581) would leave no trace.
        kwargs["client_manager"] = scaling.BufferedRedisManager(
            settings.redis_url, channel=f"{settings.redis_channel}:socketio", logger=log
        )
    sio = socketio.AsyncServer(
        async_mode="aiohttp",
        cors_allowed_origins=origin_policy(settings),
        # One client's events are handled in arrival order; concurrency is across clients.
        async_handlers=False,
        max_http_buffer_size=settings.max_payload_bytes,
        **kwargs,
    )
    _bound_websocket_frames(sio, settings.max_payload_bytes)
    return sio


def origin_policy(settings: Settings) -> Callable[[str, dict[str, Any]], bool]:
    """Which browser origins may open a socket (engine.io calls it only for requests that carry an Origin).

    ``HANDOFF_ALLOWED_ORIGINS`` when set; otherwise only the gateway's own origins on the port it listens on
    (127.0.0.1, localhost, ``HANDOFF_HOST``). Not engine.io's "same as the Host header" default: a DNS-rebinding
    page sends a matching Host.
    """
    configured = frozenset(settings.allowed_origins)

    def allowed(origin: str, environ: dict[str, Any]) -> bool:
        if configured:
            return origin in configured
        request = environ.get("aiohttp.request")
        sockname = request.transport.get_extra_info("sockname") if request is not None and request.transport else None
        port = sockname[1] if sockname else settings.port
        hosts = {"127.0.0.1", "localhost", "[::1]"}
        if settings.host not in ("", "0.0.0.0", "::"):
            hosts.add(settings.host)
        return origin in {f"http://{host}:{port}" for host in hosts}

    return allowed


def _bound_websocket_frames(sio: socketio.AsyncServer, limit: int) -> None:
    """Make aiohttp itself refuse websocket frames over ``limit`` bytes.

    python-engineio 4.12 opens ``WebSocketResponse(max_msg_size=0)`` (unlimited) and compares the size only after
    the whole frame is in memory; with this, an oversized frame closes that one connection before it is buffered.
    """
    base = sio.eio._async["websocket"]

    class BoundedWebSocket(base):  # type: ignore[misc, valid-type]
        async def __call__(self, environ: dict[str, Any]) -> web.WebSocketResponse:
            request = environ["aiohttp.request"]
            self._sock = web.WebSocketResponse(max_msg_size=limit + 16)  # room for the packet-type prefix
            await self._sock.prepare(request)
            self.environ = environ
            await self.handler(self)
            return self._sock

    # A copy: the driver table is shared by every engine.io server in the process.
    sio.eio._async = {**sio.eio._async, "websocket": BoundedWebSocket}


def create_app(settings: Settings) -> web.Application:
    """Build the gateway application (nothing touches the network until it starts).

    Raises:
        ValueError: a secret is missing outside demo mode (``Settings.with_required_secrets``).
    """
    settings = settings.with_required_secrets()
    # HANDOFF_REDACT for every redact() of this process, and no log record (ours, aiohttp's) carries a secret.
    redact.install(settings.redact)
    logref.install()  # and none names a customer session (after the redaction: scrubbed tracebacks stay scrubbed)
    app = web.Application(middlewares=[errors_middleware], client_max_size=settings.max_payload_bytes)
    db = Database(settings.database_url)
    sio = _socketio_server(settings)
    rasa = RasaClient(
        None,
        settings.rasa_servers,
        token=settings.rasa_token,
        timeout=settings.rasa_timeout,
        handback_intent=settings.rasa_handback_intent,
    )
    gw = Gateway(settings, db, sio, rasa)
    app[SETTINGS] = settings
    app[DB] = db
    app[SIO] = sio
    app[GATEWAY] = gw
    sio.attach(app)
    limits = ClientLimits(settings)  # one per process: a client IP's sockets on both namespaces add up
    sio.register_namespace(CustomerNamespace(gw, limits))
    sio.register_namespace(AgentNamespace(gw, limits))
    add_routes(app)
    insights.add_routes(app)
    frontend.add_routes(app)
    app.on_response_prepare.append(security_headers)  # type: ignore[arg-type]  # as on_shutdown below
    app[STOPPING] = asyncio.Event()
    app.on_shutdown.append(_stopping)  # type: ignore[arg-type]  # aiohttp 3.9 mistypes Signal.append
    app.cleanup_ctx.extend([_database, _http_client, _redis, _gateway, _sla_task, _rasa_health])
    return app


async def _stopping(app: web.Application) -> None:
    """End the background loops and close every socket first (clients reconnect elsewhere or when we are back).

    aiohttp waits for running tasks and open connections (up to ``SHUTDOWN_SECONDS``) before the cleanups run;
    python-socketio's service task and open websockets would otherwise hold every stop for that long.
    """
    app[STOPPING].set()
    sio = app[SIO]
    if sio.eio.sockets:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(sio.eio.disconnect(), SHUTDOWN_SECONDS)
    await sio.shutdown()
    # engine.io leaves a sleeping ping task per socket it ever had (up to ping_interval, 25 s): nothing to wait for.
    for task in asyncio.all_tasks():
        if getattr(task.get_coro(), "__qualname__", "") == "AsyncSocket._send_ping":
            task.cancel()


async def _database(app: web.Application) -> AsyncIterator[None]:
    db = app[DB]
    if app[SETTINGS].auto_migrate:
        await migrate.upgrade(db)
    yield
    await db.dispose()


async def _http_client(app: web.Application) -> AsyncIterator[None]:
    async with aiohttp.ClientSession() as http:
        app[HTTP] = http
        app[GATEWAY].rasa.http = http
        yield


async def _redis(app: web.Application) -> AsyncIterator[None]:
    """With ``REDIS_URL``: agents' sockets across gateways, and a watchdog on the Socket.IO listener."""
    settings = app[SETTINGS]
    if not settings.redis_url:
        yield
        return
    client = aioredis.Redis.from_url(settings.redis_url)
    gw = app[GATEWAY]
    gw.sockets.redis = client
    gw.sockets.ttl = max(3 * settings.redis_check_interval_seconds, 15.0)
    scaling.start_listener(app[SIO])
    stop = app[STOPPING]
    task = asyncio.get_running_loop().create_task(
        scaling.watch_redis(
            app[SIO], gw.sockets, settings.redis_check_interval_seconds, stop, lambda: recovery.heartbeat_and_sweep(gw)
        )
    )
    yield
    stop.set()
    listener = getattr(app[SIO].manager, "thread", None)
    if listener is not None:
        listener.cancel()
    await asyncio.gather(task, *([listener] if listener is not None else []), return_exceptions=True)
    await (getattr(client, "aclose", None) or client.close)()  # aclose: redis-py 5.0.1+; close before


async def _rasa_health(app: web.Application) -> AsyncIterator[None]:
    """Probe the Rasa servers: learn the model each has loaded, and (several servers) skip a dead one."""
    rasa = app[GATEWAY].rasa
    settings = app[SETTINGS]
    stop = app[STOPPING]
    task = asyncio.get_running_loop().create_task(
        scaling.every(settings.rasa_health_interval_seconds, rasa.check_health, stop, "Rasa health check")
    )
    yield
    stop.set()
    await asyncio.gather(task, return_exceptions=True)


async def _gateway(app: web.Application) -> AsyncIterator[None]:
    gw = app[GATEWAY]
    if gw.language is not None:
        gw.language.start()  # the language models load in a thread; the first messages wait for them once
    async with gw.db.write() as s:
        for agent in await agent_store.agents_with_load(s):
            if agent.status != "offline" and not await gw.sockets.all(agent.id):
                # Sockets did not survive the restart; the grace period starts now.
                await agent_store.set_agent_status(s, agent.id, "offline")
    await recovery.on_startup(gw)
    yield
    try:
        await asyncio.wait_for(gw.idle(), 10)
    except asyncio.TimeoutError:
        log.warning("pending work cancelled at shutdown")
    await gw.close()


async def _sla_task(app: web.Application) -> AsyncIterator[None]:
    stop = app[STOPPING]
    task = asyncio.get_running_loop().create_task(sla.run(app[GATEWAY], stop))
    yield
    stop.set()
    try:
        await asyncio.wait_for(task, 10)
    except asyncio.TimeoutError:
        log.warning("SLA task did not stop in time")
