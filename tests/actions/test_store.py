"""The demo business backend on a real SQLite file: seed, lookups, links, codes, refunds, failures."""

from __future__ import annotations

import base64
import hashlib
import hmac
import sqlite3
from datetime import date, timedelta
from pathlib import Path

import pytest

from actions.backend import BackendUnavailable, CodeCheck, Customer, DemoBackend
from actions.backend.store import duplicate_of
from actions.settings import ActionSettings
from tests.actions.conftest import ANA, BEN, CHLOE, DEV, EMMA, FELIX, GRACE, token_of

SEED = ActionSettings().seed_path


def make_backend(db: Path, ttl: int = 30) -> DemoBackend:
    backend = DemoBackend(db, SEED, "http://bot.test/", ttl)
    backend.ensure_seeded()
    return backend


def test_seed_loads_the_demo_business(store: DemoBackend) -> None:
    ana = store.customer_by_id("cus_1001")
    assert ana is not None and ana.email == ANA and ana.tier == "pro" and ana.status == "active"
    ben = store.customer_by_email(BEN)
    assert ben is not None and (ben.status, ben.lock_reason, ben.failed_logins) == ("locked", "failed_attempts", 5)
    emma = store.customer_by_email(EMMA)
    assert emma is not None and (emma.status, emma.lock_reason) == ("locked", "security_hold")
    chloe = store.customer_by_email(CHLOE)
    assert chloe is not None and chloe.renewal_in_days(date.today()) in (19, 20, 21)
    assert store.customer_by_email(GRACE).mrr == 1500.0  # type: ignore[union-attr]


def test_ensure_seeded_keeps_existing_data(tmp_path: Path) -> None:
    backend = make_backend(tmp_path / "b.db")
    backend.update_name("cus_1001", "Ana Changed")
    backend.ensure_seeded()
    assert backend.customer_by_id("cus_1001").name == "Ana Changed"  # type: ignore[union-attr]
    backend.reset()
    assert backend.customer_by_id("cus_1001").name == "Ana Ortiz"  # type: ignore[union-attr]


def test_customer_lookup_by_email_ignores_case_and_spaces(store: DemoBackend) -> None:
    found = store.customer_by_email("  Ana.ORTIZ@Example.com ")
    assert found is not None and found.id == "cus_1001"
    assert store.customer_by_email("nobody@example.com") is None
    assert store.customer_by_id("cus_9999") is None


@pytest.mark.parametrize(("email", "fast"), [(CHLOE, True), (ANA, False), (BEN, False), (FELIX, False)])
def test_fast_lane(store: DemoBackend, email: str, fast: bool) -> None:
    customer = store.customer_by_email(email)
    assert customer is not None
    assert store.is_fast_lane(customer) is fast


def test_grace_is_fast_lane_by_mrr(store: DemoBackend) -> None:
    grace = store.customer_by_email(GRACE)
    assert grace is not None and grace.tier != "enterprise"
    assert store.is_fast_lane(grace)


def test_fast_lane_by_mrr_and_by_renewal(store: DemoBackend) -> None:
    ana = store.customer_by_email(ANA)
    assert ana is not None
    today = date.today()
    rich = Customer(**{**ana.__dict__, "mrr": 5000.0})
    assert store.is_fast_lane(rich, today)
    renewing = Customer(**{**ana.__dict__, "renewal_date": today + timedelta(days=10)})
    assert store.is_fast_lane(renewing, today)
    lapsed = Customer(**{**ana.__dict__, "renewal_date": today - timedelta(days=1)})
    assert not store.is_fast_lane(lapsed, today)
    enterprise = Customer(**{**ana.__dict__, "tier": "enterprise", "mrr": 0.0, "renewal_date": None})
    assert store.is_fast_lane(enterprise, today)


def test_reset_link_is_emailed_and_works_once(store: DemoBackend) -> None:
    ana = store.customer_by_email(ANA)
    assert ana is not None
    link = store.send_password_reset(ana)
    assert link.sent_to == ANA and link.url.startswith("http://127.0.0.1:8090/account/reset?token=")
    mail = store.outbox(to=ANA)[-1]
    assert mail["purpose"] == "password_reset" and token_of(mail) == link.token
    assert store.redeem(link.token, "unlock_reset") is None  # wrong purpose
    assert store.redeem(link.token, "password_reset") == "cus_1001"
    assert store.redeem(link.token, "password_reset") is None


