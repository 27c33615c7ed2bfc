//! Prometheus' index format v2 (`<block>/index`), read through ranged reads.
//!
//! ```text
//! magic 0xBAAAD700 (4) | version 2 (1) | symbols | series | label indices | postings
//!   | label offset table | postings offset table | TOC (6 x be64 + CRC32-C)
//! ```
//!
//! [`IndexHeader`] is what a block keeps in memory: the TOC, the symbol table and the postings
//! offset table (every label name and value with the offset of its postings list). Series
//! entries and postings lists stay in the bucket and are read when a query needs them.

pub mod postings;
pub mod series;

use crate::encoding::{Decbuf, DecodeError, check_crc, crc_section};
use std::ops::Range;

pub const INDEX_MAGIC: u32 = 0xBAAA_D700;
pub const INDEX_VERSION: u8 = 2;
pub const TOC_LEN: u64 = 6 * 8 + 4;
/// Series entries start at multiples of this; a series reference is the offset divided by it.
pub const SERIES_ALIGNMENT: u64 = 16;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IndexError {
    #[error("index: {section}: {source}")]
    Decode {
        section: &'static str,
        source: DecodeError,
    },
    #[error("index: {0}")]
    Invalid(String),
}

fn decode_err(section: &'static str) -> impl Fn(DecodeError) -> IndexError {
    move |source| IndexError::Decode { section, source }
}

/// Where each section starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Toc {
    pub symbols: u64,
    pub series: u64,
    pub label_indices: u64,
    pub label_offset_table: u64,
    pub postings: u64,
    pub postings_offset_table: u64,
}

impl Toc {
    pub fn parse(bytes: &[u8], index_size: u64) -> Result<Self, IndexError> {
        let err = decode_err("TOC");
        let (content, crc) = bytes
            .split_at_checked(bytes.len().saturating_sub(4))
            .ok_or_else(|| err(DecodeError::Eof))?;
        check_crc(content, crc).map_err(&err)?;
        let mut d = Decbuf::new(content);
        let toc = Toc {
            symbols: d.be64().map_err(&err)?,
            series: d.be64().map_err(&err)?,
            label_indices: d.be64().map_err(&err)?,
            label_offset_table: d.be64().map_err(&err)?,
            postings: d.be64().map_err(&err)?,
            postings_offset_table: d.be64().map_err(&err)?,
        };
        // The sections follow each other in this order; anything else is corruption.
        let order = [
            5,
            toc.symbols,
            toc.series,
            toc.label_indices,
            toc.postings,
            toc.label_offset_table,
            toc.postings_offset_table,
            index_size - TOC_LEN,
        ];
        if order.windows(2).any(|w| w[0] > w[1]) {
            return Err(IndexError::Invalid(format!(
                "TOC sections out of order: {toc:?} in an index of {index_size} bytes"
            )));
        }
        Ok(toc)
    }

    /// The series section: every series reference points into it.
    pub fn series_range(&self) -> Range<u64> {
        self.series..self.label_indices
    }
}

/// The symbol table: every string of the index, referenced by position.
#[derive(Debug, Default)]
pub struct Symbols {
    text: String,
    ends: Vec<u32>,
}

impl Symbols {
    /// Parses the table from its section (length, count, strings, CRC).
    pub fn parse(section: &[u8]) -> Result<Self, IndexError> {
        let err = decode_err("symbols");
        let content = crc_section(section).map_err(&err)?;
        let mut d = Decbuf::new(content);
        let count = d.be32().map_err(&err)? as usize;
        let mut symbols = Symbols {
            text: String::with_capacity(content.len()),
            ends: Vec::with_capacity(count.min(content.len())),
        };
        for _ in 0..count {
            symbols.text.push_str(d.uvarint_str().map_err(&err)?);
            let end = u32::try_from(symbols.text.len())
                .map_err(|_| IndexError::Invalid("symbol table over 4 GiB".into()))?;
            symbols.ends.push(end);
        }
        Ok(symbols)
    }

