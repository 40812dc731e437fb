//! The admin API's handlers (JSON in, JSON out). Every one checks the bearer token first;
//! changes (`admin` role) are logged with the token's subject and id, never the token.

use axum::{
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::Deserialize;
use serde_json::json;

use super::{auth::AuthError, problem, AdminState, Claims, Role};
use crate::{
    clock::now_unix,
    paywall::admin::PriceError,
    store::{admin::LedgerQuery, Store},
};

/// Largest ledger page.
pub const MAX_PAGE: u32 = 1000;

fn guard(s: &AdminState, headers: &HeaderMap, need: Role) -> Result<Claims, Box<Response>> {
    let Some(auth) = &s.auth else {
        return Err(Box::new(problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "admin API disabled: no key (set $GATE402_ADMIN_SECRET or [admin] public_key_file)",
        )));
    };
    auth.authorize(headers, need, now_unix()).map_err(|e| {
        let status = match e {
            AuthError::Forbidden => StatusCode::FORBIDDEN,
            _ => StatusCode::UNAUTHORIZED,
        };
        let mut resp = problem(status, &e.to_string());
        if status == StatusCode::UNAUTHORIZED {
            let code = if e == AuthError::Missing {
                ""
            } else {
                ", error=\"invalid_token\""
            };
            if let Ok(v) = format!("Bearer realm=\"gate402-admin\"{code}").parse() {
                resp.headers_mut().insert(http::header::WWW_AUTHENTICATE, v);
            }
        }
        Box::new(resp)
    })
}

fn store_of(s: &AdminState) -> Result<&std::sync::Arc<dyn Store>, Box<Response>> {
    s.paywall.store().ok_or_else(|| {
        Box::new(problem(
            StatusCode::NOT_FOUND,
            "no store configured ([store])",
        ))
    })
}

fn store_error(e: crate::store::StoreError) -> Response {
    tracing::warn!(error = %e, "admin API: store error");
    let mut resp = problem(StatusCode::SERVICE_UNAVAILABLE, "store unavailable");
    resp.headers_mut()
        .insert(http::header::RETRY_AFTER, http::HeaderValue::from(5u64));
    resp
}

macro_rules! try_resp {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(resp) => return *resp,
        }
    };
}

pub(super) async fn whoami(State(s): State<AdminState>, headers: HeaderMap) -> Response {
    let c = try_resp!(guard(&s, &headers, Role::Read));
    Json(json!({ "sub": c.sub, "role": c.role, "exp": c.exp, "jti": c.jti })).into_response()
}

