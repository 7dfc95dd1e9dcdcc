"""SQLite implementation of the demo business backend (accounts, invoices, charges, refunds, links, outbox).

A real deployment replaces this module with an adapter to its own API; the actions only use the public
methods of DemoBackend and the plain records below.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from contract.redact import mask_email

logger = logging.getLogger(__name__)

SCHEMA = Path(__file__).with_name("schema.sql")
DUPLICATE_WINDOW = timedelta(days=2)
REFUND_DAYS = 7
# Reset links, and codes, per address and rolling hour; wrong tries before a code is burned (ActionSettings overrides).
SENDS_PER_HOUR = 3
MAX_CODE_ATTEMPTS = 3
SEND_WINDOW = timedelta(hours=1)
# A new link voids the unused earlier links of its family for that account (one live reset link, one email change).
TOKEN_FAMILIES = (
    ("password_reset", "unlock_reset"),
    ("approve_email_change", "change_email"),
    ("payment_method",),
    ("verify_email",),
)
SIGNUP_NOTICE = (
    "Someone asked to create a new account with this email address, but it already belongs to an account with us, so "
    "nothing was created and nothing changed. If it was you and you can't sign in, use \"Forgot password\" or ask our "
    "support chat. If it wasn't you, you can ignore this email."
)
# scrypt cost of stored passwords: 16 MiB and ~50 ms per hash (hashlib's default memory limit is 32 MiB).
SCRYPT_N, SCRYPT_R, SCRYPT_P, SCRYPT_LEN = 2**14, 8, 1, 32
HOLD_NOTICE = (
    "Someone asked to reset the password of your account. Your account is on a security hold, so it can't be "
    "unlocked by email. If it was you, ask for a person in our support chat: they will check it's you and help. "
    "If it wasn't you, nothing changes."
)


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


def _stamp(moment: datetime) -> str:
    """A UTC timestamp with a fixed format, so that SQL compares them as text in time order."""
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _code_mac(key: bytes, address: str, code: str) -> str:
    """What is stored of a chat code: keyed, so that the database alone cannot test the million possible codes."""
    return hmac.new(key, f"{address}:{code}".encode(), hashlib.sha256).hexdigest()


def _family(purpose: str) -> tuple[str, ...]:
    return next((family for family in TOKEN_FAMILIES if purpose in family), (purpose,))


@dataclass(frozen=True)
class CodeCheck:
    """What a code typed in the chat achieved: the customer it verifies, or that the code is now burned."""

    customer_id: str | None = None
    burned: bool = False

    @property
    def verified(self) -> bool:
        """The code matched the live code of an account."""
        return self.customer_id is not None


@dataclass(frozen=True)
class PaymentMethod:
    """The card on file, as much of it as the business keeps: brand, last four digits and expiry."""

    brand: str
    last4: str
    exp_month: int
    exp_year: int


def _scrypt(password: str, salt: bytes, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=SCRYPT_LEN)


def _as_date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


class DemoBackend:
    """The seeded demo business, stored in one SQLite file."""

    def __init__(self, db_path: Path, seed_path: Path, public_url: str, link_ttl_minutes: int = 30) -> None:
        self.db_path = Path(db_path)
        self.seed_path = Path(seed_path)
        self.public_url = public_url.rstrip("/")
        self.link_ttl = timedelta(minutes=link_ttl_minutes)
        self._code_key: bytes | None = None

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

    @property
    def code_key_path(self) -> Path:
        """Where the key of the chat-code MACs lives: beside the database, never in it (owner-only file)."""
        return self.db_path.with_name(f"{self.db_path.name}.key")

    def _code_key_bytes(self) -> bytes:
        """This database's chat-code key, created (random, owner-only) the first time it is needed."""
        if self._code_key is not None:
            return self._code_key
        path = self.code_key_path
        try:
            if not path.exists():
                # Written to a private temporary file, then linked into place: a concurrent first use by another
                # process either wins the link or reads the finished key, never a half-written one.
                temporary = path.with_name(f"{path.name}.{secrets.token_hex(8)}.tmp")
                descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                try:
                    with os.fdopen(descriptor, "wb") as handle:
                        handle.write(secrets.token_bytes(32))
                    os.link(temporary, path)
                except FileExistsError:
                    pass
                finally:
                    temporary.unlink(missing_ok=True)
            key = path.read_bytes()
        except OSError as error:
            raise BackendUnavailable(f"cannot read the chat-code key: {error}") from error
        if len(key) < 32:
            raise BackendUnavailable(f"the chat-code key in {path.name} is too short")
        self._code_key = key
        return key

    def ensure_seeded(self) -> None:
        """Create and seed the database when the file does not exist yet; add tables a newer schema brought."""
        if not self.db_path.exists():
            self.reset()
            return
        try:
            with sqlite3.connect(self.db_path) as schema_connection:
                schema_connection.executescript(SCHEMA.read_text())  # CREATE ... IF NOT EXISTS only
            schema_connection.close()
        except (OSError, sqlite3.Error) as error:
            raise BackendUnavailable(f"cannot update the business database: {error}") from error
        self._code_key_bytes()

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
        self._code_key_bytes()  # kept across reseeds: a running action server holds it in memory
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
        # Never the body: it holds the link token or the code (`python -m actions.backend outbox` shows it).
        logger.info("outbox: %s email sent to %s", purpose, mask_email(to))

    @staticmethod
    def _claim_send(db: sqlite3.Connection, address: str, kind: str, per_hour: int) -> bool:
        """Count one more send of this kind to this address, unless it already had per_hour in the last hour."""
        now = _now()
        db.execute("DELETE FROM send_log WHERE created_at < ?", (_stamp(now - 24 * SEND_WINDOW),))
        recent = db.execute(
            "SELECT COUNT(*) FROM send_log WHERE address = ? AND kind = ? AND created_at > ?",
            (address, kind, _stamp(now - SEND_WINDOW)),
        ).fetchone()[0]
        if recent >= per_hour:
            logger.info("send limit: %s for %s not sent (%d in the last hour)", kind, mask_email(address), recent)
            return False
        db.execute("INSERT INTO send_log (address, kind, created_at) VALUES (?,?,?)", (address, kind, _stamp(now)))
        return True

    def _issue_token(
        self, db: sqlite3.Connection, customer_id: str, purpose: str, payload: dict[str, Any] | None = None,
        token: str | None = None,
    ) -> tuple[str, datetime]:
        token = token or secrets.token_urlsafe(32)
        expires = _now() + self.link_ttl
        family = _family(purpose)
        db.execute(
            f"UPDATE tokens SET used_at = ? WHERE customer_id = ? AND used_at IS NULL "
            f"AND purpose IN ({','.join('?' * len(family))})",
            (_now().isoformat(), customer_id, *family),
        )
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
        """Open an account awaiting email verification and send the verification link.

        No limit and no check of the address: a chat uses request_signup.
        """
        email = email.strip().lower()
        with self._connect() as db:
            customer_id = self._open_account(db, email, plan, name)
            row = db.execute("SELECT * FROM customers WHERE id = ?", (customer_id,)).fetchone()
        customer = self._customer(row)
        assert customer is not None
        return customer

    def request_signup(self, email: str, plan: str, per_hour: int = SENDS_PER_HOUR) -> bool:
        """Sign an address up, whatever it is: the chat's answer never depends on whether it already has an account.

        A free address gets a new account awaiting verification and its link; an account still awaiting verification
        gets the plan asked for and a new link (the earlier one dies); any other account only a notice, and nothing
        about it changes. Returns False, sending nothing, when the address already had per_hour sign-up emails in the
        last hour (counted whether or not an account exists).
        """
        email = email.strip().lower()
        with self._connect() as db:
            if not self._claim_send(db, email, "signup", per_hour):
                return False
            row = db.execute("SELECT id, status FROM customers WHERE email = ?", (email,)).fetchone()
            if row is None:
                self._open_account(db, email, plan)
            elif row["status"] == "pending_verification":
                db.execute("UPDATE customers SET plan = ?, tier = ? WHERE id = ?", (plan, plan, row["id"]))
                self._send_verification_link(db, row["id"], email)
            else:
                self._send_email(db, email, "About your sign-up request", SIGNUP_NOTICE, "signup_existing")
        return True

    def _open_account(self, db: sqlite3.Connection, email: str, plan: str, name: str = "") -> str:
        customer_id = f"cus_{secrets.token_hex(4)}"
        db.execute(
            "INSERT INTO customers VALUES (?,?,?,?,?,0,NULL,'pending_verification',0,NULL,?,NULL)",
            (customer_id, name or email.split("@")[0], email, plan, plan, _now().isoformat()),
        )
        self._send_verification_link(db, customer_id, email)
        return customer_id

    def _send_verification_link(self, db: sqlite3.Connection, customer_id: str, email: str) -> None:
        token, _ = self._issue_token(db, customer_id, "verify_email")
        self._send_email(db, email, "Verify your email", f"{self.public_url}/account/verify?token={token}",
                         "verify_email")

    def update_name(self, customer_id: str, name: str) -> None:
        """Change the account holder's name."""
        with self._connect() as db:
            db.execute("UPDATE customers SET name = ? WHERE id = ?", (name, customer_id))

    def request_email_change(self, customer_id: str, new_email: str) -> Link:
        """Ask the address on file to approve the move to new_email; returns that approval link.

        The new address hears nothing until the current one approves (redeem "approve_email_change"); it then gets
        its own confirmation link, and the email changes once that one is followed too. Whoever got into the chat
        cannot move the account to an inbox of theirs without the owner's inbox.
        """
        new_email = new_email.strip().lower()
        with self._connect() as db:
            current = db.execute("SELECT email FROM customers WHERE id = ?", (customer_id,)).fetchone()[0]
            token, expires = self._issue_token(db, customer_id, "approve_email_change", {"email": new_email})
            url = f"{self.public_url}/account/approve-email-change?token={token}"
            body = (
                f"Someone asked to change the email address of your account to {new_email}. If it was you, approve "
                f"the change here: {url} \nIf it wasn't you, ignore this email and reset your password: your "
                "address stays as it is."
            )
            self._send_email(db, current, "Approve the change of your email address", body, "approve_email_change")
        return Link(url=url, token=token, expires_at=expires, sent_to=current)

    def _confirm_new_email(self, db: sqlite3.Connection, customer_id: str, new_email: str) -> None:
        token, _ = self._issue_token(db, customer_id, "change_email", {"email": new_email})
        self._send_email(db, new_email, "Confirm your new email address",
                         f"{self.public_url}/account/confirm-email?token={token}", "change_email")

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
        """Email a single-use expiring link that sets a new password (and unlocks a locked account).

        No limit and no security-hold check: a chat uses request_password_reset.
        """
        with self._connect() as db:
            return self._send_reset(db, customer)

    def _send_reset(self, db: sqlite3.Connection, customer: Customer) -> Link:
        purpose = "unlock_reset" if customer.status == "locked" else "password_reset"
        token, expires = self._issue_token(db, customer.id, purpose)
        url = f"{self.public_url}/account/reset?token={token}"
        self._send_email(db, customer.email, "Reset your password", url, purpose)
        return Link(url=url, token=token, expires_at=expires, sent_to=customer.email)

    def request_password_reset(self, address: str, per_hour: int = SENDS_PER_HOUR) -> bool:
        """Email the open account with this address a reset link, whatever it is: the chat's answer never depends on it.

        Locked after failed attempts: the link also unlocks. On a security hold: a notice, no link. No open account:
        nothing. Returns False, sending nothing, when the address already had per_hour requests in the last hour
        (counted whether or not an account exists).
        """
        address = address.strip().lower()
        with self._connect() as db:
            if not self._claim_send(db, address, "reset", per_hour):
                return False
            customer = self._customer(db.execute(
                "SELECT * FROM customers WHERE email = ? AND status != 'closed'", (address,)).fetchone())
            if customer is None:
                return True
            if customer.status == "locked" and customer.lock_reason != "failed_attempts":
                self._send_email(db, customer.email, "About your password reset request", HOLD_NOTICE,
                                 "security_hold_notice")
            else:
                self._send_reset(db, customer)
        return True

    def send_payment_method_link(self, customer: Customer) -> Link:
        """Email a single-use link to the hosted page where the card is changed (never in the chat).

        No limit: a chat uses request_payment_method_link.
        """
        with self._connect() as db:
            return self._send_payment_link(db, customer)

    def _send_payment_link(self, db: sqlite3.Connection, customer: Customer) -> Link:
        token, expires = self._issue_token(db, customer.id, "payment_method")
        url = f"{self.public_url}/billing/payment-method?token={token}"
        self._send_email(db, customer.email, "Update your payment method", url, "payment_method")
        return Link(url=url, token=token, expires_at=expires, sent_to=customer.email)

    def request_payment_method_link(self, address: str, per_hour: int = SENDS_PER_HOUR) -> bool:
        """Email the open account with this address a payment-method link; an address without one gets nothing.

        Returns False, sending nothing, when the address already had per_hour of these requests in the last hour
        (counted whether or not an account exists), so that the chat's answer never depends on the account.
        """
        address = address.strip().lower()
        with self._connect() as db:
            if not self._claim_send(db, address, "payment", per_hour):
                return False
            customer = self._customer(db.execute(
                "SELECT * FROM customers WHERE email = ? AND status != 'closed'", (address,)).fetchone())
            if customer is not None:
                self._send_payment_link(db, customer)
        return True

    def send_verification_code(self, address: str, per_hour: int = SENDS_PER_HOUR) -> bool:
        """Email a six-digit code that proves the person in the chat reads the account's inbox; earlier codes die.

        An address without an open account gets a live code too, never emailed and never matching, so that checking
        it behaves exactly like a wrong code. Returns False, sending nothing (the earlier code stays live), when the
        address already had per_hour codes in the last hour.
        """
        address = address.strip().lower()
        now = _now()
        with self._connect() as db:
            if not self._claim_send(db, address, "code", per_hour):
                return False
            db.execute("UPDATE chat_codes SET used_at = ? WHERE address = ? AND used_at IS NULL", (_stamp(now), address))
            row = db.execute("SELECT id FROM customers WHERE email = ? AND status != 'closed'", (address,)).fetchone()
            code = f"{secrets.randbelow(10**6):06d}"
            key = self._code_key_bytes()
            code_hash = _code_mac(key, address, code) if row is not None else _code_mac(key, address, secrets.token_hex(16))
            db.execute(
                "INSERT INTO chat_codes (address, customer_id, code_hash, attempts, expires_at) VALUES (?,?,?,0,?)",
                (address, row["id"] if row is not None else None, code_hash, _stamp(now + self.link_ttl)),
            )
            if row is not None:
                self._send_email(db, address, "Your verification code", f"Your code is {code}", "chat_code")
        return True

    def check_verification_code(self, address: str, code: str, max_attempts: int = MAX_CODE_ATTEMPTS) -> CodeCheck:
        """Use the address's live code when it matches; count a wrong one, and burn the code at max_attempts."""
        address = (address or "").strip().lower()
        digits = "".join(ch for ch in code if ch.isdigit())
        now = _now()
        with self._connect() as db:
            row = db.execute(
                "SELECT * FROM chat_codes WHERE address = ? AND used_at IS NULL AND expires_at > ? ORDER BY id DESC "
                "LIMIT 1", (address, _stamp(now)),
            ).fetchone()
            if row is None:
                return CodeCheck()
            if (len(digits) == 6 and row["customer_id"] is not None
                    and hmac.compare_digest(row["code_hash"], _code_mac(self._code_key_bytes(), address, digits))):
                db.execute("UPDATE chat_codes SET used_at = ? WHERE id = ?", (_stamp(now), row["id"]))
                return CodeCheck(customer_id=str(row["customer_id"]))
            attempts = row["attempts"] + 1
            burned = attempts >= max_attempts
            db.execute("UPDATE chat_codes SET attempts = ?, used_at = ? WHERE id = ?",
                       (attempts, _stamp(now) if burned else None, row["id"]))
        if burned:
            logger.info("verification code for %s burned after %d wrong tries", mask_email(address), attempts)
        return CodeCheck(burned=burned)

    def peek(self, token: str, purpose: str) -> str | None:
        """The customer id a token would redeem for, without using it (a page showing a form must not burn the link).

        None when unknown, used, expired or for another purpose, exactly as redeem would refuse it.
        """
        with self._connect() as db:
            row = db.execute("SELECT * FROM tokens WHERE token_hash = ?", (_hash(token),)).fetchone()
        if (row is None or row["used_at"] is not None or row["purpose"] != purpose
                or datetime.fromisoformat(row["expires_at"]) < _now()):
            return None
        return str(row["customer_id"])

    def redeem(self, token: str, purpose: str) -> str | None:
        """Use a token once; returns the customer id, or None when unknown, used, expired or for another purpose.

        Redeeming an unlock link unlocks the account. An email change takes two links: the approval from the current
        address sends the new address its confirmation link; that one changes the address (unless another account
        took it meanwhile) and tells the old inbox.
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
            elif purpose in ("approve_email_change", "change_email"):
                new_email = json.loads(row["payload"])["email"]
                taken = db.execute("SELECT 1 FROM customers WHERE email = ? AND id != ?",
                                   (new_email, row["customer_id"])).fetchone()
                if taken is not None:
                    return None
                if purpose == "approve_email_change":
                    self._confirm_new_email(db, row["customer_id"], new_email)
                else:
                    old_email = db.execute("SELECT email FROM customers WHERE id = ?",
                                           (row["customer_id"],)).fetchone()[0]
                    db.execute("UPDATE customers SET email = ? WHERE id = ?", (new_email, row["customer_id"]))
                    self._send_email(db, old_email, "Your email address was changed",
                                     f"The email address of your account is now {new_email}. If it wasn't you, "
                                     "contact our support right away.", "email_changed")
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

    def set_password(self, customer_id: str, password: str) -> None:
        """Store a new password as a salted scrypt hash (the password itself is never stored or logged)."""
        salt = secrets.token_bytes(16)
        digest = _scrypt(password, salt)
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO passwords (customer_id, hash, salt, params, changed_at) VALUES (?,?,?,?,?)",
                (customer_id, digest.hex(), salt.hex(), f"scrypt:{SCRYPT_N}:{SCRYPT_R}:{SCRYPT_P}", _stamp(_now())),
            )
        logger.info("password changed for %s", customer_id)

    def check_password(self, customer_id: str, password: str) -> bool:
        """True when the password matches the one last set (False when none was ever set)."""
        with self._connect() as db:
            row = db.execute("SELECT * FROM passwords WHERE customer_id = ?", (customer_id,)).fetchone()
        if row is None:
            return False
        _, n, r, p = row["params"].split(":")
        digest = _scrypt(password, bytes.fromhex(row["salt"]), int(n), int(r), int(p))
        return hmac.compare_digest(digest.hex(), row["hash"])

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

    def set_payment_method(self, customer_id: str, brand: str, last4: str, exp_month: int, exp_year: int) -> None:
        """Make a card the account's payment method; only what may be kept of it is taken (never the full number)."""
        if not (len(last4) == 4 and last4.isascii() and last4.isdigit()) or not 1 <= exp_month <= 12:
            raise ValueError("last4 must be four digits and exp_month 1-12")
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO payment_methods (customer_id, brand, last4, exp_month, exp_year, updated_at) "
                "VALUES (?,?,?,?,?,?)", (customer_id, brand, last4, exp_month, exp_year, _stamp(_now())),
            )
        logger.info("payment method changed for %s", customer_id)

    def payment_method(self, customer_id: str) -> PaymentMethod | None:
        """The card on file, or None when none was set."""
        with self._connect() as db:
            row = db.execute("SELECT * FROM payment_methods WHERE customer_id = ?", (customer_id,)).fetchone()
        if row is None:
            return None
        return PaymentMethod(brand=row["brand"], last4=row["last4"], exp_month=row["exp_month"], exp_year=row["exp_year"])


def duplicate_of(charges: list[Charge]) -> tuple[Charge, Charge] | None:
    """Return (original, duplicate) when two charges share invoice and amount within two days."""
    ordered = sorted(charges, key=lambda c: (c.charged_on, c.id))
    for index, first in enumerate(ordered):
        for second in ordered[index + 1:]:
            if (first.invoice_id == second.invoice_id and abs(first.amount - second.amount) < 0.005
                    and second.charged_on - first.charged_on <= DUPLICATE_WINDOW):
                return first, second
    return None
