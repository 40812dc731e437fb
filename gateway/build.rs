//! Build script: generates the client of Aperture's pricing service (`../proto/prices.proto`,
//! `pricesrpc.Prices/GetPrice`) for dynamically priced routes, with the vendored `protoc` as
//! `rails` does for LND's protos. Seller side (feature `server`) only.

fn main() {
    if std::env::var_os("CARGO_FEATURE_SERVER").is_none() {
        return;
    }
    let manifest = std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let proto_dir = manifest.join("..").join("proto");
    let file = proto_dir.join("prices.proto");
    println!("cargo:rerun-if-changed={}", file.display());
    let protoc = protoc_bin_vendored::protoc_bin_path().expect("vendored protoc binary");
    // Safe in edition 2021; the build script is single-threaded here.
    std::env::set_var("PROTOC", protoc);
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(false)
        .build_transport(false)
        .compile_protos(&[file], &[proto_dir])
        .expect("compile proto/prices.proto");
}
