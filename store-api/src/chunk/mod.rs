//! Chunk encodings, bit-exact with Prometheus 3.5: the bit stream, the XOR (Gorilla) codec,
//! and the native-histogram codecs (`HISTOGRAM`, `FLOAT_HISTOGRAM`) with the appender's rules
//! for cutting a series' samples into chunks.

pub mod bstream;
mod error;
mod float_histogram;
mod histogram;
mod histogram_chunk;
mod histogram_chunks;
mod histogram_meta;
mod sample;
pub mod segment;
mod spans;
mod varbit;
mod xor;
mod xor_value;

pub use error::{AppendError, ChunkError};
pub use float_histogram::{FloatHistogramDecoder, FloatHistogramEncoder, decode_float_histograms};
pub use histogram::{HistogramDecoder, HistogramEncoder, decode_histograms};
pub use histogram_chunk::{HistogramChunkDecoder, HistogramChunkEncoder};
pub use histogram_chunks::{HistogramChunks, histogram_chunks};
pub use sample::HistogramSample;
pub use xor::{XorDecoder, XorEncoder, decode_into, num_samples};

/// Prometheus cuts a chunk at this many samples.
pub const SAMPLES_PER_CHUNK: usize = 120;

/// Encodes time-sorted samples into XOR chunks of Prometheus' size.
pub fn xor_chunks(timestamps: &[i64], values: &[f64]) -> Vec<RawChunk> {
    timestamps
        .chunks(SAMPLES_PER_CHUNK)
        .zip(values.chunks(SAMPLES_PER_CHUNK))
        .map(|(ts, vs)| {
            let mut encoder = XorEncoder::new();
            for (t, v) in ts.iter().zip(vs) {
                encoder.append(*t, *v);
            }
            RawChunk {
                min_time: ts[0],
                max_time: ts[ts.len() - 1],
                encoding: ChunkEncoding::Xor,
                data: bytes::Bytes::from(encoder.into_bytes()),
            }
        })
        .collect()
}

/// An encoded chunk as it travels: bytes are passed through, never re-encoded.
#[derive(Clone, Debug, PartialEq)]
pub struct RawChunk {
    /// Inclusive time range of the samples in the chunk, in milliseconds.
    pub min_time: i64,
    pub max_time: i64,
    pub encoding: ChunkEncoding,
    pub data: bytes::Bytes,
}

/// Keeps the samples within [min, max] of time-sorted columns; chunks may reach outside the
/// requested range.
pub fn trim_to_range(timestamps: &mut Vec<i64>, values: &mut Vec<f64>, min: i64, max: i64) {
    let start = timestamps.partition_point(|&t| t < min);
    // An empty range (min > max) keeps nothing.
    let end = timestamps.partition_point(|&t| t <= max).max(start);
    timestamps.truncate(end);
    values.truncate(end);
    timestamps.drain(..start);
    values.drain(..start);
}

/// The chunk encodings of the TSDB. The numbers differ by wire format, so they are mapped
/// in exactly one place each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChunkEncoding {
    Xor,
    Histogram,
    FloatHistogram,
}

impl std::fmt::Display for ChunkEncoding {
    /// The name in both protobuf enums.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Xor => "XOR",
            Self::Histogram => "HISTOGRAM",
            Self::FloatHistogram => "FLOAT_HISTOGRAM",
        })
    }
}

impl ChunkEncoding {
    /// Thanos StoreAPI numbering (XOR = 0).
    pub fn from_storeapi(value: i32) -> Option<Self> {
        match value {
            0 => Some(Self::Xor),
            1 => Some(Self::Histogram),
            2 => Some(Self::FloatHistogram),
            _ => None,
        }
    }

    pub fn to_storeapi(self) -> i32 {
        match self {
            Self::Xor => 0,
            Self::Histogram => 1,
            Self::FloatHistogram => 2,
        }
    }

    /// Prometheus numbering, used by remote read and TSDB chunk files (XOR = 1).
    pub fn from_prometheus(value: i32) -> Option<Self> {
        match value {
            1 => Some(Self::Xor),
            2 => Some(Self::Histogram),
            3 => Some(Self::FloatHistogram),
            _ => None,
        }
    }

    pub fn to_prometheus(self) -> i32 {
        self.to_storeapi() + 1
    }
}

#[cfg(test)]
mod tests {
    use super::{ChunkEncoding, trim_to_range};

    #[test]
    fn trimming_keeps_the_inclusive_range() {
        let trim = |min, max| {
            let (mut ts, mut vs) = (vec![1, 2, 3, 4], vec![1.0, 2.0, 3.0, 4.0]);
            trim_to_range(&mut ts, &mut vs, min, max);
            (ts, vs)
        };
        assert_eq!(trim(2, 3), (vec![2, 3], vec![2.0, 3.0]));
        assert_eq!(trim(i64::MIN, i64::MAX).0, [1, 2, 3, 4]);
        assert_eq!(trim(5, 9), (vec![], vec![]));
        assert_eq!(trim(3, 2), (vec![], vec![]), "an empty range keeps nothing");
    }

    #[test]
    fn numbering_is_one_apart() {
        for e in [
            ChunkEncoding::Xor,
            ChunkEncoding::Histogram,
            ChunkEncoding::FloatHistogram,
        ] {
            assert_eq!(ChunkEncoding::from_storeapi(e.to_storeapi()), Some(e));
            assert_eq!(ChunkEncoding::from_prometheus(e.to_prometheus()), Some(e));
        }
        assert_eq!(ChunkEncoding::from_prometheus(0), None);
        assert_eq!(ChunkEncoding::Xor.to_storeapi(), 0);
        assert_eq!(ChunkEncoding::Xor.to_prometheus(), 1);
    }
}
