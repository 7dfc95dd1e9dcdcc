"""The demo company's site (actions/backend/site.py): every emailed link ends in a real success, through HTTP.

A real DemoBackend on a temporary SQLite file (the `store` fixture); links are read from its outbox as a customer
would, then opened with aiohttp's test client on the real app (access log off, as `python -m actions.backend site`).
"""

from __future__ import annotations

import logging
import sqlite3
import unicodedata
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from yarl import URL

from actions.backend import DemoBackend
from actions.backend.site import EXPIRED, SERVER_OPTIONS, check_card, create_app
from actions.settings import ActionSettings
from tests.actions.conftest import ANA, BEN, token_of

Client = TestClient
NEW_PASSWORD = "correct horse battery staple"
TEST_CARD = "4242 4242 4242 4242"


Serve = Callable[[DemoBackend], Awaitable[Client]]


@pytest.fixture
def serve(aiohttp_server: Callable[..., Awaitable[TestServer]], aiohttp_client: Callable[..., Awaitable[Client]]) -> Serve:
    """The site on a backend, served with the options `python -m actions.backend site` uses (no access log)."""

    async def start(backend: DemoBackend) -> Client:
        return await aiohttp_client(await aiohttp_server(create_app(backend), **SERVER_OPTIONS))

    return start


@pytest.fixture
async def site(store: DemoBackend, serve: Serve) -> Client:
    return await serve(store)


def newest_link(store: DemoBackend, to: str, purpose: str) -> str:
    """Path and query of the newest emailed link of this purpose to this address (the site serves it)."""
    mails = [mail for mail in store.outbox(to=to) if mail["purpose"] == purpose]
    assert mails, f"no {purpose} email to {to}"
    body = mails[-1]["body"]
    url = URL(next(word for word in body.split() if "token=" in word))
    assert str(url).startswith("http://127.0.0.1:8090/")  # the site, not the gateway
    return url.path_qs


async def get(site: Client, path: str) -> tuple[int, str]:
    response = await site.get(path)
    return response.status, await response.text()


async def post(site: Client, path: str, **form: str) -> tuple[int, str]:
    response = await site.post(URL(path).path, data=form)
    return response.status, await response.text()


def password_rows(store: DemoBackend) -> list[dict[str, Any]]:
    with sqlite3.connect(store.db_path) as db:
        db.row_factory = sqlite3.Row
        return [dict(row) for row in db.execute("SELECT * FROM passwords")]


# -- password reset ------------------------------------------------------------------------------------------------
async def test_reset_page_shows_the_form_and_does_not_use_the_link(site: Client, store: DemoBackend) -> None:
    assert store.request_password_reset(ANA)
    link = newest_link(store, ANA, "password_reset")
    for _ in range(2):  # a link scanner, then the customer
        response = await site.get(link)
        text = await response.text()
        assert response.status == 200 and "Choose a new password" in text
        assert '<label for="password">New password</label>' in text and 'name="confirm"' in text
    assert store.peek(token_of({"body": link}), "password_reset") == "cus_1001"
    headers = response.headers
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY" and headers["Referrer-Policy"] == "no-referrer"
    assert headers["Cache-Control"] == "no-store"
    assert 'action="/account/reset"' in text and 'action="/account/reset?' not in text  # token not in the POST URL


async def test_mismatched_or_short_passwords_re_render_the_form(site: Client, store: DemoBackend) -> None:
    store.request_password_reset(ANA)
    link = newest_link(store, ANA, "password_reset")
    token = token_of({"body": link})
    status, text = await post(site, link, token=token, password=NEW_PASSWORD, confirm=NEW_PASSWORD + "!")
    assert status == 422 and "Choose a new password" in text and "don&#x27;t match" in text
    assert 'role="alert"' in text and 'aria-invalid="true"' in text
    assert NEW_PASSWORD not in text  # never written back
    status, text = await post(site, link, token=token, password="short", confirm="short")
    assert status == 422 and "at least 10 characters" in text
    status, text = await post(site, link, token=token, password="", confirm="")
    assert status == 422 and "Enter a new password" in text
    assert password_rows(store) == [] and store.peek(token, "password_reset") == "cus_1001"


