//! What the two histogram chunk encodings share (Prometheus' `histogram_meta.go`): the header
//! and its counter-reset bits, the layout the first sample starts with, and decode errors.
//!
//! A chunk is 2 bytes big-endian sample count, 1 header byte whose top two bits are the
//! counter-reset header, then the samples' bits; the first sample begins with the layout:
//! zero threshold, schema (varbit int), positive then negative spans (varbit uint count, then
//! per span varbit uint length and varbit int offset) and, for the custom-buckets schema, the
//! bounds (varbit uint count, then each bound).

use super::ChunkEncoding;
use super::bstream::{BitReader, BitWriter, UnexpectedEof};
use super::error::ChunkError;
use super::varbit;
use super::xor_value::ValueError;
use crate::histogram::{CUSTOM_BUCKETS_SCHEMA, CounterResetHint, Span};

/// Sample count and header byte.
pub const HEADER_LEN: usize = 3;

/// The counter-reset header: the top two bits of the header byte.
pub fn header_bits(hint: CounterResetHint) -> u8 {
    match hint {
        CounterResetHint::Unknown => 0b0000_0000,
        CounterResetHint::NotCounterReset => 0b0100_0000,
        CounterResetHint::CounterReset => 0b1000_0000,
        CounterResetHint::Gauge => 0b1100_0000,
    }
}

/// The counter-reset header of a header byte (its other bits are unused).
pub fn header_hint(byte: u8) -> CounterResetHint {
    match byte >> 6 {
        0b00 => CounterResetHint::Unknown,
        0b01 => CounterResetHint::NotCounterReset,
        0b10 => CounterResetHint::CounterReset,
        _ => CounterResetHint::Gauge,
    }
}

/// Sample count and counter-reset header of a histogram chunk.
pub fn read_header(
    data: &[u8],
    encoding: ChunkEncoding,
) -> Result<(u16, CounterResetHint), ChunkError> {
    match data.first_chunk::<HEADER_LEN>() {
        Some([hi, lo, header]) => Ok((u16::from_be_bytes([*hi, *lo]), header_hint(*header))),
        None => Err(ChunkError::HistogramHeader {
            encoding,
            len: data.len(),
        }),
    }
}

/// What all samples of a chunk share, written once before the first sample.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Layout {
    pub schema: i32,
    pub zero_threshold: f64,
    pub positive_spans: Vec<Span>,
    pub negative_spans: Vec<Span>,
    /// Written for the custom-buckets schema only.
    pub custom_values: Vec<f64>,
}

impl Layout {
    pub fn write(&self, w: &mut BitWriter) {
        write_zero_threshold(w, self.zero_threshold);
        varbit::write_int(w, i64::from(self.schema));
        write_spans(w, &self.positive_spans);
        write_spans(w, &self.negative_spans);
        if self.schema == CUSTOM_BUCKETS_SCHEMA {
            varbit::write_uint(w, self.custom_values.len() as u64);
            for &bound in &self.custom_values {
                write_custom_bound(w, bound);
            }
        }
    }

    pub fn read(r: &mut BitReader<'_>) -> Result<Self, Corrupt> {
        let zero_threshold = read_zero_threshold(r)?;
        // Go's int32(...) conversion: truncating.
        let schema = varbit::read_int(r)? as i32;
        let positive_spans = read_spans(r)?;
        let negative_spans = read_spans(r)?;
        let mut custom_values = Vec::new();
        if schema == CUSTOM_BUCKETS_SCHEMA {
            // Each bound takes at least one bit.
            let n = plausible(varbit::read_uint(r)?, 1, r, "custom bounds")?;
            custom_values.reserve_exact(n);
            for _ in 0..n {
                custom_values.push(read_custom_bound(r)?);
            }
        }
        Ok(Self {
            schema,
            zero_threshold,
            positive_spans,
            negative_spans,
            custom_values,
        })
    }

    /// Bucket counts of both sides, checked against what the rest of the chunk can hold
    /// (the first sample has at least `min_bits` per bucket).
    pub fn bucket_counts(&self, r: &BitReader<'_>, min_bits: u64) -> Result<[usize; 2], Corrupt> {
        let count = |spans: &[Span]| spans.iter().map(|s| u64::from(s.length)).sum::<u64>();
        let (p, n) = (count(&self.positive_spans), count(&self.negative_spans));
        let total = plausible(p.saturating_add(n), min_bits, r, "buckets")?;
        Ok([p as usize, total - p as usize])
    }
}

