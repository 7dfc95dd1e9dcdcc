"""Scaled mode plumbing: the watchdog that keeps the Socket.IO Redis listener alive, periodic jobs.

python-socketio's ``AsyncRedisManager`` retries Redis errors in its listener, but the listener task can
still end for good (python-socketio #1581: a cancelled read during a Redis disconnect storm ends the loop)
and the process then keeps serving sockets that never hear other gateways. The watchdog checks the task
and the subscription every few seconds and restarts the listener with the manager's own ``_thread``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import socketio
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from handoff.usecases.presence import AgentSockets

log = logging.getLogger(__name__)

OUTBOX_LIMIT = 50_000  # emits kept while Redis is down (beyond it the oldest go; clients replay them on reconnect)
LISTEN_RETRY_MAX_SECONDS = 2.0  # the listener's back-off cap: it is subscribed again within 2 s of Redis returning
STUCK_SECONDS = 6.0  # Redis answers, yet the listener has not subscribed for this long: the watchdog restarts it


class BufferedRedisManager(socketio.AsyncRedisManager):
    """``AsyncRedisManager`` that keeps what it could not publish and sends it, in order, once Redis is back.

    The stock manager gives up on a publish after two attempts: an emit made while Redis is down then reaches
    this gateway's sockets only, and a customer here and an agent on another gateway stop hearing each other
    until someone reloads. Here such emits wait in an outbox (later ones queue behind them, to keep the order)
    and ``flush`` publishes them once every live gateway listens again: Redis pub/sub keeps nothing for a
    subscriber that is not there yet.

    No orphaned subscription: the stock manager opens a new client and pub/sub for every reconnect, of the
    publisher and of the listener alike, and leaves the previous pub/sub open, and redis-py 5+ reconnects and
    re-subscribes a pub/sub on its own. After a Redis restart a gateway then held a subscription read by nobody:
    PUBSUB NUMSUB counted it, so the outbox was flushed before the real listener was back and those emits were
    lost. Here redis-py does not retry (the listener's loop and the outbox do), a publisher reconnect replaces
    only the publishing client, and the listener closes a pub/sub as soon as it fails.
    """

    connected: bool
    redis: Any
    pubsub: Any

    def __init__(self, url: str, channel: str, logger: Any = None) -> None:
        """As the stock manager; the outbox starts empty."""
        # No silent reconnect inside redis-py (5+ retries and re-subscribes on its own): a broken connection must
        # surface, so the listener's retry loop replaces it and the outbox holds what could not be published.
        super().__init__(url, channel=channel, logger=logger, redis_options={"retry": Retry(NoBackoff(), 0)})
        self.outbox: deque[Any] = deque(maxlen=OUTBOX_LIMIT)
        self._closing: set[asyncio.Task[Any]] = set()

    def _redis_connect(self) -> None:
        """A new client and pub/sub (the listener's reconnect); the pub/sub it replaces is closed."""
        stale = self.pubsub
        super()._redis_connect()
        if stale is not None:
            task = asyncio.get_running_loop().create_task(self._close(stale))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    def _publisher_connect(self) -> None:
        """A new publishing client only: the listener keeps reading its pub/sub (the unused new one holds nothing)."""
        listening = self.pubsub
        super()._redis_connect()
        self.pubsub = listening

    @staticmethod
    async def _close(pubsub: Any) -> None:
        """Unsubscribe and release a pub/sub's connection; one already broken is fine."""
        try:
            await (getattr(pubsub, "aclose", None) or pubsub.reset)()
        except (RedisError, OSError):
            pass

    async def _redis_listen_with_retries(self) -> Any:
        """The stock listener loop, except that a failed pub/sub is closed at once, before the back-off.

        redis-py reconnects (and so re-subscribes) a pub/sub in its error handling even with no retries left: left
        open during the back-off, that subscription counted as listening while nobody read it.
        """
        retry_sleep = 0.25
        subscribed = False
        while True:
            try:
                if not subscribed:
                    self._redis_connect()
                    await self.pubsub.subscribe(self.channel)
                    subscribed = True
                    retry_sleep = 0.25
                async for message in self.pubsub.listen():
                    yield message
            except Exception as exc:  # as the stock loop: any failure means reconnect
                log.error("cannot receive from Redis (%s); retrying in %s s", exc, retry_sleep)
                subscribed = False
                await self._close(self.pubsub)
                await asyncio.sleep(retry_sleep)
                retry_sleep = min(retry_sleep * 2, LISTEN_RETRY_MAX_SECONDS)

    async def _publish(self, data: Any) -> None:
        if self.outbox or not await self._try_publish(data):
            if len(self.outbox) == self.outbox.maxlen:
                log.error("Redis outbox full: the oldest emit is dropped (clients replay it when they reconnect)")
            self.outbox.append(data)

    async def _try_publish(self, data: Any) -> bool:
        try:
            if not self.connected:
                self._publisher_connect()
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
                self._publisher_connect()
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


async def check_listener(sio: socketio.AsyncServer, state: dict[str, int], rounds_to_stuck: int = 3) -> bool:
    """One watchdog round, run only once Redis has answered: restart a dead listener, or a stuck one; True if so.

    Stuck: unsubscribed for ``rounds_to_stuck`` answered rounds in a row. Its own retry loop resubscribes within
    ``LISTEN_RETRY_MAX_SECONDS`` of Redis returning, so only a listener that stopped trying gets here; restarting
    one that was about to subscribe would drop what it was about to read.
    """
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
    if state["down"] >= rounds_to_stuck:
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


class PeerCount:
    """How many gateways an outbox waits for: the most seen, until fewer have been counted for ``ttl`` s running.

    A Redis that restarted is empty: until every gateway has stamped its heartbeat again the set counts too few,
    and an outbox flushed then missed the listeners of the gateways not yet counted (their emits were lost).
    Only rounds that reached Redis count: however long the outage, the first rounds after it still wait for
    every gateway seen before. A gateway that really stopped is no longer waited for once it has been missing
    from ``ttl`` seconds of answered rounds.
    """

    def __init__(self, ttl: float) -> None:
        """Nothing seen yet."""
        self.ttl = ttl
        self.count = 0
        self.fewer_since: float | None = None

    def update(self, alive: int, now: float) -> int:
        """Record this round's live count (a round that reached Redis); return the count to wait for."""
        if alive >= self.count:
            self.count, self.fewer_since = alive, None
        elif self.fewer_since is None:
            self.fewer_since = now
        elif now - self.fewer_since > self.ttl:
            self.count, self.fewer_since = alive, None
        return self.count


async def watch_redis(
    sio: socketio.AsyncServer,
    sockets: AgentSockets,
    interval: float,
    stop: asyncio.Event,
    heartbeat: Callable[[], Awaitable[int]],
) -> None:
    """Every ``interval`` seconds: gateway stamped, listener alive and subscribed, agent sockets refreshed, outbox flushed.

    ``heartbeat`` stamps this gateway and returns how many are alive: the outbox waits for all of them to listen.
    """
    state: dict[str, int] = {}
    peers = PeerCount(sockets.ttl)
    rounds_to_stuck = max(3, math.ceil(STUCK_SECONDS / interval))

    async def round_() -> None:
        # The heartbeat first: while Redis does not answer it raises, and nothing else is judged this round.
        gateways = peers.update(await heartbeat(), time.monotonic())
        await check_listener(sio, state, rounds_to_stuck)
        await sockets.refresh()
        if isinstance(sio.manager, BufferedRedisManager):
            await sio.manager.flush(gateways)

    await every(interval, round_, stop, "Redis watchdog")
