-- gate402 store, version 2: MPP Lightning session balances as typed columns of `sessions`, so
-- that a per-request deduction is one conditional UPDATE (never an overdraft, whichever
-- gateway of a fleet deducts) and the idle sweeper can claim sessions with one UPDATE.
ALTER TABLE sessions ADD COLUMN route TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN deposited INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN spent INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN state TEXT NOT NULL DEFAULT 'open';
ALTER TABLE sessions ADD COLUMN last_used INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN idle_timeout INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN return_invoice TEXT;
CREATE INDEX sessions_idle ON sessions (state, last_used);
