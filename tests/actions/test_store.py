"""The demo business backend on a real SQLite file: seed, lookups, links, codes, refunds, failures."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from actions.backend import BackendUnavailable, Customer, DemoBackend
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
    assert link.sent_to == ANA and link.url.startswith("http://127.0.0.1:8080/account/reset?token=")
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
    ana = store.customer_by_email(ANA)
    assert ana is not None
    store.send_verification_code(ana)
    code = _code(store, ANA)
    assert len(code) == 6 and code.isdigit()
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    assert not store.check_verification_code(ana, wrong)
    assert not store.check_verification_code(ana, "12345")
    assert store.check_verification_code(ana, f" {code[:3]} {code[3:]} ")  # spaces typed in the chat
    assert not store.check_verification_code(ana, code)  # reuse


def test_new_verification_code_voids_the_previous_one(store: DemoBackend) -> None:
    ana = store.customer_by_email(ANA)
    assert ana is not None
    store.send_verification_code(ana)
    first = _code(store, ANA)
    store.send_verification_code(ana)
    second = _code(store, ANA)
    if first != second:
        assert not store.check_verification_code(ana, first)
    assert store.check_verification_code(ana, second)


def test_code_of_one_customer_does_not_verify_another(store: DemoBackend) -> None:
    ana, dev = store.customer_by_email(ANA), store.customer_by_email(DEV)
    assert ana is not None and dev is not None
    store.send_verification_code(ana)
    assert not store.check_verification_code(dev, _code(store, ANA))


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


def test_email_change_applies_only_when_confirmed(store: DemoBackend) -> None:
    link = store.request_email_change("cus_1001", " Ana.New@Example.com ")
    assert link.sent_to == "ana.new@example.com"
    assert store.outbox(to="ana.new@example.com")[-1]["purpose"] == "change_email"
    assert store.customer_by_id("cus_1001").email == ANA  # type: ignore[union-attr]
    assert store.redeem(link.token, "change_email") == "cus_1001"
    assert store.customer_by_id("cus_1001").email == "ana.new@example.com"  # type: ignore[union-attr]
    assert store.customer_by_email(ANA) is None


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