/// `n` items of at least `min_bits` each, unless the stream cannot hold them (a corrupt
/// count must not make us allocate or loop for long).
fn plausible(
    n: u64,
    min_bits: u64,
    r: &BitReader<'_>,
    what: &'static str,
) -> Result<usize, Corrupt> {
    if n.saturating_mul(min_bits) > r.remaining_bits() as u64 {
        return Err(Corrupt::Layout { what, n });
    }
    Ok(n as usize)
}

fn write_spans(w: &mut BitWriter, spans: &[Span]) {
    varbit::write_uint(w, spans.len() as u64);
    for s in spans {
        varbit::write_uint(w, u64::from(s.length));
        varbit::write_int(w, i64::from(s.offset));
    }
}

fn read_spans(r: &mut BitReader<'_>) -> Result<Vec<Span>, Corrupt> {
    // A span is two varbits of at least one bit each.
    let n = plausible(varbit::read_uint(r)?, 2, r, "spans")?;
    let mut spans = Vec::with_capacity(n);
    for _ in 0..n {
        // Go's uint32(...) and int32(...) conversions: truncating.
        let length = varbit::read_uint(r)? as u32;
        let offset = varbit::read_int(r)? as i32;
        spans.push(Span { offset, length });
    }
    Ok(spans)
}

/// The zero threshold in one byte when it is 0 (byte 0) or a power of two from 2^-243 to 2^10
/// (byte `exponent + 244`); otherwise byte 255 and the 64 bits of the float.
fn write_zero_threshold(w: &mut BitWriter, threshold: f64) {
    if threshold == 0.0 {
        w.write_byte(0);
        return;
    }
    let bits = threshold.to_bits();
    // A positive normal float whose mantissa is zero is 2^(biased exponent - 1023).
    let biased = (bits >> 52) as i32;
    let exponent = biased - 1023;
    if bits & ((1 << 52) - 1) == 0
        && (1..0x7ff).contains(&biased)
        && (-243..=10).contains(&exponent)
    {
        w.write_byte((exponent + 244) as u8);
    } else {
        w.write_byte(255);
        w.write_bits(bits, 64);
    }
}

fn read_zero_threshold(r: &mut BitReader<'_>) -> Result<f64, UnexpectedEof> {
    Ok(match r.read_byte()? {
        0 => 0.0,
        255 => f64::from_bits(r.read_bits(64)?),
        // 2^(b - 244), a normal float for b in 1..=254.
        b => f64::from_bits(((i64::from(b) - 244 + 1023) as u64) << 52),
    })
}

/// A custom bound that is a multiple of 0.001 from 0 to 33554.43 as the varbit uint
/// `bound * 1000 + 1`; any other as a 0 bit (the varbit 0) and the 64 bits of the float.
fn write_custom_bound(w: &mut BitWriter, bound: f64) {
    let milli = bound * 1000.0;
    if !(0.0..=33_554_430.0).contains(&milli) || !whole_in_thousandths(bound) {
        w.write_bit(false);
        w.write_bits(bound.to_bits(), 64);
        return;
    }
    varbit::write_uint(w, milli.round() as u64 + 1);
}

/// Prometheus' `isWholeWhenMultiplied`: `bound * 1000`, rounded, divided by 1000 again, is
/// `bound`. Only called with `0 <= bound * 1000 <= 33554430`.
fn whole_in_thousandths(bound: f64) -> bool {
    ((bound * 1000.0).round() as u64) as f64 / 1000.0 == bound
}

fn read_custom_bound(r: &mut BitReader<'_>) -> Result<f64, UnexpectedEof> {
    Ok(match varbit::read_uint(r)? {
        0 => f64::from_bits(r.read_bits(64)?),
        n => (n - 1) as f64 / 1000.0,
    })
}

