"""SQLite implementation of the demo business backend (accounts, invoices, charges, refunds, links, outbox).

A real deployment replaces this module with an adapter to its own API; the actions only use the public
methods of DemoBackend and the plain records below.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

SCHEMA = Path(__file__).with_name("schema.sql")
DUPLICATE_WINDOW = timedelta(days=2)
REFUND_DAYS = 7


class BackendUnavailable(RuntimeError):
    """The business backend could not be reached or answered with an error."""


@dataclass(frozen=True)
class Customer:
    """An account holder as the support bot sees it."""

    id: str
    name: str
    email: str
    tier: str
    plan: str
    mrr: float
    renewal_date: date | None
    status: str
    failed_logins: int
    lock_reason: str | None

    def renewal_in_days(self, today: date) -> int | None:
        """Days until the contract renews, or None without a renewal date."""
        return None if self.renewal_date is None else (self.renewal_date - today).days


@dataclass(frozen=True)
class Invoice:
    """One invoice."""

    id: str
    customer_id: str
    amount: float
    currency: str
    issued_on: date
    due_on: date
    status: str


@dataclass(frozen=True)
class Charge:
    """One card charge, usually paying an invoice."""

    id: str
    customer_id: str
    invoice_id: str | None
    amount: float
    charged_on: date
    status: str
    description: str


@dataclass(frozen=True)
class Refund:
    """A refund and where it stands."""

    id: str
    customer_id: str
    charge_id: str | None
    amount: float
    requested_on: date
    status: str
    expected_on: date | None


@dataclass(frozen=True)
class Link:
    """A single-use expiring link sent by email (the token itself only ever leaves in the email)."""

    url: str
    token: str
    expires_at: datetime
    sent_to: str


def _today() -> date:
    return datetime.now(timezone.utc).date()


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _as_date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


class DemoBackend:
    """The seeded demo business, stored in one SQLite file."""

    def __init__(self, db_path: Path, seed_path: Path, public_url: str, link_ttl_minutes: int = 30) -> None:
        self.db_path = Path(db_path)
        self.seed_path = Path(seed_path)
        self.public_url = public_url.rstrip("/")
        self.link_ttl = timedelta(minutes=link_ttl_minutes)

    # -- plumbing -------------------------------------------------------------------------------------------
    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            connection = sqlite3.connect(self.db_path, timeout=5, isolation_level=None)
        except sqlite3.Error as error:
            raise BackendUnavailable(f"cannot open the business database: {error}") from error
        connection.row_factory = sqlite3.Row
        try:
            connection.execute("PRAGMA busy_timeout = 5000")
            connection.execute("PRAGMA foreign_keys = ON")
            connection.execute("BEGIN IMMEDIATE")
            yield connection
            connection.execute("COMMIT")
        except sqlite3.Error as error:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise BackendUnavailable(f"business database error: {error}") from error
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        finally:
            connection.close()

    def ensure_seeded(self) -> None:
        """Create and seed the database when the file does not exist yet."""
        if not self.db_path.exists():
            self.reset()

    def reset(self) -> None:
        """Drop everything and load the seed file again (dates relative to today)."""
        try:
            self.db_path.parent.mkdir(parents=True, exist_ok=True)
            seed = json.loads(self.seed_path.read_text())
        except (OSError, ValueError) as error:
            raise BackendUnavailable(f"cannot seed the business database: {error}") from error
        if self.db_path.exists():
            self.db_path.unlink()
        today = _today()

        def day(offset: int | None) -> str | None:
            return None if offset is None else (today + timedelta(days=offset)).isoformat()

        try:
            with sqlite3.connect(self.db_path) as schema_connection:
                schema_connection.executescript(SCHEMA.read_text())
            schema_connection.close()
        except sqlite3.Error as error:
            raise BackendUnavailable(f"cannot create the business database: {error}") from error
        with self._connect() as db:
            for c in seed["customers"]:
                db.execute(
                    "INSERT INTO customers VALUES (?,?,?,?,?,?,?,?,?,?,?,NULL)",
                    (c["id"], c["name"], c["email"].lower(), c["tier"], c["plan"], c["mrr"],
                     day(c["renewal_in_days"]), c["status"], c["failed_logins"], c["lock_reason"], day(-400)),
                )
            for i in seed["invoices"]:
                db.execute(
                    "INSERT INTO invoices VALUES (?,?,?,?,?,?,?)",
                    (i["id"], i["customer_id"], i["amount"], i["currency"], day(i["issued_in_days"]),
                     day(i["due_in_days"]), i["status"]),
                )
            for ch in seed["charges"]:
                db.execute(
                    "INSERT INTO charges VALUES (?,?,?,?,?,?,?)",
                    (ch["id"], ch["customer_id"], ch["invoice_id"], ch["amount"], day(ch["charged_in_days"]),
                     ch["status"], ch["description"]),
                )
            for r in seed["refunds"]:
                db.execute(
                    "INSERT INTO refunds VALUES (?,?,?,?,?,?,?,?)",
                    (r["id"], r["customer_id"], r["charge_id"], r["amount"], day(r["requested_in_days"]),
                     r["status"], day(r["expected_in_days"]), "seed"),
                )

    def _send_email(self, db: sqlite3.Connection, to: str, subject: str, body: str, purpose: str) -> None:
        db.execute(
            "INSERT INTO outbox (to_address, subject, body, purpose, created_at) VALUES (?,?,?,?,?)",
            (to, subject, body, purpose, _now().isoformat()),
        )
        logger.info("outbox: %s to %s: %s", purpose, to, body)

    def _issue_token(
        self, db: sqlite3.Connection, customer_id: str, purpose: str, payload: dict[str, Any] | None = None,
        token: str | None = None,
    ) -> tuple[str, datetime]:
        token = token or secrets.token_urlsafe(32)
        expires = _now() + self.link_ttl
        db.execute(
            "INSERT INTO tokens VALUES (?,?,?,?,?,NULL)",
            (_hash(token), customer_id, purpose, json.dumps(payload or {}), expires.isoformat()),
        )
        return token, expires

    # -- customers ------------------------------------------------------------------------------------------
    @staticmethod
    def _customer(row: sqlite3.Row | None) -> Customer | None:
        if row is None:
            return None
        return Customer(
            id=row["id"], name=row["name"], email=row["email"], tier=row["tier"], plan=row["plan"],
            mrr=row["mrr"], renewal_date=_as_date(row["renewal_date"]), status=row["status"],
            failed_logins=row["failed_logins"], lock_reason=row["lock_reason"],
        )

    def customer_by_email(self, email: str) -> Customer | None:
        """Find an account by its email address (case-insensitive)."""
        with self._connect() as db:
            row = db.execute("SELECT * FROM customers WHERE email = ?", (email.strip().lower(),)).fetchone()
        return self._customer(row)

    def customer_by_id(self, customer_id: str) -> Customer | None:
        """Find an account by id."""
        with self._connect() as db:
            row = db.execute("SELECT * FROM customers WHERE id = ?", (customer_id,)).fetchone()
        return self._customer(row)

    def is_fast_lane(self, customer: Customer, today: date | None = None) -> bool:
        """Enterprise tier, MRR at least twice the average, or renewal within 30 days (the article's rule)."""
        today = today or _today()
        with self._connect() as db:
            average = db.execute("SELECT AVG(mrr) FROM customers WHERE status != 'closed'").fetchone()[0] or 0.0
        renewal = customer.renewal_in_days(today)
        return (
            customer.tier == "enterprise"
            or (average > 0 and customer.mrr >= 2 * average)
            or (renewal is not None and 0 <= renewal <= 30)
        )

    def create_customer(self, email: str, plan: str, name: str = "") -> Customer:
        """Open an account awaiting email verification and send the verification link."""
        email = email.strip().lower()
        customer_id = f"cus_{secrets.token_hex(4)}"
        with self._connect() as db:
            db.execute(
                "INSERT INTO customers VALUES (?,?,?,?,?,0,NULL,'pending_verification',0,NULL,?,NULL)",
                (customer_id, name or email.split("@")[0], email, plan, plan, _now().isoformat()),
            )
            token, _ = self._issue_token(db, customer_id, "verify_email")
            self._send_email(db, email, "Verify your email", f"{self.public_url}/account/verify?token={token}",
                             "verify_email")
            row = db.execute("SELECT * FROM customers WHERE id = ?", (customer_id,)).fetchone()
        customer = self._customer(row)
        assert customer is not None
        return customer

    def update_name(self, customer_id: str, name: str) -> None:
        """Change the account holder's name."""
        with self._connect() as db:
            db.execute("UPDATE customers SET name = ? WHERE id = ?", (name, customer_id))

    def request_email_change(self, customer_id: str, new_email: str) -> Link:
        """Send a confirmation link to the new address; the email changes when it is followed."""
        new_email = new_email.strip().lower()
        with self._connect() as db:
            token, expires = self._issue_token(db, customer_id, "change_email", {"email": new_email})
            url = f"{self.public_url}/account/confirm-email?token={token}"
            self._send_email(db, new_email, "Confirm your new email address", url, "change_email")
        return Link(url=url, token=token, expires_at=expires, sent_to=new_email)

    def close_account(self, customer_id: str) -> None:
        """Close the account (data kept 30 days, then deleted)."""
        with self._connect() as db:
            db.execute("UPDATE customers SET status = 'closed', closed_at = ? WHERE id = ?",
                       (_now().isoformat(), customer_id))
            email = db.execute("SELECT email FROM customers WHERE id = ?", (customer_id,)).fetchone()[0]
            self._send_email(db, email, "Your account is closed",
                             "Your account was closed. Your data is deleted after 30 days.", "account_closed")

    # -- passwords and links --------------------------------------------------------------------------------
    def send_password_reset(self, customer: Customer) -> Link:
        """Email a single-use expiring link that sets a new password (and unlocks a locked account)."""
        purpose = "unlock_reset" if customer.status == "locked" else "password_reset"
        with self._connect() as db:
            token, expires = self._issue_token(db, customer.id, purpose)
            url = f"{self.public_url}/account/reset?token={token}"
            self._send_email(db, customer.email, "Reset your password", url, purpose)
        return Link(url=url, token=token, expires_at=expires, sent_to=customer.email)

    def send_payment_method_link(self, customer: Customer) -> Link:
        """Email a single-use link to the hosted page where the card is changed (never in the chat)."""
        with self._connect() as db:
            token, expires = self._issue_token(db, customer.id, "payment_method")
            url = f"{self.public_url}/billing/payment-method?token={token}"
            self._send_email(db, customer.email, "Update your payment method", url, "payment_method")
        return Link(url=url, token=token, expires_at=expires, sent_to=customer.email)

    def send_verification_code(self, customer: Customer) -> None:
        """Email a six-digit code that proves the person in the chat reads the account's inbox."""
        code = f"{secrets.randbelow(10**6):06d}"
        with self._connect() as db:
            db.execute("UPDATE tokens SET used_at = ? WHERE customer_id = ? AND purpose = 'chat_code' "
                       "AND used_at IS NULL", (_now().isoformat(), customer.id))
            self._issue_token(db, customer.id, "chat_code", token=f"{customer.id}:{code}")
            self._send_email(db, customer.email, "Your verification code", f"Your code is {code}", "chat_code")

    def check_verification_code(self, customer: Customer, code: str) -> bool:
        """Consume the customer's pending chat code when it matches and has not expired."""
        digits = "".join(ch for ch in code if ch.isdigit())
        return len(digits) == 6 and self.redeem(f"{customer.id}:{digits}", "chat_code") is not None

    def redeem(self, token: str, purpose: str) -> str | None:
        """Use a token once; returns the customer id, or None when unknown, used, expired or for another purpose.

        Redeeming an unlock link unlocks the account; an email-change link changes the address.
        """
        with self._connect() as db:
            row = db.execute("SELECT * FROM tokens WHERE token_hash = ?", (_hash(token),)).fetchone()
            if (row is None or row["used_at"] is not None or row["purpose"] != purpose
                    or datetime.fromisoformat(row["expires_at"]) < _now()):
                return None
            db.execute("UPDATE tokens SET used_at = ? WHERE token_hash = ?", (_now().isoformat(), row["token_hash"]))
            if purpose == "unlock_reset":
                db.execute("UPDATE customers SET status = 'active', failed_logins = 0, lock_reason = NULL "
                           "WHERE id = ?", (row["customer_id"],))
            elif purpose == "change_email":
                new_email = json.loads(row["payload"])["email"]
                db.execute("UPDATE customers SET email = ? WHERE id = ?", (new_email, row["customer_id"]))
            elif purpose == "verify_email":
                db.execute("UPDATE customers SET status = 'active' WHERE id = ?", (row["customer_id"],))
            return str(row["customer_id"])

    def outbox(self, to: str | None = None) -> list[dict[str, Any]]:
        """Emails sent so far, newest last (optionally only to one address)."""
        with self._connect() as db:
            if to:
                rows = db.execute("SELECT * FROM outbox WHERE to_address = ? ORDER BY id", (to.lower(),)).fetchall()
            else:
                rows = db.execute("SELECT * FROM outbox ORDER BY id").fetchall()
        return [dict(row) for row in rows]

    # -- billing --------------------------------------------------------------------------------------------
    @staticmethod
    def _invoice(row: sqlite3.Row) -> Invoice:
        return Invoice(id=row["id"], customer_id=row["customer_id"], amount=row["amount"], currency=row["currency"],
                       issued_on=date.fromisoformat(row["issued_on"]), due_on=date.fromisoformat(row["due_on"]),
                       status=row["status"])

    @staticmethod
    def _charge(row: sqlite3.Row) -> Charge:
        return Charge(id=row["id"], customer_id=row["customer_id"], invoice_id=row["invoice_id"],
                      amount=row["amount"], charged_on=date.fromisoformat(row["charged_on"]), status=row["status"],
                      description=row["description"])

    @staticmethod
    def _refund(row: sqlite3.Row) -> Refund:
        return Refund(id=row["id"], customer_id=row["customer_id"], charge_id=row["charge_id"], amount=row["amount"],
                      requested_on=date.fromisoformat(row["requested_on"]), status=row["status"],
                      expected_on=_as_date(row["expected_on"]))

    def latest_invoice(self, customer_id: str) -> Invoice | None:
        """The most recently issued invoice."""
        with self._connect() as db:
            row = db.execute("SELECT * FROM invoices WHERE customer_id = ? ORDER BY issued_on DESC, id DESC LIMIT 1",
                             (customer_id,)).fetchone()
        return None if row is None else self._invoice(row)

    def open_balance(self, customer_id: str) -> float:
        """Total of the invoices not paid yet."""
        with self._connect() as db:
            total = db.execute("SELECT COALESCE(SUM(amount), 0) FROM invoices WHERE customer_id = ? AND status = 'open'",
                               (customer_id,)).fetchone()[0]
        return float(total)

    def find_charges(self, customer_id: str, invoice_id: str | None = None, amount: float | None = None) -> list[Charge]:
        """Charges of this customer on an invoice or of an amount (last 90 days), oldest first."""
        query = "SELECT * FROM charges WHERE customer_id = ?"
        params: list[Any] = [customer_id]
        if invoice_id:
            query += " AND invoice_id = ?"
            params.append(invoice_id.upper())
        if amount is not None:
            query += " AND ABS(amount - ?) < 0.005 AND charged_on >= ?"
            params += [amount, (_today() - timedelta(days=90)).isoformat()]
        with self._connect() as db:
            rows = db.execute(query + " ORDER BY charged_on, id", params).fetchall()
        return [self._charge(row) for row in rows]

    def refunds(self, customer_id: str) -> list[Refund]:
        """All refunds of the customer, newest first."""
        with self._connect() as db:
            rows = db.execute("SELECT * FROM refunds WHERE customer_id = ? ORDER BY requested_on DESC, id DESC",
                              (customer_id,)).fetchall()
        return [self._refund(row) for row in rows]

    def refund_for_charge(self, charge_id: str) -> Refund | None:
        """The refund already issued for a charge, if any."""
        with self._connect() as db:
            row = db.execute("SELECT * FROM refunds WHERE charge_id = ?", (charge_id,)).fetchone()
        return None if row is None else self._refund(row)

    def refund_duplicate(self, charge: Charge) -> Refund:
        """Refund a charge that duplicates another one (idempotent: an existing refund is returned)."""
        existing = self.refund_for_charge(charge.id)
        if existing is not None:
            return existing
        refund_id = f"REF-{secrets.randbelow(9000) + 1000}"
        today = _today()
        with self._connect() as db:
            db.execute("INSERT INTO refunds VALUES (?,?,?,?,?,?,?,?)",
                       (refund_id, charge.customer_id, charge.id, charge.amount, today.isoformat(), "processing",
                        (today + timedelta(days=REFUND_DAYS)).isoformat(), "duplicate charge"))
            db.execute("UPDATE charges SET status = 'refunded' WHERE id = ?", (charge.id,))
        refund = self.refund_for_charge(charge.id)
        assert refund is not None
        return refund


def duplicate_of(charges: list[Charge]) -> tuple[Charge, Charge] | None:
    """Return (original, duplicate) when two charges share invoice and amount within two days."""
    ordered = sorted(charges, key=lambda c: (c.charged_on, c.id))
    for index, first in enumerate(ordered):
        for second in ordered[index + 1:]:
            if (first.invoice_id == second.invoice_id and abs(first.amount - second.amount) < 0.005
                    and second.charged_on - first.charged_on <= DUPLICATE_WINDOW):
                return first, second
    return None
