//! `budget_status`: today's spend per domain from the credential cache's spend ledger, next
//! to the configured limits.
//!
//! E-core API: until `Client::budget_status()` lands, this reads the ledger that
//! [`TokenCache`](crate::client::TokenCache) writes (`spend` table in `cache.sqlite`,
//! read-only); per-domain/day limits do not exist yet, so they are reported as `null`.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};
use serde::Serialize;

/// Seconds per ledger day (UTC days since the Unix epoch, as the cache records them).
const DAY: u64 = 86_400;

/// Spend on one domain today.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DomainSpend {
    /// Cache key (`host[:port]`).
    pub domain: String,
    /// Amount plus routing fees, millisatoshis.
    pub spent_msat: u64,
    /// Number of payments.
    pub payments: u64,
}

/// Limits in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// Highest price for one request (`--max-cost`), millisatoshis.
    pub max_cost_per_request_msat: u64,
    /// Highest routing fee for one payment, millisatoshis.
    pub max_fee_msat: u64,
    /// Daily cap per domain (not implemented yet: `null`).
    pub per_domain_daily_msat: Option<u64>,
    /// Daily cap over all domains (not implemented yet: `null`).
    pub total_daily_msat: Option<u64>,
}

/// What `budget_status` returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BudgetStatus {
    /// The UTC day, `YYYY-MM-DD`.
    pub day: String,
    /// Spend per domain today, largest first.
    pub domains: Vec<DomainSpend>,
    /// Sum over domains.
    pub total_spent_msat: u64,
    /// Limits.
    pub limits: Limits,
}

/// Today's (the UTC day containing `now`) spend per domain in the ledger at `db`; an absent
/// file means nothing was spent.
pub fn spend_today(db: &Path, now: u64) -> Result<Vec<DomainSpend>, String> {
    if !db.exists() {
        return Ok(Vec::new());
    }
    let err = |e: rusqlite::Error| format!("spend ledger {}: {e}", db.display());
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(err)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(err)?;
    let mut stmt = conn
        .prepare(
            "SELECT domain, COALESCE(SUM(amount_msat + fee_msat), 0), COUNT(*) FROM spend \
             WHERE day = ?1 GROUP BY domain ORDER BY 2 DESC, domain",
        )
        .map_err(err)?;
    let day = i64::try_from(now / DAY).unwrap_or(i64::MAX);
    let rows = stmt
        .query_map([day], |r| {
            Ok(DomainSpend {
                domain: r.get(0)?,
                spent_msat: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                payments: u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
            })
        })
        .map_err(err)?;
    rows.collect::<Result<_, _>>().map_err(err)
}

/// `YYYY-MM-DD` of the UTC day containing Unix second `now` (proleptic Gregorian).
pub fn utc_date(now: u64) -> String {
    // Days-to-civil conversion (era-based; valid for all u64 seconds of practical interest).
    let z = (now / DAY) as i64 + 719_468;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(951_782_400), "2000-02-29");
        assert_eq!(utc_date(1_735_689_599), "2024-12-31");
        assert_eq!(utc_date(1_735_689_600), "2025-01-01");
    }

    #[test]
    fn sums_todays_payments_per_domain() {
        use crate::client::{CachedToken, TokenCache};
        let dir = tempfile::tempdir().unwrap();
        let cache = TokenCache::new(dir.path());
        let now = 1_735_689_600 + 3600;
        let token = |hash: &str, amount_msat, created_at| CachedToken {
            protocol: "l402".into(),
            macaroon: "m".into(),
            preimage: "00".into(),
            payment_hash: hash.into(),
            amount_msat,
            fee_msat: 1,
            created_at,
            expires_at: None,
        };
        cache.put("a:1", &token("h1", 10_000, now)).unwrap();
        cache.put("a:1", &token("h2", 5_000, now)).unwrap();
        cache.put("b:2", &token("h3", 20_000, now)).unwrap();
        cache.put("b:2", &token("h4", 7_000, now - DAY)).unwrap(); // yesterday
        let got = spend_today(&cache.db_path(), now).unwrap();
        let want = |domain: &str, spent_msat, payments| DomainSpend {
            domain: domain.into(),
            spent_msat,
            payments,
        };
        assert_eq!(got, vec![want("b:2", 20_001, 1), want("a:1", 15_002, 2)]);
    }

    #[test]
    fn missing_ledger_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(spend_today(&dir.path().join("none.sqlite"), 0), Ok(vec![]));
    }
}
