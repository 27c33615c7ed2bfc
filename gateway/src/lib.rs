//! The Panoptes gateway crate: everything that consumes StoreAPI and serves users, and the
//! `panoptes` command line.

pub mod build_info;
pub mod cli;
pub mod commands;
pub mod fanout;
pub mod grpc;
pub mod http;
pub mod promql;
pub mod telemetry;
