-- gate402 store, version 9: nothing to change on PostgreSQL.
--
-- SQLite's version 9 clusters the invoice pool's reserve in claim order, because each row a
-- claim deleted rewrote a page of the random `payment_hash` index. PostgreSQL removes index
-- entries of deleted rows later (vacuum, bottom-up deletion), not in the claim's commit, and
-- its claim (`FOR UPDATE SKIP LOCKED`) deletes by `payment_hash`: the table stays as it is.
-- The version is kept so that both backends count the same versions.
SELECT 1;
