//! Integration tests: real sockets on 127.0.0.1:0, a simulated Lightning network, the real
//! gateway and the real buyer client.

mod buyer_cli;
mod buyer_hostile;
mod buyer_https;
mod buyer_mixed;
mod buyer_session;
mod config_files;
mod failover;
mod faults;
mod grpc;
mod interop_matrix;
mod layer;
mod limits;
mod lnd_backend;
mod macaroons;
mod mpp_charge;
mod mpp_interop;
mod mpp_session;
mod mpp_wire;
mod policy;
mod probe;
mod rejections;
mod roundtrip;
mod server;
mod store;
mod tls;
mod upgrade;
mod x402_evm;
mod x402_express;
mod x402_interop;
mod x402_lightning;
mod x402_settlement;