/// Why a histogram chunk could not be decoded, before the sample index is attached.
#[derive(Debug, Clone, Copy)]
pub enum Corrupt {
    /// Out of bits, or a bad value header.
    Value(ValueError),
    /// A count in the layout that the rest of the chunk cannot hold.
    Layout { what: &'static str, n: u64 },
}

impl From<UnexpectedEof> for Corrupt {
    fn from(_: UnexpectedEof) -> Self {
        Corrupt::Value(ValueError::Eof)
    }
}

impl From<ValueError> for Corrupt {
    fn from(e: ValueError) -> Self {
        Corrupt::Value(e)
    }
}

impl Corrupt {
    #[cold]
    pub fn at(self, encoding: ChunkEncoding, sample: u16, declared: u16) -> ChunkError {
        let problem = match self {
            Corrupt::Value(ValueError::Eof) => {
                return ChunkError::HistogramTruncated {
                    encoding,
                    declared,
                    decoded: sample,
                };
            }
            Corrupt::Value(ValueError::Window {
                leading,
                significant,
            }) => format!(
                "a value declares {leading} leading zeros and {significant} significant bits \
                 (more than 64)"
            ),
            Corrupt::Layout { what, n } => {
                format!("the layout declares {n} {what}, more than the chunk holds")
            }
        };
        ChunkError::HistogramCorrupt {
            encoding,
            sample,
            problem,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(layout: &Layout) -> (Layout, usize) {
        let mut w = BitWriter::new();
        layout.write(&mut w);
        let bytes = w.into_vec();
        let got = Layout::read(&mut BitReader::new(&bytes)).unwrap();
        (got, bytes.len())
    }

    #[test]
    fn zero_thresholds() {
        // Prometheus' default 2^-128 takes one byte (116).
        let mut w = BitWriter::new();
        write_zero_threshold(&mut w, 2f64.powi(-128));
        assert_eq!(w.bytes(), [116]);
        for (threshold, len) in [
            (0.0, 1),
            (2f64.powi(-243), 1),
            (1024.0, 1),
            (1.0, 1),
            (2048.0, 9),
            (2f64.powi(-244), 9),
            (0.001, 9),
            (-0.5, 9),
            (f64::INFINITY, 9),
            (f64::MIN_POSITIVE / 2.0, 9),
        ] {
            let mut w = BitWriter::new();
            write_zero_threshold(&mut w, threshold);
            assert_eq!(w.bytes().len(), len, "{threshold}");
            let back = read_zero_threshold(&mut BitReader::new(w.bytes())).unwrap();
            assert_eq!(back.to_bits(), threshold.to_bits(), "{threshold}");
        }
    }

    #[test]
    fn custom_bounds_in_thousandths_are_short() {
        let bounds = vec![
            0.0, 0.001, 0.1, 0.25, 1.0, 2.5, 33_554.43, 33_554.431, 1e-4, -1.0, 1e300,
        ];
        let layout = Layout {
            schema: CUSTOM_BUCKETS_SCHEMA,
            positive_spans: vec![Span {
                offset: 0,
                length: 12,
            }],
            custom_values: bounds.clone(),
            ..Layout::default()
        };
        let (got, _) = round_trip(&layout);
        assert_eq!(got, layout);
        // 0.1 is the varbit uint 101: `1110` + 9 bits.
        let mut w = BitWriter::new();
        write_custom_bound(&mut w, 0.1);
        assert_eq!(w.bytes(), [0b1110_0011, 0b0010_1000]);
    }

    #[test]
    fn layouts_round_trip() {
        let layout = Layout {
            schema: 3,
            zero_threshold: 2f64.powi(-128),
            positive_spans: vec![
                Span {
                    offset: -5,
                    length: 2,
                },
                Span {
                    offset: 3,
                    length: 0,
                },
            ],
            negative_spans: vec![Span {
                offset: 100_000,
                length: 70_000,
            }],
            custom_values: vec![],
        };
        assert_eq!(round_trip(&layout).0, layout);
        // Custom values are only part of the custom-buckets schema.
        let exponential = Layout {
            custom_values: vec![1.0],
            ..layout.clone()
        };
        assert_eq!(round_trip(&exponential).0, layout);
    }

    #[test]
    fn headers() {
        for hint in [
            CounterResetHint::Unknown,
            CounterResetHint::CounterReset,
            CounterResetHint::NotCounterReset,
            CounterResetHint::Gauge,
        ] {
            assert_eq!(header_hint(header_bits(hint) | 0x3f), hint);
        }
        assert_eq!(header_bits(CounterResetHint::CounterReset), 0x80);
        assert!(read_header(&[0, 1], ChunkEncoding::Histogram).is_err());
        assert_eq!(
            read_header(&[1, 2, 0xc0], ChunkEncoding::Histogram),
            Ok((258, CounterResetHint::Gauge))
        );
    }

    #[test]
    fn corrupt_counts_are_refused_before_allocating() {
        let mut w = BitWriter::new();
        write_zero_threshold(&mut w, 0.0);
        varbit::write_int(&mut w, 0);
        varbit::write_uint(&mut w, u64::MAX);
        let bytes = w.into_vec();
        assert!(matches!(
            Layout::read(&mut BitReader::new(&bytes)),
            Err(Corrupt::Layout { what: "spans", .. })
        ));
    }
}
