//! The demo's generated data: what the scrapes of one instance would have recorded between
//! two times. The same instance and start give the same samples whatever the end, so data
//! generated again later only grows.

use store_api::Labels;
use store_api::memory::Sample;

pub const STEP_MS: i64 = 15_000;

/// One generated series: labels and samples.
pub type Series = (Labels, Vec<Sample>);

/// Scraped data of one instance: a request counter with a reset, a memory gauge and a
/// latency histogram.
pub fn instance_series(instance: usize, start: i64, end: i64, reset_at: i64) -> Vec<Series> {
    let name = format!("app-{instance}:8080");
    let job = if instance.is_multiple_of(2) {
        "api"
    } else {
        "checkout"
    };
    let labels = |metric: &str, extra: &[(&str, &str)]| {
        let mut pairs = vec![
            ("__name__", metric),
            ("job", job),
            ("instance", name.as_str()),
        ];
        pairs.extend_from_slice(extra);
        Labels::from_pairs(pairs)
    };
    let times: Vec<i64> = (0..)
        .map(|i| start + i * STEP_MS + (instance as i64 * 137) % 1000)
        .take_while(|&t| t < end)
        .collect();
    let wave = |t: i64, period: f64| ((t as f64 / 1000.0 / period).sin() + 1.0) / 2.0;
    let mut out = Vec::new();
    for (code, share) in [("200", 0.97), ("500", 0.03)] {
        let mut total = 0.0;
        let mut restarted = false;
        let samples = times
            .iter()
            .map(|&t| {
                // A restart at `reset_at` resets the counter.
                if t >= reset_at && !restarted {
                    restarted = true;
                    total = 0.0;
                }
                total += (20.0 + 30.0 * wave(t, 1800.0)) * share * 15.0;
                (t, total.round())
            })
            .collect();
        out.push((labels("http_requests_total", &[("code", code)]), samples));
    }
    let memory = times
        .iter()
        .map(|&t| {
            (
                t,
                (2.0e8 + 1.0e8 * wave(t + instance as i64 * 600_000, 3600.0)).round(),
            )
        })
        .collect();
    out.push((labels("process_resident_memory_bytes", &[]), memory));
    let mut counts = [0.0f64; 5];
    let bounds = ["0.05", "0.1", "0.25", "1", "+Inf"];
    let mut buckets: Vec<Vec<Sample>> = vec![Vec::new(); bounds.len()];
    for &t in &times {
        let load = wave(t, 2400.0);
        for (i, share) in [0.5, 0.75, 0.86, 0.99, 1.0].iter().enumerate() {
            counts[i] += (40.0 * (share - 0.3 * load * (1.0 - share)))
                .max(0.0)
                .round();
        }
        for (i, count) in counts.iter().enumerate() {
            buckets[i].push((t, *count));
        }
    }
    for (le, samples) in bounds.iter().zip(buckets) {
        out.push((
            labels("http_request_duration_seconds_bucket", &[("le", le)]),
            samples,
        ));
    }
    out
}

/// Drops the samples in [from, to): a replica that was down for a while.
pub fn with_gap(series: &[Series], from: i64, to: i64) -> Vec<Series> {
    series
        .iter()
        .map(|(labels, samples)| {
            let kept = samples
                .iter()
                .filter(|(t, _)| *t < from || *t >= to)
                .copied()
                .collect();
            (labels.clone(), kept)
        })
        .collect()
}

pub fn only_range(series: &[Series], from: i64, to: i64) -> Vec<Series> {
    with_gap(series, i64::MIN, from)
        .into_iter()
        .map(|(labels, samples)| {
            (
                labels,
                samples.into_iter().filter(|(t, _)| *t < to).collect(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_generated_later_only_grows() {
        let start = 1_700_000_000_000;
        let reset_at = start + 3_600_000;
        let earlier = instance_series(1, start, start + 2 * 3_600_000, reset_at);
        let later = instance_series(1, start, start + 2 * 3_600_000 + 10 * 60_000, reset_at);
        assert_eq!(earlier.len(), later.len());
        for ((labels, old), (same, new)) in earlier.iter().zip(&later) {
            assert_eq!(labels, same);
            assert_eq!(
                new.len(),
                old.len() + 40,
                "{labels}: ten more minutes of scrapes"
            );
            assert_eq!(&new[..old.len()], &old[..], "{labels}: history unchanged");
        }
    }
}
