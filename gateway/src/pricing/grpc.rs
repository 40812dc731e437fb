//! Aperture's pricing service over gRPC: `pricesrpc.Prices/GetPrice` (`proto/prices.proto`),
//! `path` and the request text in, `price_sats` out.
//!
//! `http://host:port` is plaintext HTTP/2 (Aperture's `insecure = true`); `https://host:port`
//! is TLS with ALPN `h2`, trusting the web PKI roots plus the certificates of `ca_file`
//! (Aperture's `tlscertpath`). The channel connects on the first call and reconnects by
//! itself; a call that fails is [`PricingErrorKind::Unavailable`].

use std::{path::Path, sync::Arc, time::Duration};

use async_trait::async_trait;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tonic::transport::{Channel, Endpoint, Uri};

use super::{PriceQuery, PriceSource, PricingError, PricingErrorKind};

/// The code generated from `proto/prices.proto`.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod proto {
    tonic::include_proto!("pricesrpc");
}

use proto::{prices_client::PricesClient, GetPriceRequest};

/// TCP connect (plus TLS handshake) timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// A `pricesrpc` client.
#[derive(Debug, Clone)]
pub struct GrpcPricer {
    client: PricesClient<Channel>,
    url: String,
}

impl GrpcPricer {
    /// A client for the pricer at `url` (`http://` or `https://`); connects lazily.
    pub fn new(url: &str, ca_file: Option<&Path>) -> Result<GrpcPricer, String> {
        let uri: Uri = url
            .parse()
            .map_err(|e| format!("invalid URL {url:?}: {e}"))?;
        let host = uri
            .host()
            .ok_or_else(|| format!("{url:?} has no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let endpoint = Endpoint::from_shared(url.to_owned())
            .map_err(|e| format!("invalid URL {url:?}: {e}"))?
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true);
        let channel = match uri.scheme_str() {
            Some("http") => endpoint.connect_lazy(),
            Some("https") => {
                let port = uri.port_u16().unwrap_or(443);
                let mut tls =
                    crate::proxy::upstream::tls_config(ca_file).map_err(|e| e.to_string())?;
                tls.alpn_protocols = vec![b"h2".to_vec()];
                let connector = tokio_rustls::TlsConnector::from(Arc::new(tls));
                let name = ServerName::try_from(host.clone())
                    .map_err(|e| format!("invalid host in {url:?}: {e}"))?;
                let addr = format!("{}:{port}", uri.host().unwrap_or_default());
                endpoint.connect_with_connector_lazy(tower::service_fn(move |_: Uri| {
                    let (connector, name, addr) = (connector.clone(), name.clone(), addr.clone());
                    async move {
                        let tcp = TcpStream::connect(&addr).await?;
                        tcp.set_nodelay(true)?;
                        let tls = connector.connect(name, tcp).await?;
                        Ok::<_, std::io::Error>(TokioIo::new(tls))
                    }
                }))
            }
            _ => return Err(format!("{url:?}: a gRPC pricer URL is http:// or https://")),
        };
        Ok(GrpcPricer {
            client: PricesClient::new(channel),
            url: url.to_owned(),
        })
    }
}

#[async_trait]
impl PriceSource for GrpcPricer {
    async fn price_sats(&self, query: &PriceQuery<'_>) -> Result<i64, PricingError> {
        let req = GetPriceRequest {
            path: query.path.to_owned(),
            http_request_text: query.text.clone(),
        };
        let resp = self.client.clone().get_price(req).await.map_err(|s| {
            let kind = match s.code() {
                tonic::Code::DeadlineExceeded => PricingErrorKind::Timeout,
                _ => PricingErrorKind::Unavailable,
            };
            PricingError::new(
                kind,
                format!(
                    "gRPC pricer {}: {:?}: {}",
                    self.url,
                    s.code(),
                    s.message().chars().take(200).collect::<String>()
                ),
            )
        })?;
        Ok(resp.into_inner().price_sats)
    }
}
