//! Float histogram chunks (Prometheus' `FloatHistogramChunk`). After the timestamp, the first
//! sample has its count, zero count, sum and each bucket count as 64 raw bits; every later
//! sample has each of them XOR-coded against its previous value, in its own window (a
//! staleness marker: count and zero count 0, its sum, no buckets).

use super::bstream::{BitReader, BitWriter};
use super::error::ChunkError;
use super::histogram_chunk::{HistogramChunkDecoder, HistogramChunkEncoder, decode_all};
use super::histogram_meta::Corrupt;
use super::sample::sealed::Codec;
use super::xor_value::{ReadWindow, WriteWindow};
use crate::histogram::FloatHistogram;

/// Encodes a float histogram chunk.
pub type FloatHistogramEncoder = HistogramChunkEncoder<FloatHistogram>;
/// Decodes a float histogram chunk.
pub type FloatHistogramDecoder<'a> = HistogramChunkDecoder<'a, FloatHistogram>;

/// Decodes a whole float histogram chunk.
pub fn decode_float_histograms(data: &[u8]) -> Result<Vec<(i64, FloatHistogram)>, ChunkError> {
    decode_all(data)
}

/// One XOR-coded field: its previous value (IEEE bits) and window.
#[derive(Debug, Clone, Copy, Default)]
pub struct Field {
    bits: u64,
    window: WriteWindow,
}

impl Field {
    fn new(v: f64) -> Self {
        Self {
            bits: v.to_bits(),
            window: WriteWindow::default(),
        }
    }

    fn write(&mut self, w: &mut BitWriter, v: f64) {
        self.window.write(w, self.bits, v.to_bits());
        self.bits = v.to_bits();
    }
}

#[derive(Debug, Clone, Default)]
pub struct WriteState {
    count: Field,
    zero_count: Field,
    sum: Field,
    /// Positive then negative.
    buckets: Vec<Field>,
}

#[derive(Debug, Clone, Default)]
pub struct ReadState {
    count: ReadWindow,
    zero_count: ReadWindow,
    sum: ReadWindow,
    /// Positive then negative.
    buckets: Vec<ReadWindow>,
}

fn buckets(h: &FloatHistogram) -> impl Iterator<Item = f64> + '_ {
    h.positive_buckets
        .iter()
        .chain(&h.negative_buckets)
        .copied()
}

/// Reads an XOR-coded value onto `v`.
#[inline(always)]
fn read_xor(window: &mut ReadWindow, r: &mut BitReader<'_>, v: &mut f64) -> Result<(), Corrupt> {
    r.refill();
    let mut bits = v.to_bits();
    window.read(r, &mut bits)?;
    *v = f64::from_bits(bits);
    Ok(())
}

impl Codec for FloatHistogram {
    type WriteState = WriteState;
    type ReadState = ReadState;
    const MIN_FIRST_BUCKET_BITS: u64 = 64;

    fn write_first(st: &mut WriteState, w: &mut BitWriter, h: &FloatHistogram) {
        for v in [h.count, h.zero_count, h.sum].into_iter().chain(buckets(h)) {
            w.write_bits(v.to_bits(), 64);
        }
        *st = WriteState {
            count: Field::new(h.count),
            zero_count: Field::new(h.zero_count),
            sum: Field::new(h.sum),
            buckets: buckets(h).map(Field::new).collect(),
        };
    }

    fn write_next(st: &mut WriteState, w: &mut BitWriter, h: &FloatHistogram) {
        st.count.write(w, h.count);
        st.zero_count.write(w, h.zero_count);
        st.sum.write(w, h.sum);
        // A staleness marker has no buckets: the previous ones stay.
        for (field, v) in st.buckets.iter_mut().zip(buckets(h)) {
            field.write(w, v);
        }
    }

    fn read_first(
        st: &mut ReadState,
        r: &mut BitReader<'_>,
        h: &mut FloatHistogram,
    ) -> Result<f64, Corrupt> {
        let fields = [&mut h.count, &mut h.zero_count, &mut h.sum].into_iter();
        for v in fields
            .chain(&mut h.positive_buckets)
            .chain(&mut h.negative_buckets)
        {
            *v = f64::from_bits(r.read_bits(64)?);
        }
        *st = ReadState {
            buckets: vec![
                ReadWindow::default();
                h.positive_buckets.len() + h.negative_buckets.len()
            ],
            ..ReadState::default()
        };
        Ok(h.sum)
    }

    fn read_next(
        st: &mut ReadState,
        r: &mut BitReader<'_>,
        h: &mut FloatHistogram,
    ) -> Result<f64, Corrupt> {
        read_xor(&mut st.count, r, &mut h.count)?;
        read_xor(&mut st.zero_count, r, &mut h.zero_count)?;
        read_xor(&mut st.sum, r, &mut h.sum)?;
        if h.is_stale() {
            return Ok(h.sum);
        }
        let buckets = h.positive_buckets.iter_mut().chain(&mut h.negative_buckets);
        for (v, window) in buckets.zip(&mut st.buckets) {
            read_xor(window, r, v)?;
        }
        Ok(h.sum)
    }

    fn decode(data: &[u8]) -> Result<Vec<(i64, Self)>, ChunkError> {
        decode_float_histograms(data)
    }
}
