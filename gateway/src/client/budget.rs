//! Daily budgets, enforced across processes through the cache's SQLite `ledger` table.
//!
//! Before paying, [`TokenCache::reserve`] checks `spent + pending + amount (+ max fee) ≤ limit`
//! for the domain and for the total, and inserts a `reserved` row — both in one
//! `BEGIN IMMEDIATE` transaction, so two processes sharing the cache directory cannot both
//! pass the check. After paying, [`TokenCache::settle`] turns the row into `spent` with the
//! real fee; a payment that definitely failed is [`TokenCache::release`]d (row deleted); one
//! whose outcome is unknown is kept as `unknown` and keeps counting (never under-count). Rows
//! left `reserved` by a crashed process count too, until `gate402 budget reset`. Days are UTC
//! days since the Unix epoch. Amounts are atomic units of the row's `unit` (`msat` or
//! `evm:<network>:<asset>`); SQLite integers cap them at 2^63.

use rusqlite::{params, TransactionBehavior};
use serde::Serialize;

use super::cache::{io, sql_i64, DAY};
use super::{BuyerPolicy, ClientError, PolicyError, TokenCache};

/// A budget reservation made before paying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reservation(i64);

/// What one payment will cost, for a reservation.
#[derive(Debug, Clone)]
pub struct Charge<'a> {
    /// Domain (host, lowercase, no port).
    pub domain: &'a str,
    /// `msat` or `evm:<network>:<asset>`.
    pub unit: &'a str,
    /// Price plus the highest fee.
    pub amount: u128,
    /// `l402`, `mpp` or `x402`.
    pub protocol: &'a str,
}

/// Spend of one domain in one unit today.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DomainSpend {
    /// Domain.
    pub domain: String,
    /// Unit.
    pub unit: String,
    /// Settled today (fees included).
    #[serde(serialize_with = "as_string")]
    pub spent: u128,
    /// Reserved by payments in flight or of unknown outcome.
    #[serde(serialize_with = "as_string")]
    pub pending: u128,
    /// The per-domain daily limit, if any.
    #[serde(serialize_with = "opt_string")]
    pub limit: Option<u128>,
}

/// Spend in one unit over all domains today.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnitTotal {
    /// Unit.
    pub unit: String,
    /// Settled today.
    #[serde(serialize_with = "as_string")]
    pub spent: u128,
    /// Pending.
    #[serde(serialize_with = "as_string")]
    pub pending: u128,
    /// The daily total limit, if any.
    #[serde(serialize_with = "opt_string")]
    pub limit: Option<u128>,
}

/// Today's spend against the policy's limits (what `gate402 budget --json` prints).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BudgetStatus {
    /// The UTC day, `YYYY-MM-DD`.
    pub day: String,
    /// Per domain and unit.
    pub domains: Vec<DomainSpend>,
    /// Per unit (Lightning always listed).
    pub totals: Vec<UnitTotal>,
}

fn as_string<S: serde::Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

fn opt_string<S: serde::Serializer>(v: &Option<u128>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.collect_str(v),
        None => s.serialize_none(),
    }
}

fn day_of(now: u64) -> i64 {
    sql_i64(now / DAY)
}

fn u(v: i64) -> u128 {
    u128::try_from(v).unwrap_or(0)
}

fn i(v: u128) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

type Sums = (i64, i64);

