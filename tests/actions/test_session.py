"""Session start: verified identity only from the gateway's voucher, nothing from unvouched claims or old sessions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from actions import services
from actions.backend import DemoBackend
from actions.session import ActionSessionStart
from contract.vouch import vouch
from tests.actions.conftest import ANA, CHLOE, make_tracker, run_action, slot_values

SECRET = "test-vouch-secret-0123456789"
SENDER = "test-conversation"


@pytest.fixture(autouse=True)
def _vouch_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOUCH_SECRET", SECRET)
    services.settings.cache_clear()


def vouched(customer_id: str, sender: str = SENDER, secret: str = SECRET) -> dict[str, Any]:
    return {"customer": vouch(secret, sender, {"id": customer_id, "email": None, "name": None})}


def start(metadata: Any, slots: dict | None = None):  # type: ignore[no-untyped-def]
    return make_tracker({**(slots or {}), "session_started_metadata": metadata}, None, "", events=[],
                        latest_action_name="action_session_start", sender_id=SENDER)


async def test_verified_enterprise_customer_is_recognised(store: DemoBackend) -> None:
    _, events = await run_action(ActionSessionStart(), start(vouched("cus_1003")))
    assert events[0]["event"] == "session_started"
    assert (events[-1]["event"], events[-1]["name"]) == ("action", "action_listen")
    slots = slot_values(events)
    assert slots["customer_id"] == "cus_1003"
    assert slots["customer_verified"] is True
    assert slots["customer_tier"] == "enterprise"
    assert slots["fast_lane"] is True
    assert slots["email"] == CHLOE


async def test_verified_ordinary_customer_is_not_fast_lane(store: DemoBackend) -> None:
    _, events = await run_action(ActionSessionStart(), start(vouched("cus_1001")))
    slots = slot_values(events)
    assert (slots["customer_id"], slots["email"], slots["fast_lane"]) == ("cus_1001", ANA, False)


@pytest.mark.parametrize("metadata", [
    # What anyone who reaches Rasa's port could send: verified claims without the gateway's voucher.
    {"customer": {"id": "cus_1003", "verified": True}},
    {"customer": {"id": "cus_1004", "verified": True, "email": "dev.patel@example.com"}},
    {"customer": {**vouched("cus_1003")["customer"], "id": "cus_1004"}},  # a voucher moved to another customer
    vouched("cus_1003", sender="another-conversation"),  # a voucher replayed on another conversation
    vouched("cus_1003", secret="a-guessed-secret"),
    {"customer": {**vouched("cus_1003")["customer"], "voucher": "é" * 64}},
    {"customer": {**vouched("cus_1003")["customer"], "verified": "yes"}},
    {"customer": {"id": "cus_1003", "verified": False}},
    {"customer": {"id": "cus_1003"}},
    {"customer": {"verified": True}},
    {"customer": {"id": "cus_9999", "verified": True}},
    {"customer": "cus_1003"},
    {},
    None,
    "garbage",
])
async def test_unverified_or_unknown_claims_set_no_identity(store: DemoBackend, metadata: Any) -> None:
    _, events = await run_action(ActionSessionStart(), start(metadata))
    slots = slot_values(events)
    for name in ("customer_id", "customer_verified", "customer_tier", "fast_lane", "email"):
        assert slots.get(name) in (None, False), (name, slots)


async def test_neither_identity_nor_request_state_outlives_the_session(store: DemoBackend) -> None:
    # The next person on a shared browser starts a new session with no voucher: nothing of the last one's
    # verified identity (nor the email they gave) carries over.
    previous = {"email": ANA, "customer_id": "cus_1001", "customer_verified": True, "customer_tier": "pro",
                "fast_lane": False, "pending_step": "unlock_link", "handoff_requested": True, "hypothesis": "old",
                "verification_code": "verified", "dispute_reference": "INV-1071", "invoice_id": "INV-1071"}
    _, events = await run_action(ActionSessionStart(), start(None, previous))
    slots = slot_values(events)
    for name in ("email", "customer_id", "customer_verified", "customer_tier", "fast_lane", "pending_step",
                 "handoff_requested", "hypothesis", "verification_code", "dispute_reference",
                 "session_started_metadata"):
        assert name not in slots
    assert slots["invoice_id"] == "INV-1071"  # what the conversation was about still carries over


async def test_a_new_voucher_replaces_the_previous_sessions_identity(store: DemoBackend) -> None:
    previous = {"email": ANA, "customer_id": "cus_1001", "customer_verified": True, "customer_tier": "pro"}
    _, events = await run_action(ActionSessionStart(), start(vouched("cus_1003"), previous))
    slots = slot_values(events)
    assert (slots["customer_id"], slots["email"], slots["customer_tier"]) == ("cus_1003", CHLOE, "enterprise")


async def test_backend_down_at_session_start_is_anonymous(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("DEMO_BACKEND_DB", str(blocker / "b.db"))
    services.settings.cache_clear()
    services.backend.cache_clear()
    _, events = await run_action(ActionSessionStart(), start(vouched("cus_1003")))
    assert "customer_id" not in slot_values(events)
    assert events[-1]["name"] == "action_listen"
