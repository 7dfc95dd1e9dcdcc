"""``python -m actions.server``: the action server, on loopback, answering only Rasa (it holds ``ACTIONS_TOKEN``).

``rasa run actions`` binds every interface and runs any caller's tracker: whoever reaches the port could post a
tracker with ``customer_verified`` set and read that customer's invoices. Here the rasa_sdk app is the same, bound
to ``ACTIONS_HOST`` (127.0.0.1 unless configured) and with every route but ``/health`` behind the token Rasa sends
(``action_endpoint.token`` in endpoints.yml, as ``?token=``). Without a token it does not start.
"""

from __future__ import annotations

import argparse
import hmac
import logging
import os
import sys
from collections.abc import Mapping, Sequence

from rasa_sdk import utils
from rasa_sdk.endpoint import create_app
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

MIN_TOKEN_LENGTH = 16
OPEN_PATHS = frozenset({"/health"})

logger = logging.getLogger(__name__)


def authorized(request: Request, token: bytes) -> bool:
    """The caller presents the action server's token (``?token=`` as Rasa sends it, or a bearer header)."""
    offered = request.args.get("token") or ""
    header = request.headers.get("Authorization") or ""
    if not offered and header[:7].lower() == "bearer ":
        offered = header[7:].strip()
    return bool(offered) and hmac.compare_digest(offered.encode("utf-8", "replace"), token)


def build_app(token: str) -> Sanic:
    """The rasa_sdk action server for the ``actions`` package, every route but /health behind ``token``."""
    if len(token) < MIN_TOKEN_LENGTH:
        raise ValueError(f"ACTIONS_TOKEN is missing or shorter than {MIN_TOKEN_LENGTH} characters")
    app = create_app("actions", cors_origins=None)
    expected = token.encode("utf-8")

    @app.middleware("request")
    async def require_token(request: Request) -> HTTPResponse | None:
        if request.path not in OPEN_PATHS and not authorized(request, expected):
            return response.json({"error": "a valid token is required", "code": "unauthorized"}, status=401)
        return None

    return app


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """Parse the port and host, check the token, serve until stopped."""
    env = os.environ if env is None else env
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=env.get("ACTIONS_HOST") or "127.0.0.1")
    parser.add_argument("--port", type=int, default=int(env.get("ACTIONS_PORT") or 5055))
    args = parser.parse_args(argv)
    utils.configure_colored_logging(env.get("LOG_LEVEL_SDK", "INFO"))
    try:
        app = build_app(env.get("ACTIONS_TOKEN", ""))
    except ValueError as exc:
        print(f"actions: configuration error: {exc} (`make run` writes one to var/run.env)", file=sys.stderr)
        return 2
    logger.info("Action server on http://%s:%s (token required)", args.host, args.port)
    app.run(args.host, args.port, workers=1, access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
