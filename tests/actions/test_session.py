"""Session start: verified identity from the gateway's metadata, nothing from unverified claims."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from actions import services
from actions.backend import DemoBackend
from actions.session import ActionSessionStart
from tests.actions.conftest import ANA, CHLOE, make_tracker, run_action, slot_values


def start(metadata: Any, slots: dict | None = None):  # type: ignore[no-untyped-def]
    return make_tracker({**(slots or {}), "session_started_metadata": metadata}, None, "", events=[],
                        latest_action_name="action_session_start")


async def test_verified_enterprise_customer_is_recognised(store: DemoBackend) -> None:
    _, events = await run_action(ActionSessionStart(), start({"customer": {"id": "cus_1003", "verified": True}}))
    assert events[0]["event"] == "session_started"
    assert (events[-1]["event"], events[-1]["name"]) == ("action", "action_listen")
    slots = slot_values(events)
    assert slots["customer_id"] == "cus_1003"
    assert slots["customer_verified"] is True
    assert slots["customer_tier"] == "enterprise"
    assert slots["fast_lane"] is True
    assert slots["email"] == CHLOE


async def test_verified_ordinary_customer_is_not_fast_lane(store: DemoBackend) -> None:
    _, events = await run_action(ActionSessionStart(), start({"customer": {"id": "cus_1001", "verified": True}}))
    slots = slot_values(events)
    assert (slots["customer_id"], slots["email"], slots["fast_lane"]) == ("cus_1001", ANA, False)


@pytest.mark.parametrize("metadata", [
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


async def test_customer_facts_carry_over_but_request_state_does_not(store: DemoBackend) -> None:
    previous = {"email": ANA, "customer_tier": "pro", "pending_step": "unlock_link", "handoff_requested": True,
                "hypothesis": "old", "verification_code": "verified", "dispute_reference": "INV-1071"}
    _, events = await run_action(ActionSessionStart(), start(None, previous))
    slots = slot_values(events)
    assert slots["email"] == ANA and slots["customer_tier"] == "pro"
    for name in ("pending_step", "handoff_requested", "hypothesis", "verification_code", "dispute_reference",
                 "session_started_metadata"):
        assert name not in slots


async def test_backend_down_at_session_start_is_anonymous(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("DEMO_BACKEND_DB", str(blocker / "b.db"))
    services.settings.cache_clear()
    services.backend.cache_clear()
    _, events = await run_action(ActionSessionStart(), start({"customer": {"id": "cus_1003", "verified": True}}))
    assert "customer_id" not in slot_values(events)
    assert events[-1]["name"] == "action_listen"
