//! Checks the codec against chunks written by real Prometheus code: builds a
//! TSDB block from an OpenMetrics file with `promtool tsdb
//! create-blocks-from openmetrics`, then decodes every chunk of the block's
//! segment files and re-encodes it to identical bytes.
//!
//! Two promtools: 3.5 (the reference: byte for byte), unpacked under the
//! target directory by `scripts/reference-systems.sh`, and 2.42 on `PATH`
//! (Debian package `prometheus`) or in the `PROMTOOL` environment variable,
//! whose chunks may end in one more, empty, byte (its bit writer's
//! `writeByte` appended it; Prometheus 3 does not). Fails if one is missing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use store_api::chunk::segment::{self, encoding};
use store_api::chunk::{XorEncoder, decode_into};

/// Prometheus replaces every parsed NaN by this one (`value.NormalNaN`).
const NORMAL_NAN: u64 = 0x7ff8_0000_0000_0001;
/// Start of a 2 h block range (a multiple of 7 200 000 ms). Jitter and the
/// series' lengths spread the samples over a few blocks.
const START_MS: i64 = 1_700_006_400_000;

/// Deterministic xorshift64* generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }
}

struct Series {
    family: &'static str,
    kind: &'static str,
    /// Metric name with labels, as written in the exposition.
    metric: &'static str,
    /// (milliseconds, value) as generated.
    samples: Vec<(i64, f64)>,
}

fn test_series() -> Vec<Series> {
    let mut rng = Rng(0xdead_beef);

    // Counter scraped every 15 s with jitter, with a reset half-way.
    let mut v = 0.0;
    let ok = (0..400)
        .map(|i| {
            if i == 200 {
                v = 0.0;
            }
            v += rng.range(0, 40) as f64;
            (START_MS + i * 15_000 + rng.range(-3, 3), v)
        })
        .collect();

    // Slow counter, every 30 s with missed scrapes.
    let mut t = START_MS + 7;
    let mut v = 1e9;
    let errors = (0..150)
        .map(|_| {
            t += 30_000 * rng.range(1, 3) + rng.range(-20, 20);
            if rng.next().is_multiple_of(8) {
                v += 1.0;
            }
            (t, v)
        })
        .collect();

    // Gauge with two decimals at irregular intervals, with special values.
    let mut t = START_MS + 123;
    let mut v: f64 = 21.5;
    let mut temp_a: Vec<(i64, f64)> = (0..300)
        .map(|_| {
            t += rng.range(1, 30_000);
            v = ((v + rng.range(-80, 80) as f64 / 100.0) * 100.0).round() / 100.0;
            (t, v)
        })
        .collect();
    let specials = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.0, 0.0];
    for (i, s) in specials.into_iter().enumerate() {
        temp_a[100 + 7 * i].1 = s;
    }

    // Gauge with full-precision values and gaps. Prometheus cuts a chunk
    // at a long gap; the ~10-minute one early in a chunk stays inside it and
    // needs the 64-bit delta-of-delta case.
    let mut t = START_MS + 999;
    let temp_b = (0..250)
        .map(|i| {
            t += match i {
                40 => 615_000,
                160 => 2_400_000,
                _ => 15_000,
            };
            let v = match i % 5 {
                0 => 1e-300 * rng.range(1, 9) as f64,
                1 => rng.next() as f64 / 7.0,
                _ => (rng.next() >> 11) as f64 / (1u64 << 53) as f64,
            };
            (t, v)
        })
        .collect();

    vec![
        Series {
            family: "http_requests",
            kind: "counter",
            metric: r#"http_requests_total{code="200"}"#,
            samples: ok,
        },
        Series {
            family: "http_requests",
            kind: "counter",
            metric: r#"http_requests_total{code="500"}"#,
            samples: errors,
        },
        Series {
            family: "temperature_celsius",
            kind: "gauge",
            metric: r#"temperature_celsius{sensor="a"}"#,
            samples: temp_a,
        },
        Series {
            family: "temperature_celsius",
            kind: "gauge",
            metric: r#"temperature_celsius{sensor="b"}"#,
            samples: temp_b,
        },
    ]
}

