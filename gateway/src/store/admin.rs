//! The admin API's half of the store (issue G item 2): run-time route prices shared by every
//! gateway using the store, the ledger read by pages (keyset on the row id, newest first) and
//! revenue per day × route × protocol. Both SQL backends implement it with one macro.

use async_trait::async_trait;
use serde::Serialize;

use super::{PaymentRecord, StoreResult};

/// A route's price set at run time (`route_prices`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoutePrice {
    /// Route name.
    pub route: String,
    /// Price of new challenges, msat.
    pub price_msat: u64,
    /// Lowest price an outstanding challenge may carry (until `floor_until`), msat.
    pub floor_msat: u64,
    /// Unix seconds until which single-use credentials paying `floor_msat` or more pass.
    pub floor_until: u64,
    /// Unix seconds of the last change.
    pub changed_at: u64,
}

impl RoutePrice {
    /// The row written when the price of a route whose price is now `current` (and whose
    /// floor, if any, is `self_before`) becomes `new` at `now`; outstanding challenges stay
    /// payable for `grace_secs`.
    pub fn next(
        before: Option<&RoutePrice>,
        route: &str,
        current: u64,
        new: u64,
        grace_secs: u64,
        now: u64,
    ) -> RoutePrice {
        let active_floor = before.filter(|b| b.floor_until > now);
        let floor = active_floor.map_or(u64::MAX, |b| b.floor_msat);
        let floor_msat = floor.min(current).min(new);
        let until = active_floor.map_or(0, |b| b.floor_until);
        RoutePrice {
            route: route.to_owned(),
            price_msat: new,
            floor_msat,
            floor_until: until.max(now.saturating_add(grace_secs)),
            changed_at: now,
        }
    }

    /// The floor if it is still in force at `now`.
    pub fn floor_at(&self, now: u64) -> Option<u64> {
        (self.floor_until > now && self.floor_msat < self.price_msat).then_some(self.floor_msat)
    }
}

/// One page request of the ledger. Empty fields match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerQuery {
    /// Only this route.
    pub route: Option<String>,
    /// Only this protocol.
    pub protocol: Option<String>,
    /// Only payments at or after this Unix second.
    pub since: Option<u64>,
    /// Only payments before this Unix second.
    pub until: Option<u64>,
    /// Only rows older than this id (the previous page's `next`).
    pub before_id: Option<i64>,
    /// Page size.
    pub limit: u32,
}

/// A ledger row with its id (the paging cursor).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerEntry {
    /// Row id: newer rows have larger ids.
    pub id: i64,
    /// The payment.
    #[serde(flatten)]
    pub payment: PaymentRecord,
}

/// Payments and revenue of one UTC day for one route and protocol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DailyTotal {
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    /// Route name.
    pub route: String,
    /// Protocol id.
    pub protocol: String,
    /// Number of payments.
    pub payments: u64,
    /// Sum of amounts, msat.
    pub amount_msat: u64,
}

/// Admin reads and run-time prices.
#[async_trait]
pub trait AdminStore: Send + Sync {
    /// Every run-time price.
    async fn route_prices(&self) -> StoreResult<Vec<RoutePrice>>;
    /// Set `route`'s price to `new_msat` at `now` (its price before: the stored one, else
    /// `config_msat`), keeping the floor for outstanding challenges for `grace_secs`.
    async fn set_route_price(
        &self,
        route: &str,
        config_msat: u64,
        new_msat: u64,
        grace_secs: u64,
        now: u64,
    ) -> StoreResult<RoutePrice>;
    /// One page of the ledger, newest first.
    async fn ledger_page(&self, q: &LedgerQuery) -> StoreResult<Vec<LedgerEntry>>;
    /// Revenue per UTC day × route × protocol for the rows `q` selects (paging ignored).
    async fn daily_totals(&self, q: &LedgerQuery) -> StoreResult<Vec<DailyTotal>>;
}

