//! The Gorilla XOR coding of one float field against its previous value, shared by the XOR
//! chunk (sample values) and the histogram chunks (sums, and every field of a float
//! histogram), as Prometheus' `xorWrite`/`xorRead`.
//!
//! With `x = bits(new) ^ bits(previous)`:
//!
//! * `0`: `x == 0`.
//! * `10` + the significant bits of `x`, in the previous window.
//! * `11` + 5 bits leading zeros (capped at 31) + 6 bits significant-bit
//!   count (64 is written as 0) + the significant bits; opens a new window.

use super::bstream::{BitReader, BitWriter, UnexpectedEof};

/// The encoder's state of one field: the window the last `11` opened.
#[derive(Debug, Clone, Copy)]
pub struct WriteWindow {
    leading: u8,
    trailing: u8,
}

/// `leading` of no window yet (Prometheus' `0xff`): the first change opens one.
const NO_WINDOW: u8 = 0xff;

impl Default for WriteWindow {
    fn default() -> Self {
        Self {
            leading: NO_WINDOW,
            trailing: 0,
        }
    }
}

impl WriteWindow {
    /// Writes `new` against `prev` (IEEE bits).
    #[inline(always)]
    pub fn write(&mut self, w: &mut BitWriter, prev: u64, new: u64) {
        let x = new ^ prev;
        if x == 0 {
            w.write_bit(false);
            return;
        }
        // Capped so that it fits the 5-bit field.
        let leading = (x.leading_zeros() as u8).min(31);
        let trailing = x.trailing_zeros() as u8;
        if self.leading != NO_WINDOW && leading >= self.leading && trailing >= self.trailing {
            w.write_bits(0b10, 2);
            let sig = 64 - self.leading - self.trailing;
            w.write_bits(x >> self.trailing, u32::from(sig));
        } else {
            self.leading = leading;
            self.trailing = trailing;
            let sig = 64 - leading - trailing;
            // A count of 64 does not fit 6 bits and is stored as 0 (0 itself
            // can't occur: x != 0).
            let header = 0b11 << 11 | u64::from(leading) << 6 | u64::from(sig & 0x3f);
            w.write_bits(header, 13);
            w.write_bits(x >> trailing, u32::from(sig));
        }
    }
}

/// Why a value could not be read.
#[derive(Debug, Clone, Copy)]
pub enum ValueError {
    Eof,
    /// A `11` header declaring more than 64 leading plus significant bits.
    Window {
        leading: u32,
        significant: u32,
    },
}

impl From<UnexpectedEof> for ValueError {
    #[inline(always)]
    fn from(_: UnexpectedEof) -> Self {
        ValueError::Eof
    }
}

/// The decoder's state of one field: the current window.
#[derive(Debug, Clone, Copy)]
pub struct ReadWindow {
    /// Significant bits (1..=64).
    significant: u32,
    trailing: u32,
}

impl Default for ReadWindow {
    /// Like Prometheus' iterators: "0 leading, 0 trailing zeros" (64
    /// significant bits); an encoder never reuses it before opening one.
    fn default() -> Self {
        Self {
            significant: 64,
            trailing: 0,
        }
    }
}

impl ReadWindow {
    /// Reads a value, XOR-ing it onto `val` (IEEE bits). Expects at least
    /// 13 bits buffered unless the stream is about to end.
    #[inline(always)]
    pub fn read(&mut self, r: &mut BitReader<'_>, val: &mut u64) -> Result<(), ValueError> {
        let w = r.peek();
        if w >> 63 == 0 {
            // `0`: value unchanged (the most common case).
            r.consume(1)?;
            return Ok(());
        }
        if w >> 62 & 1 == 0 {
            // `10`: reuse the window.
            r.consume(2)?;
        } else {
            // `11`: 5 bits leading zeros, 6 bits significant bits.
            let leading = (w >> 57 & 0x1f) as u32;
            let significant = match (w >> 51 & 0x3f) as u32 {
                0 => 64,
                n => n,
            };
            r.consume(13)?;
            if leading + significant > 64 {
                return Err(ValueError::Window {
                    leading,
                    significant,
                });
            }
            self.significant = significant;
            self.trailing = 64 - leading - significant;
        }
        // 1..=64, so the shifts below stay below 64.
        let significant = self.significant;
        r.refill();
        let bits = if significant <= 56 {
            let v = r.peek() >> (64 - significant);
            r.consume(significant)?;
            v
        } else {
            r.read_bits(significant)?
        };
        *val ^= bits << self.trailing;
        Ok(())
    }
}
