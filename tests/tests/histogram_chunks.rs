//! Our native-histogram chunk codecs against a real Prometheus 3.5, byte for byte (chunks
//! come raw through remote read, as `panoptes sidecar` gets them).
//!
//! - Scraped: a Prometheus 3.5 with native histograms scrapes another every 200 ms (its HTTP
//!   handlers' `prometheus_http_request_duration_seconds` are native histograms, its classic
//!   histograms are converted to custom buckets) and records float histograms from them; every
//!   chunk decodes, and our encoder writes it again from the decoded samples and its header.
//! - Remote-written: integer and float histogram series of every shape Prometheus' appender
//!   treats differently (new buckets, empty buckets missing, resets, schema and zero-threshold
//!   changes, gauges, staleness markers, custom buckets, size cuts) go into a Prometheus 3.5
//!   through remote write; the chunks it cut are those `HistogramChunks` cuts from the same
//!   samples, byte for byte, headers included.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use futures_util::TryStreamExt;
use panoptes_tests::histograms::{self, HistogramSeries};
use panoptes_tests::prometheus::{PrometheusServer, Version, api_client};
use panoptes_tests::remote_write;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use store_api::chunk::{
    ChunkEncoding, HistogramChunkDecoder, HistogramChunkEncoder, HistogramSample, histogram_chunks,
};
use store_api::histogram::{FloatHistogram, Histogram};
use store_api::sidecar::{HttpClientConfig, PrometheusClient, SidecarStore};
use store_api::{Labels, MatchOp, Matcher, RawChunk, SeriesFrame, SeriesRequest, Store as _};

/// Every series' chunks, through remote read.
async fn chunks(prometheus: &PrometheusServer) -> BTreeMap<Labels, Vec<RawChunk>> {
    let client = PrometheusClient::new(
        &prometheus.url(),
        Duration::from_secs(20),
        HttpClientConfig::default(),
    )
    .unwrap();
    let request = SeriesRequest {
        min_time: i64::MIN,
        max_time: i64::MAX,
        matchers: vec![Matcher::new(MatchOp::Regex, "__name__", ".+").unwrap()],
        ..Default::default()
    };
    let frames: Vec<SeriesFrame> = SidecarStore::new(client)
        .series(request)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    frames
        .into_iter()
        .map(|f| match f {
            SeriesFrame::Series(s) => (s.labels, s.chunks),
            SeriesFrame::Warning(w) => panic!("unexpected warning: {w}"),
        })
        .collect()
}

/// Decodes `data` and encodes the samples again with its header: identical bytes?
fn reencodes<H: HistogramSample>(data: &[u8]) -> Result<bool, String> {
    let decoder = HistogramChunkDecoder::<H>::new(data).map_err(|e| e.to_string())?;
    let mut encoder = HistogramChunkEncoder::<H>::new(decoder.header());
    for sample in decoder {
        let (t, h) = sample.map_err(|e| e.to_string())?;
        encoder.append(t, &h).map_err(|e| e.to_string())?;
    }
    Ok(encoder.bytes() == data)
}

/// Histogram chunks that re-encode identically, and all histogram chunks, per encoding; and
/// chunks per counter-reset header.
#[derive(Debug, Default)]
struct Tally {
    same: BTreeMap<String, usize>,
    all: BTreeMap<String, usize>,
    headers: BTreeMap<String, usize>,
}

impl Tally {
    fn check(&mut self, labels: &Labels, chunk: &RawChunk) -> Result<(), String> {
        let result = match chunk.encoding {
            ChunkEncoding::Xor => return Ok(()),
            ChunkEncoding::Histogram => reencodes::<Histogram>(&chunk.data),
            ChunkEncoding::FloatHistogram => reencodes::<FloatHistogram>(&chunk.data),
        };
        let encoding = chunk.encoding.to_string();
        *self.all.entry(encoding.clone()).or_default() += 1;
        // The header byte's top two bits; both encodings alike.
        if let Ok(decoder) = HistogramChunkDecoder::<Histogram>::new(&chunk.data) {
            *self
                .headers
                .entry(format!("{:?}", decoder.header()))
                .or_default() += 1;
        }
        match result {
            Ok(true) => {
                *self.same.entry(encoding).or_default() += 1;
                Ok(())
            }
            Ok(false) => Err(format!("{labels}: {encoding} chunk re-encodes differently")),
            Err(e) => Err(format!("{labels}: {encoding} chunk: {e}")),
        }
    }

