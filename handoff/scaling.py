"""Scaled mode plumbing: the watchdog that keeps the Socket.IO Redis listener alive, periodic jobs.

python-socketio's ``AsyncRedisManager`` retries Redis errors in its listener, but the listener task can
still end for good (python-socketio #1581: a cancelled read during a Redis disconnect storm ends the loop)
and the process then keeps serving sockets that never hear other gateways. The watchdog checks the task
and the subscription every few seconds and restarts the listener with the manager's own ``_thread``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import socketio

from handoff.presence import AgentSockets

log = logging.getLogger(__name__)


async def every(interval: float, job: Callable[[], Awaitable[None]], stop: asyncio.Event, what: str) -> None:
    """Run ``job`` every ``interval`` seconds until ``stop`` is set; failures are logged, never fatal."""
    while not stop.is_set():
        try:
            await job()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s failed", what)
        try:
            await asyncio.wait_for(stop.wait(), interval)
        except asyncio.TimeoutError:
            pass


def listener_alive(manager: Any) -> bool:
    """Whether the manager's pub/sub listener task is running."""
    task = getattr(manager, "thread", None)
    return task is not None and not task.done()


def listener_subscribed(manager: Any) -> bool:
    """Whether the listener holds a subscribed Redis connection (False while it reconnects)."""
    pubsub = getattr(manager, "pubsub", None)
    return bool(pubsub is not None and pubsub.connection is not None and pubsub.subscribed)


def restart_listener(sio: socketio.AsyncServer) -> None:
    """Start a fresh listener task of the manager (the old one is cancelled if still there)."""
    manager: Any = sio.manager
    old = getattr(manager, "thread", None)
    if old is not None and not old.done():
        old.cancel()
    manager.connected = False  # the next listen reconnects instead of reusing a dead connection
    manager.thread = sio.start_background_task(manager._thread)


async def check_listener(sio: socketio.AsyncServer, state: dict[str, int]) -> bool:
    """One watchdog round: restart a dead listener, or one unsubscribed for three rounds; True if restarted."""
    manager: Any = sio.manager
    if not isinstance(manager, socketio.AsyncRedisManager) or not sio.manager_initialized:
        return False
    if not listener_alive(manager):
        log.error("Socket.IO Redis listener had stopped; restarting it (messages from other gateways resume)")
        restart_listener(sio)
        state["down"] = 0
        return True
    if listener_subscribed(manager):
        state["down"] = 0
        return False
    state["down"] = state.get("down", 0) + 1
    if state["down"] >= 3:
        log.error("Socket.IO Redis listener not subscribed for %s checks; restarting it", state["down"])
        restart_listener(sio)
        state["down"] = 0
        return True
    return False


def start_listener(sio: socketio.AsyncServer) -> None:
    """Initialise the manager now (as the first connection would): a gateway hears others from the start."""
    if not sio.manager_initialized:
        sio.manager_initialized = True
        sio.manager.initialize()


async def watch_redis(
    sio: socketio.AsyncServer,
    sockets: AgentSockets,
    interval: float,
    stop: asyncio.Event,
    heartbeat: Callable[[], Awaitable[Any]],
) -> None:
    """Every ``interval`` seconds: keep the listener alive, refresh this gateway's agent sockets, stamp it alive."""
    state: dict[str, int] = {}

    async def round_() -> None:
        await check_listener(sio, state)
        await sockets.refresh()
        await heartbeat()

    await every(interval, round_, stop, "Redis watchdog")
