//! Everything that serves the Thanos-compatible StoreAPI: labels and matchers, the chunk
//! codecs (XOR, native histograms), the `Store` trait with its gRPC server and client, and the stores themselves.

pub mod chunk;
pub mod client;
pub mod convert;
pub mod encoding;
pub mod error;
pub mod histogram;
pub mod labels;
pub mod memory;
pub mod net;
pub mod objstore;
pub mod server;
pub mod sidecar;
pub mod store;
pub mod text;
pub mod tls;
pub mod trace;
pub mod victoriametrics;

pub use client::StoreClient;
pub use error::StoreError;
pub use labels::{Label, Labels, MatchOp, Matcher};
pub use memory::MemoryStore;
pub use store::{
    Component, LabelNamesRequest, LabelValuesRequest, LabelsResponse, Meta, MetadataRequest,
    MetadataResponse, PartialResponse, RawChunk, SeriesData, SeriesFrame, SeriesRequest,
    SeriesStream, Store, StoreInfo,
};
