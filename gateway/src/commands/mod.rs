//! One module per `panoptes` subcommand.

pub mod demo;
pub mod query;
pub mod serve;
pub mod sidecar;
pub mod store;

use crate::cli::Command;

/// Runs the subcommand until it stops or fails.
pub async fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Query(args) => query::run(*args).await,
        Command::Sidecar(args) => sidecar::run(args).await,
        Command::Store(args) => store::run(args).await,
        Command::Demo(args) => demo::run(args.http_address).await,
    }
}
