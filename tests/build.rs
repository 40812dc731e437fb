//! Build script: generates the test gRPC service (`proto/ticker.proto`, client and server)
//! and the server side of Aperture's pricing service (`../proto/prices.proto`, the test
//! pricer) with the vendored `protoc`, as `rails` does for LND's protos.

fn main() {
    let manifest = std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let proto_dir = manifest.join("proto");
    let file = proto_dir.join("ticker.proto");
    println!("cargo:rerun-if-changed={}", file.display());
    let protoc = protoc_bin_vendored::protoc_bin_path().expect("vendored protoc binary");
    // Safe in edition 2021; the build script is single-threaded here.
    std::env::set_var("PROTOC", protoc);
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .build_transport(false)
        .compile_protos(&[file], &[proto_dir])
        .expect("compile the test proto");
    let shared = manifest.join("..").join("proto");
    let prices = shared.join("prices.proto");
    println!("cargo:rerun-if-changed={}", prices.display());
    tonic_prost_build::configure()
        .build_client(false)
        .build_server(true)
        .build_transport(false)
        .compile_protos(&[prices], &[shared])
        .expect("compile proto/prices.proto");
}
