//! Prometheus' varbit integers (`tsdb/chunkenc/varbit.go`), the histogram chunks' variable
//! length fields: a prefix of 0 to 8 one bits, ended by a zero bit unless it has all 8, chooses
//! the payload width.
//!
//! | prefix     | payload | signed range                  | unsigned range |
//! |------------|---------|-------------------------------|----------------|
//! | `0`        | 0       | 0                             | 0              |
//! | `10`       | 3       | -3 ..= 4                      | ..= 7          |
//! | `110`      | 6       | -31 ..= 32                    | ..= 63         |
//! | `1110`     | 9       | -255 ..= 256                  | ..= 511        |
//! | `11110`    | 12      | -2047 ..= 2048                | ..= 4095       |
//! | `111110`   | 18      | -(2^17 - 1) ..= 2^17          | ..= 2^18 - 1   |
//! | `1111110`  | 25      | -(2^24 - 1) ..= 2^24          | ..= 2^25 - 1   |
//! | `11111110` | 56      | -(2^55 - 1) ..= 2^55          | ..= 2^56 - 1   |
//! | `11111111` | 64      | anything                      | anything       |
//!
//! Signed payloads are two's complement with Prometheus' asymmetry: the pattern `2^(n-1)` reads
//! as positive. Every bit pattern decodes, so the only error is running out of bits.

use super::bstream::{BitReader, BitWriter, UnexpectedEof};

/// Payload widths by number of leading one bits.
const WIDTHS: [u32; 9] = [0, 3, 6, 9, 12, 18, 25, 56, 64];

/// Whether `x` is in Prometheus' signed range for an `n`-bit field:
/// `-(2^(n-1) - 1) ..= 2^(n-1)`.
#[inline(always)]
pub fn fits_signed(x: i64, n: u32) -> bool {
    let half = 1i64 << (n - 1);
    -(half - 1) <= x && x <= half
}

/// Writes the prefix for `ones` one bits and the low `WIDTHS[ones]` bits of `payload`.
#[inline(always)]
fn write_class(w: &mut BitWriter, ones: usize, payload: u64) {
    let width = WIDTHS[ones];
    if ones == 8 {
        // 8 + 64 bits do not fit one write.
        w.write_bits(0xff, 8);
        w.write_bits(payload, 64);
        return;
    }
    // `ones` one bits, a zero bit, the payload: at most 8 + 56 bits.
    let prefix = ((1u64 << ones) - 1) << 1;
    let mask = (1u64 << width) - 1;
    w.write_bits(prefix << width | payload & mask, ones as u32 + 1 + width);
}

/// Writes a signed varbit (`putVarbitInt`).
#[inline]
pub fn write_int(w: &mut BitWriter, x: i64) {
    let ones = if x == 0 {
        0
    } else {
        (1..8).find(|&i| fits_signed(x, WIDTHS[i])).unwrap_or(8)
    };
    write_class(w, ones, x as u64);
}

/// Writes an unsigned varbit (`putVarbitUint`).
#[inline]
pub fn write_uint(w: &mut BitWriter, x: u64) {
    let used = 64 - x.leading_zeros();
    let ones = if x == 0 {
        0
    } else {
        (1..8).find(|&i| used <= WIDTHS[i]).unwrap_or(8)
    };
    write_class(w, ones, x);
}

/// Reads a prefix; returns the payload width.
#[inline(always)]
fn read_width(r: &mut BitReader<'_>) -> Result<u32, UnexpectedEof> {
    r.refill();
    let ones = (!r.peek()).leading_zeros().min(8);
    // The terminating zero is part of the prefix unless it has all 8 ones.
    r.consume(ones + u32::from(ones < 8))?;
    Ok(WIDTHS[ones as usize])
}

/// The `n`-bit (`1..64`) two's complement field `bits` (high bits zero), with Prometheus' rule:
/// above `2^(n-1)` is negative, `2^(n-1)` itself positive (not a plain sign extension).
#[inline(always)]
pub fn signed_field(bits: u64, n: u32) -> i64 {
    let bits = bits as i64;
    bits - (i64::from(bits > 1 << (n - 1)) << n)
}

