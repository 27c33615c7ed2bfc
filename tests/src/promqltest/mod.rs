//! A runner for Prometheus' PromQL test scripts (the `promqltest` format of
//! `promql/promqltest/testdata/*.test`) against the gateway's engine.
//!
//! `parse` reads a script into commands, `compare` checks one answer the way the Go harness
//! does, `run` executes scripts (with the harness' hidden `@` and range re-runs) and reports
//! every eval as passed, failed with a reason, or skipped with a reason; `ratchet` holds a
//! run to what the last recorded run gave; `start_timestamps` serves the scripts' `@st` start
//! timestamps, which stores cannot hold.

pub mod compare;
pub mod parse;
pub mod ratchet;
pub mod run;
pub mod start_timestamps;

pub use parse::{Script, ScriptError, parse_script};
pub use run::{
    EvalClass, EvalReport, FailKind, Failure, FileReport, HistogramNames, Outcome, QueryEngine,
    Runner, SkipReason, Stage, classify, run_all, script_engine,
};

use std::path::{Path, PathBuf};

/// Where the scripts live: `../shared/conformance/promql` beside the repository (never copied
/// into it).
pub fn scripts_dir() -> PathBuf {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/conformance/promql"
    ))
    .to_path_buf()
}

/// Reads and parses every `*.test` file of `dir`, sorted by name.
pub fn load_scripts(dir: &Path) -> Result<Vec<Script>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut paths = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
            .path();
        if path.extension().is_some_and(|ext| ext == "test") {
            paths.push(path);
        }
    }
    paths.sort();
    paths
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            parse_script(&name, &text).map_err(|e| e.to_string())
        })
        .collect()
}
