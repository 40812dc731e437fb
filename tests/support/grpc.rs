//! A tonic test service (`proto/ticker.proto`) served over h2c or TLS (ALPN `h2`) on
//! `127.0.0.1:0`, and tonic channels to a gateway over h2c or TLS.

use std::{net::SocketAddr, pin::Pin, sync::Arc, time::Duration};

use futures_util::{Stream, StreamExt};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
};
use tokio::net::{TcpListener, TcpStream};
use tonic::{
    metadata::MetadataValue,
    transport::{Channel, Endpoint, Uri},
    Code, Request, Response, Status, Streaming,
};
use tower::ServiceExt;

/// Generated messages, client and server.
#[allow(missing_docs, clippy::all)]
pub mod pb {
    tonic::include_proto!("gate402.test");
}

use pb::{
    ticker_server::{Ticker, TickerServer},
    CountRequest, EchoReply, EchoRequest, FailRequest, Num, Tick, Total,
};

/// The test service.
#[derive(Debug, Default, Clone)]
pub struct TickerService;

type TickStream = Pin<Box<dyn Stream<Item = Result<Tick, Status>> + Send>>;

#[tonic::async_trait]
impl Ticker for TickerService {
    async fn echo(&self, req: Request<EchoRequest>) -> Result<Response<EchoReply>, Status> {
        let headers = req.metadata().clone().into_headers();
        let mut metadata_keys: Vec<String> = headers.keys().map(|k| k.to_string()).collect();
        metadata_keys.sort();
        let saw_credentials = ["authorization", "macaroon", "grpc-metadata-macaroon"]
            .iter()
            .any(|k| headers.contains_key(*k));
        let forwarded_proto = headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        Ok(Response::new(EchoReply {
            text: req.into_inner().text,
            metadata_keys,
            saw_credentials,
            forwarded_proto,
        }))
    }

    type CountStream = TickStream;

    async fn count(&self, req: Request<CountRequest>) -> Result<Response<TickStream>, Status> {
        let r = req.into_inner();
        let n = r.count;
        let ticks = futures_util::stream::iter((1..=n).map(|n| Ok(Tick { n })));
        // A successful stream ends with `grpc-status: 0` in the trailers; a failing one with
        // the status, its message and custom metadata in the trailers.
        let end = (r.fail_code != 0).then(|| {
            let mut status = Status::new(Code::from_i32(r.fail_code), r.fail_message);
            status
                .metadata_mut()
                .insert("x-detail", MetadataValue::from_static("kept"));
            Err(status)
        });
        let ticks = ticks.chain(futures_util::stream::iter(end));
        let mut resp = Response::new(Box::pin(ticks) as TickStream);
        resp.metadata_mut()
            .insert("x-ticks", MetadataValue::from(n));
        Ok(resp)
    }

    async fn sum(&self, req: Request<Streaming<Num>>) -> Result<Response<Total>, Status> {
        let mut stream = req.into_inner();
        let (mut sum, mut messages) = (0i64, 0u32);
        while let Some(num) = stream.next().await {
            sum += num?.value;
            messages += 1;
        }
        Ok(Response::new(Total { sum, messages }))
    }

    async fn fail(&self, req: Request<FailRequest>) -> Result<Response<EchoReply>, Status> {
        let r = req.into_inner();
        let mut status = Status::new(Code::from_i32(r.code), r.message);
        status
            .metadata_mut()
            .insert("x-detail", MetadataValue::from_static("kept"));
        Err(status)
    }
}

/// Serve [`TickerService`] on `127.0.0.1:0`: h2c, or TLS with `tls` (offer ALPN `h2`).
pub async fn serve_ticker(tls: Option<rustls::ServerConfig>) -> SocketAddr {
    let router = tonic::service::Routes::new(TickerServer::new(TickerService)).into_axum_router();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tls.map(|c| tokio_rustls::TlsAcceptor::from(Arc::new(c)));
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (router, acceptor) = (router.clone(), acceptor.clone());
            tokio::spawn(async move {
                let svc =
                    hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        router.clone().oneshot(req.map(axum::body::Body::new))
                    });
                let builder = auto::Builder::new(TokioExecutor::new()).http2_only();
                let _ = match acceptor {
                    Some(a) => match a.accept(tcp).await {
                        Ok(s) => builder.serve_connection(TokioIo::new(s), svc).await,
                        Err(_) => return,
                    },
                    None => builder.serve_connection(TokioIo::new(tcp), svc).await,
                };
            });
        }
    });
    addr
}

/// A tonic channel to `addr` over h2c.
pub async fn h2c_channel(addr: SocketAddr) -> Channel {
    Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_timeout(Duration::from_secs(10))
        .connect()
        .await
        .expect("h2c connect")
}

/// A tonic channel to `addr` over TLS (`localhost`), with `tls`'s trust and ALPN.
pub async fn tls_channel(addr: SocketAddr, tls: rustls::ClientConfig) -> Channel {
    let connector = tokio_rustls::TlsConnector::from(Arc::new(tls));
    let connect = tower::service_fn(move |_: Uri| {
        let connector = connector.clone();
        async move {
            let tcp = TcpStream::connect(addr).await?;
            tcp.set_nodelay(true)?;
            let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
            let tls = connector.connect(name, tcp).await?;
            assert_eq!(
                tls.get_ref().1.alpn_protocol(),
                Some(&b"h2"[..]),
                "the gateway negotiates h2 by ALPN"
            );
            Ok::<_, std::io::Error>(TokioIo::new(tls))
        }
    });
    Endpoint::from_shared(format!("http://localhost:{}", addr.port()))
        .unwrap()
        .connect_with_connector(connect)
        .await
        .expect("TLS connect")
}