async def test_reset_changes_the_password_once(site: Client, store: DemoBackend) -> None:
    store.request_password_reset(ANA)
    link = newest_link(store, ANA, "password_reset")
    token = token_of({"body": link})
    status, text = await post(site, link, token=token, password=NEW_PASSWORD, confirm=NEW_PASSWORD)
    assert status == 200 and "Your password has been changed. You can sign in now." in text
    assert "unlocked" not in text
    [row] = password_rows(store)
    assert row["customer_id"] == "cus_1001" and row["params"].startswith("scrypt:")
    assert NEW_PASSWORD not in str(row) and NEW_PASSWORD.encode() not in store.db_path.read_bytes()
    assert store.check_password("cus_1001", NEW_PASSWORD) and not store.check_password("cus_1001", "wrong password!")
    status, text = await get(site, link)
    assert status == 410 and EXPIRED in text and "<form" not in text
    status, text = await post(site, link, token=token, password="another password", confirm="another password")
    assert status == 410 and EXPIRED in text
    assert store.check_password("cus_1001", NEW_PASSWORD)


async def test_reset_link_of_a_locked_account_unlocks_it(site: Client, store: DemoBackend) -> None:
    ben = store.customer_by_email(BEN)
    assert ben is not None and ben.status == "locked" and ben.failed_logins > 0
    store.request_password_reset(BEN)
    link = newest_link(store, BEN, "unlock_reset")
    status, _ = await get(site, link)
    assert status == 200 and store.customer_by_email(BEN).status == "locked"  # type: ignore[union-attr]
    status, text = await post(site, link, token=token_of({"body": link}), password=NEW_PASSWORD, confirm=NEW_PASSWORD)
    assert status == 200 and "your account is unlocked" in text and "You can sign in now" in text
    ben = store.customer_by_email(BEN)
    assert ben is not None and ben.status == "active" and ben.failed_logins == 0 and ben.lock_reason is None
    assert store.check_password(ben.id, NEW_PASSWORD)


async def test_a_newer_link_voids_the_older_page(site: Client, store: DemoBackend) -> None:
    store.request_password_reset(ANA)
    first = newest_link(store, ANA, "password_reset")
    store.request_password_reset(ANA)
    status, text = await post(site, first, token=token_of({"body": first}), password=NEW_PASSWORD, confirm=NEW_PASSWORD)
    assert status == 410 and EXPIRED in text and password_rows(store) == []


async def test_expired_used_unknown_and_missing_tokens_get_the_same_page(
    site: Client, store: DemoBackend, tmp_path: Any, serve: Serve,
) -> None:
    pages = [await get(site, "/account/reset?token=" + "A" * 43), await get(site, "/account/reset"),
             await get(site, "/billing/payment-method?token=<script>alert(1)</script>")]
    store.request_password_reset(ANA)
    link = newest_link(store, ANA, "password_reset")
    await post(site, link, token=token_of({"body": link}), password=NEW_PASSWORD, confirm=NEW_PASSWORD)
    pages.append(await get(site, link))
    stale = DemoBackend(tmp_path / "stale.db", ActionSettings().seed_path, "http://127.0.0.1:8090", link_ttl_minutes=-1)
    stale.ensure_seeded()
    stale.request_password_reset(ANA)
    stale_site = await serve(stale)
    pages.append(await get(stale_site, newest_link(stale, ANA, "password_reset")))
    assert {status for status, _ in pages} == {410}
    bodies = {text for _, text in pages}
    assert len(bodies) == 1 and EXPIRED in bodies.pop()  # byte for byte the same: no token oracle


# -- one-button links ----------------------------------------------------------------------------------------------
async def test_new_account_verification(site: Client, store: DemoBackend) -> None:
    address = "zoë.new@example.com"
    assert store.request_signup(address, "starter")
    link = newest_link(store, address, "verify_email")
    status, text = await get(site, link)
    assert status == 200 and "Verify my email" in text
    assert store.customer_by_email(address).status == "pending_verification"  # type: ignore[union-attr]
    status, text = await post(site, link, token=token_of({"body": link}))
    assert status == 200 and "Your email address is verified" in text
    assert store.customer_by_email(address).status == "active"  # type: ignore[union-attr]


