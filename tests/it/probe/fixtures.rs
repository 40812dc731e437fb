//! A 402 server with one path per classic mistake, for `gate402 probe` to catch. Everything is
//! real apart from the mistake: invoices are minted by a simnet node, L402 macaroons and MPP
//! challenges by gate402's own protocol code, x402 documents are the reference shapes, and
//! every response carries what a correct 402 carries (`Cache-Control: no-store`, exposed
//! challenge headers, an RFC 9457 paymentauth problem body). `/ok/*` are the correct controls.
//! Paid MPP requests are verified with the real MPP verifier; the mistake paths then forget to
//! consume the challenge (`/mpp/replay`) or to send the receipt (`/mpp/no-receipt`).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::Router;
use gate402::clock::now_unix;
use gate402_protocols::l402::L402;
use gate402_protocols::mpp::{self, b64url, id, Mpp};
use gate402_protocols::x402::{lightning, wire};
use gate402_protocols::{InvoiceFacts, NoRailFacts, Offer, PaymentProtocol};
use gate402_rails::simnet::SimNode;
use gate402_rails::{InvoiceRequest, LightningRail};
use http::{header, HeaderValue, Response, StatusCode};
use serde_json::{json, Value};

/// Every mistake path and the rule id the probe must flag for it.
pub const MISTAKES: &[(&str, &str)] = &[
    ("/mpp/non-jcs", "mpp.request.jcs"),
    ("/mpp/padded-id", "mpp.id.b64url-unpadded"),
    ("/mpp/expired", "mpp.expires.future"),
    ("/mpp/amount-mismatch", "mpp.amount.invoice"),
    ("/mpp/no-problem", "mpp.problem.body"),
    ("/l402/hash-mismatch", "l402.identifier.payment-hash"),
    ("/l402/token-only", "l402.header.macaroon-param"),
    ("/l402/no-cache", "http.cache-control.no-store"),
    ("/l402/unquoted", "l402.header.quoting"),
    ("/l402/amountless", "l402.invoice.amount"),
    ("/l402/no-expose", "http.cors.expose-headers"),
    ("/both/payment-first", "l402.order.first"),
    ("/x402/v1-network", "x402.network.caip2"),
    ("/x402/no-extra-name", "x402.extra.eip712"),
    ("/x402/lowercase-asset", "x402.asset.checksum"),
    ("/x402/foreign-resource", "x402.resource.url"),
    ("/x402/ln-amount", "x402.lightning.amount"),
    ("/x402/v1-caip2", "x402.network.v1-name"),
    ("/busy", "http.retry-after"),
];

/// Mistakes only a paid exchange shows (`--pay`).
pub const PAID_MISTAKES: &[(&str, &str)] = &[
    ("/mpp/no-receipt", "mpp.receipt.present"),
    ("/mpp/replay", "mpp.replay.refused"),
];

/// The correct controls: every rule PASS.
pub const CONTROLS: &[&str] = &["/ok/l402", "/ok/mpp", "/ok/x402", "/ok/all"];

/// Price of every fixture, satoshis.
pub const PRICE_SAT: u64 = 10;

const SECRET: [u8; 32] = [9; 32];
/// Checksummed test addresses (anvil's token and dev account #2).
const ASSET: &str = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const PAY_TO: &str = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";

struct Fx {
    seller: SimNode,
    l402: L402,
    mpp: Mpp,
    consumed: Mutex<HashSet<Vec<u8>>>,
}

/// Serve the fixtures on a loopback port, minting on `seller`.
pub async fn serve(seller: SimNode) -> SocketAddr {
    let fx = Arc::new(Fx {
        seller,
        l402: L402::new(&SECRET).unwrap(),
        mpp: Mpp::new(&SECRET, "gate402-fixtures").unwrap(),
        consumed: Mutex::default(),
    });
    let app = Router::new().fallback(handle).with_state(fx);
    gate402_tests::serve(app).await
}

fn offer() -> Offer {
    Offer {
        service: "fx".into(),
        price_msat: PRICE_SAT * 1000,
        capabilities: Vec::new(),
        valid_for_secs: Some(3600),
        bind_price: false,
    }
}

impl Fx {
    async fn invoice(&self, sat: u64) -> InvoiceFacts {
        let inv = self
            .seller
            .create_invoice(InvoiceRequest {
                amount_msat: sat * 1000,
                memo: "fixture".into(),
                expiry_secs: 600,
            })
            .await
            .unwrap();
        InvoiceFacts {
            bolt11: inv.bolt11,
            payment_hash: inv.payment_hash,
            amount_msat: sat * 1000,
            expires_at: inv.expires_at,
        }
    }

    fn l402_value(&self, facts: &InvoiceFacts) -> String {
        let h = self
            .l402
            .challenge(&offer(), Some(facts), now_unix())
            .unwrap();
        h[0].1.to_str().unwrap().to_string()
    }

