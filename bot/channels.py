"""The gateway's channel into Rasa: Rasa's REST webhook, answered only for callers holding the gateway's token.

Stock ``rest`` answers anyone who reaches the port and passes their ``metadata`` on to the actions. This channel is
the same webhook (``POST /webhooks/rest/webhook``, same request and reply shapes) with a credential: ``?token=`` or
``Authorization: Bearer``, compared in constant time with ``token`` from ``credentials.yml`` (``${RASA_TOKEN}``, the
token the gateway also uses for Rasa's HTTP API). Without a token configured the server does not start.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse


class GatewayInput(RestInput):
    """Rasa's REST channel behind the gateway's token."""

    @classmethod
    def name(cls) -> str:
        """Served where stock ``rest`` is, so clients of its protocol only add the token."""
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> GatewayInput:
        """Build from ``credentials.yml``; a missing or short token is a configuration error, not an open door."""
        token = str((credentials or {}).get("token") or "")
        if len(token) < 16:
            raise ValueError(
                "bot.channels.GatewayInput needs `token` in credentials.yml (${RASA_TOKEN}, at least 16 characters)"
            )
        return cls(token)

    def __init__(self, token: str) -> None:
        """Keep the token the gateway must present."""
        self.token = token.encode("utf-8")

    def authorized(self, request: Request) -> bool:
        """The request carries the gateway's token (query ``token`` or a bearer header)."""
        offered = request.args.get("token") or ""
        header = request.headers.get("Authorization") or ""
        if not offered and header[:7].lower() == "bearer ":
            offered = header[7:].strip()
        return bool(offered) and hmac.compare_digest(offered.encode("utf-8", "replace"), self.token)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        """The REST webhook, with every POST checked for the token first."""
        webhook = super().blueprint(on_new_message)

        @webhook.middleware("request")
        async def require_token(request: Request) -> HTTPResponse | None:
            if request.method == "POST" and not self.authorized(request):
                return response.json({"error": "a valid token is required", "code": "unauthorized"}, status=401)
            return None

        return webhook
