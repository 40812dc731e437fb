-- gate402 store, version 4 (SQLite): payment states and the x402 settlement journal.
--
-- payments.state: 'admitted' (recorded before the request went upstream), 'served' (the
-- response was delivered), 'unserved' (the upstream failed or the settlement landed without
-- its response: the buyer may present the same payment again and is served from this row).
-- Rows from before this version were served. payments.use_key: the single-use key the
-- payment consumed (MPP charges, x402), through which a retry finds an unserved row.
ALTER TABLE payments ADD COLUMN state TEXT NOT NULL DEFAULT 'served';
ALTER TABLE payments ADD COLUMN use_key BLOB;
CREATE INDEX payments_use_key ON payments (use_key) WHERE use_key IS NOT NULL;
CREATE INDEX payments_state ON payments (state) WHERE state <> 'served';

-- x402 settlements signed and (about to be) sent whose outcome no buyer has seen yet,
-- written before the transaction is sent. Leased to the waiting request until
-- lease_until; after it any gateway may reconcile them.
CREATE TABLE x402_pending (
    key BLOB PRIMARY KEY,
    tx_hash TEXT NOT NULL,
    raw BLOB NOT NULL,
    tx_nonce INTEGER NOT NULL,
    valid_before INTEGER NOT NULL,
    broadcast_at INTEGER NOT NULL,
    lease_until INTEGER NOT NULL,
    tag TEXT NOT NULL
);
CREATE INDEX x402_pending_lease ON x402_pending (lease_until);
