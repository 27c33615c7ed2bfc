//! Integer histogram chunks (Prometheus' `HistogramChunk`). After the timestamp, the first
//! sample has its count and zero count as varbit uints, its sum as 64 raw bits and each
//! bucket delta as a varbit int; every later sample the deltas of deltas of the count and the
//! zero count (varbit ints, 0 for a staleness marker), the sum XOR-coded, and per bucket the
//! delta of delta of its delta (none for a staleness marker).

use super::bstream::{BitReader, BitWriter};
use super::error::ChunkError;
use super::histogram_chunk::{HistogramChunkDecoder, HistogramChunkEncoder, decode_all};
use super::histogram_meta::Corrupt;
use super::sample::sealed::Codec;
use super::varbit;
use super::xor_value::{ReadWindow, WriteWindow};
use crate::histogram::Histogram;

/// Encodes an integer histogram chunk.
pub type HistogramEncoder = HistogramChunkEncoder<Histogram>;
/// Decodes an integer histogram chunk.
pub type HistogramDecoder<'a> = HistogramChunkDecoder<'a, Histogram>;

/// Decodes a whole integer histogram chunk.
pub fn decode_histograms(data: &[u8]) -> Result<Vec<(i64, Histogram)>, ChunkError> {
    decode_all(data)
}

#[derive(Debug, Clone, Default)]
pub struct WriteState {
    count: u64,
    zero_count: u64,
    count_delta: i64,
    zero_count_delta: i64,
    sum: u64,
    sum_window: WriteWindow,
    /// Positive then negative bucket deltas of the previous sample, and how they changed.
    buckets: Vec<i64>,
    bucket_deltas: Vec<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct ReadState {
    count_delta: i64,
    zero_count_delta: i64,
    sum_window: ReadWindow,
    /// How each bucket's delta changed, positive then negative.
    bucket_deltas: Vec<i64>,
}

fn buckets(h: &Histogram) -> impl Iterator<Item = i64> + '_ {
    h.positive_buckets
        .iter()
        .chain(&h.negative_buckets)
        .copied()
}

impl Codec for Histogram {
    type WriteState = WriteState;
    type ReadState = ReadState;
    const MIN_FIRST_BUCKET_BITS: u64 = 1;

    fn write_first(st: &mut WriteState, w: &mut BitWriter, h: &Histogram) {
        varbit::write_uint(w, h.count);
        varbit::write_uint(w, h.zero_count);
        w.write_bits(h.sum.to_bits(), 64);
        for b in buckets(h) {
            varbit::write_int(w, b);
        }
        *st = WriteState {
            count: h.count,
            zero_count: h.zero_count,
            sum: h.sum.to_bits(),
            buckets: buckets(h).collect(),
            bucket_deltas: vec![0; h.positive_buckets.len() + h.negative_buckets.len()],
            ..WriteState::default()
        };
    }

    fn write_next(st: &mut WriteState, w: &mut BitWriter, h: &Histogram) {
        // Go's int64 arithmetic: wrapping.
        let count_delta = (h.count as i64).wrapping_sub(st.count as i64);
        let zero_count_delta = (h.zero_count as i64).wrapping_sub(st.zero_count as i64);
        let (count_dod, zero_count_dod) = if h.is_stale() {
            (0, 0)
        } else {
            (
                count_delta.wrapping_sub(st.count_delta),
                zero_count_delta.wrapping_sub(st.zero_count_delta),
            )
        };
        varbit::write_int(w, count_dod);
        varbit::write_int(w, zero_count_dod);
        let sum = h.sum.to_bits();
        st.sum_window.write(w, st.sum, sum);
        // A staleness marker has no buckets: the previous ones stay.
        for ((b, last), last_delta) in buckets(h).zip(&mut st.buckets).zip(&mut st.bucket_deltas) {
            let delta = b.wrapping_sub(*last);
            varbit::write_int(w, delta.wrapping_sub(*last_delta));
            *last_delta = delta;
            *last = b;
        }
        st.count = h.count;
        st.zero_count = h.zero_count;
        st.count_delta = count_delta;
        st.zero_count_delta = zero_count_delta;
        st.sum = sum;
    }

    fn read_first(
        st: &mut ReadState,
        r: &mut BitReader<'_>,
        h: &mut Histogram,
    ) -> Result<f64, Corrupt> {
        h.count = varbit::read_uint(r)?;
        h.zero_count = varbit::read_uint(r)?;
        h.sum = f64::from_bits(r.read_bits(64)?);
        for b in h.positive_buckets.iter_mut().chain(&mut h.negative_buckets) {
            *b = varbit::read_int(r)?;
        }
        *st = ReadState {
            bucket_deltas: vec![0; h.positive_buckets.len() + h.negative_buckets.len()],
            ..ReadState::default()
        };
        Ok(h.sum)
    }

    fn read_next(
        st: &mut ReadState,
        r: &mut BitReader<'_>,
        h: &mut Histogram,
    ) -> Result<f64, Corrupt> {
        st.count_delta = st.count_delta.wrapping_add(varbit::read_int(r)?);
        h.count = (h.count as i64).wrapping_add(st.count_delta) as u64;
        st.zero_count_delta = st.zero_count_delta.wrapping_add(varbit::read_int(r)?);
        h.zero_count = (h.zero_count as i64).wrapping_add(st.zero_count_delta) as u64;
        r.refill();
        let mut sum = h.sum.to_bits();
        st.sum_window.read(r, &mut sum)?;
        h.sum = f64::from_bits(sum);
        if h.is_stale() {
            return Ok(h.sum);
        }
        // Side by side rather than chained: the loop the decoder spends its time in.
        let split = h.positive_buckets.len().min(st.bucket_deltas.len());
        let (pos, neg) = st.bucket_deltas.split_at_mut(split);
        for (buckets, deltas) in [
            (&mut h.positive_buckets, pos),
            (&mut h.negative_buckets, neg),
        ] {
            for (b, delta) in buckets.iter_mut().zip(deltas) {
                *delta = delta.wrapping_add(varbit::read_int(r)?);
                *b = b.wrapping_add(*delta);
            }
        }
        Ok(h.sum)
    }

    fn decode(data: &[u8]) -> Result<Vec<(i64, Self)>, ChunkError> {
        decode_histograms(data)
    }
}