/// Reads a signed varbit (`readVarbitInt`).
#[inline(always)]
pub fn read_int(r: &mut BitReader<'_>) -> Result<i64, UnexpectedEof> {
    if r.buffered() < 32 {
        r.refill();
    }
    let w = r.peek();
    let ones = (!w).leading_zeros();
    // The common classes (up to 25 bits of payload, 32 bits in all) from one buffered word.
    if ones <= 6 && r.buffered() >= 32 {
        if ones == 0 {
            r.consume(1)?;
            return Ok(0);
        }
        let width = WIDTHS[ones as usize];
        let bits = (w << (ones + 1)) >> (64 - width);
        r.consume(ones + 1 + width)?;
        return Ok(signed_field(bits, width));
    }
    let width = read_width(r)?;
    let bits = r.read_bits(width)?;
    Ok(match width {
        0 | 64 => bits as i64,
        n => signed_field(bits, n),
    })
}

/// Reads an unsigned varbit (`readVarbitUint`).
#[inline]
pub fn read_uint(r: &mut BitReader<'_>) -> Result<u64, UnexpectedEof> {
    let width = read_width(r)?;
    r.read_bits(width)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int_bytes(x: i64) -> Vec<u8> {
        let mut w = BitWriter::new();
        write_int(&mut w, x);
        w.into_vec()
    }

    #[test]
    fn signed_class_boundaries() {
        // (value, encoded length in bits)
        let cases = [
            (0, 1),
            (1, 5),
            (-3, 5),
            (4, 5),
            (-4, 9),
            (5, 9),
            (32, 9),
            (-31, 9),
            (33, 13),
            (256, 13),
            (257, 17),
            (2048, 17),
            (-2047, 17),
            (-2048, 24),
            (131_072, 24),
            (131_073, 32),
            (1 << 24, 32),
            ((1 << 24) + 1, 64),
            (1 << 55, 64),
            (-(1 << 55) + 1, 64),
            (-(1 << 55), 72),
            (i64::MAX, 72),
            (i64::MIN, 72),
        ];
        for (x, nbits) in cases {
            let mut w = BitWriter::new();
            write_int(&mut w, x);
            write_int(&mut w, 0);
            // The trailing `0` of the second value ends the first's bits.
            assert_eq!(w.bytes().len(), (nbits + 1usize).div_ceil(8), "{x}");
            let mut r = BitReader::new(w.bytes());
            assert_eq!(read_int(&mut r), Ok(x), "{x}");
            assert_eq!(read_int(&mut r), Ok(0));
        }
    }

    #[test]
    fn golden_bits() {
        // 4: `10` + 100; -3: `10` + 101; 32: `110` + 100000.
        assert_eq!(int_bytes(4), [0b1010_0000]);
        assert_eq!(int_bytes(-3), [0b1010_1000]);
        assert_eq!(int_bytes(32), [0b1101_0000, 0b0000_0000]);
        let mut w = BitWriter::new();
        write_uint(&mut w, 7);
        write_uint(&mut w, 8);
        // `10` 111 `110` 001000
        assert_eq!(w.bytes(), [0b1011_1110, 0b0010_0000]);
    }

    #[test]
    fn unsigned_class_boundaries() {
        let mut values = vec![0u64, u64::MAX];
        for width in WIDTHS[1..].iter() {
            let max = u64::MAX >> (64 - width);
            values.extend([max, max.wrapping_add(1)]);
        }
        let mut w = BitWriter::new();
        for &x in &values {
            write_uint(&mut w, x);
        }
        let mut r = BitReader::new(w.bytes());
        for &x in &values {
            assert_eq!(read_uint(&mut r), Ok(x));
        }
    }

    #[test]
    fn truncated_input_is_an_error() {
        let mut w = BitWriter::new();
        write_int(&mut w, i64::MIN);
        let data = w.into_vec();
        for len in 0..data.len() {
            assert_eq!(
                read_int(&mut BitReader::new(&data[..len])),
                Err(UnexpectedEof)
            );
        }
    }
}
