//! The Prometheus XOR chunk encoding (Facebook Gorilla with millisecond
//! timestamps), byte-compatible with Prometheus' `chunkenc.XORChunk`.
//!
//! Layout, all bit fields MSB first:
//!
//! * 2 bytes: big-endian sample count.
//! * Sample 0: timestamp as zig-zag (signed) varint, value as raw 64 bits.
//! * Sample 1: timestamp delta as unsigned varint, then the value.
//! * Sample n ≥ 2: timestamp delta-of-delta (dod), then the value.
//!
//! Delta-of-delta, with Prometheus' asymmetric ranges
//! (`-(2^(n-1) - 1) ..= 2^(n-1)` for an `n`-bit field):
//!
//! | bits                | dod                    |
//! |---------------------|------------------------|
//! | `0`                 | 0                      |
//! | `10` + 14 bits      | -8191 ..= 8192         |
//! | `110` + 17 bits     | -65535 ..= 65536       |
//! | `1110` + 20 bits    | -524287 ..= 524288     |
//! | `1111` + 64 bits    | anything else          |
//!
//! Values are XOR-coded against the previous one (see `xor_value`).
//!
//! Timestamp arithmetic wraps exactly like Prometheus' Go code, so any `i64`
//! sequence round-trips, increasing or not.

use super::bstream::{BitReader, BitWriter, UnexpectedEof};
use super::error::ChunkError;
use super::varbit::{fits_signed, signed_field};
use super::xor_value::{ReadWindow, ValueError, WriteWindow};

/// Length of the sample-count header.
const HEADER_LEN: usize = 2;

/// Returns the sample count stored in a chunk's header.
pub fn num_samples(data: &[u8]) -> Result<u16, ChunkError> {
    data.first_chunk::<HEADER_LEN>()
        .map(|h| u16::from_be_bytes(*h))
        .ok_or(ChunkError::MissingHeader { len: data.len() })
}

// ---------------------------------------------------------------------------
// Encoder
// ---------------------------------------------------------------------------

/// Builds an XOR chunk sample by sample.
///
/// The bytes are identical to what a fresh Prometheus `XORChunk` appender
/// produces for the same samples.
#[derive(Debug, Clone)]
pub struct XorEncoder {
    w: BitWriter,
    num: u16,
    t: i64,
    delta: u64,
    val: u64,
    window: WriteWindow,
}

impl Default for XorEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl XorEncoder {
    /// Creates an empty chunk (just the zero sample count).
    pub fn new() -> Self {
        let mut buf = Vec::with_capacity(128);
        buf.extend_from_slice(&[0; HEADER_LEN]);
        Self {
            w: BitWriter::with_prefix(buf),
            num: 0,
            t: 0,
            delta: 0,
            val: 0,
            window: WriteWindow::default(),
        }
    }

    /// Appends a sample. Timestamps are not checked; Prometheus only ever
    /// appends increasing ones, but any sequence round-trips.
    ///
    /// # Panics
    ///
    /// If the chunk already holds `u16::MAX` samples (see [`Self::is_full`]).
    pub fn append(&mut self, t: i64, v: f64) {
        assert!(!self.is_full(), "XOR chunk is full ({} samples)", u16::MAX);
        let vbits = v.to_bits();
        let delta = match self.num {
            0 => {
                write_uvarint(&mut self.w, zigzag_encode(t));
                self.w.write_bits(vbits, 64);
                0
            }
            1 => {
                let delta = t.wrapping_sub(self.t) as u64;
                write_uvarint(&mut self.w, delta);
                self.write_value(vbits);
                delta
            }
            _ => {
                let delta = t.wrapping_sub(self.t) as u64;
                self.write_dod(delta.wrapping_sub(self.delta) as i64);
                self.write_value(vbits);
                delta
            }
        };
        self.t = t;
        self.delta = delta;
        self.val = vbits;
        self.num += 1;
        self.w.bytes_mut()[..HEADER_LEN].copy_from_slice(&self.num.to_be_bytes());
    }

