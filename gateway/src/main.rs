//! `panoptes`: the gateway, the sidecar, the block store and the demo in one binary.

use clap::Parser;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = gateway::cli::Cli::parse();
    let tracing = match cli.tracing().and_then(|c| c.map(|c| c.start()).transpose()) {
        Ok(tracing) => tracing,
        Err(err) => {
            eprintln!("panoptes: {err}");
            return ExitCode::FAILURE;
        }
    };
    gateway::telemetry::init_logging(&cli.log_level, cli.log_format, tracing.as_ref());
    let outcome = gateway::commands::run(cli.command).await;
    if let Some(tracing) = tracing {
        tracing.shutdown().await;
    }
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err}");
            eprintln!("panoptes: {err}");
            ExitCode::FAILURE
        }
    }
}
