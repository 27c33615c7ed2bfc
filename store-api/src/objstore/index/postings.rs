//! Postings lists: the sorted series references holding a label pair, and the set
//! operations that turn matchers into the series to read.

use super::{IndexError, decode_err};
use crate::encoding::{Decbuf, crc_section};
use std::borrow::Borrow;

/// Decodes one postings list (length, count, be32 references, CRC). `bytes` may run past the
/// list's end (alignment padding, the next list).
pub fn decode(bytes: &[u8]) -> Result<Vec<u32>, IndexError> {
    let err = decode_err("postings");
    let mut d = Decbuf::new(crc_section(bytes).map_err(&err)?);
    let count = d.be32().map_err(&err)? as usize;
    if d.len() != count * 4 {
        return Err(IndexError::Invalid(format!(
            "postings list of {count} entries in {} bytes",
            d.len()
        )));
    }
    let refs: Vec<u32> = d
        .rest()
        .chunks_exact(4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    if refs.windows(2).any(|w| w[0] >= w[1]) {
        return Err(IndexError::Invalid("postings list not sorted".into()));
    }
    Ok(refs)
}

/// References in both sorted lists.
pub fn intersect(a: &[u32], b: &[u32]) -> Vec<u32> {
    let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let mut out = Vec::with_capacity(small.len());
    let mut rest = large;
    for &x in small {
        // Galloping through the larger list keeps one rare label cheap against a common one.
        let i = rest.partition_point(|&y| y < x);
        rest = &rest[i..];
        match rest.first() {
            Some(&y) if y == x => out.push(x),
            Some(_) => {}
            None => break,
        }
    }
    out
}

/// References in any of the sorted lists.
pub fn union<L: Borrow<Vec<u32>>>(lists: &[L]) -> Vec<u32> {
    match lists {
        [] => Vec::new(),
        [one] => one.borrow().clone(),
        _ => {
            let mut all: Vec<u32> = lists
                .iter()
                .flat_map(|l| l.borrow().iter().copied())
                .collect();
            all.sort_unstable();
            all.dedup();
            all
        }
    }
}

/// References of `a` not in `b` (both sorted).
pub fn subtract(a: &[u32], b: &[u32]) -> Vec<u32> {
    let mut out = Vec::with_capacity(a.len());
    let mut j = 0;
    for &x in a {
        while j < b.len() && b[j] < x {
            j += 1;
        }
        if j >= b.len() || b[j] != x {
            out.push(x);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn encode(refs: &[u32]) -> Vec<u8> {
        let mut content = (refs.len() as u32).to_be_bytes().to_vec();
        for r in refs {
            content.extend_from_slice(&r.to_be_bytes());
        }
        let mut out = (content.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(&content);
        out.extend_from_slice(&crc32c::crc32c(&content).to_be_bytes());
        out
    }

    #[test]
    fn decodes_and_rejects_corruption() {
        let mut bytes = encode(&[1, 5, 9]);
        bytes.extend_from_slice(&[0, 0, 0]); // padding before the next list
        assert_eq!(decode(&bytes).unwrap(), vec![1, 5, 9]);
        bytes[9] ^= 1;
        assert!(decode(&bytes).is_err());
        assert!(decode(&encode(&[5, 1])).is_err());
        assert!(decode(&[0, 0]).is_err());
    }

    proptest! {
        #[test]
        fn set_operations_match_btreeset(a in prop::collection::btree_set(0u32..200, 0..60),
                                         b in prop::collection::btree_set(0u32..200, 0..60)) {
            let va: Vec<u32> = a.iter().copied().collect();
            let vb: Vec<u32> = b.iter().copied().collect();
            prop_assert_eq!(intersect(&va, &vb), a.intersection(&b).copied().collect::<Vec<_>>());
            prop_assert_eq!(union(&[&va, &vb]), a.union(&b).copied().collect::<Vec<_>>());
            prop_assert_eq!(subtract(&va, &vb), a.difference(&b).copied().collect::<Vec<_>>());
        }
    }
}
