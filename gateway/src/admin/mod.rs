//! The admin listener (issue G items 2–3; `[admin] listen`, loopback by default): Prometheus
//! metrics at `/_gate402/metrics`, a JSON admin API under `/api/` guarded by JWTs
//! ([`auth`]), and the revenue dashboard at `/` ([`dashboard`]: one embedded page, nothing
//! loaded from elsewhere). `SIGHUP` and `POST /api/reload` reload the config ([`reload`]).
//!
//! | endpoint | role | what |
//! |---|---|---|
//! | `GET /api/whoami` | read | the token's claims |
//! | `GET /api/routes` | read | routes with live prices |
//! | `PUT /api/routes/{name}/price` | admin | `{"price_msat": N}`: new challenges, fleet-wide |
//! | `GET /api/ledger` | read | payments, newest first: `since`, `until`, `route`, `protocol`, `limit`, `before` (paging cursor) |
//! | `GET /api/stats` | read | revenue per UTC day × route × protocol, totals |
//! | `POST /api/revoke` | admin | `{"token_id": "<64 hex>"}` |
//! | `GET /api/status` | read | pool, rail (per node), store, revocations |
//! | `POST /api/reload` | admin | reload the config file (like `SIGHUP`) |

mod api;
pub mod auth;
pub mod dashboard;
pub mod reload;

use std::sync::Arc;

use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post, put},
    Json, Router,
};
use serde_json::json;

use crate::{paywall::Paywall, server::ADMIN_PREFIX};
pub use auth::{AdminAuth, Claims, Role};
pub use reload::Reloader;

/// What the admin handlers share.
#[derive(Clone)]
pub struct AdminState {
    /// The gateway's paywall.
    pub paywall: Arc<Paywall>,
    /// The token key; `None`: the API answers 503 (no key configured).
    pub auth: Option<Arc<AdminAuth>>,
    /// Config reloads (`None` when the gateway was not started from a file).
    pub reloader: Option<Arc<Reloader>>,
    /// Unix seconds the process started.
    pub started_at: u64,
}

/// The admin listener's router: metrics (no token: keep the listener private), the API and
/// the dashboard.
pub fn router(state: AdminState) -> Router {
    let api = Router::new()
        .route("/api/whoami", get(api::whoami))
        .route("/api/routes", get(api::routes))
        .route("/api/routes/{name}/price", put(api::set_price))
        .route("/api/ledger", get(api::ledger))
        .route("/api/stats", get(api::stats))
        .route("/api/revoke", post(api::revoke))
        .route("/api/status", get(api::status))
        .route("/api/reload", post(api::reload))
        .fallback(|| async { problem(StatusCode::NOT_FOUND, "no such admin endpoint") });
    Router::new()
        .route(&format!("{ADMIN_PREFIX}/metrics"), get(metrics))
        .route("/", get(dashboard::page))
        .route("/dashboard/{file}", get(dashboard::file))
        .merge(api)
        .layer(axum::extract::DefaultBodyLimit::max(64 << 10))
        .with_state(state)
}

async fn metrics(State(s): State<AdminState>) -> Response {
    match s.paywall.render_metrics().await {
        Some(text) => (
            [(http::header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
            text,
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            "metrics are off ([admin] metrics = false)\n",
        )
            .into_response(),
    }
}

/// A JSON error `{"error": …}` with `status`.
pub(crate) fn problem(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}
