//! A block's `tombstones` file: time ranges deleted from series after the block was written
//! (Prometheus' delete API). Samples inside them must not be served.
//!
//! ```text
//! magic 0x0130BA30 (4) | version 1 (1) | (series ref uvarint, mint varint, maxt varint)*
//!   | CRC32-C of the entries (4)
//! ```

use crate::encoding::{Decbuf, DecodeError, check_crc};
use std::collections::HashMap;

pub const TOMBSTONES_MAGIC: u32 = 0x0130_BA30;

/// Deleted inclusive time ranges by series reference.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Tombstones(HashMap<u64, Vec<(i64, i64)>>);

impl Tombstones {
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let bad = |what: &str| format!("tombstones: {what}");
        let (body, crc) = bytes
            .split_at_checked(bytes.len().saturating_sub(4))
            .filter(|(body, _)| body.len() >= 5)
            .ok_or_else(|| bad("file too short"))?;
        let mut d = Decbuf::new(body);
        let magic = d.be32().map_err(|e| bad(&e.to_string()))?;
        if magic != TOMBSTONES_MAGIC {
            return Err(bad(&format!("bad magic {magic:#010x}")));
        }
        let version = d.byte().map_err(|e| bad(&e.to_string()))?;
        if version != 1 {
            return Err(bad(&format!("version {version}")));
        }
        check_crc(d.rest(), crc).map_err(|e| bad(&e.to_string()))?;
        let mut stones = Tombstones::default();
        while !d.is_empty() {
            let (series, min, max) = read_stone(&mut d).map_err(|e| bad(&e.to_string()))?;
            stones.0.entry(series).or_default().push((min, max));
        }
        Ok(stones)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The deleted ranges of a series (empty when none).
    pub fn get(&self, series: u64) -> &[(i64, i64)] {
        self.0.get(&series).map_or(&[], Vec::as_slice)
    }
}

/// One entry: series reference, first and last deleted millisecond.
fn read_stone(d: &mut Decbuf<'_>) -> Result<(u64, i64, i64), DecodeError> {
    Ok((d.uvarint()?, d.varint()?, d.varint()?))
}

/// Whether `t` lies in one of the deleted ranges.
pub fn is_deleted(deleted: &[(i64, i64)], t: i64) -> bool {
    deleted.iter().any(|&(min, max)| min <= t && t <= max)
}

/// Whether the ranges cover all of `[min, max]`.
pub fn covers(deleted: &[(i64, i64)], min: i64, max: i64) -> bool {
    deleted
        .iter()
        .any(|&(dmin, dmax)| dmin <= min && max <= dmax)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::write::{put_uvarint, put_varint};

    fn file(entries: &[(u64, i64, i64)]) -> Vec<u8> {
        let mut body = Vec::new();
        for &(r, min, max) in entries {
            put_uvarint(&mut body, r);
            put_varint(&mut body, min);
            put_varint(&mut body, max);
        }
        let mut out = TOMBSTONES_MAGIC.to_be_bytes().to_vec();
        out.push(1);
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32c::crc32c(&body).to_be_bytes());
        out
    }

    #[test]
    fn parses_entries_and_rejects_corruption() {
        let bytes = file(&[(3, 100, 200), (3, 500, i64::MAX), (7, -5, 5)]);
        let stones = Tombstones::parse(&bytes).unwrap();
        assert_eq!(stones.get(3), &[(100, 200), (500, i64::MAX)]);
        assert!(is_deleted(stones.get(7), 0));
        assert!(!is_deleted(stones.get(3), 300));
        assert!(covers(stones.get(3), 120, 180));
        assert!(stones.get(4).is_empty());
        assert!(Tombstones::parse(&file(&[])).unwrap().is_empty());
        let mut corrupt = bytes.clone();
        corrupt[6] ^= 0xff;
        assert!(Tombstones::parse(&corrupt).is_err());
        assert!(Tombstones::parse(&bytes[..3]).is_err());
    }
}