    fn mpp_charge(&self, facts: &InvoiceFacts) -> mpp::MppChallenge {
        self.mpp.charge_challenge(&offer(), facts, now_unix())
    }

    /// A charge challenge whose `request` (as written) is `request_b64`, bound by a fresh id.
    fn mpp_with_request(&self, facts: &InvoiceFacts, request_b64: String) -> mpp::MppChallenge {
        let mut c = self.mpp_charge(facts);
        c.request = request_b64;
        c.id = id::compute(&SECRET, &c.bound());
        c
    }
}

fn x402_evm(url: &str, tweak: impl FnOnce(&mut Value)) -> Value {
    let mut entry = json!({"scheme": "exact", "network": "eip155:31337", "amount": "10000",
        "asset": ASSET, "payTo": PAY_TO, "maxTimeoutSeconds": 300,
        "extra": {"name": "USD Coin", "version": "2"}});
    tweak(&mut entry);
    json!({"x402Version": 2, "error": "Payment required",
        "resource": {"url": url, "description": "fixture"}, "accepts": [entry]})
}

fn x402_ln(url: &str, facts: &InvoiceFacts, amount_msat: u64) -> Value {
    let mut req = serde_json::to_value(lightning::requirement(facts, now_unix())).unwrap();
    req["amount"] = json!(amount_msat.to_string());
    json!({"x402Version": 2, "error": "Payment required",
        "resource": {"url": url}, "accepts": [req]})
}

/// A correct 402 around the given challenges.
#[derive(Default)]
struct Reply {
    status: Option<StatusCode>,
    www: Vec<String>,
    x402: Option<Value>,
    no_cache: bool,
    no_expose: bool,
    plain_body: bool,
    json_body: Option<Value>,
}

impl Reply {
    fn into_response(self) -> Response<Body> {
        let status = self.status.unwrap_or(StatusCode::PAYMENT_REQUIRED);
        let body = if let Some(v) = &self.json_body {
            v.to_string()
        } else if self.plain_body {
            "payment required".to_string()
        } else {
            json!({"type": "https://paymentauth.org/problems/payment-required",
                "title": "Payment Required", "status": status.as_u16()})
            .to_string()
        };
        let mut resp = Response::new(Body::from(body));
        *resp.status_mut() = status;
        let h = resp.headers_mut();
        let ct = match (&self.json_body, self.plain_body) {
            (Some(_), _) => "application/json",
            (None, true) => "text/plain",
            (None, false) => "application/problem+json",
        };
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
        if !self.no_cache {
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
        if !self.no_expose {
            h.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static("WWW-Authenticate, PAYMENT-REQUIRED, Payment-Receipt"),
            );
        }
        for w in self.www {
            h.append(header::WWW_AUTHENTICATE, HeaderValue::from_str(&w).unwrap());
        }
        if let Some(doc) = self.x402 {
            let v = wire::encode_header(&doc);
            h.insert("payment-required", HeaderValue::from_str(&v).unwrap());
        }
        resp
    }
}

