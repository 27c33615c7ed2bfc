//! A block's `meta.json`, as Prometheus writes it and Thanos extends it.

use crate::labels::Labels;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockMeta {
    pub ulid: String,
    /// The block holds samples in `[min_time, max_time)`: max is exclusive.
    pub min_time: i64,
    pub max_time: i64,
    #[serde(default)]
    pub stats: BlockStats,
    #[serde(default)]
    pub version: u32,
    #[serde(default)]
    pub thanos: Option<ThanosMeta>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockStats {
    #[serde(default)]
    pub num_samples: u64,
    #[serde(default)]
    pub num_series: u64,
    #[serde(default)]
    pub num_chunks: u64,
}

/// What Thanos adds: the external labels of the Prometheus the block came from, and the
/// downsampling resolution (0 = raw data).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ThanosMeta {
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub downsample: Downsample,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Downsample {
    #[serde(default)]
    pub resolution: i64,
}

impl BlockMeta {
    pub fn parse(json: &[u8]) -> Result<Self, String> {
        let meta: BlockMeta =
            serde_json::from_slice(json).map_err(|e| format!("bad meta.json: {e}"))?;
        if meta.version != 1 {
            return Err(format!("meta.json version {} is not 1", meta.version));
        }
        if meta.min_time > meta.max_time {
            return Err(format!(
                "meta.json: minTime {} after maxTime {}",
                meta.min_time, meta.max_time
            ));
        }
        Ok(meta)
    }

    /// The external labels every series of the block carries.
    pub fn external_labels(&self) -> Labels {
        Labels::from_pairs(self.thanos.iter().flat_map(|t| t.labels.iter()))
    }

    pub fn resolution(&self) -> i64 {
        self.thanos.as_ref().map_or(0, |t| t.downsample.resolution)
    }

    /// Whether the block has samples in the inclusive range `[min_time, max_time]`.
    pub fn overlaps(&self, min_time: i64, max_time: i64) -> bool {
        self.min_time <= max_time && min_time < self.max_time
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_prometheus_and_thanos_meta() {
        let json = br#"{"ulid":"01ABC","minTime":1000,"maxTime":2000,
            "stats":{"numSamples":10,"numSeries":2,"numChunks":2},
            "compaction":{"level":1,"sources":["01ABC"]},"version":1,
            "thanos":{"labels":{"replica":"a","cluster":"eu"},"downsample":{"resolution":0},"source":"sidecar"}}"#;
        let meta = BlockMeta::parse(json).unwrap();
        assert_eq!(meta.stats.num_series, 2);
        assert_eq!(
            meta.external_labels(),
            Labels::from_pairs([("cluster", "eu"), ("replica", "a")])
        );
        assert!(meta.overlaps(1999, 5000));
        assert!(!meta.overlaps(2000, 5000), "maxTime is exclusive");
        assert!(BlockMeta::parse(b"{\"ulid\":\"x\"}").is_err());
        assert!(BlockMeta::parse(br#"{"ulid":"x","minTime":1,"maxTime":2,"version":2}"#).is_err());
    }
}
