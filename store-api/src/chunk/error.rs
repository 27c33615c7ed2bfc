//! Why a chunk could not be decoded.

use super::ChunkEncoding;

/// Errors from decoding a chunk.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    /// The chunk cannot even hold the 2-byte sample count.
    #[error("XOR chunk too short: {len} bytes, the sample count header needs 2")]
    MissingHeader {
        /// Length of the chunk.
        len: usize,
    },
    /// The data ended before the number of samples the header declares.
    #[error(
        "XOR chunk truncated: header declares {declared} samples but the data ends in sample {decoded}"
    )]
    Truncated {
        /// Sample count from the header.
        declared: u16,
        /// Number of samples decoded before the data ran out.
        decoded: u16,
    },
    /// A timestamp varint does not fit in 64 bits.
    #[error("XOR chunk corrupt: timestamp varint of sample {sample} overflows 64 bits")]
    VarintOverflow {
        /// Index of the offending sample.
        sample: u16,
    },
    /// A value header declares more than 64 leading plus significant bits.
    #[error(
        "XOR chunk corrupt: value of sample {sample} declares {leading} leading zeros and \
         {significant} significant bits (more than 64)"
    )]
    InvalidValueWindow {
        /// Index of the offending sample.
        sample: u16,
        /// Leading zero count from the value header.
        leading: u8,
        /// Significant bit count from the value header.
        significant: u8,
    },
    /// A histogram chunk cannot even hold its 3-byte header.
    #[error("{encoding} chunk too short: {len} bytes, the header needs 3")]
    HistogramHeader {
        /// `Histogram` or `FloatHistogram`.
        encoding: ChunkEncoding,
        /// Length of the chunk.
        len: usize,
    },
    /// A histogram chunk's data ended before the number of samples its header declares.
    #[error(
        "{encoding} chunk truncated: header declares {declared} samples but the data ends in \
         sample {decoded}"
    )]
    HistogramTruncated {
        encoding: ChunkEncoding,
        declared: u16,
        decoded: u16,
    },
    /// A histogram chunk's bits make no sense.
    #[error("{encoding} chunk corrupt in sample {sample}: {problem}")]
    HistogramCorrupt {
        encoding: ChunkEncoding,
        sample: u16,
        problem: String,
    },
}

/// Why a histogram sample could not be appended to a chunk.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppendError {
    #[error("the chunk is full ({} samples)", u16::MAX)]
    Full,
    #[error("the spans describe {spans} buckets but the histogram has {buckets}")]
    BucketCount { spans: usize, buckets: usize },
    #[error("custom bucket bounds with schema {schema}: only schema -53 has them")]
    CustomValues { schema: i32 },
    #[error("the histogram's schema, zero threshold, custom bounds or buckets are not the chunk's")]
    Layout,
    #[error("only staleness markers may follow a staleness marker in a chunk")]
    AfterStale,
    #[error("timestamp {t} is not after the previous sample's ({last})")]
    OutOfOrder { t: i64, last: i64 },
    /// Decoding the chunk to recode it failed (our own chunk: a bug).
    #[error("recoding the chunk: {0}")]
    Recode(ChunkError),
}