fn format_value(v: f64) -> String {
    match v {
        v if v.is_nan() => "NaN".into(),
        f64::INFINITY => "+Inf".into(),
        f64::NEG_INFINITY => "-Inf".into(),
        // Display prints the shortest string that parses back to `v`.
        v => format!("{v}"),
    }
}

/// Writes the OpenMetrics file; returns per series the samples Prometheus
/// will store, as (ms, value bits).
fn write_openmetrics(series: &[Series], path: &Path) -> Vec<Vec<(i64, u64)>> {
    let mut text = String::new();
    let mut expected = vec![];
    let mut last_family = "";
    for s in series {
        if s.family != last_family {
            writeln!(text, "# TYPE {} {}", s.family, s.kind).unwrap();
            last_family = s.family;
        }
        let mut exp = vec![];
        for &(ms, v) in &s.samples {
            let ts = format!("{}.{:03}", ms / 1000, ms % 1000);
            writeln!(text, "{} {} {ts}", s.metric, format_value(v)).unwrap();
            // Prometheus parses seconds as a float and truncates
            // `ts * 1000` to an integer; do the same.
            let t = (ts.parse::<f64>().unwrap() * 1000.0) as i64;
            let bits = if v.is_nan() { NORMAL_NAN } else { v.to_bits() };
            exp.push((t, bits));
        }
        expected.push(exp);
    }
    text.push_str("# EOF\n");
    std::fs::write(path, text).unwrap();
    expected
}

/// Debian's promtool 2.42.
fn promtool_2_42() -> PathBuf {
    let promtool = std::env::var_os("PROMTOOL").map_or_else(|| "promtool".into(), PathBuf::from);
    checked(promtool)
}

/// promtool 3.5 from Debian sid, unpacked under the target directory.
fn promtool_3_5() -> PathBuf {
    // CARGO_TARGET_TMPDIR is `<target>/tmp`.
    let promtool = Path::new(env!("CARGO_TARGET_TMPDIR")).join("../reference/sid/usr/bin/promtool");
    assert!(
        promtool.is_file(),
        "{} is missing: run `bash scripts/reference-systems.sh` (README's test command does)",
        promtool.display()
    );
    checked(promtool)
}

/// `promtool`, once it answers `--version`.
fn checked(promtool: PathBuf) -> PathBuf {
    match Command::new(&promtool).arg("--version").output() {
        Ok(out) if out.status.success() => promtool,
        Ok(out) => panic!(
            "`{} --version` failed: {}",
            promtool.display(),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => panic!(
            "cannot run promtool ({}): {e}. This test needs real Prometheus; install \
             Debian's `prometheus` package (`apt-get install -y prometheus`) or set PROMTOOL \
             to a promtool binary.",
            promtool.display()
        ),
    }
}

/// All chunk segment files of all blocks in `dir`.
fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = vec![];
    for block in std::fs::read_dir(dir).unwrap() {
        let chunks = block.unwrap().path().join("chunks");
        if chunks.is_dir() {
            for f in std::fs::read_dir(chunks).unwrap() {
                files.push(f.unwrap().path());
            }
        }
    }
    files.sort();
    files
}

#[test]
fn decodes_and_reencodes_promtool_3_5_chunks_exactly() {
    decodes_and_reencodes(&promtool_3_5(), "3.5", |ours, theirs| ours == theirs);
}

#[test]
fn decodes_and_reencodes_promtool_2_42_chunks() {
    decodes_and_reencodes(&promtool_2_42(), "2.42", |ours, theirs| {
        ours == theirs || theirs.strip_suffix(&[0]) == Some(ours)
    });
}

