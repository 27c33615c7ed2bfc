//! Prometheus TSDB block chunk segment files (`<block>/chunks/000001`, ...).
//!
//! ```text
//! segment: magic 0x85BD40DD (4 bytes BE) | version 1 (1 byte) | padding (3 bytes) | chunk*
//! chunk:   len (uvarint, of data) | encoding (1 byte) | data | CRC32-C of encoding + data (4 bytes BE)
//! ```
//!
//! The index refers to a chunk by a `u64` whose upper 32 bits are the
//! segment's sequence number (file `000001` is 0) and whose lower 32 bits are
//! the chunk's byte offset in that file; see [`ChunkRef`].

/// Magic number at the start of every segment file.
pub const SEGMENT_MAGIC: u32 = 0x85BD_40DD;
/// The only segment format version.
pub const SEGMENT_VERSION: u8 = 1;
/// Length of the segment header (magic, version, padding).
pub const SEGMENT_HEADER_LEN: usize = 8;

/// Chunk encoding byte values (Prometheus `chunkenc.Encoding`).
pub mod encoding {
    /// Float samples, XOR encoded.
    pub const XOR: u8 = 1;
    /// Native histograms with integer counts.
    pub const HISTOGRAM: u8 = 2;
    /// Native histograms with float counts.
    pub const FLOAT_HISTOGRAM: u8 = 3;
}

/// Errors from parsing a segment file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SegmentError {
    /// Shorter than the 8-byte header.
    #[error("chunk segment too short: {len} bytes, the header needs {SEGMENT_HEADER_LEN}")]
    TooShort {
        /// Length of the segment.
        len: usize,
    },
    /// The file does not start with [`SEGMENT_MAGIC`].
    #[error("not a chunk segment: magic {found:#010x}, expected {SEGMENT_MAGIC:#010x}")]
    BadMagic {
        /// The magic found.
        found: u32,
    },
    /// A format version other than [`SEGMENT_VERSION`].
    #[error("unsupported chunk segment version {0}")]
    UnsupportedVersion(u8),
    /// A chunk offset inside the header or past the end of the segment.
    #[error("chunk offset {offset} is outside the segment's chunk area (segment length {len})")]
    BadOffset {
        /// Requested offset.
        offset: usize,
        /// Length of the segment.
        len: usize,
    },
    /// The length varint is malformed or overflows.
    #[error("invalid chunk length at offset {offset}")]
    BadLength {
        /// Offset of the chunk.
        offset: usize,
    },
    /// The chunk runs past the end of the segment.
    #[error("chunk at offset {offset} truncated: needs {needed} bytes, {available} left")]
    Truncated {
        /// Offset of the chunk.
        offset: usize,
        /// Bytes the chunk needs (length, encoding, data, CRC).
        needed: u64,
        /// Bytes left in the segment from `offset`.
        available: usize,
    },
    /// The stored CRC does not match the chunk.
    #[error(
        "chunk at offset {offset}: CRC32-C mismatch (stored {stored:#010x}, computed {computed:#010x})"
    )]
    CrcMismatch {
        /// Offset of the chunk.
        offset: usize,
        /// CRC stored in the segment.
        stored: u32,
        /// CRC of the chunk's encoding byte and data.
        computed: u32,
    },
}

/// Reference to a chunk in a block: segment sequence number and offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChunkRef {
    /// Segment sequence number; file name is `format!("{:06}", segment + 1)`.
    pub segment: u32,
    /// Byte offset of the chunk in the segment file.
    pub offset: u32,
}

impl ChunkRef {
    /// Splits an index chunk reference.
    pub fn from_u64(r: u64) -> Self {
        Self {
            segment: (r >> 32) as u32,
            offset: r as u32,
        }
    }

    /// The packed index representation.
    pub fn to_u64(self) -> u64 {
        u64::from(self.segment) << 32 | u64::from(self.offset)
    }

    /// File name of the segment inside the block's `chunks/` directory.
    pub fn segment_file_name(self) -> String {
        format!("{:06}", u64::from(self.segment) + 1)
    }
}

