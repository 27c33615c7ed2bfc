//! MSB-first bit streams.
//!
//! [`BitWriter`] appends bits to a `Vec<u8>` and reproduces the exact byte
//! layout of Prometheus 3.5's `bstream` writer: the stream is exactly the
//! bytes its bits need. (Prometheus before 3.0 left an extra, still empty,
//! zero byte behind a whole-byte write that ended on a byte boundary; 3.x
//! chunks have none, and decoders accept both.)
//!
//! [`BitReader`] reads bits from a `&[u8]` through a 64-bit buffer that is
//! refilled with one unaligned big-endian word load whenever at least 8 bytes
//! are left. Reading past the end yields [`UnexpectedEof`]; it never panics
//! and never reads outside the slice.

/// Error returned when a read needs more bits than the stream has left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unexpected end of bit stream")]
pub struct UnexpectedEof;

/// Appends bits, most significant first, to a byte vector.
#[derive(Debug, Clone, Default)]
pub struct BitWriter {
    /// The stream, followed by zeroed slack so that every write can store
    /// 16 bytes in place.
    buf: Vec<u8>,
    /// Number of bits written, prefix included.
    bits: usize,
}

impl BitWriter {
    /// Creates an empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Creates a writer whose stream starts with `prefix` (e.g. a header);
    /// new bits start on the next byte boundary.
    pub fn with_prefix(prefix: Vec<u8>) -> Self {
        let bits = prefix.len() * 8;
        Self { buf: prefix, bits }
    }

    /// Writes one bit.
    #[inline]
    pub fn write_bit(&mut self, bit: bool) {
        self.write_bits(u64::from(bit), 1);
    }

    /// Writes one byte (8 bits).
    #[inline]
    pub fn write_byte(&mut self, byte: u8) {
        self.write_bits(u64::from(byte), 8);
    }

    /// Writes the `nbits` low bits of `value`, most significant first.
    /// Higher bits of `value` are ignored.
    ///
    /// # Panics
    ///
    /// If `nbits > 64`.
    #[inline(always)]
    pub fn write_bits(&mut self, value: u64, nbits: u32) {
        assert!(nbits <= 64, "cannot write {nbits} bits at once");
        if nbits == 0 {
            return;
        }
        // Left-align the bits to write; this also drops the ignored high bits.
        let v = value << (64 - nbits);
        let byte = self.bits / 8;
        let offset = self.bits % 8;
        if self.buf.len() < byte + 16 {
            // Grow geometrically so that this stays rare.
            self.buf.resize((byte + 16).max(self.buf.len() * 2), 0);
        }
        // Merge with the partial byte and store 16 bytes at once (the bits
        // after the stream are zero). Loading only that one byte, not a
        // word, keeps clear of store-forwarding stalls on the previous write.
        let slot = &mut self.buf[byte..byte + 16];
        let wide = u128::from(slot[0]) << 120 | u128::from(v) << 64 >> offset;
        slot.copy_from_slice(&wide.to_be_bytes());
        self.bits += nbits as usize;
    }

    fn visible_len(&self) -> usize {
        self.bits.div_ceil(8)
    }

    /// The stream written so far.
    #[inline]
    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.visible_len()]
    }

    /// Mutable access to the written bytes (e.g. to patch a header).
    #[inline]
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        let len = self.visible_len();
        &mut self.buf[..len]
    }

    /// Consumes the writer, returning the stream.
    pub fn into_vec(mut self) -> Vec<u8> {
        self.buf.truncate(self.visible_len());
        self.buf
    }
}

/// Reads bits, most significant first, from a byte slice.
#[derive(Debug, Clone)]
pub struct BitReader<'a> {
    /// Bytes not yet accounted for in `avail`.
    rest: &'a [u8],
    /// Buffered bits, left-aligned: the next bit to read is bit 63.
    ///
    /// Bits below the top `avail` ones are either zero or the stream's
    /// genuine next bits (a word refill loads a few bits ahead), so OR-ing
    /// the following bytes in at their position is always correct.
    buf: u64,
    /// Number of valid bits in `buf`; always `<= 63`.
    avail: u32,
}

impl<'a> BitReader<'a> {
    /// Creates a reader positioned at the first bit of `data`.
    #[inline]
    pub fn new(data: &'a [u8]) -> Self {
        Self {
            rest: data,
            buf: 0,
            avail: 0,
        }
    }

