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
-- Every email the business would send; shown in the log in development.
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    to_address TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    purpose TEXT NOT NULL,
    created_at TEXT NOT NULL
);