/// A chunk read from a segment, borrowing its data from the segment bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk<'a> {
    /// Byte offset of the chunk (its length varint) in the segment.
    pub offset: usize,
    /// Encoding byte; see [`encoding`].
    pub encoding: u8,
    /// The chunk data (for XOR, what [`super::XorDecoder`] takes).
    pub data: &'a [u8],
}

/// Checks the segment header.
pub fn check_header(segment: &[u8]) -> Result<(), SegmentError> {
    let Some(header) = segment.first_chunk::<SEGMENT_HEADER_LEN>() else {
        return Err(SegmentError::TooShort { len: segment.len() });
    };
    let magic = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
    if magic != SEGMENT_MAGIC {
        return Err(SegmentError::BadMagic { found: magic });
    }
    if header[4] != SEGMENT_VERSION {
        return Err(SegmentError::UnsupportedVersion(header[4]));
    }
    Ok(())
}

/// Reads the chunk at `offset` and verifies its CRC. Returns it and the
/// offset just past it. The segment header is not checked here.
pub fn read_chunk(segment: &[u8], offset: usize) -> Result<(Chunk<'_>, usize), SegmentError> {
    match segment.get(offset..) {
        Some(rest) if offset >= SEGMENT_HEADER_LEN => {
            chunk_at(rest, offset).map(|(chunk, len)| (chunk, offset + len))
        }
        _ => Err(SegmentError::BadOffset {
            offset,
            len: segment.len(),
        }),
    }
}

/// Reads the chunk at the start of `bytes` (a ranged read from `offset` of a segment) and
/// verifies its CRC. Returns it and the bytes it takes; [`SegmentError::Truncated`] says how
/// many bytes it needs when `bytes` holds only its start.
pub fn chunk_at(bytes: &[u8], offset: usize) -> Result<(Chunk<'_>, usize), SegmentError> {
    let (len, varint_len) = crate::encoding::read_uvarint(bytes).ok_or(if bytes.len() < 10 {
        SegmentError::Truncated {
            offset,
            needed: 10,
            available: bytes.len(),
        }
    } else {
        SegmentError::BadLength { offset }
    })?;
    // Length varint, encoding byte, data and CRC; saturating so a corrupt
    // length can't wrap around.
    let needed = len.saturating_add(varint_len as u64 + 1 + 4);
    if needed > bytes.len() as u64 {
        return Err(SegmentError::Truncated {
            offset,
            needed,
            available: bytes.len(),
        });
    }
    // Fits in `bytes`, so also in usize.
    let body_end = varint_len + 1 + len as usize;
    let body = &bytes[varint_len..body_end];
    let stored = u32::from_be_bytes([
        bytes[body_end],
        bytes[body_end + 1],
        bytes[body_end + 2],
        bytes[body_end + 3],
    ]);
    let computed = crc32c::crc32c(body);
    if stored != computed {
        return Err(SegmentError::CrcMismatch {
            offset,
            stored,
            computed,
        });
    }
    let chunk = Chunk {
        offset,
        encoding: body[0],
        data: &body[1..],
    };
    Ok((chunk, body_end + 4))
}

/// Checks the header of `segment` and iterates over all its chunks.
pub fn chunks(segment: &[u8]) -> Result<Chunks<'_>, SegmentError> {
    check_header(segment)?;
    Ok(Chunks {
        segment,
        offset: SEGMENT_HEADER_LEN,
    })
}

/// Iterator over the chunks of a segment; see [`chunks`]. Stops after the
/// first error.
#[derive(Debug, Clone)]
pub struct Chunks<'a> {
    segment: &'a [u8],
    offset: usize,
}

impl<'a> Iterator for Chunks<'a> {
    type Item = Result<Chunk<'a>, SegmentError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.segment.get(self.offset..).unwrap_or_default();
        // The end, or zero padding of a preallocated file (a real chunk
        // never starts with a zero byte: its length is at least 2).
        if rest.iter().all(|&b| b == 0) {
            return None;
        }
        match read_chunk(self.segment, self.offset) {
            Ok((chunk, next)) => {
                self.offset = next;
                Some(Ok(chunk))
            }
            Err(e) => {
                self.offset = self.segment.len();
                Some(Err(e))
            }
        }
    }
}

impl std::iter::FusedIterator for Chunks<'_> {}

/// Decodes a uvarint (at most 10 bytes); returns it and its length.
#[cfg(test)]
mod tests {
    use super::*;

