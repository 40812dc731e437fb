//! HTTP(S) for the buyer client: hyper's pooled client over rustls (ring provider, Mozilla
//! roots from `webpki-roots` unless the caller supplies its own), TCP_NODELAY on; and the
//! cache key / domain of a URL.
//!
//! Cache keys are `host[:port]` for `http://` (unchanged from before) and
//! `https://host[:port]` for `https://`, so a token bought over TLS is never presented on a
//! plaintext connection to the same host and port.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request, Response, Uri};
use http_body_util::{BodyExt, Full};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::{
    client::legacy::{connect::HttpConnector, Client as HyperClient},
    rt::TokioExecutor,
};

use super::{mpp, Client, ClientError, ClientRequest};

/// The pooled HTTP(S) client.
pub(super) type Http = HyperClient<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A client trusting `roots` (or the built-in Mozilla roots).
pub(super) fn client(roots: Option<rustls::RootCertStore>) -> Http {
    let mut tcp = HttpConnector::new();
    tcp.set_nodelay(true);
    tcp.enforce_http(false);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = roots.unwrap_or_else(|| {
        rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned())
    });
    // The ring provider supports the safe default versions, so this cannot fail; fall back
    // to TLS 1.3 only rather than panic.
    let tls = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .or_else(|_| {
            rustls::ClientConfig::builder_with_provider(provider)
                .with_protocol_versions(&[&rustls::version::TLS13])
        })
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
        .unwrap_or_else(|_| {
            rustls::ClientConfig::builder()
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth()
        });
    let https = HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp);
    HyperClient::builder(TokioExecutor::new()).build(https)
}

/// Where a request goes: cache key and domain.
#[derive(Debug, Clone)]
pub(super) struct Target {
    /// Credential cache key (L402 tokens: per service host).
    pub key: String,
    /// MPP session key: the token key plus the path (a session is bound to one route).
    pub session_key: String,
    /// Host, lowercase, without port or brackets (budgets and domain lists).
    pub host: String,
}

impl Target {
    /// The target of an absolute `http://` or `https://` URL.
    pub fn of(url: &Uri) -> Result<Target, ClientError> {
        let scheme = url.scheme_str();
        if !matches!(scheme, Some("http" | "https")) {
            return Err(ClientError::Usage(format!(
                "only http:// and https:// URLs are supported: {url}"
            )));
        }
        let authority = url
            .authority()
            .ok_or_else(|| ClientError::Usage(format!("URL has no host: {url}")))?;
        let auth = authority.as_str().to_ascii_lowercase();
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let key = if scheme == Some("https") {
            format!("https://{auth}")
        } else {
            auth
        };
        let session_key = format!("{key}{}", url.path());
        Ok(Target {
            key,
            session_key,
            host,
        })
    }
}

impl Client {
    /// The `Accept-Payment` sent: Lightning charges, and sessions when the policy lists
    /// `mpp/session` (first if it ranks before `mpp`).
    pub(super) fn accept_payment(&self) -> &'static str {
        let charge = self.policy.rank("mpp", "lightning");
        match (self.policy.rank("mpp", "session"), charge) {
            (None, _) => mpp::ACCEPT_CHARGE,
            (Some(s), Some(c)) if c < s => "lightning/charge, lightning/session;q=0.5",
            _ => "lightning/session, lightning/charge;q=0.5",
        }
    }

    /// Send `req` once, with `credential` (header name and value) if any, and the client's
    /// `Accept-Payment` unless `req` sets one.
    pub(super) async fn execute(
        &self,
        req: &ClientRequest,
        credential: Option<(HeaderName, HeaderValue)>,
    ) -> Result<Response<Bytes>, ClientError> {
        self.send_once(req, credential, true).await
    }

    /// Send `req` exactly as given (no `Accept-Payment` added, nothing paid, no cached
    /// credential), with `credential` if any: what `gate402 probe` uses to see the 402 every
    /// client sees, and to present a credential again. At most [`RAW_BODY_LIMIT`] bytes of the
    /// body are read: a hostile server cannot make the probe hold (or read) an unbounded body.
    pub async fn send_raw(
        &self,
        req: &ClientRequest,
        credential: Option<(HeaderName, HeaderValue)>,
    ) -> Result<Response<Bytes>, ClientError> {
        self.send_once(req, credential, false).await
    }

    async fn send_once(
        &self,
        req: &ClientRequest,
        credential: Option<(HeaderName, HeaderValue)>,
        negotiate: bool,
    ) -> Result<Response<Bytes>, ClientError> {
        let mut builder = Request::builder()
            .method(req.method.clone())
            .uri(req.url.clone());
        for (k, v) in &req.headers {
            builder = builder.header(k, v);
        }
        if negotiate && !req.headers.contains_key(mpp::ACCEPT_PAYMENT) {
            builder = builder.header(mpp::ACCEPT_PAYMENT, self.accept_payment());
        }
        if let Some((name, value)) = credential {
            builder = builder.header(name, value);
        }
        let request = builder
            .body(Full::new(req.body.clone()))
            .map_err(|e| ClientError::Usage(e.to_string()))?;
        let resp = self
            .http
            .request(request)
            .await
            .map_err(|e| ClientError::Http(gate402_rails::error_chain(&e)))?;
        let (parts, body) = resp.into_parts();
        let bytes = if negotiate {
            body.collect()
                .await
                .map_err(|e| ClientError::Http(e.to_string()))?
                .to_bytes()
        } else {
            capped(body, RAW_BODY_LIMIT).await?
        };
        Ok(Response::from_parts(parts, bytes))
    }
}

/// Most body bytes [`Client::send_raw`] keeps.
pub const RAW_BODY_LIMIT: usize = 1 << 20;

/// The first `limit` bytes of `body`; reading stops there (the connection is dropped).
async fn capped(mut body: hyper::body::Incoming, limit: usize) -> Result<Bytes, ClientError> {
    let mut out = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ClientError::Http(e.to_string()))?;
        if let Ok(data) = frame.into_data() {
            let room = limit.saturating_sub(out.len());
            out.extend_from_slice(&data[..data.len().min(room)]);
        }
        if out.len() >= limit {
            break;
        }
    }
    Ok(out.freeze())
}