    #[inline(always)]
    fn write_dod(&mut self, dod: i64) {
        // Prefix and payload in one write: the bytes are the same as
        // Prometheus' separate writes.
        if dod == 0 {
            self.w.write_bit(false);
        } else if fits_signed(dod, 14) {
            self.w.write_bits(0b10 << 14 | (dod as u64 & 0x3fff), 16);
        } else if fits_signed(dod, 17) {
            self.w.write_bits(0b110 << 17 | (dod as u64 & 0x1_ffff), 20);
        } else if fits_signed(dod, 20) {
            self.w
                .write_bits(0b1110 << 20 | (dod as u64 & 0xf_ffff), 24);
        } else {
            self.w.write_bits(0b1111, 4);
            self.w.write_bits(dod as u64, 64);
        }
    }

    #[inline(always)]
    fn write_value(&mut self, vbits: u64) {
        self.window.write(&mut self.w, self.val, vbits);
    }

    /// Number of samples appended so far.
    pub fn num_samples(&self) -> u16 {
        self.num
    }

    /// Whether the chunk holds the maximum of `u16::MAX` samples.
    pub fn is_full(&self) -> bool {
        self.num == u16::MAX
    }

    /// The complete chunk bytes, header included.
    pub fn bytes(&self) -> &[u8] {
        self.w.bytes()
    }

    /// Consumes the encoder, returning the chunk bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.w.into_vec()
    }
}

fn zigzag_encode(x: i64) -> u64 {
    (x << 1 ^ x >> 63) as u64
}

fn zigzag_decode(u: u64) -> i64 {
    (u >> 1) as i64 ^ -((u & 1) as i64)
}

fn write_uvarint(w: &mut BitWriter, mut x: u64) {
    while x >= 0x80 {
        w.write_byte(x as u8 | 0x80);
        x >>= 7;
    }
    w.write_byte(x as u8);
}

// ---------------------------------------------------------------------------
// Decoder
// ---------------------------------------------------------------------------

/// Decoding failure, before the sample index is attached.
#[derive(Debug, Clone, Copy)]
enum Corrupt {
    /// Out of bits, or a bad value header.
    Value(ValueError),
    VarintOverflow,
}

impl From<UnexpectedEof> for Corrupt {
    #[inline(always)]
    fn from(_: UnexpectedEof) -> Self {
        Corrupt::Value(ValueError::Eof)
    }
}

impl From<ValueError> for Corrupt {
    #[inline(always)]
    fn from(e: ValueError) -> Self {
        Corrupt::Value(e)
    }
}

impl Corrupt {
    #[cold]
    fn at(self, sample: u16, declared: u16) -> ChunkError {
        match self {
            Corrupt::Value(ValueError::Eof) => ChunkError::Truncated {
                declared,
                decoded: sample,
            },
            Corrupt::VarintOverflow => ChunkError::VarintOverflow { sample },
            Corrupt::Value(ValueError::Window {
                leading,
                significant,
            }) => ChunkError::InvalidValueWindow {
                sample,
                leading: leading as u8,
                significant: significant as u8,
            },
        }
    }
}

/// Running state of a decode: the last sample plus the delta and window.
#[derive(Debug, Clone, Copy, Default)]
struct State {
    t: i64,
    delta: u64,
    val: u64,
    window: ReadWindow,
}

impl State {
    /// Decodes sample `i`, tagging errors with it.
    fn read_any(&mut self, i: usize, r: &mut BitReader<'_>) -> Result<(), (usize, Corrupt)> {
        match i {
            0 => self.read_first(r),
            1 => self.read_second(r),
            _ => self.read_next(r),
        }
        .map_err(|e| (i, e))
    }

    /// Decodes sample 0.
    fn read_first(&mut self, r: &mut BitReader<'_>) -> Result<(), Corrupt> {
        self.t = zigzag_decode(read_uvarint(r)?);
        self.val = r.read_bits(64)?;
        Ok(())
    }

    /// Decodes sample 1.
    fn read_second(&mut self, r: &mut BitReader<'_>) -> Result<(), Corrupt> {
        self.delta = read_uvarint(r)?;
        self.t = self.t.wrapping_add(self.delta as i64);
        r.refill();
        self.read_value(r)
    }

