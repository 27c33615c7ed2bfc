//! Support for end-to-end tests: real Prometheus servers over real promtool blocks, real
//! `panoptes` processes, loopback ports, deterministic generated data.
//!
//! Helpers here panic with a clear message when the environment is not what the tests need
//! (a missing `prometheus` binary, a server that never becomes ready): a test must fail
//! loudly rather than pass without checking anything.

#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod block_store;
pub mod certs;
pub mod cluster_queries;
pub mod compare;
pub mod data;
pub mod faults;
pub mod histograms;
pub mod live_pair;
pub mod load;
pub mod net;
pub mod otlp;
pub mod phased_pair;
pub mod process;
pub mod prometheus;
pub mod promqltest;
pub mod promtool;
pub mod remote_write;
pub mod s3;
pub mod topology;
pub mod vmalert;