fn sums(
    tx: &rusqlite::Connection,
    unit: &str,
    day: i64,
    domain: Option<&str>,
) -> rusqlite::Result<Sums> {
    tx.query_row(
        "SELECT COALESCE(SUM(CASE WHEN state = 'spent' THEN amount + fee END), 0), \
                COALESCE(SUM(CASE WHEN state <> 'spent' THEN amount + fee END), 0) \
         FROM ledger WHERE unit = ?1 AND day = ?2 AND (?3 IS NULL OR domain = ?3)",
        params![unit, day, domain],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

impl TokenCache {
    /// Reserve `c.amount` against today's per-domain and total limits of `policy`, or refuse
    /// with [`PolicyError::BudgetExceeded`]. One `BEGIN IMMEDIATE` transaction.
    pub fn reserve(
        &self,
        c: &Charge<'_>,
        policy: &BuyerPolicy,
        now: u64,
    ) -> Result<Reservation, ClientError> {
        let mut conn = self
            .open(true)?
            .ok_or_else(|| std::io::Error::other("cache database missing"))?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(io)?;
        let day = day_of(now);
        let limits = [
            (
                format!("domain {}", c.domain),
                Some(c.domain),
                policy.daily_per_domain(c.unit),
            ),
            ("total".to_string(), None, policy.daily_total(c.unit)),
        ];
        for (scope, domain, limit) in limits {
            let Some(limit) = limit else { continue };
            let (spent, pending) = sums(&tx, c.unit, day, domain).map_err(io)?;
            let (spent, pending) = (u(spent), u(pending));
            if spent + pending + c.amount > limit {
                return Err(PolicyError::BudgetExceeded {
                    scope,
                    unit: c.unit.to_string(),
                    spent,
                    pending,
                    amount: c.amount,
                    limit,
                }
                .into());
            }
        }
        tx.execute(
            "INSERT INTO ledger (domain, unit, day, amount, fee, state, protocol, created_at) \
             VALUES (?1, ?2, ?3, ?4, 0, 'reserved', ?5, ?6)",
            params![c.domain, c.unit, day, i(c.amount), c.protocol, sql_i64(now)],
        )
        .map_err(io)?;
        let id = tx.last_insert_rowid();
        tx.commit().map_err(io)?;
        Ok(Reservation(id))
    }

    /// The payment went through: record what it really cost.
    pub fn settle(
        &self,
        r: Reservation,
        amount: u128,
        fee: u128,
        reference: &str,
    ) -> std::io::Result<()> {
        self.update(
            "UPDATE ledger SET state = 'spent', amount = ?2, fee = ?3, reference = ?4 WHERE id = ?1",
            params![r.0, i(amount), i(fee), reference],
        )
    }

    /// The payment definitely failed: give the reservation back.
    pub fn release(&self, r: Reservation) -> std::io::Result<()> {
        self.update("DELETE FROM ledger WHERE id = ?1", params![r.0])
    }

    /// The outcome is unknown: keep counting the reservation.
    pub fn mark_unknown(&self, r: Reservation) -> std::io::Result<()> {
        self.update(
            "UPDATE ledger SET state = 'unknown' WHERE id = ?1",
            params![r.0],
        )
    }

    fn update(&self, sql: &str, p: impl rusqlite::Params) -> std::io::Result<()> {
        let conn = self
            .open(true)?
            .ok_or_else(|| std::io::Error::other("cache database missing"))?;
        conn.execute(sql, p).map_err(io)?;
        Ok(())
    }

    /// Spent and pending in `unit` on `day` (for `domain`, or over all).
    pub fn spent(
        &self,
        unit: &str,
        domain: Option<&str>,
        now: u64,
    ) -> std::io::Result<(u128, u128)> {
        let Some(conn) = self.open(false)? else {
            return Ok((0, 0));
        };
        let (s, p) = sums(&conn, unit, day_of(now), domain).map_err(io)?;
        Ok((u(s), u(p)))
    }

    /// Millisatoshis spent on `domain` during the UTC day containing `at`, fees and pending
    /// reservations included.
    pub fn spent_msat(&self, domain: &str, at: u64) -> std::io::Result<u64> {
        let (s, p) = self.spent(super::offers::MSAT, Some(domain), at)?;
        Ok(u64::try_from(s + p).unwrap_or(u64::MAX))
    }

    /// Today's spend against `policy`.
    pub fn budget_status(&self, policy: &BuyerPolicy, now: u64) -> std::io::Result<BudgetStatus> {
        let day = day_of(now);
        let mut rows: Vec<(String, String, i64, i64)> = Vec::new();
        if let Some(conn) = self.open(false)? {
            let mut stmt = conn
                .prepare(
                    "SELECT domain, unit, \
                       COALESCE(SUM(CASE WHEN state = 'spent' THEN amount + fee END), 0), \
                       COALESCE(SUM(CASE WHEN state <> 'spent' THEN amount + fee END), 0) \
                     FROM ledger WHERE day = ?1 GROUP BY domain, unit ORDER BY domain, unit",
                )
                .map_err(io)?;
            rows = stmt
                .query_map([day], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .map_err(io)?
                .collect::<Result<_, _>>()
                .map_err(io)?;
        }
        let domains: Vec<DomainSpend> = rows
            .iter()
            .map(|(d, unit, s, p)| DomainSpend {
                domain: d.clone(),
                unit: unit.clone(),
                spent: u(*s),
                pending: u(*p),
                limit: policy.daily_per_domain(unit),
            })
            .collect();
        let mut units: Vec<String> = vec![super::offers::MSAT.to_string()];
        for d in &domains {
            if !units.contains(&d.unit) {
                units.push(d.unit.clone());
            }
        }
        let totals = units
            .into_iter()
            .map(|unit| {
                let of = domains.iter().filter(|d| d.unit == unit);
                UnitTotal {
                    spent: of.clone().map(|d| d.spent).sum(),
                    pending: of.map(|d| d.pending).sum(),
                    limit: policy.daily_total(&unit),
                    unit,
                }
            })
            .collect();
        let date = gate402_protocols::mpp::time::format_rfc3339(now);
        Ok(BudgetStatus {
            day: date.get(..10).unwrap_or(&date).to_string(),
            domains,
            totals,
        })
    }

    /// Forget spend (all of it, or one domain's); tokens stay. Returns the rows removed.
    pub fn reset_spend(&self, domain: Option<&str>) -> std::io::Result<usize> {
        let Some(conn) = self.open(false)? else {
            return Ok(0);
        };
        conn.execute(
            "DELETE FROM ledger WHERE ?1 IS NULL OR domain = ?1",
            params![domain],
        )
        .map_err(io)
    }
}

#[cfg(test)]
#[path = "budget_tests.rs"]
mod tests;