    /// Decodes sample n ≥ 2.
    #[inline(always)]
    fn read_next(&mut self, r: &mut BitReader<'_>) -> Result<(), Corrupt> {
        let dod = read_dod(r)?;
        self.delta = self.delta.wrapping_add(dod as u64);
        self.t = self.t.wrapping_add(self.delta as i64);
        self.read_value(r)
    }

    /// Decodes a value. Expects at least 13 bits buffered unless the
    /// stream is about to end (the callers refilled at most 24 bits ago).
    #[inline(always)]
    fn read_value(&mut self, r: &mut BitReader<'_>) -> Result<(), Corrupt> {
        Ok(self.window.read(r, &mut self.val)?)
    }
}

/// Decodes a timestamp delta-of-delta. Leaves at least 32 bits buffered
/// unless the stream is about to end.
#[inline(always)]
fn read_dod(r: &mut BitReader<'_>) -> Result<i64, Corrupt> {
    r.refill();
    let w = r.peek();
    // Most common first: regular scrapes (0), then jitter (14 bits).
    if w >> 63 == 0 {
        r.consume(1)?;
        return Ok(0);
    }
    if w >> 62 == 0b10 {
        r.consume(16)?;
        return Ok(dod_field(w >> 48, 14));
    }
    match w >> 60 {
        0b1100 | 0b1101 => {
            r.consume(20)?;
            Ok(dod_field(w >> 44, 17))
        }
        0b1110 => {
            r.consume(24)?;
            Ok(dod_field(w >> 40, 20))
        }
        _ => read_dod64(r),
    }
}

/// Interprets the low `size` bits of `bits` as a dod field.
#[inline(always)]
fn dod_field(bits: u64, size: u32) -> i64 {
    signed_field(bits & ((1 << size) - 1), size)
}

/// The rare 64-bit delta-of-delta. Inlined: an out-of-line call taking the
/// reader by reference would force the hot loop to keep it in memory.
#[inline(always)]
fn read_dod64(r: &mut BitReader<'_>) -> Result<i64, Corrupt> {
    r.consume(4)?;
    let dod = r.read_bits(64)? as i64;
    r.refill();
    Ok(dod)
}

/// Reads an unsigned varint with Go's `binary.ReadUvarint` rules.
fn read_uvarint(r: &mut BitReader<'_>) -> Result<u64, Corrupt> {
    let mut x = 0u64;
    for i in 0..10 {
        let b = r.read_byte()?;
        if b < 0x80 {
            if i == 9 && b > 1 {
                return Err(Corrupt::VarintOverflow);
            }
            return Ok(x | u64::from(b) << (7 * i));
        }
        x |= u64::from(b & 0x7f) << (7 * i);
    }
    Err(Corrupt::VarintOverflow)
}

/// Streaming decoder over an XOR chunk, yielding `(timestamp, value)`.
///
/// After an error it yields nothing more.
#[derive(Debug, Clone)]
pub struct XorDecoder<'a> {
    r: BitReader<'a>,
    st: State,
    declared: u16,
    read: u16,
    failed: bool,
}

impl<'a> XorDecoder<'a> {
    /// Starts decoding `data`, a complete chunk including its header.
    pub fn new(data: &'a [u8]) -> Result<Self, ChunkError> {
        let declared = num_samples(data)?;
        Ok(Self {
            r: BitReader::new(&data[HEADER_LEN..]),
            st: State::default(),
            declared,
            read: 0,
            failed: false,
        })
    }

    /// Sample count declared by the chunk header.
    pub fn num_samples(&self) -> u16 {
        self.declared
    }
}

impl Iterator for XorDecoder<'_> {
    type Item = Result<(i64, f64), ChunkError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.read == self.declared {
            return None;
        }
        let res = if self.read >= 2 {
            // The common case, inlined.
            self.st.read_next(&mut self.r)
        } else {
            self.st
                .read_any(usize::from(self.read), &mut self.r)
                .map_err(|(_, e)| e)
        };
        Some(match res {
            Ok(()) => {
                self.read += 1;
                Ok((self.st.t, f64::from_bits(self.st.val)))
            }
            Err(e) => {
                self.failed = true;
                Err(e.at(self.read, self.declared))
            }
        })
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