/// `YYYY-MM-DD` of the UTC day number `days` since 1970-01-01 (Howard Hinnant's algorithm).
pub fn civil_date(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `WHERE` of ledger pages and daily totals: `$1` route, `$2` protocol, `$3` since, `$4`
/// until, `$5` before id.
pub(crate) const PAGE_WHERE: &str = "WHERE (CAST($1 AS TEXT) IS NULL OR route = $1) \
     AND (CAST($2 AS TEXT) IS NULL OR protocol = $2) \
     AND (CAST($3 AS BIGINT) IS NULL OR created_at >= $3) \
     AND (CAST($4 AS BIGINT) IS NULL OR created_at < $4) \
     AND (CAST($5 AS BIGINT) IS NULL OR id < $5)";

/// Upsert a run-time price: `$1` route, `$2` new price, `$3` min(config price, new price),
/// `$4` now + grace, `$5` now. With an older row: the floor is the lowest of the new price,
/// the old price and (while in force) the old floor; the floor lasts until the later of the
/// old end (while in force) and now + grace. Same as [`RoutePrice::next`].
pub(crate) const SET_PRICE: &str = "INSERT INTO route_prices (route, price_msat, floor_msat, \
     floor_until, changed_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (route) DO UPDATE SET \
     floor_msat = CASE \
       WHEN route_prices.floor_until > $5 AND route_prices.floor_msat < route_prices.price_msat \
         THEN CASE WHEN route_prices.floor_msat < $2 THEN route_prices.floor_msat ELSE $2 END \
       ELSE CASE WHEN route_prices.price_msat < $2 THEN route_prices.price_msat ELSE $2 END END, \
     floor_until = CASE WHEN route_prices.floor_until > $4 THEN route_prices.floor_until \
       ELSE $4 END, \
     price_msat = $2, changed_at = $5 \
     RETURNING route, price_msat, floor_msat, floor_until, changed_at";

/// Implement [`AdminStore`] for a struct with a `pool: sqlx::Pool<$db>` field (in a module
/// where `impl_sql_rows!` defined `payment_from_row`).
macro_rules! impl_sql_admin {
    ($ty:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::admin::AdminStore for $ty {
            async fn route_prices(&self) -> StoreResult<Vec<$crate::store::admin::RoutePrice>> {
                let rows = sqlx::query(
                    "SELECT route, price_msat, floor_msat, floor_until, changed_at \
                     FROM route_prices ORDER BY route",
                )
                .fetch_all(&self.pool)
                .await
                .map_err(classify)?;
                rows.iter().map(price_from_row).collect()
            }

            async fn set_route_price(
                &self,
                route: &str,
                config_msat: u64,
                new_msat: u64,
                grace_secs: u64,
                now: u64,
            ) -> StoreResult<$crate::store::admin::RoutePrice> {
                // One statement (no read-then-write transaction: SQLite would refuse the
                // upgrade under concurrent writers). In `DO UPDATE`, `route_prices.*` are the
                // old values: the floor keeps the lowest price still payable.
                let until = now.saturating_add(grace_secs);
                let row = sqlx::query($crate::store::admin::SET_PRICE)
                    .bind(route)
                    .bind(to_i64(new_msat, "price_msat")?)
                    .bind(to_i64(config_msat.min(new_msat), "floor_msat")?)
                    .bind(to_i64(until, "floor_until")?)
                    .bind(to_i64(now, "now")?)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(classify)?;
                price_from_row(&row)
            }

            async fn ledger_page(
                &self,
                q: &$crate::store::admin::LedgerQuery,
            ) -> StoreResult<Vec<$crate::store::admin::LedgerEntry>> {
                let sql = format!(
                    "SELECT id, {} FROM payments {} ORDER BY id DESC LIMIT $6",
                    $crate::store::sql::PAYMENT_COLUMNS,
                    $crate::store::admin::PAGE_WHERE
                );
                let rows = sqlx::query(&sql)
                    .bind(q.route.as_deref())
                    .bind(q.protocol.as_deref())
                    .bind(q.since.map(|s| to_i64(s, "since")).transpose()?)
                    .bind(q.until.map(|s| to_i64(s, "until")).transpose()?)
                    .bind(q.before_id)
                    .bind(i64::from(q.limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(classify)?;
                rows.iter()
                    .map(|r| {
                        Ok($crate::store::admin::LedgerEntry {
                            id: r.try_get("id").map_err(classify)?,
                            payment: payment_from_row(r)?,
                        })
                    })
                    .collect()
            }

            async fn daily_totals(
                &self,
                q: &$crate::store::admin::LedgerQuery,
            ) -> StoreResult<Vec<$crate::store::admin::DailyTotal>> {
                let sql = format!(
                    "SELECT CAST(created_at / 86400 AS BIGINT) AS day, route, protocol, \
                     COUNT(*) AS n, CAST(SUM(amount_msat) AS BIGINT) AS total FROM payments {} \
                     GROUP BY day, route, protocol ORDER BY day, route, protocol",
                    $crate::store::admin::PAGE_WHERE
                );
                let rows = sqlx::query(&sql)
                    .bind(q.route.as_deref())
                    .bind(q.protocol.as_deref())
                    .bind(q.since.map(|s| to_i64(s, "since")).transpose()?)
                    .bind(q.until.map(|s| to_i64(s, "until")).transpose()?)
                    .bind(None::<i64>)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(classify)?;
                rows.iter()
                    .map(|r| {
                        let day: i64 = r.try_get("day").map_err(classify)?;
                        Ok($crate::store::admin::DailyTotal {
                            day: $crate::store::admin::civil_date(day),
                            route: r.try_get("route").map_err(classify)?,
                            protocol: r.try_get("protocol").map_err(classify)?,
                            payments: to_u64(r.try_get("n").map_err(classify)?, "count")?,
                            amount_msat: to_u64(r.try_get("total").map_err(classify)?, "sum")?,
                        })
                    })
                    .collect()
            }
        }

        fn price_from_row(
            r: &<$db as sqlx::Database>::Row,
        ) -> StoreResult<$crate::store::admin::RoutePrice> {
            Ok($crate::store::admin::RoutePrice {
                route: r.try_get("route").map_err(classify)?,
                price_msat: to_u64(r.try_get("price_msat").map_err(classify)?, "price")?,
                floor_msat: to_u64(r.try_get("floor_msat").map_err(classify)?, "floor")?,
                floor_until: to_u64(r.try_get("floor_until").map_err(classify)?, "floor_until")?,
                changed_at: to_u64(r.try_get("changed_at").map_err(classify)?, "changed_at")?,
            })
        }
    };
}

pub(crate) use impl_sql_admin;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(59), "1970-03-01");
        assert_eq!(civil_date(11_016), "2000-02-29");
        assert_eq!(civil_date(20_790), "2026-12-03");
        assert_eq!(civil_date(-1), "1969-12-31");
    }

    #[test]
    fn a_raise_keeps_the_old_price_as_floor_for_the_grace_period() {
        let r = RoutePrice::next(None, "a", 10_000, 20_000, 600, 1_000);
        assert_eq!(
            (r.price_msat, r.floor_msat, r.floor_until),
            (20_000, 10_000, 1_600)
        );
        assert_eq!(r.floor_at(1_599), Some(10_000));
        assert_eq!(r.floor_at(1_600), None);
        // A second raise inside the window keeps the lowest floor and the later end.
        let r2 = RoutePrice::next(Some(&r), "a", 20_000, 30_000, 600, 1_100);
        assert_eq!((r2.floor_msat, r2.floor_until), (10_000, 1_700));
        // A cut: the new price is the floor (nothing outstanding is cheaper).
        let r3 = RoutePrice::next(None, "a", 10_000, 5_000, 600, 1_000);
        assert_eq!(r3.floor_at(1_001), None);
        // After the window the old floor is forgotten.
        let r4 = RoutePrice::next(Some(&r), "a", 20_000, 40_000, 600, 5_000);
        assert_eq!((r4.floor_msat, r4.floor_until), (20_000, 5_600));
    }
}
