//! Series entries: a series' labels (as symbol references) and the metadata of its chunks.
//!
//! ```text
//! len (uvarint) | #labels (uvarint) | (name ref, value ref)* (uvarint32) | #chunks (uvarint)
//!   | first chunk: mint (varint), maxt - mint (uvarint), ref (uvarint)
//!   | next chunks: mint - prev maxt (uvarint), maxt - mint (uvarint), ref delta (varint)
//!   | CRC32-C of everything after len (4)
//! ```

use super::{IndexError, Symbols, decode_err};
use crate::encoding::{Decbuf, check_crc, read_uvarint};
use crate::labels::{Label, Labels};

/// Where a chunk lies and which samples it holds (inclusive times, milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkMeta {
    pub min_time: i64,
    pub max_time: i64,
    /// Segment sequence number (upper 32 bits) and offset (lower 32 bits).
    pub reference: u64,
}

impl ChunkMeta {
    pub fn overlaps(&self, min_time: i64, max_time: i64) -> bool {
        self.min_time <= max_time && min_time <= self.max_time
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SeriesEntry {
    pub labels: Labels,
    pub chunks: Vec<ChunkMeta>,
}

impl SeriesEntry {
    pub fn memory_bytes(&self) -> usize {
        let labels: usize = self
            .labels
            .iter()
            .map(|l| l.name.len() + l.value.len() + 48)
            .sum();
        labels + self.chunks.len() * std::mem::size_of::<ChunkMeta>() + 64
    }
}

/// How many bytes the entry starting at `bytes` takes, length prefix and CRC included; `None`
/// when `bytes` ends inside the length.
pub fn entry_len(bytes: &[u8]) -> Option<u64> {
    let (len, prefix) = read_uvarint(bytes)?;
    Some(len.saturating_add(prefix as u64 + 4))
}

/// Decodes the entry at the start of `bytes`, which must hold all of it (see [`entry_len`]).
pub fn decode(bytes: &[u8], symbols: &Symbols) -> Result<SeriesEntry, IndexError> {
    let err = decode_err("series");
    let mut d = Decbuf::new(bytes);
    let len = usize::try_from(d.uvarint().map_err(&err)?)
        .map_err(|_| IndexError::Invalid("series entry too long".into()))?;
    let content = d.bytes(len).map_err(&err)?;
    check_crc(content, d.bytes(4).map_err(&err)?).map_err(&err)?;
    let mut d = Decbuf::new(content);
    let label_count = d.uvarint().map_err(&err)?;
    let mut labels = Vec::with_capacity(label_count.min(64) as usize);
    for _ in 0..label_count {
        let name = symbols.get(d.uvarint32().map_err(&err)?)?;
        let value = symbols.get(d.uvarint32().map_err(&err)?)?;
        labels.push(Label::new(name, value));
    }
    if !Labels::is_sorted_unique(&labels) {
        return Err(IndexError::Invalid(
            "series labels not sorted and unique".into(),
        ));
    }
    let chunk_count = d.uvarint().map_err(&err)?;
    let mut chunks = Vec::with_capacity(chunk_count.min(1024) as usize);
    for i in 0..chunk_count {
        let chunk = if i == 0 {
            let min_time = d.varint().map_err(&err)?;
            let max_time = min_time.wrapping_add(d.uvarint().map_err(&err)? as i64);
            let reference = d.uvarint().map_err(&err)?;
            ChunkMeta {
                min_time,
                max_time,
                reference,
            }
        } else {
            let prev = chunks[chunks.len() - 1];
            let ChunkMeta {
                max_time: prev_max,
                reference: prev_ref,
                ..
            } = prev;
            let min_time = prev_max.wrapping_add(d.uvarint().map_err(&err)? as i64);
            let max_time = min_time.wrapping_add(d.uvarint().map_err(&err)? as i64);
            let reference = prev_ref.wrapping_add_signed(d.varint().map_err(&err)?);
            ChunkMeta {
                min_time,
                max_time,
                reference,
            }
        };
        if chunk.max_time < chunk.min_time {
            return Err(IndexError::Invalid(
                "chunk with max time before min time".into(),
            ));
        }
        chunks.push(chunk);
    }
    Ok(SeriesEntry {
        labels: Labels::from_sorted(labels),
        chunks,
    })
}
