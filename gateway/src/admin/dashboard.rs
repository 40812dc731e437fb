//! The revenue dashboard at `/` of the admin listener (issue G item 3): one page whose HTML,
//! CSS and JavaScript are embedded in the binary and served from this listener only (a strict
//! `Content-Security-Policy`: nothing from elsewhere). The operator pastes an admin-API token
//! (kept in the tab's `sessionStorage`); the page then reads `/api/stats`, `/api/ledger`,
//! `/api/status` and `/api/routes` every few seconds and draws revenue per day × route ×
//! protocol as an SVG bar chart, the totals, the latest payments and pool/rail/store health.

use axum::{
    extract::Path,
    http::{header, StatusCode},
    response::{IntoResponse, Response},
};

const HTML: &str = include_str!("dashboard/index.html");
const CSS: &str = include_str!("dashboard/dashboard.css");
const JS: &str = include_str!("dashboard/dashboard.js");

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        body,
    )
        .into_response()
}

/// `GET /`: the page.
pub async fn page() -> Response {
    asset("text/html; charset=utf-8", HTML)
}

/// `GET /dashboard/{file}`: its stylesheet and script.
pub async fn file(Path(name): Path<String>) -> Response {
    match name.as_str() {
        "dashboard.css" => asset("text/css; charset=utf-8", CSS),
        "dashboard.js" => asset("text/javascript; charset=utf-8", JS),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}
