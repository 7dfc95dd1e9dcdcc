"""HTTP client to the Rasa server(s): REST webhook for messages, HTTP API for the hand-back."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import aiohttp

log = logging.getLogger(__name__)


def _rendezvous(url: str, conversation_id: str) -> int:
    """The weight of ``url`` for ``conversation_id``: the conversation goes to the server of highest weight."""
    return int.from_bytes(hashlib.blake2b(f"{url}\n{conversation_id}".encode(), digest_size=8).digest(), "big")


class RasaUnavailable(Exception):
    """Rasa is down, timed out, or answered with an error."""


class RasaClient:
    """Talks to one or several Rasa servers over HTTP: each conversation to its own server while that one is healthy.

    Several servers only work when they share the tracker store (SQL) and the lock store (Redis): then any
    server can answer any conversation. Each conversation still goes to the same server (rendezvous hashing of its
    id over the servers: conversations spread evenly, and a server's going or coming moves only its own share),
    because a Rasa server keeps the trackers it answered in memory and reloads one another server wrote to
    (bot/tracker_store.py). A server whose connection fails or that answers 5xx is marked down and the request goes
    to the conversation's next server; a timeout is not retried (a slow Rasa is still working on it).
    ``check_health`` (run periodically by the app) marks servers up again when ``GET /status`` answers.
    """

    def __init__(
        self,
        http: aiohttp.ClientSession | None,
        base_url: str | Sequence[str],
        *,
        token: str = "",
        timeout: float = 10.0,
        handback_intent: str = "handback",
    ) -> None:
        """Bind to a shared aiohttp session (may be set later, once the loop runs)."""
        self.http = http
        urls = [base_url] if isinstance(base_url, str) else list(base_url)
        self.base_urls = [u.rstrip("/") for u in urls if u.strip()]
        if not self.base_urls:
            raise ValueError("at least one Rasa URL is needed")
        self.healthy = set(self.base_urls)
        # The model each server has loaded (``GET /status``), learnt by the health checks: which model version
        # answered a conversation, for the designers' before/after by version.
        self.model_ids: dict[str, str] = {}
        self._next = itertools.count()
        self.token = token
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.health_timeout = aiohttp.ClientTimeout(total=min(timeout, 2.0))
        self.handback_intent = handback_intent

    @property
    def base_url(self) -> str:
        """The first configured server (single-server deployments, logs)."""
        return self.base_urls[0]

    def _order(self, conversation_id: str | None = None) -> list[str]:
        """Servers to try for one request, healthy ones first, then the others as a last resort.

        For a conversation, in the order of its rendezvous hash (the same server each time); otherwise round-robin.
        """
        if conversation_id is None:
            start = next(self._next)
            ordered = [self.base_urls[(start + i) % len(self.base_urls)] for i in range(len(self.base_urls))]
        else:
            ordered = sorted(self.base_urls, key=lambda url: _rendezvous(url, conversation_id), reverse=True)
        return [u for u in ordered if u in self.healthy] + [u for u in ordered if u not in self.healthy]

    def _mark(self, url: str, up: bool) -> None:
        if up and url not in self.healthy:
            log.info("Rasa server %s is up again", url)
            self.healthy.add(url)
        elif not up and url in self.healthy:
            log.warning("Rasa server %s is down; using the others", url)
            self.healthy.discard(url)

    @property
    def model_id(self) -> str | None:
        """The model of the first healthy server (the one the tracker is read from); None until a check learnt it."""
        url = next((u for u in self.base_urls if u in self.healthy), self.base_urls[0])
        return self.model_ids.get(url)

    async def check_health(self) -> None:
        """Probe every server with ``GET /status`` (its loaded model) and update which ones are used first."""
        if self.http is None:
            return

        async def probe(url: str) -> None:
            assert self.http is not None
            params = {"token": self.token} if self.token else {}
            try:
                async with self.http.get(f"{url}/status", params=params, timeout=self.health_timeout) as resp:
                    self._mark(url, resp.status < 500)
                    body = await resp.json(content_type=None) if resp.status == 200 else None
            except (aiohttp.ClientError, asyncio.TimeoutError):
                self._mark(url, False)
                return
            except ValueError:
                return
            model = body.get("model_id") if isinstance(body, dict) else None
            if isinstance(model, str) and 0 < len(model) <= 64:
                self.model_ids[url] = model

        await asyncio.gather(*(probe(u) for u in self.base_urls))

    async def _post(self, path: str, body: Any, params: dict[str, str] | None = None, *,
                    conversation_id: str | None = None) -> Any:
        query = dict(params or {})
        if self.token:
            query["token"] = self.token
        if self.http is None:
            raise RasaUnavailable("HTTP session not started")
        last: RasaUnavailable | None = None
        for url in self._order(conversation_id):
            try:
                async with self.http.post(f"{url}{path}", json=body, params=query, timeout=self.timeout) as resp:
                    if resp.status >= 500 and len(self.base_urls) > 1:
                        self._mark(url, False)
                        last = RasaUnavailable(f"Rasa answered HTTP {resp.status} on {path.split('?')[0]}")
                        continue
                    if resp.status >= 400:
                        raise RasaUnavailable(f"Rasa answered HTTP {resp.status} on {path.split('?')[0]}")
                    self._mark(url, True)
                    return await resp.json(content_type=None)
            except aiohttp.ClientConnectionError as exc:
                # Refused, reset or dropped (a killed server, or a pooled connection to it): try the next one.
                # At-least-once, like the re-delivery after a gateway restart; a timeout is not retried.
                self._mark(url, False)
                last = RasaUnavailable(f"Rasa unreachable: {type(exc).__name__}")
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
                raise RasaUnavailable(f"Rasa unreachable: {type(exc).__name__}") from exc
        assert last is not None
        raise last

    async def send_message(self, sender: str, message: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
        """POST the message to the REST webhook; return the bot's replies."""
        replies = await self._post("/webhooks/rest/webhook", {"sender": sender, "message": message, "metadata": metadata},
                                   conversation_id=sender)
        if not isinstance(replies, list):
            raise RasaUnavailable("Rasa returned a non-list reply")
        return [r for r in replies if isinstance(r, dict)]

    async def new_session(self, conversation_id: str) -> None:
        """Resume the tracker and start a fresh session (after a resolved hand-off).

        ``action_handoff`` paused the tracker; a paused Rasa answers nothing. The next message then runs
        ``action_session_start`` with the gateway's metadata (verified identity), and the old request's
        strikes and pending steps are gone.
        """
        cid = quote(conversation_id, safe="")
        await self._post(f"/conversations/{cid}/tracker/events", [{"event": "resume"}, {"event": "session_started"}],
                         conversation_id=conversation_id)

    async def tracker(self, conversation_id: str) -> dict[str, Any]:
        """The conversation's tracker without its events (slots, ``latest_message``), for the escalation predictor.

        Read-only, so no fail-over bookkeeping: the conversation's first healthy server (they share the tracker store)
        is asked; any error is ``RasaUnavailable`` and the caller skips the prediction.
        """
        if self.http is None:
            raise RasaUnavailable("HTTP session not started")
        cid = quote(conversation_id, safe="")
        query = {"include_events": "NONE", **({"token": self.token} if self.token else {})}
        url = self._order(conversation_id)[0]
        try:
            async with self.http.get(f"{url}/conversations/{cid}/tracker", params=query, timeout=self.timeout) as resp:
                if resp.status >= 400:
                    raise RasaUnavailable(f"Rasa answered HTTP {resp.status} on the tracker")
                body = await resp.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            raise RasaUnavailable(f"Rasa unreachable: {type(exc).__name__}") from exc
        if not isinstance(body, dict):
            raise RasaUnavailable("Rasa returned a non-object tracker")
        return body

    async def handback(self, conversation_id: str, entities: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """Resume the paused tracker and trigger the hand-back intent with ``entities``; return the bot's messages.

        Rasa turns an ``entities`` dict into ``[{"entity": name, "value": value}]`` on the triggered message, which
        ``action_handback`` reads from ``tracker.latest_message["entities"]`` (``open_question``, ``agent_name``).
        """
        cid = quote(conversation_id, safe="")
        await self._post(f"/conversations/{cid}/tracker/events", {"event": "resume"}, conversation_id=conversation_id)
        result = await self._post(
            f"/conversations/{cid}/trigger_intent",
            {"name": self.handback_intent, "entities": dict(entities or {})},
            params={"output_channel": "collector"},
            conversation_id=conversation_id,
        )
        messages = result.get("messages") if isinstance(result, dict) else None
        return [m for m in messages or [] if isinstance(m, dict)]