pub(super) async fn routes(State(s): State<AdminState>, headers: HeaderMap) -> Response {
    try_resp!(guard(&s, &headers, Role::Read));
    Json(json!({ "routes": s.paywall.route_views() })).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PriceBody {
    price_msat: Option<u64>,
    price_sat: Option<u64>,
}

pub(super) async fn set_price(
    State(s): State<AdminState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Json<PriceBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let c = try_resp!(guard(&s, &headers, Role::Admin));
    let Ok(Json(body)) = body else {
        return problem(
            StatusCode::BAD_REQUEST,
            "body must be {\"price_msat\": N} or {\"price_sat\": N}",
        );
    };
    let msat = match (body.price_msat, body.price_sat) {
        (Some(m), None) => m,
        (None, Some(sat)) => match sat.checked_mul(1000) {
            Some(m) => m,
            None => return problem(StatusCode::BAD_REQUEST, "price too large"),
        },
        _ => {
            return problem(
                StatusCode::BAD_REQUEST,
                "give exactly one of price_msat, price_sat",
            )
        }
    };
    match s.paywall.set_price(&name, msat).await {
        Ok(row) => {
            tracing::info!(sub = %c.sub, jti = %c.jti, route = %name, price_msat = msat, "admin: price set");
            Json(json!({ "price": row })).into_response()
        }
        Err(PriceError::UnknownRoute(_)) => problem(StatusCode::NOT_FOUND, "no such route"),
        Err(e @ (PriceError::NotStatic(_) | PriceError::Zero)) => {
            problem(StatusCode::CONFLICT, &e.to_string())
        }
        Err(e @ PriceError::NoStore) => problem(StatusCode::CONFLICT, &e.to_string()),
        Err(PriceError::Store(e)) => store_error(e),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LedgerParams {
    since: Option<u64>,
    until: Option<u64>,
    route: Option<String>,
    protocol: Option<String>,
    limit: Option<u32>,
    before: Option<i64>,
}

impl LedgerParams {
    fn query(self) -> LedgerQuery {
        LedgerQuery {
            route: self.route.filter(|r| !r.is_empty()),
            protocol: self.protocol.filter(|p| !p.is_empty()),
            since: self.since,
            until: self.until,
            before_id: self.before,
            limit: self.limit.unwrap_or(100).clamp(1, MAX_PAGE),
        }
    }
}

type Params = Result<Query<LedgerParams>, axum::extract::rejection::QueryRejection>;

pub(super) async fn ledger(State(s): State<AdminState>, headers: HeaderMap, q: Params) -> Response {
    try_resp!(guard(&s, &headers, Role::Read));
    let Ok(Query(q)) = q else {
        return problem(
            StatusCode::BAD_REQUEST,
            "bad query: since, until, route, protocol, limit, before",
        );
    };
    let store = try_resp!(store_of(&s));
    let q = q.query();
    let page = match store.ledger_page(&q).await {
        Ok(p) => p,
        Err(e) => return store_error(e),
    };
    // A full page may have more behind it: its last id is the next cursor.
    let next = (page.len() == q.limit as usize)
        .then(|| page.last().map(|e| e.id))
        .flatten();
    Json(json!({ "payments": page, "next": next })).into_response()
}

pub(super) async fn stats(State(s): State<AdminState>, headers: HeaderMap, q: Params) -> Response {
    try_resp!(guard(&s, &headers, Role::Read));
    let Ok(Query(q)) = q else {
        return problem(
            StatusCode::BAD_REQUEST,
            "bad query: since, until, route, protocol",
        );
    };
    let store = try_resp!(store_of(&s));
    let days = match store.daily_totals(&q.query()).await {
        Ok(d) => d,
        Err(e) => return store_error(e),
    };
    let mut by_pair = std::collections::BTreeMap::<(String, String), (u64, u64)>::new();
    for d in &days {
        let e = by_pair
            .entry((d.route.clone(), d.protocol.clone()))
            .or_default();
        e.0 += d.payments;
        e.1 = e.1.saturating_add(d.amount_msat);
    }
    let totals: Vec<_> = by_pair
        .iter()
        .map(|((r, p), (n, a))| json!({"route": r, "protocol": p, "payments": n, "amount_msat": a}))
        .collect();
    let payments: u64 = by_pair.values().map(|v| v.0).sum();
    let amount: u64 = by_pair.values().fold(0u64, |a, v| a.saturating_add(v.1));
    Json(json!({
        "days": days,
        "totals": totals,
        "total": {"payments": payments, "amount_msat": amount},
    }))
    .into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RevokeBody {
    token_id: String,
}

pub(super) async fn revoke(
    State(s): State<AdminState>,
    headers: HeaderMap,
    body: Result<Json<RevokeBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let c = try_resp!(guard(&s, &headers, Role::Admin));
    let id = body
        .ok()
        .and_then(|Json(b)| hex::decode(b.token_id.trim()).ok())
        .and_then(|v| <[u8; 32]>::try_from(v).ok());
    let Some(id) = id else {
        return problem(
            StatusCode::BAD_REQUEST,
            "body must be {\"token_id\": \"<64 hex digits>\"}",
        );
    };
    let (Some(store), Some(revocations)) = (s.paywall.store(), s.paywall.revocations()) else {
        return problem(StatusCode::CONFLICT, "revocation needs a store ([store])");
    };
    match revocations.revoke(&**store, &id).await {
        Ok(fresh) => {
            tracing::info!(sub = %c.sub, jti = %c.jti, token_id = %hex::encode(id), "admin: token revoked");
            Json(json!({ "token_id": hex::encode(id), "revoked": true, "fresh": fresh }))
                .into_response()
        }
        Err(e) => store_error(e),
    }
}

pub(super) async fn status(State(s): State<AdminState>, headers: HeaderMap) -> Response {
    try_resp!(guard(&s, &headers, Role::Read));
    let p = &s.paywall;
    let rail = p.lightning();
    let health = p.rail_health();
    let store = match (p.store(), p.store_up().await) {
        (Some(st), Some(up)) => json!({ "backend": st.backend(), "up": up }),
        _ => json!(null),
    };
    let stats = p.pool().stats();
    let stocks: serde_json::Map<_, _> = p
        .routes()
        .routes()
        .iter()
        .map(|r| (r.name.clone(), json!(p.pool().stock(&r.name))))
        .collect();
    let nodes: Vec<_> = rail
        .nodes()
        .into_iter()
        .map(
            |n| json!({"name": n.name, "up": n.up, "last_error": n.last_error, "minted": n.minted}),
        )
        .collect();
    Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "started_at": s.started_at,
        "now": now_unix(),
        "rail": {
            "id": rail.rail_id(),
            "up": health.is_up(),
            "last_error": health.last_error().map(|e| e.to_string()),
            "nodes": nodes,
        },
        "store": store,
        "pool": {
            "stock": stocks,
            "hits": stats.hits, "misses": stats.misses, "minted": stats.minted,
            "discarded": stats.discarded, "claimed": stats.claimed, "stored": stats.stored,
        },
        "revocations": p.revocations().map(|r| r.len()),
        "reloads": s.reloader.as_ref().map(|r| r.summary()),
    }))
    .into_response()
}

pub(super) async fn reload(State(s): State<AdminState>, headers: HeaderMap) -> Response {
    let c = try_resp!(guard(&s, &headers, Role::Admin));
    let Some(r) = &s.reloader else {
        return problem(
            StatusCode::CONFLICT,
            "this gateway was not started from a config file",
        );
    };
    tracing::info!(sub = %c.sub, jti = %c.jti, "admin: config reload requested");
    match r.reload() {
        Ok(report) => Json(json!({ "reloaded": true, "report": report })).into_response(),
        Err(e) => problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("reload refused: {e}"),
        ),
    }
}
