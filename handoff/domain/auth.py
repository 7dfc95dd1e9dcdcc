"""Agent authentication: argon2 password hashes and short-lived HMAC-signed tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


class TokenError(ValueError):
    """A token that is missing, malformed, forged or expired."""


@dataclass(frozen=True)
class TokenClaims:
    """What a valid token says about its bearer."""

    agent_id: int
    role: str
    expires_at: int


def hash_password(password: str) -> str:
    """Argon2id hash of ``password``."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches the stored hash (never raises)."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, body: str) -> str:
    return _b64(hmac.new(secret.encode("utf-8"), body.encode("ascii"), hashlib.sha256).digest())


def issue_token(secret: str, agent_id: int, role: str, ttl_seconds: int, now: float | None = None) -> str:
    """A token ``<payload>.<mac>`` valid for ``ttl_seconds``."""
    issued = int(time.time() if now is None else now)
    payload = {"sub": agent_id, "role": role, "iat": issued, "exp": issued + ttl_seconds}
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode("utf-8"))
    return f"{body}.{_mac(secret, body)}"


def verify_token(secret: str, token: object, now: float | None = None) -> TokenClaims:
    """Check signature and expiry.

    Raises:
        TokenError: with a reason safe to show (never echoes the token).
    """
    if not isinstance(token, str) or token.count(".") != 1 or len(token) > 2048:
        raise TokenError("missing or malformed token")
    if not token.isascii():  # a token is base64url; hmac.compare_digest raises TypeError on non-ASCII str
        raise TokenError("malformed token")
    body, mac = token.split(".")
    if not hmac.compare_digest(_mac(secret, body), mac):
        raise TokenError("invalid token signature")
    try:
        payload = json.loads(_unb64(body))
        claims = TokenClaims(int(payload["sub"]), str(payload["role"]), int(payload["exp"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise TokenError("malformed token") from exc
    if claims.expires_at <= int(time.time() if now is None else now):
        raise TokenError("token expired")
    return claims
