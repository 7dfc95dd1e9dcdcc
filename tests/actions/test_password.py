"""Password resets and locked accounts: the link goes to the inbox on file; a security hold goes to a person."""

from __future__ import annotations

from pathlib import Path

import pytest

from actions import services
from actions.backend import DemoBackend
from actions.forms import AskEmail
from actions.password import ActionPasswordReset, ValidatePasswordResetForm
from tests.actions.conftest import (
    ANA,
    BEN,
    EMMA,
    buttons,
    form_tracker,
    make_tracker,
    run_action,
    said,
    slot_values,
    token_of,
)

FORM = "password_reset_form"


async def test_reset_link_for_ana(store: DemoBackend) -> None:
    dispatcher, events = await run_action(ActionPasswordReset(), make_tracker({"email": ANA}, "inform", ANA))
    text = said(dispatcher)
    assert "a***@example.com" in text and "expires in 30 minutes" in text and "Did it work?" in text
    assert {b["payload"] for b in buttons(dispatcher)} == {"/affirm", "/step_failed"}
    mails = store.outbox(to=ANA)
    assert [m["purpose"] for m in mails] == ["password_reset"]
    assert token_of(mails[0]) not in text and "token" not in text
    slots = slot_values(events)
    assert slots["pending_step"] == "password_reset_link"
    assert slots["steps_attempted"][-1]["step"] == "password_reset_link"
    assert slots["steps_attempted"][-1]["outcome"] == "sent"
    assert "handoff_requested" not in slots
    assert store.redeem(token_of(mails[0]), "password_reset") == "cus_1001"


async def test_verified_customer_needs_no_email(store: DemoBackend) -> None:
    tracker = make_tracker({"customer_id": "cus_1001", "customer_verified": True}, "reset_password", "reset my password")
    _, events = await run_action(ActionPasswordReset(), tracker)
    assert slot_values(events)["pending_step"] == "password_reset_link"
    assert len(store.outbox(to=ANA)) == 1


async def test_ben_locked_by_failed_attempts_gets_an_unlock_link(store: DemoBackend) -> None:
    dispatcher, events = await run_action(ActionPasswordReset(), make_tracker({"email": BEN}, "account_locked"))
    text = said(dispatcher)
    assert "locked after 5 failed sign-in attempts" in text and "b***@example.com" in text
    assert slot_values(events)["pending_step"] == "unlock_link"
    mail = store.outbox(to=BEN)[-1]
    assert mail["purpose"] == "unlock_reset"
    assert store.redeem(token_of(mail), "unlock_reset") == "cus_1002"
    assert store.customer_by_email(BEN).status == "active"  # type: ignore[union-attr]


async def test_emma_on_security_hold_goes_to_a_person(store: DemoBackend) -> None:
    dispatcher, events = await run_action(ActionPasswordReset(), make_tracker({"email": EMMA}, "account_locked"))
    slots = slot_values(events)
    assert slots["handoff_requested"] is True
    assert slots["handoff_reason"] == "policy"
    assert "12 failed sign-in attempts" in slots["hypothesis"] and "security hold" in slots["hypothesis"]
    assert slots["steps_attempted"][-1] == {
        "step": "unlock_check", "outcome": "failed", "detail": "security hold, cannot unlock automatically"}
    assert store.outbox(to=EMMA) == []  # no link that could unlock a held account
    assert store.customer_by_email(EMMA).status == "locked"  # type: ignore[union-attr]
    assert dispatcher.messages == []


async def test_nothing_happens_once_a_handoff_is_requested(store: DemoBackend) -> None:
    dispatcher, events = await run_action(
        ActionPasswordReset(), make_tracker({"email": ANA, "handoff_requested": True}, "inform"))
    assert (dispatcher.messages, events) == ([], [])
    assert store.outbox() == []


