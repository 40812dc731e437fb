//! Build script: generates the LND gRPC client and server code from `../proto/*.proto`
//! (feature `lnd` only), using the `protoc` binary shipped by `protoc-bin-vendored` so no
//! system protobuf compiler is needed. The server side is generated only with `lnd-server`.

fn main() {
    #[cfg(feature = "lnd")]
    lnd::generate();
}

#[cfg(feature = "lnd")]
mod lnd {
    use std::path::PathBuf;

    /// The LND protos we compile; `lightning.proto` is imported by the other two.
    const PROTOS: [&str; 3] = ["lightning.proto", "router.proto", "invoices.proto"];

    pub fn generate() {
        let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("manifest dir"));
        let proto_dir = manifest.join("..").join("proto");
        let protoc = protoc_bin_vendored::protoc_bin_path().expect("vendored protoc binary");
        // Safe in edition 2021; the build script is single-threaded here.
        std::env::set_var("PROTOC", protoc);

        let files: Vec<PathBuf> = PROTOS.iter().map(|p| proto_dir.join(p)).collect();
        for f in &files {
            println!("cargo:rerun-if-changed={}", f.display());
        }
        tonic_prost_build::configure()
            .build_client(true)
            .build_server(cfg!(feature = "lnd-server"))
            .build_transport(false)
            // Messages carrying secrets get hand-written, redacting Debug impls (lnd/proto.rs).
            .skip_debug([".lnrpc.Invoice", ".lnrpc.Payment"])
            .compile_protos(&files, &[proto_dir])
            .expect("compile LND protos");
    }
}
