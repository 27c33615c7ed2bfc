//! One module per `panoptes` subcommand.

pub mod demo;
pub mod query;
pub mod sidecar;
pub mod store;
