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
pub fn xor_chunks(timestamps: &[i64], values: &[f64]) -> Vec<crate::store::RawChunk> {
    timestamps
        .chunks(SAMPLES_PER_CHUNK)
        .zip(values.chunks(SAMPLES_PER_CHUNK))
        .map(|(ts, vs)| {
            let mut encoder = XorEncoder::new();
            for (t, v) in ts.iter().zip(vs) {
                encoder.append(*t, *v);
            }
            crate::store::RawChunk {
                min_time: ts[0],
                max_time: ts[ts.len() - 1],
                encoding: ChunkEncoding::Xor,
                data: bytes::Bytes::from(encoder.into_bytes()),
            }
        })
        .collect()
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
    use super::ChunkEncoding;

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
