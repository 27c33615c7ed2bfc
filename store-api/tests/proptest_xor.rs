//! Property tests: round trips of arbitrary samples, and robustness of the
//! decoders (and the segment parser) against arbitrary and damaged input.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use proptest::collection::vec;
use proptest::prelude::*;
use store_api::chunk::bstream::{BitReader, BitWriter};
use store_api::chunk::segment;
use store_api::chunk::{ChunkError, XorDecoder, XorEncoder, decode_into, num_samples};

/// Prometheus' staleness marker.
const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

fn encode(samples: &[(i64, u64)]) -> XorEncoder {
    let mut e = XorEncoder::new();
    for &(t, v) in samples {
        e.append(t, f64::from_bits(v));
    }
    e
}

/// Decodes with both decoders; they must agree (including on errors, and
/// `decode_into` must leave the vectors untouched on error).
fn decode(data: &[u8]) -> Result<Vec<(i64, u64)>, ChunkError> {
    let streamed: Result<Vec<_>, _> = match XorDecoder::new(data) {
        Ok(d) => d.map(|s| s.map(|(t, v)| (t, v.to_bits()))).collect(),
        Err(e) => Err(e),
    };
    let (mut ts, mut vs) = (vec![7], vec![7.0]);
    match (&streamed, decode_into(data, &mut ts, &mut vs)) {
        (Ok(s), Ok(())) => {
            let bulk: Vec<_> = ts[1..]
                .iter()
                .zip(&vs[1..])
                .map(|(&t, v)| (t, v.to_bits()))
                .collect();
            assert_eq!(&bulk, s);
        }
        (Err(a), Err(b)) => {
            assert_eq!(a, &b);
            assert_eq!((ts.len(), vs.len()), (1, 1));
        }
        (a, b) => panic!("decoders disagree: {a:?} vs {b:?}"),
    }
    streamed
}

/// Values that exercise all value encodings: repeats, small changes
/// (window reuse), arbitrary bits, and special floats.
fn values(n: usize) -> impl Strategy<Value = Vec<u64>> {
    vec((0u8..4, any::<u64>(), 0u32..64, 1u32..20), n).prop_map(|raw| {
        let mut prev = 0u64;
        raw.into_iter()
            .map(|(kind, bits, shift, width)| {
                prev = match kind {
                    0 => prev,
                    1 => prev ^ (bits & ((1 << width) - 1)) << shift.min(64 - width),
                    2 => bits,
                    _ => [STALE_NAN, f64::NAN.to_bits(), f64::INFINITY.to_bits(), 0, 1]
                        [bits as usize % 5],
                };
                prev
            })
            .collect()
    })
}

/// Strictly increasing timestamps with regular, jittered and huge steps.
fn increasing_timestamps(n: usize) -> impl Strategy<Value = Vec<i64>> {
    let step = prop_oneof![
        4 => Just(15_000i64),
        4 => 14_990i64..15_010,
        2 => 1i64..1_000_000,
        1 => 1i64..=i64::MAX / 256,
    ];
    (any::<i64>(), vec(step, n)).prop_map(|(start, steps)| {
        let mut t = start;
        steps
            .into_iter()
            .map_while(|s| {
                let cur = t;
                t = t.checked_add(s)?;
                Some(cur)
            })
            .collect()
    })
}

fn samples(max: usize) -> impl Strategy<Value = Vec<(i64, u64)>> {
    (0..=max).prop_flat_map(|n| {
        (increasing_timestamps(n), values(n))
            .prop_map(|(ts, vs)| ts.into_iter().zip(vs).collect::<Vec<_>>())
    })
}

/// A literal model of Prometheus 3.5's `bstream` writer, bit by bit, with
/// its `count` of free bits in the last byte.
#[derive(Default)]
struct GoBstream {
    stream: Vec<u8>,
    count: u32,
}

impl GoBstream {
    fn write_bit(&mut self, bit: bool) {
        if self.count == 0 {
            self.stream.push(0);
            self.count = 8;
        }
        if bit {
            *self.stream.last_mut().unwrap() |= 1 << (self.count - 1);
        }
        self.count -= 1;
    }

    fn write_byte(&mut self, byte: u8) {
        if self.count == 0 {
            self.stream.push(byte);
            return;
        }
        *self.stream.last_mut().unwrap() |= byte >> (8 - self.count);
        self.stream.push(byte << self.count);
    }

