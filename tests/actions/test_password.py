"""Password resets and locked accounts: the link goes to the inbox on file; a security hold goes to a person."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
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
    said_of,
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
    assert "unlocks the account" in text and "b***@example.com" in text
    assert "locked after" not in text  # not to someone who only typed the address (see the security tests below)
    assert slot_values(events)["pending_step"] == "unlock_link"
    mail = store.outbox(to=BEN)[-1]
    assert mail["purpose"] == "unlock_reset"
    assert store.redeem(token_of(mail), "unlock_reset") == "cus_1002"
    assert store.customer_by_email(BEN).status == "active"  # type: ignore[union-attr]


async def test_signed_in_ben_hears_why_his_account_is_locked(store: DemoBackend) -> None:
    tracker = make_tracker({"customer_id": "cus_1002", "customer_verified": True, "email": BEN}, "account_locked")
    dispatcher, events = await run_action(ActionPasswordReset(), tracker)
    assert "locked after 5 failed sign-in attempts" in said(dispatcher) and "b***@example.com" in said(dispatcher)
    assert slot_values(events)["pending_step"] == "unlock_link"
    assert store.outbox(to=BEN)[-1]["purpose"] == "unlock_reset"


async def test_signed_in_emma_on_security_hold_goes_to_a_person(store: DemoBackend) -> None:
    tracker = make_tracker({"customer_id": "cus_1005", "customer_verified": True, "email": EMMA}, "account_locked")
    dispatcher, events = await run_action(ActionPasswordReset(), tracker)
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


async def test_unknown_account_is_not_told_apart(store: DemoBackend) -> None:
    dispatcher, events = await run_action(ActionPasswordReset(), make_tracker({"email": "x@nowhere.example"}))
    assert "sent a password reset link to x***@nowhere.example, if there's an account" in said(dispatcher)
    assert "handoff_requested" not in slot_values(events)
    assert slot_values(events)["pending_step"] == "password_reset_link"
    assert store.outbox() == []


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
    # Knowing an email proves nothing: no identity, no tier, no fast lane.
    assert slots == {"email": ANA}
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


async def test_unknown_email_is_accepted_without_a_strike(store: DemoBackend) -> None:
    dispatcher, events = await run_action(
        ValidatePasswordResetForm(), form_tracker(FORM, {"email": "nobody@example.com"}, requested_slot="email"))
    slots = slot_values(events)
    assert slots["email"] == "nobody@example.com"
    assert "strikes" not in slots and "customer_tier" not in slots
    assert dispatcher.messages == []


async def test_closed_account_is_answered_like_no_account(store: DemoBackend) -> None:
    store.close_account("cus_1001")
    _, events = await run_action(ValidatePasswordResetForm(), form_tracker(FORM, {"email": ANA}, requested_slot="email"))
    assert slot_values(events)["email"] == ANA and "customer_tier" not in slot_values(events)
    dispatcher, _ = await run_action(ActionPasswordReset(), make_tracker({"email": ANA}, "reset_password"))
    assert "if there's an account with that address" in said(dispatcher)
    assert [m["purpose"] for m in store.outbox(to=ANA)] == ["account_closed"]  # no reset link for a closed account


# -- security: no account enumeration, a per-address send limit, one live link at a time, no secrets in logs --------
# Pairs of addresses that mask the same way (a***@example.com): one has an account, the other does not.
LOOKALIKES = [
    (ANA, "anna.nobody@example.com", "reset_password"),  # active account
    (BEN, "bob.nobody@example.com", "account_locked"),  # locked after failed attempts: unlock link
    (EMMA, "eve.nobody@example.org", "account_locked"),  # security hold: no link, and no visible hand-off either
]


@pytest.mark.parametrize(("real", "unknown", "intent"), LOOKALIKES, ids=["active", "locked", "security_hold"])
async def test_reset_answer_is_the_same_whether_or_not_an_account_exists(
    store: DemoBackend, real: str, unknown: str, intent: str
) -> None:
    answers = []
    for email in (real, unknown):
        validated, slots = await run_action(
            ValidatePasswordResetForm(), form_tracker(FORM, {"email": email}, requested_slot="email"))
        assert slot_values(slots)["email"] == email  # the form goes on the same way for both
        dispatcher, events = await run_action(ActionPasswordReset(), make_tracker({"email": email}, intent, email))
        answers.append((validated.messages, dispatcher.messages, slot_values(events).get("handoff_requested")))
    assert answers[0] == answers[1]
    text = said_of(answers[0][1])
    assert "if there's an account with that address" in text and "Did it work?" in text
    assert "couldn't find" not in text and "locked after" not in text
    assert answers[0][2] is None  # no hand-off (which would tell an existing, held account apart)
    assert store.outbox(to=unknown) == []


async def test_held_account_gets_a_notice_not_an_unlock_link(store: DemoBackend) -> None:
    _, events = await run_action(ActionPasswordReset(), make_tracker({"email": EMMA}, "account_locked"))
    assert [m["purpose"] for m in store.outbox(to=EMMA)] == ["security_hold_notice"]
    assert "token=" not in store.outbox(to=EMMA)[0]["body"]
    assert "ask for a person" in store.outbox(to=EMMA)[0]["body"]
    assert store.customer_by_email(EMMA).status == "locked"  # type: ignore[union-attr]
    slots = slot_values(events)
    assert slots["steps_attempted"][-1]["step"] == "unlock_check" and "security hold" in slots["hypothesis"]


async def test_fourth_reset_in_an_hour_sends_nothing_and_says_so_the_same_way(store: DemoBackend) -> None:
    said_for: dict[str, list[str]] = {}
    for email in (ANA, "anna.nobody@example.com"):
        said_for[email] = []
        for _ in range(4):
            dispatcher, _ = await run_action(ActionPasswordReset(), make_tracker({"email": email}, "reset_password"))
            said_for[email].append(said(dispatcher))
    assert said_for[ANA] == said_for["anna.nobody@example.com"]
    assert len(set(said_for[ANA][:3])) == 1 and said_for[ANA][3] != said_for[ANA][0]
    assert "several times in the last hour" in said_for[ANA][3]
    assert len(store.outbox(to=ANA)) == 3  # the fourth request sent nothing


async def test_reset_limit_is_kept_in_the_database_and_slides_after_an_hour(
    store: DemoBackend, isolated_backend: Path
) -> None:
    ana = store.customer_by_email(ANA)
    assert ana is not None
    for _ in range(3):
        await run_action(ActionPasswordReset(), make_tracker({"email": ANA}, "reset_password"))
    services.backend.cache_clear()  # a restarted action server still knows
    dispatcher, _ = await run_action(ActionPasswordReset(), make_tracker({"email": ANA}, "reset_password"))
    assert "several times in the last hour" in said(dispatcher)
    with sqlite3.connect(isolated_backend) as db:  # an hour and a minute later
        an_hour_ago = (datetime.now(timezone.utc) - timedelta(minutes=61)).isoformat(timespec="microseconds")
        db.execute("UPDATE send_log SET created_at = ?", (an_hour_ago,))
    db.close()
    dispatcher, _ = await run_action(ActionPasswordReset(), make_tracker({"email": ANA}, "reset_password"))
    assert "several times in the last hour" not in said(dispatcher)
    assert len(store.outbox(to=ANA)) == 4


async def test_a_new_reset_link_voids_the_earlier_one(store: DemoBackend) -> None:
    await run_action(ActionPasswordReset(), make_tracker({"email": ANA}, "reset_password"))
    await run_action(ActionPasswordReset(), make_tracker({"email": ANA}, "reset_password"))
    first, second = (token_of(mail) for mail in store.outbox(to=ANA))
    assert store.redeem(first, "password_reset") is None
    assert store.redeem(second, "password_reset") == "cus_1001"


async def test_reset_logs_neither_the_link_token_nor_the_address(
    store: DemoBackend, raw_logs: pytest.LogCaptureFixture
) -> None:
    await run_action(ValidatePasswordResetForm(), form_tracker(FORM, {"email": ANA}, requested_slot="email"))
    await run_action(ActionPasswordReset(), make_tracker({"email": ANA}, "reset_password"))
    await run_action(ActionPasswordReset(), make_tracker({"email": BEN}, "account_locked"))
    logged = "\n".join(record.getMessage() for record in raw_logs.records)
    assert "a***@example.com" in logged and "b***@example.com" in logged  # the send itself is logged
    for mail in store.outbox():
        assert token_of(mail) not in logged and mail["body"] not in logged
    assert ANA not in logged and BEN not in logged
