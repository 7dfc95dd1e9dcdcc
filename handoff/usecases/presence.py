"""Which Socket.IO sockets each agent has: on this gateway, and with Redis on every gateway.

The Socket.IO manager only knows the sockets connected to its own process. To put an agent's sockets in a
conversation's room from another gateway (auto-assign, transfer), the gateway needs their sids: each gateway
keeps its own in memory and, with Redis, in one sorted set per agent scored by when it last refreshed them.
``AsyncRedisManager.enter_room`` then forwards the join to the gateway that holds the socket. Entries of a
gateway that died stop being refreshed and are ignored after ``ttl`` seconds.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any


class AgentSockets:
    """Sids per agent; ``local`` is this process's view, Redis (optional) the cluster's."""

    def __init__(self, redis: Any = None, prefix: str = "handoff", ttl: float = 30.0) -> None:
        """In-memory only until ``redis`` (a ``redis.asyncio.Redis``) is set."""
        self.local: dict[int, set[str]] = defaultdict(set)
        self.redis = redis
        self.prefix = prefix
        self.ttl = ttl

    def _key(self, agent_id: int) -> str:
        return f"{self.prefix}:agent-sids:{agent_id}"

    async def add(self, agent_id: int, sid: str) -> None:
        """A socket of the agent connected here."""
        self.local[agent_id].add(sid)
        if self.redis is not None:
            await self.redis.zadd(self._key(agent_id), {sid: time.time()})

    async def remove(self, agent_id: int, sid: str) -> int:
        """A socket closed; returns how many sockets the agent still has (on every gateway)."""
        sids = self.local.get(agent_id, set())
        sids.discard(sid)
        if not sids:
            self.local.pop(agent_id, None)
        if self.redis is None:
            return len(sids)
        await self.redis.zrem(self._key(agent_id), sid)
        return len(await self.all(agent_id))

    async def all(self, agent_id: int) -> set[str]:
        """Every live sid of the agent (local ones always included)."""
        result = set(self.local.get(agent_id, ()))
        if self.redis is not None:
            fresh = await self.redis.zrangebyscore(self._key(agent_id), time.time() - self.ttl, "+inf")
            result.update(s.decode() if isinstance(s, bytes) else str(s) for s in fresh)
        return result

    async def refresh(self) -> None:
        """Re-stamp this gateway's sids and drop expired ones (called periodically)."""
        if self.redis is None:
            return
        now = time.time()
        for agent_id, sids in list(self.local.items()):
            key = self._key(agent_id)
            if sids:
                await self.redis.zadd(key, dict.fromkeys(sids, now))
            await self.redis.zremrangebyscore(key, "-inf", now - self.ttl)
            await self.redis.expire(key, int(self.ttl * 4))
