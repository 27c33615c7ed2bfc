//! The frame both histogram chunk encodings share: the header, the layout before the first
//! sample, timestamps (the first as a varbit int, then deltas of deltas), staleness markers;
//! each kind's count, sum and bucket fields come from its [`Codec`](super::sample::sealed).
//!
//! Byte-exact with what a fresh Prometheus 3.5 `HistogramChunk`/`FloatHistogramChunk`
//! appender writes for the same samples. All samples of a chunk share one layout; which
//! samples go into which chunk (counter resets, layout changes, recoding) is the
//! [`HistogramChunks`](super::HistogramChunks) builder's job.

use super::bstream::{BitReader, BitWriter};
use super::error::{AppendError, ChunkError};
use super::histogram_meta::{self, Corrupt, HEADER_LEN, Layout};
use super::sample::HistogramSample;
use super::spans::BucketIndices;
use super::varbit;
use crate::histogram::{CounterResetHint, Span};

/// Builds one histogram chunk sample by sample.
#[derive(Debug, Clone)]
pub struct HistogramChunkEncoder<H: HistogramSample> {
    w: BitWriter,
    num: u16,
    /// The first sample's layout.
    layout: Layout,
    last_stale: bool,
    t: i64,
    t_delta: i64,
    fields: H::WriteState,
}

impl<H: HistogramSample> HistogramChunkEncoder<H> {
    /// An empty chunk with the given counter-reset header.
    pub fn new(header: CounterResetHint) -> Self {
        let mut buf = Vec::with_capacity(128);
        buf.extend_from_slice(&[0, 0, histogram_meta::header_bits(header)]);
        Self {
            w: BitWriter::with_prefix(buf),
            num: 0,
            layout: Layout::default(),
            last_stale: false,
            t: 0,
            t_delta: 0,
            fields: H::WriteState::default(),
        }
    }

    pub fn header(&self) -> CounterResetHint {
        histogram_meta::header_hint(self.w.bytes()[2])
    }

    pub fn set_header(&mut self, header: CounterResetHint) {
        self.w.bytes_mut()[2] = histogram_meta::header_bits(header);
    }

    pub fn num_samples(&self) -> u16 {
        self.num
    }

    /// The complete chunk bytes, header included.
    pub fn bytes(&self) -> &[u8] {
        self.w.bytes()
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.w.into_vec()
    }

    /// The layout of the first sample (the chunk's, if it has non-stale samples).
    pub(super) fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Appends a sample. The first sets the chunk's layout; later ones must have it too (the
    /// same schema, zero threshold, custom bounds and buckets), except staleness markers,
    /// after which only staleness markers may follow. On error the chunk is unchanged.
    pub fn append(&mut self, t: i64, h: &H) -> Result<(), AppendError> {
        if self.num == u16::MAX {
            return Err(AppendError::Full);
        }
        // A staleness marker is written as an empty histogram with its sum.
        let stale = h.is_stale();
        let marker;
        let h = if stale {
            marker = H::stale_marker();
            &marker
        } else {
            h
        };
        h.validate()?;
        if self.num == 0 {
            self.layout = Layout::of(h);
            self.layout.write(&mut self.w);
            varbit::write_int(&mut self.w, t);
            H::write_first(&mut self.fields, &mut self.w, h);
        } else {
            if !stale {
                if self.last_stale {
                    return Err(AppendError::AfterStale);
                }
                if !self.layout.admits(h) {
                    return Err(AppendError::Layout);
                }
            }
            let delta = t.wrapping_sub(self.t);
            varbit::write_int(&mut self.w, delta.wrapping_sub(self.t_delta));
            H::write_next(&mut self.fields, &mut self.w, h);
            self.t_delta = delta;
        }
        self.t = t;
        self.last_stale = stale;
        self.num += 1;
        self.w.bytes_mut()[..2].copy_from_slice(&self.num.to_be_bytes());
        Ok(())
    }
}

impl Layout {
    /// The layout `h` starts a chunk with.
    fn of<H: HistogramSample>(h: &H) -> Self {
        let [pos, neg] = h.spans();
        Self {
            schema: h.schema(),
            zero_threshold: h.zero_threshold(),
            positive_spans: pos.to_vec(),
            negative_spans: neg.to_vec(),
            custom_values: h.custom_values().to_vec(),
        }
    }