async def test_email_change_takes_both_links_end_to_end(site: Client, store: DemoBackend) -> None:
    store.request_email_change("cus_1001", "ana.new@example.com")
    approve = newest_link(store, ANA, "approve_email_change")
    status, text = await get(site, approve)
    assert status == 200 and "Approve the change" in text
    assert store.outbox(to="ana.new@example.com") == []  # a GET approves nothing
    status, text = await post(site, approve, token=token_of({"body": approve}))
    assert status == 200 and "Approved: we sent a confirmation link to the new address" in text
    assert store.customer_by_id("cus_1001").email == ANA  # type: ignore[union-attr]
    confirm = newest_link(store, "ana.new@example.com", "change_email")
    status, text = await get(site, confirm)
    assert status == 200 and "Confirm my new address" in text
    status, text = await post(site, confirm, token=token_of({"body": confirm}))
    assert status == 200 and "Your email address is now a***@example.com" in text
    assert store.customer_by_id("cus_1001").email == "ana.new@example.com"  # type: ignore[union-attr]
    assert [mail["purpose"] for mail in store.outbox(to=ANA)][-1] == "email_changed"
    status, text = await post(site, confirm, token=token_of({"body": confirm}))
    assert status == 410 and EXPIRED in text


async def test_email_change_to_an_address_taken_meanwhile_says_so(site: Client, store: DemoBackend) -> None:
    store.request_email_change("cus_1001", "taken@example.com")
    approve = newest_link(store, ANA, "approve_email_change")
    store.create_customer("taken@example.com", "starter")
    status, text = await post(site, approve, token=token_of({"body": approve}))
    assert status == 409 and "belongs to another account" in text
    assert store.customer_by_id("cus_1001").email == ANA  # type: ignore[union-attr]


# -- payment method ------------------------------------------------------------------------------------------------
async def test_payment_method_keeps_only_brand_last4_and_expiry(site: Client, store: DemoBackend) -> None:
    assert store.request_payment_method_link(ANA)
    link = newest_link(store, ANA, "payment_method")
    token = token_of({"body": link})
    status, text = await get(site, link)
    assert status == 200 and "4242 4242 4242 4242" in text and "demo" in text
    assert '<label for="number">Card number</label>' in text and 'autocomplete="cc-number"' in text
    status, text = await post(site, link, token=token, number="4242 4242 4242 4241", expiry="12/39", name="Ana Ortiz")
    assert status == 422 and "isn&#x27;t valid" in text and "4242 4242 4242 4241" not in text
    assert 'value="Ana Ortiz"' in text and 'value="12/39"' in text  # the rest is kept
    status, text = await post(site, link, token=token, number=TEST_CARD, expiry="01/20", name="Ana Ortiz")
    assert status == 422 and "expired" in text
    status, text = await post(site, link, token=token, number=TEST_CARD, expiry="13/39", name="")
    assert status == 422 and "01 to 12" in text and "Enter the name on the card" in text
    assert store.payment_method("cus_1001") is None and store.peek(token, "payment_method") == "cus_1001"
    status, text = await post(site, link, token=token, number="4242-4242-4242-4242", expiry=" 04 / 2031 ",
                              name="Ana Ortiz")
    assert status == 200 and "Your card ending 4242 is now your payment method." in text
    method = store.payment_method("cus_1001")
    assert method is not None and (method.brand, method.last4, method.exp_month, method.exp_year) == (
        "Visa", "4242", 4, 2031)
    assert b"4242424242424242" not in store.db_path.read_bytes() and b"4242 4242 4242 4242" not in store.db_path.read_bytes()
    with sqlite3.connect(store.db_path) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(payment_methods)")]
    assert sorted(columns) == ["brand", "customer_id", "exp_month", "exp_year", "last4", "updated_at"]
    status, text = await get(site, link)
    assert status == 410 and EXPIRED in text


def test_card_checks() -> None:
    today = date(2026, 5, 15)
    assert check_card("4242424242424242", "05/26", "A", today)[0] is not None  # valid through the end of the month
    assert "expiry" in check_card("4242424242424242", "04/26", "A", today)[1]
    assert check_card("5555 5555 5555 4444", "1/30", "A", today)[0].brand == "Mastercard"  # type: ignore[union-attr]
    assert check_card("3782 822463 10005", "01/30", "A", today)[0].brand == "American Express"  # type: ignore[union-attr]
    arabic_digits = "\u0664\u0662" * 8  # 4242... in Arabic-Indic digits: isdigit() is true, still refused
    assert "number" in check_card(arabic_digits, "01/30", "A", today)[1]
    assert "expiry" in check_card("4242424242424242", "\u0660\u0661/\u0663\u0660", "A", today)[1]
    assert "expiry" in check_card("4242424242424242", "01/99", "A", today)[1]