    /// Number of unread bits left in the stream.
    #[inline]
    pub fn remaining_bits(&self) -> usize {
        self.avail as usize + self.rest.len() * 8
    }

    /// Tops up the buffer: afterwards at least 56 bits are buffered, or all
    /// remaining bits of the stream are.
    #[inline(always)]
    pub fn refill(&mut self) {
        if let Some(word) = self.rest.first_chunk::<8>() {
            self.buf |= u64::from_be_bytes(*word) >> self.avail;
            // Account only for the whole bytes that fit (at most 7); the
            // partial byte loaded below them is loaded again next time.
            let whole = ((63 - self.avail) >> 3) as usize & 7;
            self.rest = &self.rest[whole..];
            self.avail |= 56;
        } else {
            // By value, so that no pointer to `self` escapes and the hot
            // decode loop can keep the reader in registers.
            (self.rest, self.buf, self.avail) = refill_tail(self.rest, self.buf, self.avail);
        }
    }

    /// The buffered bits, left-aligned. Only the top [`Self::buffered`]
    /// bits are meaningful.
    #[inline(always)]
    pub fn peek(&self) -> u64 {
        self.buf
    }

    /// Number of bits currently buffered (see [`Self::refill`]).
    #[inline(always)]
    pub fn buffered(&self) -> u32 {
        self.avail
    }

    /// Drops `nbits` (`<= 63`) buffered bits, failing if fewer are buffered.
    #[inline(always)]
    pub fn consume(&mut self, nbits: u32) -> Result<(), UnexpectedEof> {
        if nbits > self.avail {
            return Err(UnexpectedEof);
        }
        self.buf <<= nbits;
        self.avail -= nbits;
        Ok(())
    }

    /// Reads `nbits` (`1..=56`) bits from the buffer, refilling only if the
    /// buffer holds too few.
    #[inline(always)]
    fn read_small(&mut self, nbits: u32) -> Result<u64, UnexpectedEof> {
        debug_assert!((1..=56).contains(&nbits));
        if nbits > self.avail {
            self.refill();
            if nbits > self.avail {
                return Err(UnexpectedEof);
            }
        }
        let v = self.buf >> (64 - nbits);
        self.buf <<= nbits;
        self.avail -= nbits;
        Ok(v)
    }

    /// Reads one bit.
    #[inline]
    pub fn read_bit(&mut self) -> Result<bool, UnexpectedEof> {
        Ok(self.read_small(1)? == 1)
    }

    /// Reads one byte (8 bits, not necessarily byte-aligned).
    #[inline]
    pub fn read_byte(&mut self) -> Result<u8, UnexpectedEof> {
        Ok(self.read_small(8)? as u8)
    }

    /// Reads `nbits` bits into the low bits of the result. After an error
    /// the position in the stream is unspecified.
    ///
    /// # Panics
    ///
    /// If `nbits > 64`.
    #[inline(always)]
    pub fn read_bits(&mut self, nbits: u32) -> Result<u64, UnexpectedEof> {
        match nbits {
            0 => Ok(0),
            1..=56 => self.read_small(nbits),
            // The buffer holds at most 63 bits: read in two steps.
            57..=64 => {
                let hi = self.read_small(nbits - 32)?;
                let lo = self.read_small(32)?;
                Ok(hi << 32 | lo)
            }
            _ => panic!("cannot read {nbits} bits at once"),
        }
    }
}

