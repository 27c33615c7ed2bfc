//! Real TSDB blocks: generated series written as OpenMetrics and turned into blocks by
//! `promtool tsdb create-blocks-from openmetrics`.

use crate::data::Series;
use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::path::Path;
use std::process::Command;
use store_api::Labels;

/// Writes the series as an OpenMetrics file: one family after another, samples in time order.
pub fn openmetrics(series: &[Series]) -> String {
    let mut families: BTreeMap<&str, Vec<&Series>> = BTreeMap::new();
    for s in series {
        families.entry(s.name()).or_default().push(s);
    }
    let mut out = String::new();
    for (name, members) in families {
        // `gauge` for every family: OpenMetrics' type rules (suffixes) do not matter to the TSDB.
        writeln!(out, "# TYPE {name} gauge").unwrap();
        let mut lines: Vec<(i64, String)> = Vec::new();
        for s in members {
            let selector = series_selector(&s.labels);
            for &(t, v) in &s.samples {
                lines.push((t, OpenMetricsSample(&selector, t, v).to_string()));
            }
        }
        lines.sort_by_key(|(t, _)| *t);
        for (_, line) in lines {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out.push_str("# EOF\n");
    out
}

/// `name{label="value",...}`: a series as the text exposition formats write it.
pub fn series_selector(labels: &Labels) -> String {
    let name = labels.get("__name__").unwrap_or("");
    let pairs: Vec<String> = labels
        .iter()
        .filter(|l| l.name != "__name__")
        .map(|l| format!("{}=\"{}\"", l.name, escape(&l.value)))
        .collect();
    format!("{name}{{{}}}", pairs.join(","))
}

/// One OpenMetrics sample line (without its newline): a [`series_selector`], the value and
/// the time in seconds with millisecond decimals.
pub struct OpenMetricsSample<'a>(pub &'a str, pub i64, pub f64);

impl fmt::Display for OpenMetricsSample<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self(selector, t, v) = *self;
        write!(
            f,
            "{selector} {} {}.{:03}",
            format_value(v),
            t.div_euclid(1000),
            t.rem_euclid(1000)
        )
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A sample value as the text formats write it (`NaN`, `+Inf`, `-Inf`, else Rust's shortest
/// round-tripping decimal).
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v:?}")
    }
}

/// Writes `series` into TSDB blocks under `dir` with the real promtool.
pub fn create_blocks(series: &[Series], dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let input = dir.join("input.om");
    std::fs::write(&input, openmetrics(series)).unwrap();
    blocks_from_openmetrics(&input, &dir.join("blocks"));
    std::fs::remove_file(&input).unwrap();
}

/// Runs `promtool tsdb create-blocks-from openmetrics <input> <blocks>`; panics with
/// promtool's output when it fails.
pub fn blocks_from_openmetrics(input: &Path, blocks: &Path) {
    let output = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(input)
        .arg(blocks)
        .output()
        .expect("run promtool: install Debian's `prometheus` package (README's test command does)");
    assert!(
        output.status.success(),
        "promtool failed on {}: {}\n{}",
        input.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Copies a blocks directory (Prometheus locks and writes its data directory: each server
/// needs its own copy).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
