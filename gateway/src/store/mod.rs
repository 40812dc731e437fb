//! Gateway state behind narrow traits: single-use proof consumption ([`ReplayGuard`]) and MPP
//! session balances ([`SessionStore`]).
//!
//! Today: an in-memory replay guard and a file-backed session store (one JSON file in the
//! data dir, rewritten atomically on every change). Issue F backs both traits with
//! SQLite/PostgreSQL; the traits are kept small so that an SQL row update can implement each
//! method atomically.

mod replay;
mod sessions;

pub use replay::{MemoryReplayGuard, ReplayGuard};
pub use sessions::{FileSessionStore, RefundStatus, SessionRecord, SessionStore};

use thiserror::Error;

/// A store is unavailable or failed (answered 503, never 402).
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error("store: {0}")]
pub struct StoreError(pub String);