    /// Whether `h` (valid) has this layout: spans may be spelled differently if they cover the
    /// same buckets (as Prometheus' merged spans may).
    fn admits<H: HistogramSample>(&self, h: &H) -> bool {
        let same_buckets = |ours: &[Span], theirs: &[Span]| {
            ours == theirs || BucketIndices::new(ours).eq(BucketIndices::new(theirs))
        };
        let [pos, neg] = h.spans();
        self.schema == h.schema()
            && self.zero_threshold.to_bits() == h.zero_threshold().to_bits()
            && bits_equal(&self.custom_values, h.custom_values())
            && same_buckets(&self.positive_spans, pos)
            && same_buckets(&self.negative_spans, neg)
    }
}

/// Equal bit for bit (Prometheus' `FloatBucketsMatch`).
pub(super) fn bits_equal(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

/// Decodes a histogram chunk sample by sample, updating one histogram in place.
///
/// Counter-reset hints are Prometheus': `Gauge` in a gauge chunk; otherwise `Unknown` for the
/// first sample (the chunk's [`header`](Self::header) may say more, but Prometheus does not
/// trust it across chunks) and `NotCounterReset` for the others.
#[derive(Debug, Clone)]
pub struct HistogramChunkDecoder<'a, H: HistogramSample> {
    r: BitReader<'a>,
    declared: u16,
    read: u16,
    header: CounterResetHint,
    failed: bool,
    t: i64,
    t_delta: i64,
    /// The last sample that was not a staleness marker.
    current: H,
    /// What a staleness marker decodes to.
    marker: H,
    fields: H::ReadState,
}

impl<'a, H: HistogramSample> HistogramChunkDecoder<'a, H> {
    /// Starts decoding `data`, a complete chunk including its header.
    pub fn new(data: &'a [u8]) -> Result<Self, ChunkError> {
        let (declared, header) = histogram_meta::read_header(data, H::ENCODING)?;
        Ok(Self {
            r: BitReader::new(&data[HEADER_LEN..]),
            declared,
            read: 0,
            header,
            failed: false,
            t: 0,
            t_delta: 0,
            current: H::stale_marker(),
            marker: H::stale_marker(),
            fields: H::ReadState::default(),
        })
    }

    /// The chunk's counter-reset header.
    pub fn header(&self) -> CounterResetHint {
        self.header
    }

    /// Sample count declared by the chunk header.
    pub fn num_samples(&self) -> u16 {
        self.declared
    }

    /// The next sample; the histogram borrowed is overwritten by the next call. After an
    /// error, nothing more.
    pub fn next_sample(&mut self) -> Option<Result<(i64, &H), ChunkError>> {
        if self.failed || self.read == self.declared {
            return None;
        }
        match self.read_sample() {
            Ok(stale) => {
                self.read += 1;
                let h = if stale {
                    &self.marker
                } else {
                    self.current.set_counter_reset_hint(match self.header {
                        CounterResetHint::Gauge => CounterResetHint::Gauge,
                        _ if self.read > 1 => CounterResetHint::NotCounterReset,
                        _ => CounterResetHint::Unknown,
                    });
                    &self.current
                };
                Some(Ok((self.t, h)))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e.at(H::ENCODING, self.read, self.declared)))
            }
        }
    }

    /// Reads one sample into `current` (or the sum into `marker`); whether it is stale.
    fn read_sample(&mut self) -> Result<bool, Corrupt> {
        let sum = if self.read == 0 {
            let layout = Layout::read(&mut self.r)?;
            let lens = layout.bucket_counts(&self.r, H::MIN_FIRST_BUCKET_BITS)?;
            self.current.set_layout(layout, lens);
            self.t = varbit::read_int(&mut self.r)?;
            H::read_first(&mut self.fields, &mut self.r, &mut self.current)?
        } else {
            let dod = varbit::read_int(&mut self.r)?;
            self.t_delta = self.t_delta.wrapping_add(dod);
            self.t = self.t.wrapping_add(self.t_delta);
            H::read_next(&mut self.fields, &mut self.r, &mut self.current)?
        };
        let stale = crate::histogram::is_stale_nan(sum);
        if stale {
            self.marker.set_sum(sum);
        }
        Ok(stale)
    }
}