/// Byte-wise refill for the last few bytes of the stream.
#[cold]
#[inline(never)]
fn refill_tail(mut rest: &[u8], mut buf: u64, mut avail: u32) -> (&[u8], u64, u32) {
    while avail <= 55 {
        let Some((&byte, tail)) = rest.split_first() else {
            break;
        };
        buf |= u64::from(byte) << (56 - avail);
        avail += 8;
        rest = tail;
    }
    (rest, buf, avail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_single_bits_pack_msb_first() {
        let mut w = BitWriter::new();
        for bit in [true, false, true, true, false, false, false, true, true] {
            w.write_bit(bit);
        }
        assert_eq!(w.bytes(), &[0b1011_0001, 0b1000_0000]);
    }

    #[test]
    fn writer_bits_across_bytes() {
        let mut w = BitWriter::new();
        w.write_bits(0b101, 3);
        w.write_bits(0x1ff, 9);
        w.write_bits(0xdead_beef, 32);
        // 101 111111111 1101_1110_1010_1101_1011_1110_1110_1111
        let mut r = BitReader::new(w.bytes());
        assert_eq!(r.read_bits(3), Ok(0b101));
        assert_eq!(r.read_bits(9), Ok(0x1ff));
        assert_eq!(r.read_bits(32), Ok(0xdead_beef));
        assert_eq!(w.bytes().len(), 6);
    }

    #[test]
    fn writer_ignores_high_bits() {
        let mut w = BitWriter::new();
        w.write_bits(u64::MAX, 4);
        assert_eq!(w.bytes(), &[0xf0]);
    }

    #[test]
    fn whole_byte_write_on_boundary_leaves_no_empty_byte() {
        // Prometheus 3.x: the stream holds only the bytes its bits need,
        // whether the last write was whole bytes or single bits.
        let mut w = BitWriter::new();
        w.write_byte(0xab);
        assert_eq!(w.bytes(), &[0xab]);
        w.write_bits(0xcd, 8);
        assert_eq!(w.bytes(), &[0xab, 0xcd]);
        w.write_bits(0b1, 1);
        assert_eq!(w.bytes(), &[0xab, 0xcd, 0x80]);
        w.write_bits(0x7f, 7);
        assert_eq!(w.bytes(), &[0xab, 0xcd, 0xff]);
        w.write_bit(false);
        assert_eq!(w.bytes(), &[0xab, 0xcd, 0xff, 0x00]);
        w.write_bits(0xff, 8);
        assert_eq!(w.bytes(), &[0xab, 0xcd, 0xff, 0x7f, 0x80]);
        w.write_bits(0x7f, 7);
        w.write_bits(u64::MAX, 64);
        assert_eq!(w.bytes().len(), 5 + 8);
    }

    #[test]
    fn writer_with_prefix_starts_after_it() {
        let mut w = BitWriter::with_prefix(vec![1, 2]);
        w.write_bit(true);
        assert_eq!(w.bytes(), &[1, 2, 0x80]);
        w.bytes_mut()[0] = 9;
        assert_eq!(w.into_vec(), vec![9, 2, 0x80]);
    }

    #[test]
    fn reader_round_trips_mixed_widths() {
        let widths: Vec<u32> = (0..=64)
            .chain((0..=64).rev())
            .chain([1, 63, 2, 62])
            .collect();
        let mut w = BitWriter::new();
        for (i, &n) in widths.iter().enumerate() {
            let v = 0x9e37_79b9_7f4a_7c15_u64.wrapping_mul(i as u64 + 1);
            w.write_bits(v, n);
        }
        let mut r = BitReader::new(w.bytes());
        for (i, &n) in widths.iter().enumerate() {
            let v = 0x9e37_79b9_7f4a_7c15_u64.wrapping_mul(i as u64 + 1);
            let mask = if n == 64 { u64::MAX } else { (1 << n) - 1 };
            assert_eq!(r.read_bits(n), Ok(v & mask), "field {i} ({n} bits)");
        }
    }

    #[test]
    fn reader_reports_eof_without_panicking() {
        let data = [0xffu8; 3];
        let mut r = BitReader::new(&data);
        assert_eq!(r.read_bits(20), Ok(0xfffff));
        assert_eq!(r.remaining_bits(), 4);
        assert_eq!(r.read_bits(5), Err(UnexpectedEof));
        assert_eq!(r.read_bits(4), Ok(0xf));
        assert_eq!(r.read_bit(), Err(UnexpectedEof));
        assert_eq!(r.read_bits(64), Err(UnexpectedEof));

        let mut r = BitReader::new(&[]);
        assert_eq!(r.read_bit(), Err(UnexpectedEof));
        assert_eq!(r.read_bits(0), Ok(0));
    }

    #[test]
    fn reader_eof_at_every_length() {
        let data: Vec<u8> = (0..40u8).map(|b| b.wrapping_mul(37)).collect();
        for len in 0..data.len() {
            for width in [1, 7, 13, 56, 60, 64] {
                let mut r = BitReader::new(&data[..len]);
                let mut read = 0;
                while r.read_bits(width).is_ok() {
                    read += width as usize;
                }
                assert!(read <= len * 8);
                assert!(len * 8 - read < width as usize);
            }
        }
    }
}
