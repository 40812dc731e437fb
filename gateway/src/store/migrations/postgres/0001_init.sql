-- gate402 store, version 1 (PostgreSQL). Amounts and times are Unix seconds / msat in BIGINT.
CREATE TABLE payments (
    id BIGSERIAL PRIMARY KEY,
    protocol TEXT NOT NULL,
    rail TEXT NOT NULL,
    reference TEXT NOT NULL,
    token_id TEXT,
    route TEXT NOT NULL,
    amount_msat BIGINT NOT NULL,
    payer TEXT,
    created_at BIGINT NOT NULL,
    UNIQUE (protocol, reference)
);
CREATE INDEX payments_route ON payments (route, protocol);
CREATE INDEX payments_created ON payments (created_at);

CREATE TABLE consumed (
    key BYTEA PRIMARY KEY,
    protocol TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    consumed_at BIGINT NOT NULL
);
CREATE INDEX consumed_expires ON consumed (expires_at);

CREATE TABLE revocations (
    token_id BYTEA PRIMARY KEY,
    revoked_at BIGINT NOT NULL
);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    protocol TEXT NOT NULL,
    version BIGINT NOT NULL,
    data TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE invoice_pool (
    payment_hash BYTEA PRIMARY KEY,
    route TEXT NOT NULL,
    amount_msat BIGINT NOT NULL,
    bolt11 TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX invoice_pool_take ON invoice_pool (route, amount_msat, expires_at);