def test_expired_reset_link_is_rejected(tmp_path: Path) -> None:
    backend = make_backend(tmp_path / "b.db", ttl=-1)
    ana = backend.customer_by_email(ANA)
    assert ana is not None
    link = backend.send_password_reset(ana)
    assert backend.redeem(link.token, "password_reset") is None


def test_unknown_token_is_rejected(store: DemoBackend) -> None:
    assert store.redeem("not-a-token", "password_reset") is None


def test_unlock_link_unlocks_ben_on_redeem(store: DemoBackend) -> None:
    ben = store.customer_by_email(BEN)
    assert ben is not None
    link = store.send_password_reset(ben)
    assert store.outbox(to=BEN)[-1]["purpose"] == "unlock_reset"
    assert store.customer_by_email(BEN).status == "locked"  # type: ignore[union-attr]
    assert store.redeem(link.token, "unlock_reset") == "cus_1002"
    after = store.customer_by_email(BEN)
    assert after is not None and (after.status, after.failed_logins, after.lock_reason) == ("active", 0, None)


def _code(store: DemoBackend, email: str) -> str:
    return store.outbox(to=email)[-1]["body"].rsplit(" ", 1)[-1]


def test_verification_code_right_once_wrong_never(store: DemoBackend) -> None:
    assert store.send_verification_code(ANA.upper())
    code = _code(store, ANA)
    assert len(code) == 6 and code.isdigit()
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    assert not store.check_verification_code(ANA, wrong).verified
    assert not store.check_verification_code(ANA, "12345").verified
    check = store.check_verification_code(ANA, f" {code[:3]} {code[3:]} ")  # spaces typed in the chat
    assert check.verified and check.customer_id == "cus_1001"
    assert not store.check_verification_code(ANA, code).verified  # reuse


def test_new_verification_code_voids_the_previous_one(store: DemoBackend) -> None:
    store.send_verification_code(ANA)
    first = _code(store, ANA)
    store.send_verification_code(ANA)
    second = _code(store, ANA)
    if first != second:
        assert not store.check_verification_code(ANA, first).verified
    assert store.check_verification_code(ANA, second).verified


def test_code_of_one_customer_does_not_verify_another(store: DemoBackend) -> None:
    store.send_verification_code(ANA)
    store.send_verification_code(DEV)
    assert not store.check_verification_code(DEV, _code(store, ANA)).verified


def test_code_burns_after_max_attempts(store: DemoBackend) -> None:
    store.send_verification_code(ANA)
    code = _code(store, ANA)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    assert [store.check_verification_code(ANA, wrong, max_attempts=2).burned for _ in range(2)] == [False, True]
    assert store.check_verification_code(ANA, code, max_attempts=2) == CodeCheck()  # burned: even the right code fails


def test_address_without_an_account_gets_a_code_that_never_matches_and_no_email(store: DemoBackend) -> None:
    assert store.send_verification_code("nobody@example.com")
    assert store.outbox() == []
    checks = [store.check_verification_code("nobody@example.com", f"{n:06d}") for n in range(3)]
    assert checks == [CodeCheck(), CodeCheck(), CodeCheck(burned=True)]  # exactly like wrong codes for Ana


def test_codes_and_resets_are_limited_per_address_per_hour(store: DemoBackend) -> None:
    assert [store.send_verification_code(ANA, per_hour=2) for _ in range(3)] == [True, True, False]
    assert [store.request_password_reset(ANA, per_hour=2) for _ in range(3)] == [True, True, False]
    assert [store.request_password_reset("nobody@example.com", per_hour=2) for _ in range(3)] == [True, True, False]
    assert [m["purpose"] for m in store.outbox(to=ANA)] == ["chat_code"] * 2 + ["password_reset"] * 2
    assert store.outbox(to="nobody@example.com") == []


def test_request_password_reset_never_sends_a_held_account_a_link(store: DemoBackend) -> None:
    assert store.request_password_reset(EMMA)
    assert [m["purpose"] for m in store.outbox(to=EMMA)] == ["security_hold_notice"]
    assert store.customer_by_email(EMMA).status == "locked"  # type: ignore[union-attr]


