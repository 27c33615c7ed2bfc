//! Reading the TSDB's binary encodings: big-endian integers, Go's varints, length-prefixed
//! strings and CRC32-C checked sections. Every read is bounds-checked; a short or malformed
//! buffer is an error, never a panic.

/// Why a buffer could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("unexpected end of data")]
    Eof,
    #[error("invalid varint")]
    BadVarint,
    #[error("invalid UTF-8 in a string")]
    BadUtf8,
    #[error("CRC32-C mismatch (stored {stored:#010x}, computed {computed:#010x})")]
    Crc { stored: u32, computed: u32 },
}

/// Reads a Go uvarint (at most 10 bytes): the value and the bytes it took; `None` when the
/// buffer ends inside it or it overflows 64 bits.
pub fn read_uvarint(buf: &[u8]) -> Option<(u64, usize)> {
    let mut x = 0u64;
    for (i, &b) in buf.iter().take(10).enumerate() {
        if b < 0x80 {
            if i == 9 && b > 1 {
                return None;
            }
            return Some((x | u64::from(b) << (7 * i), i + 1));
        }
        x |= u64::from(b & 0x7f) << (7 * i);
    }
    None
}

/// Checks the big-endian CRC32-C stored right after `content` in `buf`.
pub fn check_crc(content: &[u8], stored: &[u8]) -> Result<(), DecodeError> {
    let stored = u32::from_be_bytes(stored.try_into().map_err(|_| DecodeError::Eof)?);
    let computed = crc32c::crc32c(content);
    if stored == computed {
        Ok(())
    } else {
        Err(DecodeError::Crc { stored, computed })
    }
}

/// The content of a section written as `length (be32) | content | CRC32-C of content (be32)`
/// at the start of `buf` (which may run on past the section).
pub fn crc_section(buf: &[u8]) -> Result<&[u8], DecodeError> {
    let mut d = Decbuf::new(buf);
    let len = d.be32()? as usize;
    let content = d.bytes(len)?;
    check_crc(content, d.bytes(4)?)?;
    Ok(content)
}

/// A cursor over a byte slice.
#[derive(Debug, Clone)]
pub struct Decbuf<'a> {
    buf: &'a [u8],
}

impl<'a> Decbuf<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn rest(&self) -> &'a [u8] {
        self.buf
    }

    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.buf.len() {
            return Err(DecodeError::Eof);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    pub fn byte(&mut self) -> Result<u8, DecodeError> {
        Ok(self.bytes(1)?[0])
    }

    pub fn be32(&mut self) -> Result<u32, DecodeError> {
        let b = self.bytes(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn be64(&mut self) -> Result<u64, DecodeError> {
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    pub fn uvarint(&mut self) -> Result<u64, DecodeError> {
        let (value, n) = read_uvarint(self.buf).ok_or(if self.buf.len() < 10 {
            DecodeError::Eof
        } else {
            DecodeError::BadVarint
        })?;
        self.buf = &self.buf[n..];
        Ok(value)
    }

    /// A uvarint that must fit in 32 bits (symbol references, counts).
    pub fn uvarint32(&mut self) -> Result<u32, DecodeError> {
        u32::try_from(self.uvarint()?).map_err(|_| DecodeError::BadVarint)
    }

    /// A zig-zag encoded signed varint.
    pub fn varint(&mut self) -> Result<i64, DecodeError> {
        let u = self.uvarint()?;
        Ok((u >> 1) as i64 ^ -((u & 1) as i64))
    }

    /// A uvarint length followed by that many bytes of UTF-8.
    pub fn uvarint_str(&mut self) -> Result<&'a str, DecodeError> {
        let len = usize::try_from(self.uvarint()?).map_err(|_| DecodeError::BadVarint)?;
        std::str::from_utf8(self.bytes(len)?).map_err(|_| DecodeError::BadUtf8)
    }
}

/// Writers of the encodings above, for tests that build their input by hand.
#[cfg(test)]
pub(crate) mod write {
    pub fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push(v as u8 | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    /// A zig-zag encoded signed varint.
    pub fn put_varint(out: &mut Vec<u8>, v: i64) {
        put_uvarint(out, ((v << 1) ^ (v >> 63)) as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::write::put_varint;
    use super::*;

    #[test]
    fn varints_round_trip() {
        for v in [0i64, 1, -1, 63, -64, 64, 1 << 40, i64::MIN, i64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            let mut d = Decbuf::new(&out);
            assert_eq!(d.varint(), Ok(v));
            assert!(d.is_empty());
        }
    }

    #[test]
    fn short_and_bad_input_is_an_error() {
        assert_eq!(Decbuf::new(&[1, 2]).be32(), Err(DecodeError::Eof));
        assert_eq!(Decbuf::new(&[0x80]).uvarint(), Err(DecodeError::Eof));
        assert_eq!(
            Decbuf::new(&[0xff; 11]).uvarint(),
            Err(DecodeError::BadVarint)
        );
        assert_eq!(Decbuf::new(&[5, b'a']).uvarint_str(), Err(DecodeError::Eof));
        assert_eq!(
            Decbuf::new(&[2, 0xff, 0xfe]).uvarint_str(),
            Err(DecodeError::BadUtf8)
        );
        assert!(matches!(
            check_crc(b"abc", &[0, 0, 0, 0]),
            Err(DecodeError::Crc { .. })
        ));
        assert_eq!(
            check_crc(b"abc", &crc32c::crc32c(b"abc").to_be_bytes()),
            Ok(())
        );
    }
}
