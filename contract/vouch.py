"""The gateway vouches for a customer's identity; the action server checks the voucher itself.

Only the gateway verifies the host page's signature (``IDENTITY_SECRET``). What it passes on to Rasa in the
message metadata is the ``customer`` block plus ``voucher``: an HMAC-SHA256, keyed with ``VOUCH_SECRET`` (shared by
the gateway and the action server, nobody else), over the conversation's sender id and the claims. Rasa relays the
metadata unchanged; the action server trusts an identity only when the voucher checks out for that sender, so a
``"verified": true`` sent by anyone else (straight to Rasa's port, or replayed onto another conversation) is
anonymous.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

# The claims that are signed, in this order; anything else in the block is ignored.
CLAIMS = ("id", "email", "name")


def _message(sender_id: str, claims: Mapping[str, Any]) -> bytes:
    body = {"sender": sender_id, **{key: claims.get(key) for key in CLAIMS}}
    return json.dumps(body, separators=(",", ":"), sort_keys=True, ensure_ascii=True).encode("ascii")


def vouch(secret: str, sender_id: str, claims: Mapping[str, Any]) -> dict[str, Any]:
    """The ``customer`` metadata block for a verified customer of conversation ``sender_id``, with its voucher."""
    block: dict[str, Any] = {key: claims.get(key) for key in CLAIMS}
    block["verified"] = True
    block["voucher"] = hmac.new(secret.encode("utf-8"), _message(sender_id, block), hashlib.sha256).hexdigest()
    return block


def vouched_customer_id(secret: str, sender_id: str, block: Any) -> str | None:
    """The customer id of a block the gateway vouched for on this sender, else ``None`` (never raises)."""
    if not secret or not isinstance(block, dict) or block.get("verified") is not True:
        return None
    customer_id, voucher = block.get("id"), block.get("voucher")
    if not isinstance(customer_id, str) or not customer_id or not isinstance(voucher, str) or len(voucher) != 64:
        return None
    if not all(block.get(key) is None or isinstance(block.get(key), str) for key in CLAIMS):
        return None
    try:
        expected = hmac.new(secret.encode("utf-8"), _message(sender_id, block), hashlib.sha256).hexdigest()
    except (TypeError, ValueError, UnicodeError):
        return None
    if not hmac.compare_digest(expected.encode("ascii"), voucher.encode("utf-8", "replace")):
        return None
    return customer_id
