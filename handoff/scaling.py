"""Scaled mode plumbing: the watchdog that keeps the Socket.IO Redis listener alive, periodic jobs.

python-socketio's ``AsyncRedisManager`` retries Redis errors in its listener, but the listener task can
still end for good (python-socketio #1581: a cancelled read during a Redis disconnect storm ends the loop)
and the process then keeps serving sockets that never hear other gateways. The watchdog checks the task
and the subscription every few seconds and restarts the listener with the manager's own ``_thread``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import socketio
from redis.exceptions import RedisError

from handoff.presence import AgentSockets

log = logging.getLogger(__name__)

OUTBOX_LIMIT = 50_000  # emits kept while Redis is down (beyond it the oldest go; clients replay them on reconnect)


class BufferedRedisManager(socketio.AsyncRedisManager):
    """``AsyncRedisManager`` that keeps what it could not publish and sends it, in order, once Redis is back.

    The stock manager gives up on a publish after two attempts: an emit made while Redis is down then reaches
    this gateway's sockets only, and a customer here and an agent on another gateway stop hearing each other
    until someone reloads. Here such emits wait in an outbox (later ones queue behind them, to keep the order)
    and ``flush`` publishes them once every live gateway listens again: Redis pub/sub keeps nothing for a
    subscriber that is not there yet.
    """

    connected: bool
    redis: Any

    def __init__(self, url: str, channel: str, logger: Any = None) -> None:
        """As the stock manager; the outbox starts empty."""
        super().__init__(url, channel=channel, logger=logger)
        self.outbox: deque[Any] = deque(maxlen=OUTBOX_LIMIT)

    async def _publish(self, data: Any) -> None:
        if self.outbox or not await self._try_publish(data):
            if len(self.outbox) == self.outbox.maxlen:
                log.error("Redis outbox full: the oldest emit is dropped (clients replay it when they reconnect)")
            self.outbox.append(data)

    async def _try_publish(self, data: Any) -> bool:
        try:
            if not self.connected:
                self._redis_connect()
            await self.redis.publish(self.channel, self.json.dumps(data))
            return True
        except (RedisError, OSError) as exc:
            self.connected = False
            log.warning("cannot publish to Redis (%s): keeping the emit until Redis is back", exc)
            return False

    async def flush(self, gateways: int) -> int:
        """Publish the waiting emits, oldest first, once ``gateways`` subscribers listen; returns how many went."""
        if not self.outbox:
            return 0
        try:
            if not self.connected:
                self._redis_connect()
            listening = int((await self.redis.pubsub_numsub(self.channel))[0][1])
        except (RedisError, OSError):
            self.connected = False
            return 0
        if listening < gateways:
            return 0
        sent = 0
        while self.outbox:
            if not await self._try_publish(self.outbox[0]):
                break
            self.outbox.popleft()
            sent += 1
        log.info("published %s emit(s) held while Redis was unreachable", sent)
        return sent


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
    heartbeat: Callable[[], Awaitable[int]],
) -> None:
    """Every ``interval`` seconds: listener alive, agent sockets refreshed, gateway stamped, outbox flushed.

    ``heartbeat`` stamps this gateway and returns how many are alive: the outbox waits for all of them to listen.
    """
    state: dict[str, int] = {}

    async def round_() -> None:
        await check_listener(sio, state)
        await sockets.refresh()
        gateways = await heartbeat()
        if isinstance(sio.manager, BufferedRedisManager):
            await sio.manager.flush(gateways)

    await every(interval, round_, stop, "Redis watchdog")
