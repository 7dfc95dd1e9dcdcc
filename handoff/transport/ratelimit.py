"""Rate limits: N events in a sliding window per connection, and per client IP (connections, summed events)."""

from __future__ import annotations

import ipaddress
import time
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from handoff.settings import Settings

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class RateLimiter:
    """Sliding-window counter per key (a Socket.IO sid, a client IP)."""

    def __init__(self, limit: int, window_seconds: float) -> None:
        """``limit`` events per ``window_seconds``."""
        self.limit = limit
        self.window = window_seconds
        self._hits: dict[str, deque[float]] = {}
        self._calls = 0

    def allow(self, key: str) -> bool:
        """Record one event; False when over the limit."""
        now = time.monotonic()
        self._calls += 1
        if self._calls % 1024 == 0:
            self._prune(now)
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

    def _prune(self, now: float) -> None:
        """Forget keys (client IPs) with no hit in the window, so the table does not grow forever."""
        for key in [k for k, hits in self._hits.items() if not hits or now - hits[-1] > self.window]:
            del self._hits[key]


def client_ip(peer: str | None, forwarded_for: str | None, trusted: Sequence[IPNetwork]) -> str:
    """The client's IP: the TCP peer, or, behind a trusted proxy, the last untrusted hop of X-Forwarded-For.

    Walking X-Forwarded-For from the right and stopping at the first address that is not a trusted proxy means a
    client cannot pick its own IP by sending the header itself.
    """
    ip = peer or "unknown"
    if not forwarded_for or not _trusted(ip, trusted):
        return ip
    for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
        ip = hop
        if not _trusted(hop, trusted):
            break
    return ip


def networks(proxies: Sequence[str]) -> list[IPNetwork]:
    """Parsed ``HANDOFF_TRUSTED_PROXIES`` (addresses or CIDRs; validated by the settings)."""
    return [ipaddress.ip_network(p, strict=False) for p in proxies]


def _trusted(ip: str, trusted: Sequence[IPNetwork]) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in network for network in trusted)


class ClientLimits:
    """Limits per client IP, shared by both Socket.IO namespaces: connections per window, events summed over sockets."""

    def __init__(self, settings: Settings) -> None:
        """Counters sized from the settings."""
        self.trusted = networks(settings.trusted_proxies)
        self.connections = RateLimiter(settings.ip_connections, settings.ip_connection_window_seconds)
        self.events = RateLimiter(settings.ip_rate_limit_events, settings.rate_limit_window_seconds)

    def ip_of(self, environ: Mapping[str, Any]) -> str:
        """The client IP of a Socket.IO connection (engine.io's own REMOTE_ADDR is always 127.0.0.1 on aiohttp)."""
        request = environ.get("aiohttp.request")
        peer = request.remote if request is not None else environ.get("REMOTE_ADDR")
        return client_ip(peer, environ.get("HTTP_X_FORWARDED_FOR"), self.trusted)
