-- gate402 store, version 8: route prices set at run time by the admin API (`PUT
-- /api/routes/<name>/price`), shared by every gateway using the store. `floor_msat` until
-- `floor_until` (Unix s): the lowest price a challenge still outstanding may have been issued
-- at (single-use credentials paying at least that are accepted until then).
CREATE TABLE route_prices (
    route TEXT PRIMARY KEY,
    price_msat BIGINT NOT NULL,
    floor_msat BIGINT NOT NULL,
    floor_until BIGINT NOT NULL,
    changed_at BIGINT NOT NULL
);
