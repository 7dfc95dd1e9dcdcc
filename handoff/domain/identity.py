"""Customer identity verification (HMAC-SHA256 over the host page's claims, like Intercom's).

The host page signs ``f"{customer_id}|{email}|{name}"`` (UTF-8, empty string for a missing email or
name) with the per-site ``IDENTITY_SECRET`` and passes the lowercase hex digest as ``signature`` in
``customData``. Fields containing ``|`` are rejected so that the string is unambiguous.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from typing import Any

from contract.redact import contains_secret

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Identity:
    """Who the customer is; only ``verified`` identities carry claims."""

    verified: bool = False
    customer_id: str | None = None
    email: str | None = None
    name: str | None = None


ANONYMOUS = Identity()


def signed_string(customer_id: str, email: str, name: str) -> str:
    """The exact string the host page signs."""
    return f"{customer_id}|{email}|{name}"


def sign(secret: str, customer_id: str, email: str = "", name: str = "") -> str:
    """Hex HMAC-SHA256 signature of the claims (what the host page's backend computes)."""
    message = signed_string(customer_id, email, name).encode("utf-8")
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def verify(custom_data: Any, secret: str) -> Identity:
    """Return a verified identity for correctly signed claims, otherwise anonymous."""
    if not isinstance(custom_data, dict) or not secret:
        return ANONYMOUS
    customer_id = custom_data.get("customer_id")
    email = custom_data.get("email") or ""
    name = custom_data.get("name") or ""
    signature = custom_data.get("signature")
    if not isinstance(customer_id, str) or not customer_id or len(customer_id) > 64:
        return ANONYMOUS
    if not isinstance(email, str) or not isinstance(name, str) or not isinstance(signature, str):
        return ANONYMOUS
    if any("|" in v for v in (customer_id, email, name)) or len(email) > 320 or len(name) > 200:
        return ANONYMOUS
    given = signature.strip().lower()
    # A hex digest is ASCII (compare_digest raises TypeError on non-ASCII str); claims that UTF-8 cannot encode
    # (lone surrogates from a JSON-string customData) were never signed either.
    if not given.isascii():
        return ANONYMOUS
    try:
        expected = sign(secret, customer_id, email, name)
    except UnicodeEncodeError:
        return ANONYMOUS
    if not hmac.compare_digest(expected, given):
        return ANONYMOUS
    if any(contains_secret(v) for v in (customer_id, email, name)):
        # Signed, but it would put a card number or a key into every event and summary: a host page bug.
        log.warning("signed identity claims hold a secret (card number, key...); customer treated as anonymous")
        return ANONYMOUS
    return Identity(True, customer_id, email or None, name or None)
