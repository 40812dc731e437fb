//! The paywall's two HTTP faces: the HTML 402 (the agent's 402 with a page as its body) and
//! the settlement endpoint `GET /_gate402/paywall/<ticket>` on the main listener.

use axum::body::Body;
use gate402_protocols::InvoiceFacts;
use http::{header, HeaderMap, HeaderValue, Response, StatusCode};

use super::{cookie, page, Browser, PayState};
use crate::{clock::now_unix, paywall::Paywall};

/// Path prefix of the settlement endpoint.
pub const WAIT_PREFIX: &str = "/_gate402/paywall/";

/// Turn the 402 `resp` into the browser's: the same status and headers (every challenge
/// untouched), an HTML body, `Content-Type: text/html; charset=utf-8` and the page's
/// `Content-Security-Policy`.
pub fn html_402(mut resp: Response<Body>, html: String) -> Response<Body> {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.remove(header::CONTENT_LENGTH);
    if let Ok(v) = HeaderValue::from_str(page::csp()) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    *resp.body_mut() = Body::from(html);
    resp
}

impl Browser {
    /// The page for an invoice issued on `route` (its L402 challenge's invoice).
    pub fn page(
        &self,
        route: &crate::paywall::Route,
        path: &str,
        invoice: &InvoiceFacts,
    ) -> Option<String> {
        let ticket = self
            .mint_ticket(&route.name, &invoice.payment_hash, invoice.expires_at)
            .ok()?;
        let wait_url = format!("{WAIT_PREFIX}{ticket}");
        Some(page::render(&page::PageFacts {
            route: &route.name,
            path,
            price_msat: route.offer.price_msat,
            access_secs: self.lifetime(route.offer.valid_for_secs),
            invoice: &invoice.bolt11,
            wait_url: &wait_url,
        }))
    }
}

fn json(status: StatusCode, state: &str) -> Response<Body> {
    let mut resp = Response::new(Body::from(format!("{{\"state\":\"{state}\"}}")));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn over_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

impl Paywall {
    /// Answer `GET /_gate402/paywall/<ticket>`: `{"state": "pending" | "settled" |
    /// "expired"}` after waiting at most `[server.paywall] wait_secs`; `settled` sets the
    /// session cookie. An unknown or forged ticket → 404; too many waiting → 503.
    pub async fn browser_wait(&self, ticket: &str, headers: &HeaderMap) -> Response<Body> {
        let Some(b) = &self.browser else {
            return json(StatusCode::NOT_FOUND, "unknown");
        };
        let now = now_unix();
        let t = match b.verify_ticket(ticket, now) {
            Ok(t) => t,
            Err(e) if e.is_expired() => return json(StatusCode::OK, "expired"),
            Err(_) => return json(StatusCode::NOT_FOUND, "unknown"),
        };
        let routes = self.routes();
        let Some(route) = routes.routes().iter().find(|r| r.name == t.route) else {
            return json(StatusCode::NOT_FOUND, "unknown");
        };
        let state = match b.watchers.wait(t.payment_hash, b.settings.wait).await {
            Ok(s) => s,
            Err(_) => {
                let mut resp = json(StatusCode::SERVICE_UNAVAILABLE, "busy");
                resp.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(self.retry_after_secs),
                );
                return resp;
            }
        };
        match state {
            PayState::Pending if now_unix() > t.invoice_expires_at => {
                json(StatusCode::OK, PayState::Expired.as_str())
            }
            PayState::Pending | PayState::Expired => json(StatusCode::OK, state.as_str()),
            PayState::Settled => {
                let now = now_unix();
                let lifetime = b.lifetime(route.offer.valid_for_secs);
                let secure = b.settings.secure || over_tls(headers);
                let set = b
                    .mint_session(&route.name, &t.payment_hash, lifetime, now)
                    .ok()
                    .and_then(|jwt| cookie::set_cookie(&jwt, &route.path_prefix, lifetime, secure));
                let Some(set) = set else {
                    return json(StatusCode::INTERNAL_SERVER_ERROR, "error");
                };
                let mut resp = json(StatusCode::OK, state.as_str());
                resp.headers_mut().insert(header::SET_COOKIE, set);
                resp
            }
        }
    }
}
