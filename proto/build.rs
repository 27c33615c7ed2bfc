//! Compiles the `.proto` files with a pure-Rust protobuf compiler, so no `protoc` is needed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "proto/labels.proto",
        "proto/types.proto",
        "proto/rpc.proto",
        "proto/info.proto",
        "proto/remote.proto",
        "proto/metadata.proto",
    ];
    for file in files {
        println!("cargo:rerun-if-changed={file}");
    }
    let descriptors = protox::compile(files, ["proto"])?;
    tonic_prost_build::configure()
        // Chunk payloads stay reference-counted slices of the received buffer: no copies.
        .bytes(".")
        .compile_fds(descriptors)?;
    Ok(())
}