    fn segment_with(chunks: &[(u8, &[u8])]) -> Vec<u8> {
        let mut seg = SEGMENT_MAGIC.to_be_bytes().to_vec();
        seg.extend_from_slice(&[SEGMENT_VERSION, 0, 0, 0]);
        for &(enc, data) in chunks {
            crate::encoding::write::put_uvarint(&mut seg, data.len() as u64);
            let start = seg.len();
            seg.push(enc);
            seg.extend_from_slice(data);
            let crc = crc32c::crc32c(&seg[start..]);
            seg.extend_from_slice(&crc.to_be_bytes());
        }
        seg
    }

    #[test]
    fn iterates_chunks() {
        let big = vec![7u8; 300];
        let seg = segment_with(&[
            (encoding::XOR, &[0, 0]),
            (2, &big),
            (encoding::XOR, &[0, 1, 2]),
        ]);
        let got: Vec<_> = chunks(&seg).unwrap().collect::<Result<_, _>>().unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].offset, 8);
        assert_eq!(got[0].data, &[0, 0]);
        assert_eq!(got[1].offset, 8 + 1 + 1 + 2 + 4);
        assert_eq!((got[1].encoding, got[1].data), (2, &big[..]));
        assert_eq!(got[2].data, &[0, 1, 2]);
        // Random access by offset gives the same chunk.
        assert_eq!(read_chunk(&seg, got[2].offset).unwrap().0, got[2]);
    }

    #[test]
    fn trailing_zero_padding_is_ignored() {
        let mut seg = segment_with(&[(encoding::XOR, &[0, 0])]);
        seg.extend_from_slice(&[0; 16]);
        assert_eq!(chunks(&seg).unwrap().count(), 1);
    }

    #[test]
    fn header_errors() {
        assert_eq!(
            check_header(&[0x85]),
            Err(SegmentError::TooShort { len: 1 })
        );
        let mut seg = segment_with(&[]);
        seg[5] = 1; // padding is not checked
        assert_eq!(check_header(&seg), Ok(()));
        seg[4] = 2;
        assert_eq!(check_header(&seg), Err(SegmentError::UnsupportedVersion(2)));
        seg[0] = 0;
        assert!(matches!(
            check_header(&seg),
            Err(SegmentError::BadMagic { .. })
        ));
    }

    #[test]
    fn chunk_errors() {
        let seg = segment_with(&[(encoding::XOR, &[0, 1, 2, 3])]);
        assert!(matches!(
            read_chunk(&seg, 3),
            Err(SegmentError::BadOffset { .. })
        ));
        assert!(matches!(
            read_chunk(&seg, 999),
            Err(SegmentError::BadOffset { .. })
        ));

        let mut bad = seg.clone();
        bad[11] ^= 0x10;
        assert!(matches!(
            read_chunk(&bad, 8),
            Err(SegmentError::CrcMismatch { .. })
        ));

        for len in SEGMENT_HEADER_LEN + 1..seg.len() {
            assert!(matches!(
                read_chunk(&seg[..len], 8),
                Err(SegmentError::Truncated { .. })
            ));
        }

        // Huge length must not overflow.
        let mut huge = segment_with(&[]);
        huge.extend_from_slice(&[
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 1,
        ]);
        assert!(matches!(
            read_chunk(&huge, 8),
            Err(SegmentError::Truncated { .. })
        ));
        let mut overlong = segment_with(&[]);
        overlong.extend_from_slice(&[0xff; 11]);
        assert_eq!(
            read_chunk(&overlong, 8),
            Err(SegmentError::BadLength { offset: 8 })
        );

        // The iterator reports the error once, then stops.
        let mut it = chunks(&bad).unwrap();
        assert!(it.next().unwrap().is_err());
        assert!(it.next().is_none());
    }

    #[test]
    fn chunk_ref_round_trip() {
        let r = ChunkRef::from_u64(0x0000_0002_0000_1234);
        assert_eq!(
            r,
            ChunkRef {
                segment: 2,
                offset: 0x1234
            }
        );
        assert_eq!(r.to_u64(), 0x0000_0002_0000_1234);
        assert_eq!(r.segment_file_name(), "000003");
    }
}