impl std::iter::FusedIterator for XorDecoder<'_> {}

/// Decodes a whole chunk, appending timestamps to `ts` and values to `vs`.
///
/// On error, `ts` and `vs` are restored to their previous lengths.
pub fn decode_into(data: &[u8], ts: &mut Vec<i64>, vs: &mut Vec<f64>) -> Result<(), ChunkError> {
    let declared = num_samples(data)?;
    let body = &data[HEADER_LEN..];
    // Every sample after the first takes at least 2 bits: don't let a
    // corrupt header make us allocate more than the data can hold.
    let plausible = body.len().saturating_mul(4).saturating_add(1);
    let n = usize::from(declared).min(plausible);

    // Decode into zero-filled slices rather than pushing: this keeps the
    // vectors' lengths out of the hot loop and costs only a short memset.
    let (ts_len, vs_len) = (ts.len(), vs.len());
    ts.resize(ts_len + n, 0);
    vs.resize(vs_len + n, 0.0);
    let mut r = BitReader::new(body);
    let mut st = State::default();
    let mut res = decode_slices(&mut r, &mut st, &mut ts[ts_len..], &mut vs[vs_len..]);
    if res.is_ok() && n < usize::from(declared) {
        // The header promises more samples than the data can hold; this
        // finds the exact point where decoding fails.
        res = (n..usize::from(declared)).try_for_each(|i| {
            st.read_any(i, &mut r)?;
            ts.push(st.t);
            vs.push(f64::from_bits(st.val));
            Ok(())
        });
    }
    res.map_err(|(i, e)| {
        ts.truncate(ts_len);
        vs.truncate(vs_len);
        e.at(i as u16, declared)
    })
}