async def test_unknown_account_is_handed_off(store: DemoBackend) -> None:
    dispatcher, events = await run_action(ActionPasswordReset(), make_tracker({"email": "x@nowhere.example"}))
    assert "couldn't find" in said(dispatcher)
    assert slot_values(events)["handoff_reason"] == "policy"


async def test_backend_down_is_said_and_handed_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("DEMO_BACKEND_DB", str(blocker / "b.db"))
    services.settings.cache_clear()
    services.backend.cache_clear()
    dispatcher, events = await run_action(ActionPasswordReset(), make_tracker({"email": ANA}))
    assert "can't reach our account system" in said(dispatcher)
    assert slot_values(events)["handoff_reason"] == "backend_unavailable"


async def test_ask_email_explains_where_the_link_goes() -> None:
    dispatcher, _ = await run_action(AskEmail(), make_tracker(active_loop=FORM))
    assert said(dispatcher) == "What's the email address on your account? I'll send the reset link there."
    dispatcher, _ = await run_action(AskEmail(), make_tracker(active_loop="invoice_form"))
    assert said(dispatcher) == "What's the email address on your account?"


async def test_valid_email_is_normalised_and_needs_no_code(store: DemoBackend) -> None:
    tracker = form_tracker(FORM, {"email": "it's Ana.Ortiz@Example.COM thanks"}, requested_slot="email")
    dispatcher, events = await run_action(ValidatePasswordResetForm(), tracker)
    slots = slot_values(events)
    assert slots["email"] == ANA
    assert slots["customer_tier"] == "pro" and slots["fast_lane"] is False
    assert "customer_verified" not in slots and "customer_id" not in slots  # knowing an email proves nothing
    assert store.outbox(to=ANA) == []  # no verification code for a reset: the link is the check
    assert dispatcher.messages == []


async def test_not_an_email_is_asked_again() -> None:
    dispatcher, events = await run_action(
        ValidatePasswordResetForm(), form_tracker(FORM, {"email": "ana at example"}, requested_slot="email"))
    assert slot_values(events)["email"] is None
    assert "doesn't look like an email address" in said(dispatcher)
    assert "strikes" not in slot_values(events)


async def test_password_typed_instead_of_email_gets_a_safety_warning() -> None:
    dispatcher, events = await run_action(
        ValidatePasswordResetForm(), form_tracker(FORM, {"email": "my password is hunter2"}, requested_slot="email"))
    assert slot_values(events)["email"] is None
    assert "please don't share passwords" in said(dispatcher)


async def test_unknown_email_counts_a_strike(store: DemoBackend) -> None:
    dispatcher, events = await run_action(
        ValidatePasswordResetForm(), form_tracker(FORM, {"email": "nobody@example.com"}, requested_slot="email"))
    slots = slot_values(events)
    assert slots["email"] is None
    assert slots["strikes"] == 1.0 and slots["strike_kinds"] == ["account_not_found"]
    assert "handoff_requested" not in slots
    assert "couldn't find an account with nobody@example.com" in said(dispatcher)


async def test_third_unknown_email_requests_a_person(store: DemoBackend) -> None:
    tracker = form_tracker(
        FORM, {"email": "nobody@example.com"}, requested_slot="email",
        slots={"strikes": 2.0, "strike_kinds": ["account_not_found", "account_not_found"]},
    )
    dispatcher, events = await run_action(ValidatePasswordResetForm(), tracker)
    slots = slot_values(events)
    assert slots["strikes"] == 3.0
    assert slots["handoff_requested"] is True and slots["handoff_reason"] == "three_strikes"
    assert "nobody@example.com" in slots["hypothesis"]
    assert slots["requested_slot"] is None  # the form stops asking
    assert dispatcher.messages == []


async def test_closed_account_is_not_found(store: DemoBackend) -> None:
    store.close_account("cus_1001")
    _, events = await run_action(ValidatePasswordResetForm(), form_tracker(FORM, {"email": ANA}, requested_slot="email"))
    assert slot_values(events)["email"] is None
