//! Remote write 1.0 into a real Prometheus started with `--web.enable-remote-write-receiver`:
//! native histogram samples as `prometheus_copy::Histogram`.

use panoptes_proto::prometheus as prompb;
use prost::Message;
use store_api::histogram::{CounterResetHint, FloatHistogram, Histogram, Span};

fn spans(spans: &[Span]) -> Vec<prompb::BucketSpan> {
    spans
        .iter()
        .map(|s| prompb::BucketSpan {
            offset: s.offset,
            length: s.length,
        })
        .collect()
}

fn reset_hint(hint: CounterResetHint) -> i32 {
    use prompb::histogram::ResetHint;
    let hint = match hint {
        CounterResetHint::Unknown => ResetHint::Unknown,
        CounterResetHint::CounterReset => ResetHint::Yes,
        CounterResetHint::NotCounterReset => ResetHint::No,
        CounterResetHint::Gauge => ResetHint::Gauge,
    };
    hint as i32
}

/// An integer histogram sample at `t` (ms).
pub fn histogram(t: i64, h: &Histogram) -> prompb::Histogram {
    use prompb::histogram::{Count, ZeroCount};
    prompb::Histogram {
        count: Some(Count::CountInt(h.count)),
        sum: h.sum,
        schema: h.schema,
        zero_threshold: h.zero_threshold,
        zero_count: Some(ZeroCount::ZeroCountInt(h.zero_count)),
        negative_spans: spans(&h.negative_spans),
        negative_deltas: h.negative_buckets.clone(),
        positive_spans: spans(&h.positive_spans),
        positive_deltas: h.positive_buckets.clone(),
        reset_hint: reset_hint(h.counter_reset_hint),
        timestamp: t,
        custom_values: h.custom_values.clone(),
        ..prompb::Histogram::default()
    }
}

/// A float histogram sample at `t` (ms).
pub fn float_histogram(t: i64, h: &FloatHistogram) -> prompb::Histogram {
    use prompb::histogram::{Count, ZeroCount};
    prompb::Histogram {
        count: Some(Count::CountFloat(h.count)),
        sum: h.sum,
        schema: h.schema,
        zero_threshold: h.zero_threshold,
        zero_count: Some(ZeroCount::ZeroCountFloat(h.zero_count)),
        negative_spans: spans(&h.negative_spans),
        negative_counts: h.negative_buckets.clone(),
        positive_spans: spans(&h.positive_spans),
        positive_counts: h.positive_buckets.clone(),
        reset_hint: reset_hint(h.counter_reset_hint),
        timestamp: t,
        custom_values: h.custom_values.clone(),
        ..prompb::Histogram::default()
    }
}

/// A series of histogram samples.
pub fn series(labels: &[(&str, &str)], histograms: Vec<prompb::Histogram>) -> prompb::TimeSeries {
    prompb::TimeSeries {
        labels: labels
            .iter()
            .map(|(name, value)| prompb::Label {
                name: name.to_string(),
                value: value.to_string(),
            })
            .collect(),
        samples: Vec::new(),
        histograms,
    }
}

/// Sends one write request to the Prometheus at `base`; panics unless it is accepted.
pub async fn write(client: &reqwest::Client, base: &str, timeseries: Vec<prompb::TimeSeries>) {
    let body = snap::raw::Encoder::new()
        .compress_vec(&prompb::WriteRequest { timeseries }.encode_to_vec())
        .unwrap();
    let response = client
        .post(format!("{base}/api/v1/write"))
        .header("Content-Encoding", "snappy")
        .header("Content-Type", "application/x-protobuf")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .body(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("remote write to {base}: {e}"));
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    assert!(
        status.is_success(),
        "remote write to {base}: {status}: {text}"
    );
}