    fn report(&self) -> String {
        let identical: Vec<String> = self
            .all
            .iter()
            .map(|(encoding, all)| {
                let same = self.same.get(encoding).copied().unwrap_or(0);
                format!("{same}/{all} {encoding}")
            })
            .collect();
        format!(
            "{} chunks byte-identical (headers: {:?})",
            identical.join(" and "),
            self.headers
        )
    }
}

const RULES: &str = "groups:
  - name: histograms
    interval: 1s
    rules:
      - record: handler:prometheus_http_request_duration_seconds:rate5s
        expr: rate(prometheus_http_request_duration_seconds[5s])
      - record: job:prometheus_http_request_duration_seconds:sum
        expr: sum by (job) (prometheus_http_request_duration_seconds)
      - record: job:prometheus_http_response_size_bytes:sum
        expr: sum by (job) (prometheus_http_response_size_bytes)
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scraped_and_recorded_histogram_chunks_reencode_identically() {
    let dir = tempfile::tempdir().unwrap();
    let target = PrometheusServer::launch(
        Version::V3_5,
        None,
        &dir.path().join("target"),
        &[],
        "",
        &[],
    );
    let rules = dir.path().join("rules.yml");
    std::fs::write(&rules, RULES).unwrap();
    let config = format!(
        "rule_files: ['{}']\nscrape_configs:\n  - job_name: prometheus\n    \
         scrape_interval: 200ms\n    scrape_timeout: 200ms\n    \
         convert_classic_histograms_to_nhcb: true\n    \
         static_configs:\n      - targets: ['{}']\n",
        rules.display(),
        target.addr()
    );
    let scraper = PrometheusServer::launch(
        Version::V3_5,
        None,
        &dir.path().join("scraper"),
        &[],
        &config,
        &["--enable-feature=native-histograms"],
    );

    // Requests to the target's handlers give its histograms new buckets as they scrape.
    let client = api_client();
    let target_url = target.url();
    let paths = [
        "/api/v1/query?query=up",
        "/api/v1/labels",
        "/api/v1/status/buildinfo",
        "/api/v1/query_range?query=up&start=0&end=100&step=1",
        "/metrics",
        "/-/ready",
    ];
    let started = Instant::now();
    let mut i = 0;
    while started.elapsed() < Duration::from_secs(12) {
        let path = paths[i % paths.len()];
        let _ = client.get(format!("{target_url}{path}")).send().await;
        i += 1;
        tokio::time::sleep(Duration::from_millis(20 + (i % 7) as u64 * 15)).await;
    }

    let mut tally = Tally::default();
    let mut failures = Vec::new();
    let all = chunks(&scraper).await;
    let mut custom = 0;
    for (labels, chunks) in &all {
        for chunk in chunks {
            if let Err(e) = tally.check(labels, chunk) {
                failures.push(e);
            }
            if chunk.encoding == ChunkEncoding::Histogram {
                let first = HistogramChunkDecoder::<Histogram>::new(&chunk.data)
                    .unwrap()
                    .next()
                    .unwrap()
                    .unwrap()
                    .1;
                custom += usize::from(first.uses_custom_buckets());
            }
        }
    }
    println!(
        "scraped and recorded: {} ({custom} HISTOGRAM chunks with custom buckets), {} series",
        tally.report(),
        all.len()
    );
    assert!(failures.is_empty(), "{failures:#?}\n{}", scraper.log());
    let count = |e: &str| tally.all.get(e).copied().unwrap_or(0);
    assert!(
        count("HISTOGRAM") >= 5,
        "too few histogram chunks: {tally:?}"
    );
    assert!(
        count("FLOAT_HISTOGRAM") >= 2,
        "too few float histogram chunks: {tally:?}"
    );
    assert!(custom > 0, "no custom-bucket chunk: {tally:?}");
}

