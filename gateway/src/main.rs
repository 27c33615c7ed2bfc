//! `panoptes`: the gateway, the sidecar, the block store and the demo in one binary.

use clap::Parser;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = gateway::cli::Cli::parse();
    gateway::telemetry::init_logging(&cli.log_level);
    match gateway::cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err}");
            eprintln!("panoptes: {err}");
            ExitCode::FAILURE
        }
    }
}
