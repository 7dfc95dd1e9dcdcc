CREATE TABLE IF NOT EXISTS customers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE,
    tier TEXT NOT NULL,
    plan TEXT NOT NULL,
    mrr REAL NOT NULL DEFAULT 0,
    renewal_date TEXT,
    status TEXT NOT NULL,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    lock_reason TEXT,
    created_at TEXT NOT NULL,
    closed_at TEXT
);
CREATE TABLE IF NOT EXISTS invoices (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers(id),
    amount REAL NOT NULL,
    currency TEXT NOT NULL,
    issued_on TEXT NOT NULL,
    due_on TEXT NOT NULL,
    status TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS charges (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers(id),
    invoice_id TEXT REFERENCES invoices(id),
    amount REAL NOT NULL,
    charged_on TEXT NOT NULL,
    status TEXT NOT NULL,
    description TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS refunds (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers(id),
    charge_id TEXT REFERENCES charges(id),
    amount REAL NOT NULL,
    requested_on TEXT NOT NULL,
    status TEXT NOT NULL,
    expected_on TEXT,
    reason TEXT
);
-- Single-use, expiring links (password reset, unlock, payment method, email verification) and codes.
CREATE TABLE IF NOT EXISTS tokens (
    token_hash TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers(id),
    purpose TEXT NOT NULL,
    payload TEXT,
    expires_at TEXT NOT NULL,
    used_at TEXT
);
-- Every email the business would send (`python -m actions.backend outbox` prints them; the log only says that one
-- went out, to a masked address).
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    to_address TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    purpose TEXT NOT NULL,
    created_at TEXT NOT NULL
);
-- Six-digit codes typed in the chat, at most one live per address. An address without an account gets one too (never
-- emailed, never matching) so that the chat answers alike whether or not an account exists. Wrong tries are counted:
-- at the limit the code is burned (used_at set). code_hash is an HMAC-SHA256 keyed with the random key in the file
-- beside the database (<db>.key, owner-only), so a copy of the database alone cannot test the million codes.
CREATE TABLE IF NOT EXISTS chat_codes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    address TEXT NOT NULL,
    customer_id TEXT REFERENCES customers(id),
    code_hash TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    expires_at TEXT NOT NULL,
    used_at TEXT
);
CREATE INDEX IF NOT EXISTS chat_codes_by_address ON chat_codes (address, used_at);
-- Reset links, payment-method links, sign-up emails and codes requested per address (kind), whether or not an
-- account exists: the hourly limit counts these rows.
CREATE TABLE IF NOT EXISTS send_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    address TEXT NOT NULL,
    kind TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS send_log_by_address ON send_log (address, kind, created_at);
-- Passwords set on the demo site's reset page: a salted scrypt hash (params says how it was made), never the password.
CREATE TABLE IF NOT EXISTS passwords (
    customer_id TEXT PRIMARY KEY REFERENCES customers(id),
    hash TEXT NOT NULL,
    salt TEXT NOT NULL,
    params TEXT NOT NULL,
    changed_at TEXT NOT NULL
);
-- The card on file, as the demo site's payment-method page leaves it: brand, last four digits and expiry only (a real
-- business keeps the number at its payment processor; nothing here can charge a card).
CREATE TABLE IF NOT EXISTS payment_methods (
    customer_id TEXT PRIMARY KEY REFERENCES customers(id),
    brand TEXT NOT NULL,
    last4 TEXT NOT NULL,
    exp_month INTEGER NOT NULL,
    exp_year INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);
