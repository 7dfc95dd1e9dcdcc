"""HTTP client to the Rasa server: REST webhook for messages, HTTP API for the hand-back."""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import quote

import aiohttp

log = logging.getLogger(__name__)


class RasaUnavailable(Exception):
    """Rasa is down, timed out, or answered with an error."""


class RasaClient:
    """Talks to one Rasa server over HTTP."""

    def __init__(
        self,
        http: aiohttp.ClientSession | None,
        base_url: str,
        *,
        token: str = "",
        timeout: float = 10.0,
        handback_intent: str = "handback",
    ) -> None:
        """Bind to a shared aiohttp session (may be set later, once the loop runs)."""
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.handback_intent = handback_intent

    async def _post(self, path: str, body: Any, params: dict[str, str] | None = None) -> Any:
        query = dict(params or {})
        if self.token:
            query["token"] = self.token
        if self.http is None:
            raise RasaUnavailable("HTTP session not started")
        try:
            async with self.http.post(f"{self.base_url}{path}", json=body, params=query, timeout=self.timeout) as resp:
                if resp.status >= 400:
                    raise RasaUnavailable(f"Rasa answered HTTP {resp.status} on {path.split('?')[0]}")
                return await resp.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            raise RasaUnavailable(f"Rasa unreachable: {type(exc).__name__}") from exc

    async def send_message(self, sender: str, message: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
        """POST the message to the REST webhook; return the bot's replies."""
        replies = await self._post("/webhooks/rest/webhook", {"sender": sender, "message": message, "metadata": metadata})
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
        await self._post(f"/conversations/{cid}/tracker/events", [{"event": "resume"}, {"event": "session_started"}])

    async def handback(self, conversation_id: str) -> list[dict[str, Any]]:
        """Resume the paused tracker and trigger the hand-back intent; return the bot's messages."""
        cid = quote(conversation_id, safe="")
        await self._post(f"/conversations/{cid}/tracker/events", {"event": "resume"})
        result = await self._post(
            f"/conversations/{cid}/trigger_intent",
            {"name": self.handback_intent, "entities": {}},
            params={"output_channel": "collector"},
        )
        messages = result.get("messages") if isinstance(result, dict) else None
        return [m for m in messages or [] if isinstance(m, dict)]