    fn write_bits(&mut self, u: u64, mut nbits: u32) {
        let mut u = u.checked_shl(64 - nbits).unwrap_or(0);
        while nbits >= 8 {
            self.write_byte((u >> 56) as u8);
            u <<= 8;
            nbits -= 8;
        }
        while nbits > 0 {
            self.write_bit(u >> 63 == 1);
            u <<= 1;
            nbits -= 1;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn round_trip(samples in samples(300)) {
        let data = encode(&samples).into_bytes();
        prop_assert_eq!(num_samples(&data).unwrap() as usize, samples.len());
        prop_assert_eq!(decode(&data).unwrap(), samples);
    }

    #[test]
    fn round_trip_any_timestamps(samples in vec(any::<(i64, u64)>(), 0..100)) {
        // Not increasing, but the wrapping arithmetic still round-trips.
        let data = encode(&samples).into_bytes();
        prop_assert_eq!(decode(&data).unwrap(), samples);
    }

    #[test]
    fn bytes_valid_after_every_append(samples in samples(40)) {
        let mut e = XorEncoder::new();
        for (i, &(t, v)) in samples.iter().enumerate() {
            e.append(t, f64::from_bits(v));
            prop_assert_eq!(e.num_samples() as usize, i + 1);
            prop_assert_eq!(decode(e.bytes()).unwrap(), &samples[..=i]);
        }
    }

    #[test]
    fn bit_writer_matches_prometheus_model(writes in vec((any::<u64>(), 0u32..=64), 0..100)) {
        let mut model = GoBstream::default();
        let mut w = BitWriter::new();
        for &(v, n) in &writes {
            model.write_bits(v, n);
            w.write_bits(v, n);
            prop_assert_eq!(w.bytes(), &model.stream[..]);
        }
        let mut r = BitReader::new(w.bytes());
        for &(v, n) in &writes {
            let mask = u64::MAX.checked_shr(64 - n).unwrap_or(0);
            prop_assert_eq!(r.read_bits(n), Ok(v & mask));
        }
        prop_assert_eq!(w.into_vec(), model.stream);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in vec(any::<u8>(), 0..600)) {
        let _ = decode(&data);
    }

    #[test]
    fn arbitrary_body_with_small_header_never_panics(
        count in 0u16..200,
        body in vec(any::<u8>(), 0..400),
    ) {
        let mut data = count.to_be_bytes().to_vec();
        data.extend_from_slice(&body);
        let _ = decode(&data);
    }

    #[test]
    fn damaged_chunks_never_panic(
        samples in samples(150),
        cut in any::<prop::sample::Index>(),
        flips in vec(any::<prop::sample::Index>(), 0..4),
        header in any::<Option<u16>>(),
    ) {
        let data = encode(&samples).into_bytes();
        let full = decode(&data).unwrap();

        // Truncation alone: an error, or (if only padding was cut) the
        // same samples.
        let truncated = &data[..cut.index(data.len() + 1)];
        match decode(truncated) {
            Ok(got) => prop_assert_eq!(got, full),
            Err(ChunkError::Truncated { .. } | ChunkError::MissingHeader { .. }) => {}
            Err(e) => prop_assert!(false, "unexpected error {e}"),
        }

        // Bit flips and a rewritten header: anything but a panic.
        let mut damaged = data.clone();
        for f in &flips {
            let bit = f.index(damaged.len() * 8);
            damaged[bit / 8] ^= 0x80 >> (bit % 8);
        }
        if let Some(h) = header {
            damaged[..2].copy_from_slice(&h.to_be_bytes());
        }
        let _ = decode(&damaged);
        let _ = decode(&damaged[..cut.index(damaged.len() + 1)]);
    }

    #[test]
    fn segment_parser_never_panics(
        body in vec(any::<u8>(), 0..300),
        offset in 0usize..320,
    ) {
        let mut seg = vec![0x85, 0xbd, 0x40, 0xdd, 1, 0, 0, 0];
        seg.extend_from_slice(&body);
        for c in segment::chunks(&seg).unwrap().flatten() {
            let _ = decode(c.data);
        }
        let _ = segment::read_chunk(&seg, offset);
        let _ = segment::chunks(&body).map(|c| c.count());
    }
}
