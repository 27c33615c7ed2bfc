//! The report: a markdown section with the machine, the data, the latency tables, the
//! agreement of the answers and the memory of every process.

use super::answers::{LOOSE_TOLERANCE, TOLERANCE, thousands};
use super::dataset::{Dataset, HOUR_MS, SCRAPE_INTERVAL_MS};
use super::fleet::{ProcessName, per_system};
use super::machine::{Machine, Versions, utc_time};
use super::markdown::{Table, geometric_mean, latency, mebibytes, minutes, ratio};
use super::measure::Results;
use super::queries::RequestKind;
use super::systems::System;
use std::fmt::Write as _;
use std::time::Duration;

/// What the tables need besides the measurements.
pub struct Context {
    pub date: String,
    pub machine: Machine,
    pub versions: Versions,
    pub dataset: Dataset,
    pub samples: usize,
    pub blocks: usize,
    pub blocks_bytes: u64,
    pub victoria_bytes: u64,
    /// How long each phase of the harness took.
    pub phases: Vec<(&'static str, Duration)>,
    /// Systems left out, and why.
    pub skipped: Vec<(System, String)>,
}

pub fn render(context: &Context, results: &Results, peaks: &[(ProcessName, u64)]) -> String {
    let mut out = String::new();
    header(&mut out, context, results);
    warm_table(&mut out, results);
    cold_table(&mut out, results);
    answers(&mut out, results);
    memory(&mut out, peaks);
    out
}

fn header(out: &mut String, c: &Context, results: &Results) {
    let m = &c.machine;
    let v = &c.versions;
    let total: Duration = c.phases.iter().map(|(_, d)| *d).sum();
    let phases: Vec<String> = c
        .phases
        .iter()
        .map(|(name, d)| format!("{name} {}", minutes(*d)))
        .collect();
    let d = &c.dataset;
    let _ = writeln!(
        out,
        "### Run of {date}: preset `{preset}`\n\n\
         Machine: {cores} cores ({cpu}), {memory:.1} GiB memory, {os}, Linux {kernel}. \
         Prometheus {prometheus}; VictoriaMetrics {vm}; panoptes at {panoptes}; {rustc}. \
         The harness ran {total} ({phases}).\n\n\
         Data: {series} series ({pods} pods in {namespaces} namespaces), {samples} samples, \
         {hours} h at {scrape} s from {from} to {to}; {blocks} TSDB blocks of 2 h, {blocks_mib} \
         (promtool); VictoriaMetrics' data directory {vm_mib} after the import.\n",
        date = c.date,
        preset = d.preset.name(),
        cores = m.cores,
        cpu = m.cpu,
        memory = m.memory_bytes as f64 / (1u64 << 30) as f64,
        os = m.os,
        kernel = m.kernel,
        prometheus = v.prometheus,
        vm = v.victoria_metrics,
        panoptes = v.panoptes,
        rustc = v.rustc,
        total = minutes(total),
        phases = phases.join(", "),
        series = thousands(d.series_count()),
        pods = thousands(d.pods()),
        namespaces = d.namespaces(),
        samples = thousands(c.samples),
        hours = (d.end_ms - d.start_ms) / HOUR_MS,
        scrape = SCRAPE_INTERVAL_MS / 1000,
        from = utc_time(d.start_ms),
        to = utc_time(d.end_ms),
        blocks = c.blocks,
        blocks_mib = mebibytes(c.blocks_bytes),
        vm_mib = mebibytes(c.victoria_bytes),
    );
    for system in &results.systems {
        let _ = writeln!(out, "- `{system}`: {}", system.describe());
    }
    for (system, why) in &c.skipped {
        let _ = writeln!(out, "- `{system}`: not measured ({why})");
    }
    let _ = writeln!(
        out,
        "\nEach request ran cold once (every process restarted just before; the OS page cache \
         stays warm), then in one unmeasured warm-up round and {} measured rounds, the systems \
         taking turns request by request. Latency is end to end over loopback HTTP, up to the \
         last byte of the uncompressed JSON answer.\n",
        results.rounds
    );
}

/// The ratio columns: each Panoptes system against Prometheus, and the first Panoptes system
/// against VictoriaMetrics.
fn ratio_columns(systems: &[System]) -> Vec<(System, System)> {
    let panoptes: Vec<System> = systems
        .iter()
        .copied()
        .filter(|s| matches!(s, System::Store | System::Sidecar | System::Sharded))
        .collect();
    let mut columns: Vec<(System, System)> = Vec::new();
    if systems.contains(&System::Prometheus) {
        columns.extend(panoptes.iter().map(|&p| (p, System::Prometheus)));
    }
    if let (Some(&first), true) = (panoptes.first(), systems.contains(&System::VictoriaMetrics)) {
        columns.push((first, System::VictoriaMetrics));
    }
    columns
}

fn warm_table(out: &mut String, results: &Results) {
    let ratios = ratio_columns(&results.systems);
    let mut header = vec!["query".to_string(), "range / step".into(), "answer".into()];
    header.extend(results.systems.iter().map(|s| s.id().to_string()));
    header.extend(ratios.iter().map(|(a, b)| format!("{a}/{b}")));
    header.push("answers".into());
    let mut table = Table::new(header);
    let mut ratio_values = vec![Vec::new(); ratios.len()];
    for (index, request) in results.requests.iter().enumerate() {
        let warm = |system| results.cell(index, system).and_then(|c| c.warm_median());
        let mut row = vec![
            format!("`{}`", request.name),
            request.shape.clone(),
            results.sizes[index].clone(),
        ];
        row.extend(
            results
                .systems
                .iter()
                .map(|&s| warm(s).map_or("failed".into(), latency)),
        );
        for ((a, b), values) in ratios.iter().zip(&mut ratio_values) {
            let r = warm(*a)
                .zip(warm(*b))
                .map(|(x, y)| x.as_secs_f64() / y.as_secs_f64());
            values.extend(r);
            row.push(r.map_or("–".into(), ratio));
        }
        row.push(agreement(results, index));
        table.row(row);
    }
    let mut mean_row = vec!["geometric mean".to_string(), String::new(), String::new()];
    mean_row.extend(results.systems.iter().map(|_| String::new()));
    mean_row.extend(
        ratio_values
            .iter()
            .map(|v| geometric_mean(v).map_or("–".into(), ratio)),
    );
    mean_row.push(String::new());
    table.row(mean_row);
    let _ = writeln!(
        out,
        "#### Warm latency (median of {} rounds)\n\n{}",
        results.rounds,
        table.render()
    );
    let _ = writeln!(
        out,
        "Queries (`answer`: series × points per series of Prometheus' answer):\n"
    );
    let mut seen = Vec::new();
    for request in &results.requests {
        if let RequestKind::Query { promql, .. } = request.kind
            && !seen.contains(&promql)
        {
            seen.push(promql);
            let _ = writeln!(out, "- `{}`: `{promql}`", request.name);
        }
    }
    out.push('\n');
}

/// `agree`, or which systems differed from the reference or failed.
fn agreement(results: &Results, index: usize) -> String {
    let reference = results.cell(index, results.reference());
    if let Some(Some(Err(_))) = reference.map(|c| &c.cold) {
        return "not compared".into();
    }
    let mut differing = Vec::new();
    for &system in &results.systems[1..] {
        let Some(cell) = results.cell(index, system) else {
            continue;
        };
        match (&cell.cold, &cell.verdict) {
            (Some(Err(_)), _) => differing.push(format!("{system} failed")),
            (_, Some(v)) if !v.agrees => differing.push(format!("{system} ≠")),
            _ => {}
        }
    }
    if differing.is_empty() {
        "agree".into()
    } else {
        differing.join(", ")
    }
}

fn cold_table(out: &mut String, results: &Results) {
    let mut header = vec!["query".to_string(), "range / step".into()];
    header.extend(results.systems.iter().map(|s| s.id().to_string()));
    let mut table = Table::new(header);
    for (index, request) in results.requests.iter().enumerate() {
        let mut row = vec![format!("`{}`", request.name), request.shape.clone()];
        row.extend(results.systems.iter().map(|&s| {
            match results.cell(index, s).and_then(|c| c.cold.as_ref()) {
                Some(Ok(d)) => latency(*d),
                Some(Err(_)) => "failed".into(),
                None => "–".into(),
            }
        }));
        table.row(row);
    }
    let _ = writeln!(
        out,
        "#### Cold latency (first request after a restart)\n\n{}",
        table.render()
    );
}

fn answers(out: &mut String, results: &Results) {
    let reference = results.reference();
    let _ = writeln!(
        out,
        "#### Answers compared with {reference}'s\n\n\
         Every cold answer against {reference}'s: the same series (label sets; the `shard` \
         label that the sharded layout adds is removed first), the same timestamps, values \
         within a relative {TOLERANCE:e} (NaN equal to NaN); label and series lists as sets. \
         For answers that differ, the share of points within {}% is given too.\n",
        LOOSE_TOLERANCE * 100.0
    );
    let mut table = Table::new(["system", "agreed", "differed", "failed"]);
    let mut details = Vec::new();
    for &system in &results.systems[1..] {
        let (mut agreed, mut differed, mut failed) = (0, 0, 0);
        for (index, request) in results.requests.iter().enumerate() {
            let Some(cell) = results.cell(index, system) else {
                continue;
            };
            let what = format!("`{system}` `{}` {}", request.name, request.shape);
            match (&cell.cold, &cell.verdict) {
                (Some(Err(e)), _) => {
                    failed += 1;
                    details.push(format!("{what}: failed: {e}"));
                }
                (_, Some(v)) if v.agrees => agreed += 1,
                (_, Some(v)) => {
                    differed += 1;
                    details.push(format!("{what}: {}", v.difference));
                }
                _ => {}
            }
            if cell.warm_failures > 0 {
                let last = cell.last_warm_error.as_deref().unwrap_or_default();
                details.push(format!(
                    "{what}: {} warm runs failed: {last}",
                    cell.warm_failures
                ));
            }
        }
        table.row([
            format!("`{system}`"),
            agreed.to_string(),
            differed.to_string(),
            failed.to_string(),
        ]);
    }
    let _ = writeln!(out, "{}", table.render());
    for line in &details {
        let _ = writeln!(out, "- {line}");
    }
    if !details.is_empty() {
        out.push('\n');
    }
}

fn memory(out: &mut String, peaks: &[(ProcessName, u64)]) {
    let mut table = Table::new(["system", "process", "peak RSS"]);
    for (name, bytes) in peaks {
        table.row([
            format!("`{}`", name.system),
            name.role.clone(),
            mebibytes(*bytes),
        ]);
    }
    for (system, bytes) in per_system(peaks) {
        table.row([
            format!("`{system}`"),
            "**total**".into(),
            format!("**{}**", mebibytes(bytes)),
        ]);
    }
    let _ = writeln!(
        out,
        "#### Peak resident memory (VmHWM, largest over every restart)\n\n{}",
        table.render()
    );
    if peaks.iter().any(|(name, _)| name.system == System::Sidecar) {
        let _ = writeln!(
            out,
            "The `sidecar` total leaves out the Prometheus it reads (listed under \
             `prometheus`, which answered its own queries and the sidecar's)."
        );
    }
}
