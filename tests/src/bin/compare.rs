//! The side-by-side benchmark: generated data in Prometheus 2.42, VictoriaMetrics 1.79 and
//! three Panoptes deployments, the same requests to each, a markdown report (printed, and
//! written into docs/benchmarks.md). Run through `bash scripts/compare.sh`, which installs
//! the servers and builds `panoptes`; `compare --help` lists the options.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a harness: failing loudly is the point

use panoptes_tests::block_store::{block_dirs, disk_usage};
use panoptes_tests::compare::blocks::{BlockSets, write_blocks};
use panoptes_tests::compare::buckets::replica_buckets;
use panoptes_tests::compare::dataset::{Dataset, SERIES_PER_POD};
use panoptes_tests::compare::fleet::{Fleet, TIER_STORAGE};
use panoptes_tests::compare::http::Http;
use panoptes_tests::compare::machine::{Machine, Versions, utc_now};
use panoptes_tests::compare::markdown::write_section;
use panoptes_tests::compare::measure::Bench;
use panoptes_tests::compare::options::{Options, USAGE};
use panoptes_tests::compare::queries::requests;
use panoptes_tests::compare::report::{Context, render};
use panoptes_tests::compare::systems::{Readiness, System, Target};
use panoptes_tests::compare::victoria::VictoriaMetrics;
use panoptes_tests::compare::{import, shapes};
use panoptes_tests::process::panoptes_binary_in;
use panoptes_tests::prometheus::PrometheusServer;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Prometheus keeps the promtool blocks as they are: no compaction into larger blocks
/// (which would also rewrite them while the benchmark runs).
const PROMETHEUS_FLAGS: [&str; 2] = [
    "--storage.tsdb.min-block-duration=2h",
    "--storage.tsdb.max-block-duration=2h",
];
/// Shards of the sharded Panoptes deployment (each with 2 replicas).
const SHARDS: usize = 4;

fn main() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives in the workspace")
        .to_path_buf();
    let options = match Options::parse(std::env::args().skip(1), repo.join("docs/benchmarks.md")) {
        Ok(options) => options,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("{message}");
            }
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    let date = utc_now();
    let binary = panoptes_binary_in("release");
    let mut systems = options.systems.clone();
    let mut skipped = Vec::new();
    if !shapes::has_store_command(&binary) {
        for system in systems.iter().filter(|s| s.needs_store()) {
            skipped.push((*system, "this build has no `panoptes store`".to_string()));
        }
        systems.retain(|s| !s.needs_store());
    }
    let temp = tempfile::tempdir().unwrap();
    let work = options
        .work_dir
        .clone()
        .unwrap_or_else(|| temp.path().into());
    std::fs::create_dir_all(&work).unwrap();

    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let dataset = Dataset::ending_before(options.preset, now_ms);
    eprintln!(
        "data: {} series ({} pods × {SERIES_PER_POD}), {} samples; systems: {systems:?}",
        dataset.series_count(),
        dataset.pods(),
        dataset.samples_count()
    );

    let started = Instant::now();
    let shards = if systems.contains(&System::Sharded) {
        SHARDS
    } else {
        0
    };
    let blocks = write_blocks(&dataset, &work.join("blocks"), shards);
    let blocks_written = started.elapsed();
    eprintln!("blocks written in {blocks_written:.0?}");

    let started = Instant::now();
    let mut fleet = Fleet::default();
    let mut http = Http::new();
    let (targets, victoria_data) = start_systems(
        &systems, &mut fleet, &http, &dataset, &blocks, &binary, &work,
    );
    let loaded = started.elapsed();
    eprintln!("systems started and loaded in {loaded:.0?}");

    let started = Instant::now();
    let mut bench = Bench {
        fleet: &mut fleet,
        http: &mut http,
        targets: &targets,
        dataset: &dataset,
    };
    bench.check_data();
    let results = bench.run(requests(&dataset), options.rounds);
    let measured = started.elapsed();
    let peaks = fleet.peak_rss();

    let context = Context {
        date,
        machine: Machine::describe(),
        versions: Versions::collect(&repo, VictoriaMetrics::version()),
        samples: dataset.samples_count(),
        blocks: block_dirs(&blocks.all).len(),
        blocks_bytes: disk_usage(&blocks.all),
        victoria_bytes: victoria_data.as_deref().map_or(0, disk_usage),
        dataset,
        phases: vec![
            ("writing blocks", blocks_written),
            ("starting and loading", loaded),
            ("measuring", measured),
        ],
        skipped,
    };
    let section = render(&context, &results, &peaks);
    println!("{section}");
    if let Some(path) = &options.output {
        write_section(path, &section).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        eprintln!("written into {}", path.display());
    }
}

/// Starts every system (loading VictoriaMetrics), Prometheus first; returns their query
/// endpoints, and VictoriaMetrics' data directory if it runs.
fn start_systems(
    systems: &[System],
    fleet: &mut Fleet,
    http: &Http,
    dataset: &Dataset,
    blocks: &BlockSets,
    binary: &Path,
    work: &Path,
) -> (Vec<Target>, Option<PathBuf>) {
    let prometheus = PrometheusServer::start_with_flags(
        &blocks.all,
        &work.join("prometheus"),
        &PROMETHEUS_FLAGS,
    );
    let prometheus_url = prometheus.url();
    fleet.add(
        System::Prometheus,
        "prometheus",
        TIER_STORAGE,
        Box::new(prometheus),
    );
    let mut targets = vec![Target {
        system: System::Prometheus,
        url: prometheus_url.clone(),
        readiness: Readiness::Listening,
    }];
    let mut victoria_data = None;
    for &system in &systems[1..] {
        let target = match system {
            System::Prometheus => continue,
            System::VictoriaMetrics => {
                let victoria = VictoriaMetrics::start(&work.join("victoria"));
                let url = victoria.url();
                let started = Instant::now();
                import::import(http, &url, dataset);
                eprintln!("VictoriaMetrics import: {:.0?}", started.elapsed());
                victoria_data = Some(victoria.data_dir());
                fleet.add(system, "victoria-metrics", TIER_STORAGE, Box::new(victoria));
                Target {
                    system,
                    url,
                    readiness: Readiness::Health("/health"),
                }
            }
            System::Store => shapes::store(fleet, binary, &blocks.all, work),
            System::Sidecar => shapes::sidecar(fleet, binary, &prometheus_url),
            System::Sharded => {
                let buckets = replica_buckets(&blocks.shards, &work.join("buckets"));
                shapes::sharded(fleet, binary, &buckets, work)
            }
        };
        targets.push(target);
    }
    (targets, victoria_data)
}