async fn handle(State(fx): State<Arc<Fx>>, req: Request) -> Response<Body> {
    let path = req.uri().path().to_string();
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_string();
    let url = format!("http://{host}{path}");
    if matches!(path.as_str(), "/ok/mpp" | "/mpp/replay" | "/mpp/no-receipt") {
        if let Some(resp) = paid_mpp(&fx, &req, &path) {
            return resp;
        }
    }
    let inv = fx.invoice(PRICE_SAT).await;
    if path == "/endless" {
        return endless(fx.l402_value(&inv));
    }
    let mut r = Reply::default();
    match path.as_str() {
        "/ok/l402" | "/l402/no-cache" | "/l402/no-expose" => {
            r.www.push(fx.l402_value(&inv));
            r.no_cache = path == "/l402/no-cache";
            r.no_expose = path == "/l402/no-expose";
        }
        "/ok/mpp" | "/mpp/replay" | "/mpp/no-receipt" | "/mpp/no-problem" => {
            r.www.push(fx.mpp_charge(&inv).to_header_value().unwrap());
            r.plain_body = path == "/mpp/no-problem";
        }
        "/ok/x402" => r.x402 = Some(x402_evm(&url, |_| {})),
        "/ok/all" => {
            let inv2 = fx.invoice(PRICE_SAT).await;
            let inv3 = fx.invoice(PRICE_SAT).await;
            r.www.push(fx.l402_value(&inv));
            r.www.push(fx.mpp_charge(&inv2).to_header_value().unwrap());
            let mut doc = x402_evm(&url, |_| {});
            let ln = x402_ln(&url, &inv3, PRICE_SAT * 1000)["accepts"][0].clone();
            doc["accepts"].as_array_mut().unwrap().push(ln);
            r.x402 = Some(doc);
        }
        "/mpp/non-jcs" => {
            let pretty =
                serde_json::to_string_pretty(&fx.mpp_charge(&inv).request_json().unwrap()).unwrap();
            r.www.push(
                fx.mpp_with_request(&inv, b64url::encode(pretty.as_bytes()))
                    .to_header_value()
                    .unwrap(),
            );
        }
        "/mpp/padded-id" => {
            let mut c = fx.mpp_charge(&inv);
            c.id.push('=');
            r.www.push(c.to_header_value().unwrap());
        }
        "/mpp/expired" => {
            let mut c = fx.mpp_charge(&inv);
            c.expires = Some(mpp::time::format_rfc3339(now_unix() - 120));
            c.id = id::compute(&SECRET, &c.bound());
            r.www.push(c.to_header_value().unwrap());
        }
        "/mpp/amount-mismatch" => {
            let inv20 = fx.invoice(2 * PRICE_SAT).await;
            r.www.push(
                fx.mpp_charge(&InvoiceFacts {
                    amount_msat: PRICE_SAT * 1000,
                    ..inv20
                })
                .to_header_value()
                .unwrap(),
            );
        }
        "/l402/hash-mismatch" => {
            let other = fx.invoice(PRICE_SAT).await;
            r.www.push(fx.l402_value(&InvoiceFacts {
                bolt11: other.bolt11,
                ..inv
            }));
        }
        "/l402/token-only" => r
            .www
            .push(fx.l402_value(&inv).replacen("macaroon=", "token=", 1)),
        "/l402/unquoted" => r.www.push(fx.l402_value(&inv).replace('"', "")),
        "/l402/amountless" => {
            let empty = fx.invoice(0).await;
            r.www.push(fx.l402_value(&InvoiceFacts {
                amount_msat: PRICE_SAT * 1000,
                ..empty
            }));
        }
        "/both/payment-first" => {
            let inv2 = fx.invoice(PRICE_SAT).await;
            r.www.push(fx.mpp_charge(&inv2).to_header_value().unwrap());
            r.www.push(fx.l402_value(&inv));
        }
        "/x402/v1-network" => {
            r.x402 = Some(x402_evm(&url, |e| e["network"] = json!("base-sepolia")))
        }
        "/x402/no-extra-name" => {
            r.x402 = Some(x402_evm(&url, |e| {
                e["extra"].as_object_mut().unwrap().remove("name");
            }))
        }
        "/x402/lowercase-asset" => {
            r.x402 = Some(x402_evm(&url, |e| {
                e["asset"] = json!(ASSET.to_ascii_lowercase())
            }))
        }
        "/x402/foreign-resource" => {
            r.x402 = Some(x402_evm(&format!("http://evil.example{path}"), |_| {}))
        }
        "/x402/ln-amount" => r.x402 = Some(x402_ln(&url, &inv, 2 * PRICE_SAT * 1000)),
        "/x402/v1-caip2" => {
            r.json_body = Some(
                json!({"x402Version": 1, "error": "X-PAYMENT header is required",
                "accepts": [{"scheme": "exact", "network": "eip155:84532", "maxAmountRequired": "10000",
                    "resource": url, "description": "fixture", "mimeType": "application/json",
                    "asset": ASSET, "payTo": PAY_TO, "maxTimeoutSeconds": 60,
                    "extra": {"name": "USDC", "version": "2"}}]}),
            )
        }
        "/busy" => r.status = Some(StatusCode::SERVICE_UNAVAILABLE),
        _ => {
            let mut resp = Response::new(Body::from("not found"));
            *resp.status_mut() = StatusCode::NOT_FOUND;
            return resp;
        }
    }
    r.into_response()
}

/// A paid MPP request: verified for real; `/mpp/replay` never consumes the challenge,
/// `/mpp/no-receipt` sends no receipt. `None` when the request carries no credential.
fn paid_mpp(fx: &Fx, req: &Request, path: &str) -> Option<Response<Body>> {
    let cred = fx.mpp.parse_credential(req.headers())?.ok()?;
    let verified = fx
        .mpp
        .verify(&cred, &offer(), &NoRailFacts, now_unix())
        .ok()?;
    let key = verified.single_use_key.clone().unwrap_or_default();
    if path != "/mpp/replay" && !fx.consumed.lock().unwrap().insert(key) {
        return None; // replayed: a fresh 402
    }
    let mut resp = Response::new(Body::from("{\"paid\":true}"));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private"));
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("Payment-Receipt"),
    );
    if path != "/mpp/no-receipt" {
        for (k, v) in fx.mpp.receipt_at(&verified, now_unix()) {
            h.insert(k, v);
        }
    }
    Some(resp)
}

/// A correct L402 402 whose body never ends (a hostile server).
fn endless(challenge: String) -> Response<Body> {
    let chunk = bytes::Bytes::from(vec![b' '; 64 * 1024]);
    let stream = futures_util::stream::repeat_with(move || Ok::<_, std::io::Error>(chunk.clone()));
    let mut resp = Response::new(Body::from_stream(stream));
    *resp.status_mut() = StatusCode::PAYMENT_REQUIRED;
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("WWW-Authenticate"),
    );
    h.insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_str(&challenge).unwrap(),
    );
    resp
}