/// Fills `ts` and `vs` (same length) with the first samples of a chunk.
fn decode_slices(
    r: &mut BitReader<'_>,
    st: &mut State,
    ts: &mut [i64],
    vs: &mut [f64],
) -> Result<(), (usize, Corrupt)> {
    let n = ts.len().min(vs.len());
    for i in 0..n.min(2) {
        st.read_any(i, r)?;
        ts[i] = st.t;
        vs[i] = f64::from_bits(st.val);
    }
    if n <= 2 {
        return Ok(());
    }
    // Local copies for the hot loop: nothing takes their address, so the
    // optimizer keeps them in registers.
    let mut r2 = r.clone();
    let mut st2 = *st;
    for (i, (t, v)) in ts[2..n].iter_mut().zip(&mut vs[2..n]).enumerate() {
        st2.read_next(&mut r2).map_err(|e| (i + 2, e))?;
        *t = st2.t;
        *v = f64::from_bits(st2.val);
    }
    *r = r2;
    *st = st2;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

    fn encode(samples: &[(i64, f64)]) -> Vec<u8> {
        let mut e = XorEncoder::new();
        for &(t, v) in samples {
            e.append(t, v);
        }
        e.into_bytes()
    }

    /// Decodes with both decoders, checks they agree, returns the samples.
    fn decode(data: &[u8]) -> Result<Vec<(i64, u64)>, ChunkError> {
        let streamed: Result<Vec<_>, _> = XorDecoder::new(data)?
            .map(|s| s.map(|(t, v)| (t, v.to_bits())))
            .collect();
        let (mut ts, mut vs) = (vec![-1], vec![-1.0]);
        let bulk = decode_into(data, &mut ts, &mut vs);
        match (&streamed, bulk) {
            (Ok(s), Ok(())) => {
                let cols: Vec<_> = ts[1..]
                    .iter()
                    .zip(&vs[1..])
                    .map(|(&t, v)| (t, v.to_bits()))
                    .collect();
                assert_eq!(&cols, s);
            }
            (Err(a), Err(b)) => {
                assert_eq!(a, &b);
                assert_eq!((ts.len(), vs.len()), (1, 1), "rolled back on error");
            }
            (a, b) => panic!("decoders disagree: {a:?} vs {b:?}"),
        }
        streamed
    }

    fn assert_round_trip(samples: &[(i64, f64)]) {
        let data = encode(samples);
        assert_eq!(num_samples(&data), Ok(samples.len() as u16));
        let want: Vec<_> = samples.iter().map(|&(t, v)| (t, v.to_bits())).collect();
        assert_eq!(decode(&data).unwrap(), want);
    }

    /// Deterministic xorshift64* generator for test data.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
    }

    // Golden vectors, derived by hand from the format:
    //
    // (1000, 1.0): zig-zag(1000) = 2000 = varint d0 0f; 1.0 = 3ff0...0.
    // (Prometheus 2.x appended one more, empty, byte here.)
    const GOLDEN_1: &[u8] = &[0x00, 0x01, 0xd0, 0x0f, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0];
    // + (16000, 1.0): delta 15000 = uvarint 98 75, value unchanged = bit `0`.
    const GOLDEN_2: &[u8] = &[
        0x00, 0x02, 0xd0, 0x0f, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0x98, 0x75, 0x00,
    ];
    // + (31000, 2.0): dod 0 = `0`; x = 3ff0.. ^ 4000.. = 7ff0..: leading 1,
    // trailing 52, 11 significant bits: `11` `00001` `001011` `11111111111`.
    // Bits after 98 75: 0 0 11 00001 001011 11111111111
    //                 = 00110000 10010111 11111111 11......
    const GOLDEN_3: &[u8] = &[
        0x00, 0x03, 0xd0, 0x0f, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0x98, 0x75, 0x30, 0x97, 0xff, 0xc0,
    ];
    // + (45999, 2.0): dod -1 = `10` + 14 ones; value unchanged `0`:
    // 11|101111 11111111 110.....
    const GOLDEN_4: &[u8] = &[
        0x00, 0x04, 0xd0, 0x0f, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0x98, 0x75, 0x30, 0x97, 0xff, 0xef,
        0xff, 0xc0,
    ];
    const GOLDEN_SAMPLES: [(i64, f64); 4] = [(1000, 1.0), (16000, 1.0), (31000, 2.0), (45999, 2.0)];

    #[test]
    fn golden_vectors() {
        let mut e = XorEncoder::new();
        assert_eq!(e.bytes(), &[0, 0]);
        for (i, golden) in [GOLDEN_1, GOLDEN_2, GOLDEN_3, GOLDEN_4]
            .into_iter()
            .enumerate()
        {
            let (t, v) = GOLDEN_SAMPLES[i];
            e.append(t, v);
            assert_eq!(e.bytes(), golden, "after sample {i}");
            assert_eq!(e.num_samples(), i as u16 + 1);
            let want: Vec<_> = GOLDEN_SAMPLES[..=i]
                .iter()
                .map(|&(t, v)| (t, v.to_bits()))
                .collect();
            assert_eq!(decode(golden).unwrap(), want);
        }
    }

    #[test]
    fn prometheus_2_empty_trailing_byte_decodes_the_same() {
        let mut old = GOLDEN_1.to_vec();
        old.push(0);
        assert_eq!(decode(&old).unwrap(), decode(GOLDEN_1).unwrap());
    }

    #[test]
    fn golden_negative_first_timestamp_and_new_window_64_bits() {
        // (-1, 0.0): zig-zag(-1) = 1; (0, -0.0): delta 1, x = 8000..0:
        // leading 0, trailing 63, 1 significant bit: `11` 00000 000001 `1`.
        // (1, NaN 7ff8..01): dod 0 `0`; x = fff8..01: leading 0,
        // trailing 0 -> not within the (0, 63) window -> `11` 00000
        // 000000 (64) + 64 bits.
        let data = encode(&[
            (-1, 0.0),
            (0, -0.0),
            (1, f64::from_bits(0x7ff8_0000_0000_0001)),
        ]);
        let mut want = vec![0x00, 0x03, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0x01];
        // Bits: 11 00000 000001 1 | 0 | 11 00000 000000 | fff8000000000001
        // = 11000000 00001101 10000000 0000 + 64 bits
        want.extend_from_slice(&[0xc0, 0x0d, 0x80]);
        // The next 4 bits (0000) plus the 64 bits of fff8000000000001
        // shifted right by 4, then the final 4 bits.
        let x: u128 = 0xfff8_0000_0000_0001u128 << 60;
        want.extend_from_slice(&x.to_be_bytes()[..9]);
        assert_eq!(data, want);
    }

    #[test]
    fn empty_chunk() {
        let e = XorEncoder::default();
        assert_eq!(e.num_samples(), 0);
        assert_eq!(decode(e.bytes()).unwrap(), vec![]);
    }

    #[test]
    fn round_trip_regular() {
        let samples: Vec<_> = (0..120)
            .map(|i| (1_700_000_000_000 + i * 15_000, i as f64))
            .collect();
        assert_round_trip(&samples);
    }

    #[test]
    fn round_trip_irregular_and_negative_timestamps() {
        let mut rng = Rng(7);
        let mut t = -5_000_000i64;
        let mut samples = vec![];
        for _ in 0..500 {
            t += 1 + (rng.next() % 40_000) as i64;
            samples.push((t, (rng.next() % 1000) as f64 / 10.0));
        }
        assert_round_trip(&samples);
        assert_round_trip(&[(i64::MIN, 1.0), (i64::MIN + 1, 2.0), (-1, 3.0), (0, 4.0)]);
    }

    #[test]
    fn round_trip_dod_range_boundaries() {
        // Deltas chosen so every dod range edge (both signs) is crossed.
        let mut dods = vec![0i64];
        for bits in [14u32, 17, 20] {
            let half = 1i64 << (bits - 1);
            dods.extend([half, half + 1, -(half - 1), -half, -(half + 1)]);
        }
        let mut samples = vec![(0i64, 0.0), (10_000_000, 0.0)];
        let mut delta = 10_000_000i64;
        for dod in dods {
            delta += dod;
            let t = samples.last().unwrap().0 + delta;
            samples.push((t, 0.0));
        }
        assert_round_trip(&samples);
    }

    #[test]
    fn round_trip_huge_deltas_wrap() {
        assert_round_trip(&[
            (0, 1.0),
            (i64::MAX, 2.0),
            (i64::MIN, 3.0),
            (0, 4.0),
            (1 << 40, 5.0),
            (-(1 << 50), 6.0),
            (i64::MAX, 7.0),
            (i64::MAX, 7.0),
        ]);
    }

    #[test]
    fn round_trip_constant_values() {
        let samples: Vec<_> = (0..200).map(|i| (i * 1000, 42.5)).collect();
        let data = encode(&samples);
        assert_round_trip(&samples);
        // 1 bit dod + 1 bit value per sample once regular.
        assert!(
            data.len() < 2 + 10 + 8 + 3 + 200 * 2 / 8 + 2,
            "{} bytes",
            data.len()
        );
    }

    #[test]
    fn round_trip_random_values() {
        let mut rng = Rng(42);
        let samples: Vec<_> = (0..1000)
            .map(|i| {
                (
                    i * 15_000 + (rng.next() % 7) as i64,
                    f64::from_bits(rng.next()),
                )
            })
            .collect();
        assert_round_trip(&samples);
    }

    #[test]
    fn round_trip_special_floats_bit_exact() {
        let specials = [
            f64::NAN,
            f64::from_bits(STALE_NAN),
            f64::from_bits(0x7ff8_0000_0000_0001),
            f64::from_bits(0xfff0_0000_0000_0001),
            f64::from_bits(STALE_NAN),
            f64::INFINITY,
            f64::NEG_INFINITY,
            0.0,
            -0.0,
            f64::MIN_POSITIVE,
            f64::from_bits(1),
            f64::MAX,
            f64::MIN,
            f64::from_bits(STALE_NAN),
            1.0,
            f64::from_bits(STALE_NAN),
        ];
        let samples: Vec<_> = specials
            .iter()
            .enumerate()
            .map(|(i, &v)| (i as i64 * 30_000, v))
            .collect();
        assert_round_trip(&samples);
    }

    #[test]
    fn round_trip_counter_like() {
        let mut rng = Rng(3);
        let mut v = 1e6;
        let samples: Vec<_> = (0..2000)
            .map(|i| {
                v += (rng.next() % 100) as f64;
                (i * 15_000, v)
            })
            .collect();
        assert_round_trip(&samples);
    }

    #[test]
    fn every_prefix_is_rejected_or_decodes_the_same() {
        let mut rng = Rng(11);
        let samples: Vec<_> = (0..50)
            .map(|i| {
                (
                    i * 10_007 + (rng.next() % 3) as i64,
                    (rng.next() % 50) as f64 * 0.25,
                )
            })
            .collect();
        let data = encode(&samples);
        let full = decode(&data).unwrap();
        for len in 0..data.len() {
            match decode(&data[..len]) {
                // Dropping padding bits is harmless.
                Ok(got) => assert_eq!(got, full, "prefix {len}"),
                Err(ChunkError::Truncated { declared: 50, .. }) => {}
                Err(ChunkError::MissingHeader { len: l }) => assert!(len < 2 && l == len),
                Err(e) => panic!("prefix {len}: unexpected {e}"),
            }
        }
    }

    #[test]
    fn errors() {
        assert_eq!(num_samples(&[1]), Err(ChunkError::MissingHeader { len: 1 }));
        assert!(XorDecoder::new(&[]).is_err());

        // Header claims more samples than the data holds. The 5 padding
        // bits of the last byte read as two `dod 0, same value` samples,
        // exactly as in Prometheus.
        let mut data = encode(&GOLDEN_SAMPLES);
        data[1] = 9;
        let err = decode(&data).unwrap_err();
        assert_eq!(
            err,
            ChunkError::Truncated {
                declared: 9,
                decoded: 6
            }
        );
        assert!(err.to_string().contains("declares 9 samples"));

        // 11 continuation bytes: varint overflow.
        let data = [
            0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ];
        assert_eq!(decode(&data), Err(ChunkError::VarintOverflow { sample: 0 }));
        // 10th byte > 1 overflows too.
        let data = [
            0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0,
        ];
        assert_eq!(decode(&data), Err(ChunkError::VarintOverflow { sample: 0 }));

        // Second value: `11`, leading 31, significant 0 (= 64).
        let mut data = vec![0, 2, 0];
        data.extend_from_slice(&[0; 8]); // t = 0, v = 0
        data.push(1); // delta 1
        data.extend_from_slice(&[0b1111_1110, 0b0000_0000, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            decode(&data),
            Err(ChunkError::InvalidValueWindow {
                sample: 1,
                leading: 31,
                significant: 64
            })
        );
    }

    #[test]
    fn streaming_decoder_stops_after_error() {
        let mut data = encode(&GOLDEN_SAMPLES);
        data[1] = 9;
        let mut d = XorDecoder::new(&data).unwrap();
        assert_eq!(d.num_samples(), 9);
        assert_eq!(d.by_ref().take(6).filter(Result::is_ok).count(), 6);
        assert!(matches!(d.next(), Some(Err(ChunkError::Truncated { .. }))));
        assert!(d.next().is_none());
    }

    #[test]
    fn header_smaller_than_data_decodes_prefix() {
        let mut data = encode(&GOLDEN_SAMPLES);
        data[1] = 2;
        assert_eq!(decode(&data).unwrap().len(), 2);
    }

    #[test]
    fn full_chunk() {
        let mut e = XorEncoder::new();
        for i in 0..u16::MAX {
            e.append(i64::from(i), 1.0);
        }
        assert!(e.is_full());
        assert_eq!(num_samples(e.bytes()), Ok(u16::MAX));
        assert_eq!(decode(e.bytes()).unwrap().len(), usize::from(u16::MAX));
        let r = std::panic::catch_unwind(move || e.append(0, 0.0));
        assert!(r.is_err());
    }
}
