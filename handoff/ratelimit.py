"""Per-connection rate limit: at most N events in a sliding window."""

from __future__ import annotations

import time
from collections import deque


class RateLimiter:
    """Sliding-window counter per key (a Socket.IO sid)."""

    def __init__(self, limit: int, window_seconds: float) -> None:
        """``limit`` events per ``window_seconds``."""
        self.limit = limit
        self.window = window_seconds
        self._hits: dict[str, deque[float]] = {}

    def allow(self, key: str) -> bool:
        """Record one event; False when over the limit."""
        now = time.monotonic()
        hits = self._hits.setdefault(key, deque())
        while hits and now - hits[0] > self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return False
        hits.append(now)
        return True

    def forget(self, key: str) -> None:
        """Drop the state of a closed connection."""
        self._hits.pop(key, None)
