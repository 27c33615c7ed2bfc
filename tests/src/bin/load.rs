//! The load harness (a benchmark, not a test): a release `panoptes query` over one real gRPC
//! store on loopback holding 1,000 series of 6 h at 15 s, hit by 200 concurrent heavy range
//! queries (`sum by (job) (rate(m[5m]))` over the 6 h at a 15 s step) while 1,000 cheap
//! instant queries run beside them, 10 at a time. It prints, as markdown for
//! docs/operations.md: how the heavy queries ended (200, or 503 with how fast), their
//! latencies, the cheap queries' p50/p99/max, and the gateway's resident memory before and
//! at its peak (`VmHWM`). `cargo run --release -p panoptes-tests --bin load [-- FLAGS]`
//! passes FLAGS on to the gateway (e.g. `--query.max-concurrent=40`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a harness: failing loudly is the point

use futures_util::future::join_all;
use panoptes_tests::load::{HOURS, SERIES, gateway_over_store, memory};
use std::time::{Duration, Instant};

const HEAVY: usize = 200;
const CHEAP: usize = 1000;
const CHEAP_CONCURRENCY: usize = 10;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let flags: Vec<String> = std::env::args().skip(1).collect();
    let (gateway, base, _store) = gateway_over_store(&flags).await;
    let pid = gateway.pid();
    let (rss_before, _) = memory(pid);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(300))
        .pool_max_idle_per_host(HEAVY + CHEAP_CONCURRENCY)
        .build()
        .unwrap();
    let end = (HOURS * 3600).to_string();

    let heavy = (0..HEAVY).map(|_| {
        let (client, base, end) = (client.clone(), base.clone(), end.clone());
        async move {
            let started = Instant::now();
            let status = client
                .get(format!("{base}/api/v1/query_range"))
                .query(&[
                    ("query", "sum by (job) (rate(m[5m]))"),
                    ("start", "0"),
                    ("end", end.as_str()),
                    ("step", "15"),
                ])
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0);
            (status, started.elapsed())
        }
    });
    let (cheap_client, cheap_base) = (client.clone(), base.clone());
    let cheap = async move {
        let mut latencies = Vec::with_capacity(CHEAP);
        let mut failed = 0;
        for round in 0..CHEAP / CHEAP_CONCURRENCY {
            let calls = (0..CHEAP_CONCURRENCY).map(|k| {
                let (client, base) = (cheap_client.clone(), cheap_base.clone());
                let selector = format!("m{{i=\"{}\"}}", (round * CHEAP_CONCURRENCY + k) % SERIES);
                async move {
                    let started = Instant::now();
                    let ok = client
                        .get(format!("{base}/api/v1/query"))
                        .query(&[("query", selector.as_str()), ("time", "21600")])
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success());
                    (ok, started.elapsed())
                }
            });
            for (ok, took) in join_all(calls).await {
                latencies.push(took);
                failed += usize::from(!ok);
            }
        }
        (latencies, failed)
    };
    let watch = async {
        let mut peak = 0.0f64;
        for _ in 0..6000 {
            peak = peak.max(memory(pid).0);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        peak
    };
    let started = Instant::now();
    let (heavy, (mut cheap, cheap_failed)) = tokio::select! {
        done = async { tokio::join!(join_all(heavy), cheap) } => done,
        _ = watch => panic!("the load did not finish within 5 minutes"),
    };
    let wall = started.elapsed();
    let (rss_after, hwm) = memory(pid);

    let mut answered: Vec<Duration> = heavy
        .iter()
        .filter(|(s, _)| *s == 200)
        .map(|h| h.1)
        .collect();
    let mut refused: Vec<Duration> = heavy
        .iter()
        .filter(|(s, _)| *s == 503)
        .map(|h| h.1)
        .collect();
    let other = heavy.len() - answered.len() - refused.len();
    answered.sort();
    refused.sort();
    cheap.sort();
    println!("| figure | value |");
    println!("|---|---|");
    println!(
        "| gateway flags | `{}` |",
        if flags.is_empty() {
            "(defaults)".to_string()
        } else {
            flags.join(" ")
        }
    );
    println!(
        "| heavy range queries | {HEAVY}: {} answered (p50 {}, max {}), {} refused with 503 (p50 {}, max {}), {other} other |",
        answered.len(),
        ms(percentile(&answered, 0.5)),
        ms(percentile(&answered, 1.0)),
        refused.len(),
        ms(percentile(&refused, 0.5)),
        ms(percentile(&refused, 1.0))
    );
    println!(
        "| cheap instant queries | {CHEAP}, {CHEAP_CONCURRENCY} at a time: p50 {}, p99 {}, max {}; {cheap_failed} not 200 |",
        ms(percentile(&cheap, 0.5)),
        ms(percentile(&cheap, 0.99)),
        ms(percentile(&cheap, 1.0))
    );
    println!(
        "| gateway RSS | {rss_before:.0} MB before, {hwm:.0} MB peak (VmHWM), {rss_after:.0} MB after |"
    );
    println!("| wall time | {:.1} s |", wall.as_secs_f64());
    drop(gateway);
}