impl<H: HistogramSample> Iterator for HistogramChunkDecoder<'_, H> {
    type Item = Result<(i64, H), ChunkError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_sample()
            .map(|sample| sample.map(|(t, h)| (t, h.clone())))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = if self.failed {
            0
        } else {
            usize::from(self.declared - self.read)
        };
        (0, Some(left))
    }
}

impl<H: HistogramSample> std::iter::FusedIterator for HistogramChunkDecoder<'_, H> {}

/// Decodes a whole histogram chunk.
pub fn decode_all<H: HistogramSample>(data: &[u8]) -> Result<Vec<(i64, H)>, ChunkError> {
    HistogramChunkDecoder::new(data)?.collect()
}

#[cfg(test)]
mod tests {
    use super::super::{
        AppendError, ChunkError, FloatHistogramDecoder, HistogramDecoder, HistogramEncoder,
        decode_float_histograms, decode_histograms,
    };
    use super::*;
    use crate::histogram::{FloatHistogram, Histogram, STALE_NAN_BITS};

    // Chunks Prometheus 3.5 wrote for remote-written samples, read back raw by remote read.

    /// Integer, schema 0: three samples, then two staleness markers.
    const STALE: &str = "000500744647f0000d11cd0a281d22800800000000000118fc1d4aca3b81c6f49358b78ae62f\
                         7fe100000000000330";
    /// Integer, custom buckets (NHCB), counter-reset header: three samples.
    const CUSTOM: &str = "00038000ee5ce28c6315b9f7df5f1f4fa717e09c47e61a87f8000688e689a7ef32404b9000\
                          00000000c3cedf07531856b236e315a2dc34b2bd40";
    /// Float, schema 1 with a negative bucket, counter-reset header: two samples.
    const FLOAT: &str = "000280748ca378e16317f0000d11cd18ce02014cccccccccccd0000000000000000201600000\
                         00000002007333333333333200900000000000020090000000000007c1d4d6dcf2aaaaaaa\
                         aaabb6893af3afffffffffffe00";

