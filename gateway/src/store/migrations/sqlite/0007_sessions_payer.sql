-- gate402 store, version 7: who opened an MPP session (payee node of its return invoice, or
-- the client address), so that open sessions per payer can be bounded.
ALTER TABLE sessions ADD COLUMN payer TEXT;
CREATE INDEX sessions_payer ON sessions (payer, state);
