-- gate402 store, version 1 (SQLite). Amounts and times are Unix seconds / msat in INTEGER.
CREATE TABLE payments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    protocol TEXT NOT NULL,
    rail TEXT NOT NULL,
    reference TEXT NOT NULL,
    token_id TEXT,
    route TEXT NOT NULL,
    amount_msat INTEGER NOT NULL,
    payer TEXT,
    created_at INTEGER NOT NULL,
    UNIQUE (protocol, reference)
);
CREATE INDEX payments_route ON payments (route, protocol);
CREATE INDEX payments_created ON payments (created_at);

CREATE TABLE consumed (
    key BLOB PRIMARY KEY,
    protocol TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    consumed_at INTEGER NOT NULL
);
CREATE INDEX consumed_expires ON consumed (expires_at);

CREATE TABLE revocations (
    token_id BLOB PRIMARY KEY,
    revoked_at INTEGER NOT NULL
);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    protocol TEXT NOT NULL,
    version INTEGER NOT NULL,
    data TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE invoice_pool (
    payment_hash BLOB PRIMARY KEY,
    route TEXT NOT NULL,
    amount_msat INTEGER NOT NULL,
    bolt11 TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX invoice_pool_take ON invoice_pool (route, amount_msat, expires_at);