    fn bytes(hex: &str) -> Vec<u8> {
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or_else(|e| panic!("{e}")))
            .collect()
    }

    fn reencoded<H: HistogramSample>(data: &[u8]) -> Vec<u8> {
        let decoder = HistogramChunkDecoder::<H>::new(data).unwrap_or_else(|e| panic!("{e}"));
        let mut encoder = HistogramChunkEncoder::<H>::new(decoder.header());
        for sample in decoder {
            let (t, h) = sample.unwrap_or_else(|e| panic!("{e}"));
            encoder.append(t, &h).unwrap_or_else(|e| panic!("{e}"));
        }
        encoder.into_bytes()
    }

    #[test]
    fn integer_chunk_with_staleness_markers() {
        let data = bytes(STALE);
        let decoder = HistogramDecoder::new(&data).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(decoder.header(), CounterResetHint::Unknown);
        assert_eq!(decoder.num_samples(), 5);
        let samples = decode_histograms(&data).unwrap_or_else(|e| panic!("{e}"));
        let (t, first) = &samples[0];
        assert_eq!(*t, 1_796_263_200_003);
        assert_eq!(
            first,
            &Histogram {
                counter_reset_hint: CounterResetHint::Unknown,
                schema: 0,
                zero_threshold: 2f64.powi(-128),
                zero_count: 1,
                count: 4,
                sum: 2.5,
                positive_spans: vec![Span {
                    offset: 0,
                    length: 2
                }],
                positive_buckets: vec![1, 1],
                ..Histogram::default()
            }
        );
        assert_eq!(samples[2].1.positive_buckets, [4, -1]);
        assert_eq!(samples[2].1.count, 10);
        assert_eq!(
            samples[1].1.counter_reset_hint,
            CounterResetHint::NotCounterReset
        );
        for (_, marker) in &samples[3..] {
            assert_eq!(marker.sum.to_bits(), STALE_NAN_BITS);
            assert!(marker.positive_spans.is_empty());
        }
        assert_eq!(reencoded::<Histogram>(&data), data);
    }

    #[test]
    fn custom_buckets_chunk() {
        let data = bytes(CUSTOM);
        let samples = decode_histograms(&data).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            HistogramDecoder::new(&data).map(|d| d.header()),
            Ok(CounterResetHint::CounterReset)
        );
        let last = &samples[2].1;
        assert!(last.uses_custom_buckets());
        assert_eq!(last.custom_values, [0.25, 0.5, 1.0, 2.5, 10.0, 100.0]);
        assert_eq!(last.positive_buckets, [11, 4, -5]);
        assert_eq!((last.count, last.sum), (36, 74.5));
        assert_eq!(reencoded::<Histogram>(&data), data);
    }

    #[test]
    fn float_chunk() {
        let data = bytes(FLOAT);
        let decoder = FloatHistogramDecoder::new(&data).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(decoder.header(), CounterResetHint::CounterReset);
        let samples = decode_float_histograms(&data).unwrap_or_else(|e| panic!("{e}"));
        let (t, h) = &samples[1];
        assert_eq!(*t, 1_796_263_335_002);
        assert_eq!(h.positive_buckets, [6.9, 4.5]);
        assert_eq!(
            h.negative_spans,
            [Span {
                offset: 0,
                length: 1
            }]
        );
        assert_eq!((h.count, h.sum, h.schema), (15.9, 12.25, 1));
        assert_eq!(reencoded::<FloatHistogram>(&data), data);
    }

    #[test]
    fn every_truncation_is_an_error_never_a_panic() {
        for (hex, float) in [(STALE, false), (CUSTOM, false), (FLOAT, true)] {
            let data = bytes(hex);
            for len in 0..data.len() {
                let result = if float {
                    decode_float_histograms(&data[..len]).map(|s| s.len())
                } else {
                    decode_histograms(&data[..len]).map(|s| s.len())
                };
                // Cut in the layout, a count of it may be what looks wrong.
                match result {
                    Err(
                        ChunkError::HistogramHeader { .. }
                        | ChunkError::HistogramTruncated { .. }
                        | ChunkError::HistogramCorrupt { .. },
                    ) => {}
                    other => panic!("{len} of {} bytes: {other:?}", data.len()),
                }
            }
        }
    }

    #[test]
    fn appends_that_do_not_fit_fail_and_change_nothing() {
        let h = Histogram {
            count: 2,
            positive_spans: vec![Span {
                offset: 0,
                length: 2,
            }],
            positive_buckets: vec![1, 0],
            ..Histogram::default()
        };
        let mut e = HistogramEncoder::new(CounterResetHint::Unknown);
        let short = Histogram {
            positive_buckets: vec![1],
            ..h.clone()
        };
        assert_eq!(
            e.append(1, &short),
            Err(AppendError::BucketCount {
                spans: 2,
                buckets: 1
            })
        );
        assert_eq!(e.num_samples(), 0);
        e.append(1, &h).unwrap_or_else(|e| panic!("{e}"));
        let before = e.bytes().to_vec();
        let wider = Histogram {
            schema: 1,
            ..h.clone()
        };
        assert_eq!(e.append(2, &wider), Err(AppendError::Layout));
        // The same buckets spelled as two spans fit.
        let respelled = Histogram {
            positive_spans: vec![
                Span {
                    offset: 0,
                    length: 1,
                },
                Span {
                    offset: 0,
                    length: 1,
                },
            ],
            ..h.clone()
        };
        e.append(3, &Histogram::stale())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(e.append(4, &respelled), Err(AppendError::AfterStale));
        assert_eq!(e.num_samples(), 2);
        assert!(e.bytes().starts_with(&[0, 2]));
        assert_eq!(
            &e.bytes()[2..before.len() - 1],
            &before[2..before.len() - 1]
        );

        let mut e = HistogramEncoder::new(CounterResetHint::Gauge);
        e.append(1, &h).unwrap_or_else(|e| panic!("{e}"));
        e.append(2, &respelled).unwrap_or_else(|e| panic!("{e}"));
        let custom = Histogram {
            custom_values: vec![1.0],
            ..h
        };
        assert_eq!(
            e.append(3, &custom),
            Err(AppendError::CustomValues { schema: 0 })
        );
        let samples = decode_histograms(e.bytes()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(samples.len(), 2);
        assert!(
            samples
                .iter()
                .all(|(_, h)| h.counter_reset_hint == CounterResetHint::Gauge)
        );
    }
}
