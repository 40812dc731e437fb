-- gate402 store, version 3: uses counted per L402 token on routes sold by the use
-- (`uses = N`): one row per token, incremented atomically by whichever gateway serves it.
CREATE TABLE token_uses (
    token_id BLOB PRIMARY KEY,
    uses INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX token_uses_expiry ON token_uses (expires_at);