    pub fn get(&self, reference: u32) -> Result<&str, IndexError> {
        let i = reference as usize;
        let end = *self.ends.get(i).ok_or_else(|| {
            IndexError::Invalid(format!("symbol reference {reference} out of range"))
        })? as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        Ok(&self.text[start..end])
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn memory_bytes(&self) -> usize {
        self.text.capacity() + self.ends.capacity() * 4
    }
}

/// The postings offset table: for every label name, its values (sorted) and where each
/// value's postings list lies in the index.
#[derive(Debug, Default)]
pub struct PostingsTable {
    /// Sorted label names, each with the range of its values in `values`/`starts`.
    names: Vec<(Box<str>, Range<usize>)>,
    values: Vec<Box<str>>,
    /// Start offset of each value's postings list; one more entry: where the last one ends.
    starts: Vec<u64>,
}

impl PostingsTable {
    /// Parses the table (length, count, entries, CRC); `postings_end` is where the postings
    /// section ends (the last list ends there).
    pub fn parse(section: &[u8], postings_end: u64) -> Result<Self, IndexError> {
        let err = decode_err("postings offset table");
        let mut d = Decbuf::new(crc_section(section).map_err(&err)?);
        let count = d.be32().map_err(&err)? as usize;
        let mut table = PostingsTable::default();
        for _ in 0..count {
            if d.uvarint().map_err(&err)? != 2 {
                return Err(IndexError::Invalid(
                    "postings offset table entry without 2 keys".into(),
                ));
            }
            let name = d.uvarint_str().map_err(&err)?;
            let value = d.uvarint_str().map_err(&err)?;
            let start = d.uvarint().map_err(&err)?;
            let i = table.values.len();
            match table.names.last_mut() {
                Some((last, range)) if **last == *name => range.end = i + 1,
                Some((last, _)) if **last > *name => {
                    return Err(IndexError::Invalid(
                        "postings offset table not sorted".into(),
                    ));
                }
                _ => table.names.push((name.into(), i..i + 1)),
            }
            if table.starts.last().is_some_and(|&prev| prev > start) {
                return Err(IndexError::Invalid(
                    "postings offsets not increasing".into(),
                ));
            }
            table.values.push(value.into());
            table.starts.push(start);
        }
        table.starts.push(postings_end);
        Ok(table)
    }

    /// Label names, without the all-postings key `""`.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names
            .iter()
            .map(|(n, _)| &**n)
            .filter(|n| !n.is_empty())
    }

    fn name_range(&self, name: &str) -> Option<Range<usize>> {
        let i = self.names.binary_search_by(|(n, _)| (**n).cmp(name)).ok()?;
        Some(self.names[i].1.clone())
    }

    /// The values of `name`, each with the byte range of its postings list.
    pub fn values<'a>(&'a self, name: &str) -> impl Iterator<Item = (&'a str, Range<u64>)> + 'a {
        self.name_range(name)
            .into_iter()
            .flatten()
            .map(|i| (&*self.values[i], self.starts[i]..self.starts[i + 1]))
    }

    /// The byte range of the postings list of `name="value"`.
    pub fn lookup(&self, name: &str, value: &str) -> Option<Range<u64>> {
        let range = self.name_range(name)?;
        let i = self.values[range.clone()]
            .binary_search_by(|v| (**v).cmp(value))
            .ok()?
            + range.start;
        Some(self.starts[i]..self.starts[i + 1])
    }

    pub fn memory_bytes(&self) -> usize {
        let strings: usize = self.values.iter().map(|v| v.len() + 16).sum::<usize>()
            + self.names.iter().map(|(n, _)| n.len() + 32).sum::<usize>();
        strings + self.starts.capacity() * 8
    }
}

/// What a block keeps of its index in memory.
#[derive(Debug)]
pub struct IndexHeader {
    pub size: u64,
    pub toc: Toc,
    pub symbols: Symbols,
    pub postings: PostingsTable,
}

impl IndexHeader {
    /// The byte range holding the TOC, at the end of an index of `size` bytes.
    pub fn toc_range(size: u64) -> Result<Range<u64>, IndexError> {
        if size < 5 + TOC_LEN {
            return Err(IndexError::Invalid(format!(
                "index of {size} bytes is too short"
            )));
        }
        Ok(size - TOC_LEN..size)
    }

    /// Builds the header from the TOC, the start of the file up to the series (magic, version,
    /// symbols) and the postings offset table section.
    pub fn parse(
        size: u64,
        toc: Toc,
        head: &[u8],
        postings_table: &[u8],
    ) -> Result<Self, IndexError> {
        let err = decode_err("header");
        let mut d = Decbuf::new(head);
        let magic = d.be32().map_err(&err)?;
        if magic != INDEX_MAGIC {
            return Err(IndexError::Invalid(format!(
                "bad magic {magic:#010x}, not a Prometheus index"
            )));
        }
        let version = d.byte().map_err(&err)?;
        if version != INDEX_VERSION {
            return Err(IndexError::Invalid(format!(
                "index format version {version}, only 2 is read"
            )));
        }
        let symbols_at = usize::try_from(toc.symbols)
            .ok()
            .and_then(|at| head.get(at..))
            .ok_or_else(|| err(DecodeError::Eof))?;
        Ok(IndexHeader {
            size,
            toc,
            symbols: Symbols::parse(symbols_at)?,
            postings: PostingsTable::parse(postings_table, toc.label_offset_table)?,
        })
    }

    /// The sections `parse` needs besides the TOC: the file's start up to the series, and
    /// the postings offset table.
    pub fn section_ranges(toc: &Toc, size: u64) -> [Range<u64>; 2] {
        [0..toc.series, toc.postings_offset_table..size - TOC_LEN]
    }

    pub fn memory_bytes(&self) -> usize {
        self.symbols.memory_bytes() + self.postings.memory_bytes()
    }
}