def test_new_link_voids_earlier_unused_links_of_the_same_kind(store: DemoBackend) -> None:
    ben = store.customer_by_email(BEN)
    assert ben is not None
    first, second = store.send_password_reset(ben), store.send_password_reset(ben)
    payment = store.send_payment_method_link(ben)
    assert store.redeem(first.token, "unlock_reset") is None
    assert store.redeem(second.token, "unlock_reset") == "cus_1002"
    assert store.redeem(payment.token, "payment_method") == "cus_1002"  # another kind of link is left alone


def test_existing_database_gets_the_new_tables(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    backend = make_backend(db)
    with sqlite3.connect(db) as connection:
        connection.executescript("DROP TABLE chat_codes; DROP TABLE send_log;")
    connection.close()
    backend = make_backend(db)  # ensure_seeded on an existing file
    assert backend.send_verification_code(ANA)
    assert backend.customer_by_id("cus_1001") is not None


def test_codes_are_stored_keyed_so_the_database_alone_cannot_check_a_guess(
    store: DemoBackend, isolated_backend: Path
) -> None:
    assert store.send_verification_code(ANA)
    code = _code(store, ANA)
    with sqlite3.connect(isolated_backend) as db:
        stored = db.execute("SELECT code_hash FROM chat_codes WHERE address = ?", (ANA,)).fetchone()[0]
        dump = "\n".join(db.iterdump())
    db.close()
    # Not a plain hash: someone with a copy of the database cannot try the million codes offline.
    assert stored not in {hashlib.sha256(value.encode()).hexdigest() for value in (code, f"{ANA}:{code}")}
    # The key lives outside the database, readable by its owner only.
    key_file = Path(f"{isolated_backend}.key")
    key = key_file.read_bytes()
    assert len(key) >= 32 and key_file.stat().st_mode & 0o077 == 0
    encodings = (key.hex(), base64.b64encode(key).decode(), base64.urlsafe_b64encode(key).decode())
    assert key not in dump.encode() and all(encoded not in dump for encoded in encodings)
    assert stored == hmac.new(key, f"{ANA}:{code}".encode(), hashlib.sha256).hexdigest()
    # A restarted backend reads the same key: the code still verifies.
    assert make_backend(isolated_backend).check_verification_code(ANA, code).customer_id == "cus_1001"


def test_each_database_gets_its_own_code_key(tmp_path: Path) -> None:
    first, second = make_backend(tmp_path / "one.db"), make_backend(tmp_path / "two.db")
    first.send_verification_code(ANA)
    second.send_verification_code(ANA)
    assert Path(f"{tmp_path / 'one.db'}.key").read_bytes() != Path(f"{tmp_path / 'two.db'}.key").read_bytes()
    first.reset()  # reseeding keeps the key, which a running action server holds in memory
    assert Path(f"{tmp_path / 'one.db'}.key").exists()


def test_duplicate_charge_detected_and_refunded_once(store: DemoBackend) -> None:
    charges = store.find_charges("cus_1004", invoice_id="inv-1071")
    assert [c.id for c in charges] == ["ch_5002", "ch_5003"]
    pair = duplicate_of(charges)
    assert pair is not None and (pair[0].id, pair[1].id) == ("ch_5002", "ch_5003")
    refund = store.refund_duplicate(pair[1])
    assert (refund.charge_id, refund.amount, refund.status) == ("ch_5003", 49.0, "processing")
    assert refund.expected_on == date.today() + timedelta(days=7)
    again = store.refund_duplicate(pair[1])
    assert again.id == refund.id
    assert [r.id for r in store.refunds("cus_1004")] == [refund.id]
    assert store.find_charges("cus_1004", invoice_id="INV-1071")[1].status == "refunded"


def test_charges_by_amount_and_no_duplicate_for_felix(store: DemoBackend) -> None:
    assert [c.id for c in store.find_charges("cus_1004", amount=49.0)] == ["ch_5002", "ch_5003"]
    felix = store.find_charges("cus_1006", invoice_id="INV-1080")
    assert [c.id for c in felix] == ["ch_5005"]
    assert duplicate_of(felix) is None
    assert duplicate_of(store.find_charges("cus_1006")) is None  # different invoices and amounts
    assert store.find_charges("cus_1006", amount=999.0) == []


def test_refunds_and_open_balance(store: DemoBackend) -> None:
    refunds = store.refunds("cus_1006")
    assert [(r.id, r.amount, r.status) for r in refunds] == [("REF-3001", 29.0, "processing")]
    assert store.refund_for_charge("ch_5004") is not None
    assert store.refunds("cus_1001") == []
    assert store.open_balance("cus_1001") == 49.0
    assert store.open_balance("cus_1006") == 0.0
    assert store.latest_invoice("cus_1001").id == "INV-1057"  # type: ignore[union-attr]
    assert store.latest_invoice("cus_1005") is None


def test_email_change_applies_only_when_approved_then_confirmed(store: DemoBackend) -> None:
    link = store.request_email_change("cus_1001", " Ana.New@Example.com ")
    assert link.sent_to == ANA  # the approval goes to the address on file
    assert link.url.startswith("http://127.0.0.1:8090/account/approve-email-change?token=")
    assert store.outbox(to="ana.new@example.com") == []
    assert store.redeem(link.token, "approve_email_change") == "cus_1001"
    assert store.redeem(link.token, "approve_email_change") is None  # once
    assert store.customer_by_id("cus_1001").email == ANA  # type: ignore[union-attr]
    confirm = store.outbox(to="ana.new@example.com")[-1]
    assert confirm["purpose"] == "change_email" and "/account/confirm-email?token=" in confirm["body"]
    assert store.redeem(token_of(confirm), "change_email") == "cus_1001"
    assert store.customer_by_id("cus_1001").email == "ana.new@example.com"  # type: ignore[union-attr]
    assert store.customer_by_email(ANA) is None
    assert store.outbox(to=ANA)[-1]["purpose"] == "email_changed"


def test_email_change_to_an_address_taken_meanwhile_is_refused(store: DemoBackend) -> None:
    link = store.request_email_change("cus_1001", "new.person@example.com")
    assert store.redeem(link.token, "approve_email_change") == "cus_1001"
    confirm = store.outbox(to="new.person@example.com")[-1]
    store.create_customer("new.person@example.com", "free")
    assert store.redeem(token_of(confirm), "change_email") is None
    assert store.customer_by_id("cus_1001").email == ANA  # type: ignore[union-attr]


def test_create_customer_then_verify(store: DemoBackend) -> None:
    created = store.create_customer("New.Person@Example.com", "pro")
    assert (created.email, created.plan, created.status, created.name) == (
        "new.person@example.com", "pro", "pending_verification", "new.person")
    mail = store.outbox(to="new.person@example.com")[-1]
    assert mail["purpose"] == "verify_email" and "/account/verify?token=" in mail["body"]
    assert store.redeem(token_of(mail), "verify_email") == created.id
    assert store.customer_by_email("new.person@example.com").status == "active"  # type: ignore[union-attr]


def test_create_customer_with_a_taken_email_fails_cleanly(store: DemoBackend) -> None:
    with pytest.raises(BackendUnavailable):
        store.create_customer(ANA, "free")
    assert store.outbox(to=ANA) == []


def test_close_account_emails_and_leaves_the_average(store: DemoBackend) -> None:
    store.close_account("cus_1006")
    assert store.customer_by_id("cus_1006").status == "closed"  # type: ignore[union-attr]
    assert store.outbox(to=FELIX)[-1]["purpose"] == "account_closed"


def test_missing_directory_is_backend_unavailable(tmp_path: Path) -> None:
    backend = DemoBackend(tmp_path / "no" / "such" / "dir" / "b.db", SEED, "http://x")
    with pytest.raises(BackendUnavailable):
        backend.customer_by_email(ANA)
    with pytest.raises(BackendUnavailable):
        backend.open_balance("cus_1001")


def test_unseedable_location_is_backend_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(BackendUnavailable):
        DemoBackend(blocker / "b.db", SEED, "http://x").ensure_seeded()


def test_missing_seed_file_is_backend_unavailable(tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailable):
        DemoBackend(tmp_path / "b.db", tmp_path / "missing.json", "http://x").reset()
