"""No acknowledged message stays undelivered: its gateway delivers it, or another one does if that gateway dies.

A customer message acknowledged in bot mode is stored ``pending:<gateway instance>`` until its relay to Rasa
has finished. One gateway alone (no Redis) takes over every pending message when it starts: they were left
by its previous run. With Redis, gateways stamp a heartbeat in one sorted set; every watchdog round each gateway
looks for instances whose heartbeat is older than the time-to-live, and the one whose ``ZREM`` removes such an
instance (exactly one, Redis is atomic) takes its pending messages over and delivers them in order. A gateway
that restarts comes back as a new instance, so its own leftovers are taken over like any dead gateway's.
"""

from __future__ import annotations

import functools
import logging
import time

from handoff.domain.states import MessageStatus
from handoff.storage import messages as message_store
from handoff.usecases import conversations
from handoff.usecases.gateway import Gateway

log = logging.getLogger(__name__)


def _heartbeats_key(gw: Gateway) -> str:
    return f"{gw.settings.redis_channel}:gateway-heartbeats"


async def _take_over(gw: Gateway, status: str | None, why: str) -> int:
    """Re-own the messages pending with ``status`` (None: every pending one) and deliver them in order."""
    async with gw.db.write() as s:
        messages = await message_store.take_over_pending(s, status, gw.pending_status)
    for m in messages:
        log.info("conversation %s: delivering message %s (%s)", m.conversation_id, m.seq, why)
        gw.sequencer.submit(m.conversation_id, functools.partial(conversations.deliver, gw, m))
    return len(messages)


async def on_startup(gw: Gateway) -> None:
    """Alone: everything pending is this gateway's previous run's. With Redis: announce ourselves, then sweep."""
    if gw.sockets.redis is None:
        await _take_over(gw, None, "left pending by the previous run")
        return
    await _take_over(gw, MessageStatus.PENDING, "left pending by a gateway of an earlier version")
    await heartbeat_and_sweep(gw)


async def heartbeat_and_sweep(gw: Gateway) -> int:
    """Stamp this gateway alive; take over the pending messages of gateways that stopped stamping.

    Returns how many gateways are alive (this one included).
    """
    redis = gw.sockets.redis
    if redis is None:
        return 1
    key = _heartbeats_key(gw)
    now = time.time()
    await redis.zadd(key, {gw.instance: now})
    for raw in await redis.zrangebyscore(key, "-inf", now - gw.sockets.ttl):
        dead = raw.decode() if isinstance(raw, bytes) else str(raw)
        if dead != gw.instance and await redis.zrem(key, dead) == 1:
            count = await _take_over(gw, message_store.pending_status(dead), f"gateway {dead} stopped")
            if count:
                log.warning("took over %s pending message(s) of gateway %s, which stopped", count, dead)
    return int(await redis.zcount(key, now - gw.sockets.ttl, "+inf"))
