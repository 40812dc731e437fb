-- gate402 store, version 9: the invoice pool's reserve stored in claim order.
--
-- A claim deletes the rows that expire first. Keyed by `payment_hash` (random), every
-- claimed row dirtied its own page of the key's index, so a claim of 32 rows rewrote ≈ 35
-- pages into the WAL (≈ 9 CPU-µs per claimed invoice over a 100,000-row reserve: a third of
-- an unpaid 402's cost, issue I). Clustered on (route, amount_msat, expires_at,
-- payment_hash), a claim removes neighbouring rows from two or three pages.
--
-- `payment_hash` alone is no longer unique, and need not be: an invoice's amount and expiry
-- are its own, so the key still admits each invoice once per route, and an invoice is added
-- to the reserve for the one route it was minted for.
CREATE TABLE invoice_pool_clustered (
    payment_hash BLOB NOT NULL,
    route TEXT NOT NULL,
    amount_msat INTEGER NOT NULL,
    bolt11 TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (route, amount_msat, expires_at, payment_hash)
) WITHOUT ROWID;
INSERT INTO invoice_pool_clustered
    SELECT payment_hash, route, amount_msat, bolt11, expires_at, created_at FROM invoice_pool;
DROP TABLE invoice_pool;
ALTER TABLE invoice_pool_clustered RENAME TO invoice_pool;