/// The start of a 2 h chunk range wholly in the past (remote write refuses samples more than
/// 10 minutes ahead), so that an hour of samples stays in one range.
fn base_ms() -> i64 {
    const RANGE: i64 = 2 * 3600 * 1000;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    (now - 3 * 3600 * 1000) / RANGE * RANGE
}

/// Our chunks of `samples` against Prometheus': (identical chunks, all chunks), and a message
/// for the first difference.
fn compare<H: HistogramSample>(
    name: &str,
    samples: &[(i64, H)],
    theirs: &[RawChunk],
) -> (usize, usize, Option<String>) {
    let ours = histogram_chunks(samples).unwrap_or_else(|e| panic!("{name}: {e}"));
    let same = ours
        .iter()
        .zip(theirs)
        .filter(|(a, b)| (a.min_time, a.max_time, &a.data) == (b.min_time, b.max_time, &b.data))
        .count();
    let differs = (same != ours.len() || ours.len() != theirs.len()).then(|| {
        let describe = |chunks: &[RawChunk]| {
            chunks
                .iter()
                .map(|c| {
                    let header = HistogramChunkDecoder::<H>::new(&c.data).unwrap().header();
                    format!(
                        "[{}..{} {header:?} {} samples {} bytes]",
                        c.min_time,
                        c.max_time,
                        u16::from_be_bytes([c.data[0], c.data[1]]),
                        c.data.len()
                    )
                })
                .collect::<Vec<_>>()
                .join(" ")
        };
        format!(
            "{name}: ours {}\n  theirs {}",
            describe(&ours),
            describe(theirs)
        )
    });
    (same, theirs.len(), differs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_written_histograms_are_chunked_like_prometheus() {
    let dir = tempfile::tempdir().unwrap();
    let prometheus = PrometheusServer::launch(
        Version::V3_5,
        None,
        dir.path(),
        &[],
        "",
        &[
            "--enable-feature=native-histograms",
            "--web.enable-remote-write-receiver",
        ],
    );
    let base = base_ms();
    let series: Vec<HistogramSeries> = histograms::generate(base, 40);
    let mut timeseries = Vec::new();
    for s in &series {
        let ints = s
            .samples
            .iter()
            .map(|(t, h)| remote_write::histogram(*t, h));
        timeseries.push(remote_write::series(
            &[("__name__", "hist"), ("shape", s.name.as_str())],
            ints.collect(),
        ));
        let floats = s.to_float();
        let floats = floats
            .iter()
            .map(|(t, h)| remote_write::float_histogram(*t, h));
        timeseries.push(remote_write::series(
            &[("__name__", "float_hist"), ("shape", s.name.as_str())],
            floats.collect(),
        ));
    }
    remote_write::write(&api_client(), &prometheus.url(), timeseries).await;

    let all = chunks(&prometheus).await;
    let mut tally = Tally::default();
    let mut failures = Vec::new();
    let (mut same, mut total) = ([0; 2], [0; 2]);
    for s in &series {
        for (kind, metric) in ["hist", "float_hist"].into_iter().enumerate() {
            let labels = Labels::from_pairs([("__name__", metric), ("shape", s.name.as_str())]);
            let theirs = all
                .get(&labels)
                .unwrap_or_else(|| panic!("{labels} not stored: {}", prometheus.log()));
            for chunk in theirs {
                if let Err(e) = tally.check(&labels, chunk) {
                    failures.push(e);
                }
            }
            let (k, n, differs) = if kind == 0 {
                compare(&labels.to_string(), &s.samples, theirs)
            } else {
                compare(&labels.to_string(), &s.to_float(), theirs)
            };
            same[kind] += k;
            total[kind] += n;
            failures.extend(differs);
        }
    }
    println!(
        "remote-written, re-encoded chunk by chunk: {}; chunked from the written samples: {}/{} \
         HISTOGRAM and {}/{} FLOAT_HISTOGRAM chunks identical ({} series each)",
        tally.report(),
        same[0],
        total[0],
        same[1],
        total[1],
        series.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
