//! Logging setup: structured `tracing` logs to stderr, filtered by `--log.level` or `RUST_LOG`,
//! as text (coloured only when stderr is a terminal: a log file or a collector gets plain
//! text), logfmt or JSON lines (`--log.format`). Where traces are exported, the same spans also
//! feed the exporter, filtered apart from the logs.

use crate::telemetry::traces::Tracing;
use std::io::IsTerminal;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

/// `--log.format`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// `key=value` pairs, as Prometheus and Thanos log.
    Logfmt,
    /// One JSON object per line.
    Json,
}

pub fn init_logging(level: &str, format: LogFormat, tracing: Option<&Tracing>) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let logs: Box<dyn Layer<Registry> + Send + Sync> = match format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .boxed(),
        LogFormat::Logfmt => tracing_logfmt::builder()
            .layer()
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .boxed(),
    };
    // Panoptes' own spans, whatever the log level: a quiet log still gives whole traces.
    let traces = tracing.map(|t| {
        t.layer()
            .with_filter(EnvFilter::new("warn,gateway=info,store_api=info"))
    });
    // A second initialisation (tests running several commands) is harmless: keep the first.
    let _ = tracing_subscriber::registry()
        .with(logs.with_filter(filter))
        .with(traces)
        .try_init();
}