/// Builds blocks with `promtool`, decodes every chunk, and re-encodes it to
/// bytes that `same(ours, theirs)` accepts.
fn decodes_and_reencodes(promtool: &Path, version: &str, same: fn(&[u8], &[u8]) -> bool) {
    // Per process and version: debug and release test runs share
    // CARGO_TARGET_TMPDIR.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("promtool_chunks-{version}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("input.om");
    let blocks = dir.join("blocks");

    let series = test_series();
    let expected = write_openmetrics(&series, &input);

    let out = Command::new(promtool)
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&input)
        .arg(&blocks)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    println!("{}", String::from_utf8_lossy(&out.stdout));
    let files = segment_files(&blocks);
    assert!(!files.is_empty(), "promtool wrote no chunk segment files");

    let mut covered: Vec<Vec<bool>> = expected.iter().map(|e| vec![false; e.len()]).collect();
    // Chunk count per sample count, for the failure message / test output.
    let mut sizes: BTreeMap<usize, usize> = BTreeMap::new();
    let mut wide_dods = 0;
    // Chunks `same` accepted although not identical (2.42's empty last byte).
    let mut padded = 0;
    let (mut ts, mut vs) = (vec![], vec![]);
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        for chunk in segment::chunks(&bytes).unwrap() {
            let chunk = chunk.unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let at = format!("{} @ {}", file.display(), chunk.offset);
            assert_eq!(chunk.encoding, encoding::XOR, "{at}");

            ts.clear();
            vs.clear();
            decode_into(chunk.data, &mut ts, &mut vs).unwrap_or_else(|e| panic!("{at}: {e}"));
            let got: Vec<(i64, u64)> = ts.iter().zip(&vs).map(|(&t, v)| (t, v.to_bits())).collect();
            assert!(!got.is_empty(), "{at}: empty chunk");
            *sizes.entry(got.len()).or_default() += 1;
            // Delta-of-deltas beyond 20 bits take the 64-bit encoding.
            wide_dods += ts
                .windows(3)
                .filter(|w| ((w[2] - w[1]) - (w[1] - w[0])).abs() > 1 << 19)
                .count();

            // Find the series this chunk is a contiguous run of.
            let (s, start) = expected
                .iter()
                .enumerate()
                .find_map(|(s, exp)| {
                    let start = exp.binary_search_by_key(&got[0].0, |&(t, _)| t).ok()?;
                    (exp.get(start..start + got.len()) == Some(&got[..])).then_some((s, start))
                })
                .unwrap_or_else(|| panic!("{at}: samples match no written series: {got:?}"));
            for (i, c) in covered[s][start..start + got.len()].iter_mut().enumerate() {
                assert!(
                    !*c,
                    "{at}: sample {} of series {s} in two chunks",
                    start + i
                );
                *c = true;
            }

            let mut enc = XorEncoder::new();
            for (&t, &v) in ts.iter().zip(&vs) {
                enc.append(t, v);
            }
            assert!(
                same(enc.bytes(), chunk.data),
                "{at}: re-encoded bytes differ from promtool {version}'s\n ours:   {:02x?}\n theirs: {:02x?}",
                enc.bytes(),
                chunk.data
            );
            padded += usize::from(enc.bytes() != chunk.data);
        }
    }

    for (s, c) in covered.iter().enumerate() {
        let missing = c.iter().filter(|&&c| !c).count();
        assert_eq!(
            missing, 0,
            "series {} lost {missing} samples",
            series[s].metric
        );
    }
    let total: usize = sizes.values().sum();
    assert!(
        total > series.len(),
        "expected several chunks per series: {sizes:?}"
    );
    assert!(
        wide_dods > 0,
        "no chunk exercised the 64-bit delta-of-delta case"
    );
    println!(
        "promtool {version}: {} segment file(s), {total} chunks ({padded} with an empty last \
         byte), {wide_dods} 64-bit dod(s); samples per chunk: {sizes:?}",
        files.len()
    );

    std::fs::remove_dir_all(&dir).unwrap();
}
