//! One module per `panoptes` subcommand.

pub mod demo;
pub mod query;
pub mod serve;
pub mod sidecar;
pub mod store;