# -- hostile input -------------------------------------------------------------------------------------------------
async def test_html_in_fields_is_escaped_and_junk_is_refused(site: Client, store: DemoBackend) -> None:
    store.request_payment_method_link(ANA)
    link = newest_link(store, ANA, "payment_method")
    token = token_of({"body": link})
    hostile = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
    status, text = await post(site, link, token=token, number="not a card", expiry=hostile[:7], name=hostile)
    assert status == 422 and "<script>alert(1)" not in text and "<img src=x" not in text
    assert "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in text
    status, text = await post(site, link, token=token, number=TEST_CARD, expiry="01/39", name="x" * 101)
    assert status == 422 and "at most 100 characters" in text
    status, text = await post(site, link, token=token, number=TEST_CARD, expiry="01/39", name="Ana\x00\x1b[31m")
    assert status == 422 and "\x1b" not in text
    status, text = await get(site, '/account/reset?token="><script>alert(1)</script>')
    assert status == 410 and "<script>alert" not in text
    assert store.payment_method("cus_1001") is None


async def test_oversized_and_undecodable_posts_get_a_page(site: Client, store: DemoBackend) -> None:
    store.request_password_reset(ANA)
    link = newest_link(store, ANA, "password_reset")
    token = token_of({"body": link})
    huge = "p" * 100_000
    status, text = await post(site, link, token=token, password=huge, confirm=huge)
    assert status == 413 and "far too long" in text
    status, text = await post(site, link, token=token, password="q" * 300, confirm="q" * 300)
    assert status == 422 and "at most 256 characters" in text
    response = await site.post("/account/reset", data=b"token=" + token.encode() + b"&password=\xff\xfe",
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status in (400, 422) and "<html" in await response.text()
    status, text = await post(site, "/account/reset", password=NEW_PASSWORD, confirm=NEW_PASSWORD)  # no token
    assert status == 410 and EXPIRED in text
    assert password_rows(store) == [] and store.peek(token, "password_reset") == "cus_1001"


async def test_non_ascii_password_works_and_is_normalized(site: Client, store: DemoBackend) -> None:
    store.request_password_reset(ANA)
    link = newest_link(store, ANA, "password_reset")
    typed = unicodedata.normalize("NFD", "pässwörd Ñandú 日本語 🔑")  # as a Mac keyboard may send it
    status, text = await post(site, link, token=token_of({"body": link}), password=typed, confirm=typed)
    assert status == 200 and "Your password has been changed" in text
    assert store.check_password("cus_1001", unicodedata.normalize("NFC", typed))


async def test_other_pages_and_methods(site: Client) -> None:
    status, text = await get(site, "/")
    assert status == 200 and "Northwind Cloud" in text
    response = await site.get("/site.css")
    assert response.status == 200 and response.content_type == "text/css"
    response = await site.get("/nope")
    assert response.status == 404 and "<html" in await response.text()
    assert response.headers["X-Frame-Options"] == "DENY"
    response = await site.put("/account/reset")
    assert response.status == 405 and "POST" in response.headers["Allow"]


async def test_no_log_line_carries_a_token_or_password(
    site: Client, store: DemoBackend, raw_logs: pytest.LogCaptureFixture,
) -> None:
    store.request_password_reset(BEN)
    link = newest_link(store, BEN, "unlock_reset")
    token = token_of({"body": link})
    await get(site, link)
    await post(site, link, token=token, password="short", confirm="short")
    await post(site, link, token=token, password=NEW_PASSWORD, confirm=NEW_PASSWORD)
    await get(site, link)
    store.request_payment_method_link(ANA)
    card_link = newest_link(store, ANA, "payment_method")
    await post(site, card_link, token=token_of({"body": card_link}), number=TEST_CARD, expiry="01/39", name="Ana")
    lines = [record.getMessage() for record in raw_logs.records]
    assert any("site: POST /account/reset 200" in line for line in lines)  # the site does log, without the query
    secrets = (token, token_of({"body": card_link}), NEW_PASSWORD, "4242424242424242", TEST_CARD)
    leaks = [line for line in lines for secret in secrets if secret in line]
    assert leaks == []
    assert all(record.levelno < logging.WARNING for record in raw_logs.records if record.name.startswith("actions"))


def test_settings_point_links_at_the_site() -> None:
    settings = ActionSettings.from_env({})
    assert (settings.public_url, settings.site_host, settings.site_port) == ("http://127.0.0.1:8090", "127.0.0.1", 8090)
    assert ActionSettings.from_env({"DEMO_SITE_HOST": "0.0.0.0", "DEMO_SITE_PORT": "9001"}).site_port == 9001
