//! The framing of Prometheus' streamed remote-read answer: each frame is a uvarint payload
//! length, a big-endian CRC32-Castagnoli of the payload, then the payload
//! (a `ChunkedReadResponse`).

use crate::error::StoreError;
use bytes::{Buf, Bytes, BytesMut};

/// A frame larger than this is refused as corrupt (Prometheus cuts frames at 1 MiB).
pub const MAX_FRAME_BYTES: usize = 256 << 20;

/// Accumulates received bytes and hands out complete, checksum-verified frame payloads.
#[derive(Default)]
pub struct FrameReader {
    buffer: BytesMut,
}

impl FrameReader {
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// The next complete payload, `None` if more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Bytes>, StoreError> {
        let Some((length, header)) = read_uvarint(&self.buffer)? else {
            return Ok(None);
        };
        let length = usize::try_from(length)
            .ok()
            .filter(|&l| l <= MAX_FRAME_BYTES)
            .ok_or_else(|| {
                StoreError::BadData(format!("remote-read frame of {length} bytes is too large"))
            })?;
        if self.buffer.len() < header + 4 + length {
            return Ok(None);
        }
        self.buffer.advance(header);
        let expected = self.buffer.get_u32();
        let payload = self.buffer.split_to(length).freeze();
        let actual = crc32c::crc32c(&payload);
        if actual != expected {
            return Err(StoreError::BadData(format!(
                "remote-read frame checksum mismatch: got {actual:#010x}, frame says {expected:#010x}"
            )));
        }
        Ok(Some(payload))
    }

    /// Bytes left over that do not make a whole frame; non-zero at the end of the body means
    /// the answer was cut short.
    pub fn pending(&self) -> usize {
        self.buffer.len()
    }
}

/// Reads a uvarint; `None` if the buffer ends inside it.
fn read_uvarint(buf: &[u8]) -> Result<Option<(u64, usize)>, StoreError> {
    match crate::encoding::read_uvarint(buf) {
        Some(value) => Ok(Some(value)),
        // Ten bytes and still no end: not a varint.
        None if buf.len() >= 10 => Err(StoreError::BadData(
            "remote-read frame length is not a valid varint".into(),
        )),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        crate::encoding::write::put_uvarint(&mut out, payload.len() as u64);
        out.extend_from_slice(&crc32c::crc32c(payload).to_be_bytes());
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn frames_split_anywhere() {
        let big = vec![7u8; 300];
        let mut wire = frame(b"hello");
        wire.extend(frame(&big));
        for split in 0..wire.len() {
            let mut reader = FrameReader::default();
            let mut got = Vec::new();
            for part in [&wire[..split], &wire[split..]] {
                reader.push(part);
                while let Some(p) = reader.next_frame().unwrap() {
                    got.push(p);
                }
            }
            assert_eq!(
                got,
                vec![Bytes::from_static(b"hello"), Bytes::from(big.clone())]
            );
            assert_eq!(reader.pending(), 0);
        }
    }

    #[test]
    fn corrupt_frames_are_errors() {
        let mut wire = frame(b"hello");
        let last = wire.len() - 1;
        wire[last] ^= 1;
        let mut reader = FrameReader::default();
        reader.push(&wire);
        assert!(reader.next_frame().is_err());

        let mut reader = FrameReader::default();
        reader.push(&[0xff; 11]);
        assert!(reader.next_frame().is_err());

        let mut reader = FrameReader::default();
        reader.push(&[0xff, 0xff, 0xff, 0xff, 0x7f]);
        assert!(reader.next_frame().is_err(), "a huge length is refused");
    }
}
