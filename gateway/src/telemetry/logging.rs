//! Logging setup: structured `tracing` logs to stderr, filtered by `--log.level` or `RUST_LOG`;
//! coloured only when stderr is a terminal (a log file or a collector gets plain text).

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

pub fn init_logging(level: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    // A second initialisation (tests running several commands) is harmless: keep the first.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
