//! One module per `panoptes` subcommand.

pub mod sidecar;
