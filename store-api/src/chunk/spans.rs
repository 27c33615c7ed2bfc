//! Bucket-span algebra for appending to histogram chunks, as Prometheus 3.5's
//! `histogram_meta.go` and the appenders' `expand*SpansAndBuckets` do it: which buckets a
//! chunk or a new sample lacks, and how to insert them.
//!
//! Prometheus 3.5 has a few oddities here (fixed after 3.5, in prometheus#16893): an insert
//! of several buckets records the index of its last bucket where the span adjustment reads
//! the first, and the float appender overwrites that index in one branch. They only matter
//! for chunks holding empty buckets with gaps between them, and only for the spans of a sample
//! that both gains and lacks buckets; they are kept, marked "3.5:", so that our chunks stay
//! byte-identical with the reference.

use crate::histogram::Span;

/// The bucket indices `spans` cover, in order (Prometheus' `bucketIterator`).
#[derive(Debug, Clone)]
pub struct BucketIndices<'a> {
    spans: &'a [Span],
    span: usize,
    /// Position in the current span of the last index yielded (-1 before the first).
    bucket: i64,
    index: i64,
}

impl<'a> BucketIndices<'a> {
    pub fn new(spans: &'a [Span]) -> Self {
        Self {
            spans,
            span: 0,
            bucket: -1,
            index: spans.first().map_or(0, |s| i64::from(s.offset)) - 1,
        }
    }
}

impl Iterator for BucketIndices<'_> {
    type Item = i64;

    fn next(&mut self) -> Option<i64> {
        let current = self.spans.get(self.span)?;
        if self.bucket < i64::from(current.length) - 1 {
            self.bucket += 1;
            self.index += 1;
            return Some(self.index);
        }
        while self.span + 1 < self.spans.len() {
            self.span += 1;
            let s = self.spans[self.span];
            self.index += i64::from(s.offset) + 1;
            self.bucket = 0;
            if s.length == 0 {
                self.index -= 1;
                continue;
            }
            return Some(self.index);
        }
        None
    }
}

/// `num` new (empty) buckets to insert before the `pos`-th bucket of the original ones; for
/// backward inserts, `bucket` is the bucket index the adjusted spans get.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Insert {
    pub pos: usize,
    pub num: usize,
    pub bucket: i64,
}

/// Collects inserts: a run of new buckets becomes one insert when it ends.
#[derive(Default)]
struct Inserts {
    done: Vec<Insert>,
    open: Insert,
}

impl Inserts {
    fn flush(&mut self) {
        if self.open.num > 0 {
            self.done.push(self.open);
            self.open.num = 0;
        }
    }

    fn finish(mut self) -> Vec<Insert> {
        self.flush();
        self.done
    }
}

/// Which buckets a counter histogram's chunk and a new sample lack of each other.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Expansion {
    /// Inserts into the chunk's samples for buckets only the new sample has.
    pub forward: Vec<Insert>,
    /// Inserts into the new sample for (empty) buckets only the chunk has.
    pub backward: Vec<Insert>,
}

/// Compares the chunk's buckets (`a`, with the last sample's absolute `a_counts`) with a new
/// sample's (`b`, `b_counts`): `None` if a bucket of `a` is missing in `b` though not empty,
/// or has a lower count in `b` (a counter reset). `float` selects the float appender's
/// variant of Prometheus 3.5 (see the module doc).
pub fn expand_spans_and_buckets<T: Copy + PartialOrd + Default>(
    a: &[Span],
    b: &[Span],
    a_counts: &[T],
    b_counts: &[T],
    float: bool,
) -> Option<Expansion> {
    let zero = T::default();
    let count = |counts: &[T], i: usize| counts.get(i).copied().unwrap_or(zero);
    let (mut ai, mut bi) = (BucketIndices::new(a), BucketIndices::new(b));
    let (mut a_idx, mut b_idx) = (ai.next(), bi.next());
    let (mut a_pos, mut b_pos) = (0, 0);
    // Inserts into a (forward) and into b (backward).
    let (mut into_a, mut into_b) = (Inserts::default(), Inserts::default());
    loop {
        let a_lacks = match (a_idx, b_idx) {
            (Some(x), Some(y)) if x == y => {
                if count(a_counts, a_pos) > count(b_counts, b_pos) {
                    return None;
                }
                into_a.flush();
                into_b.flush();
                (a_idx, b_idx) = (ai.next(), bi.next());
                into_a.open.pos += 1;
                a_pos += 1;
                into_b.open.pos += 1;
                b_pos += 1;
                continue;
            }
            (Some(x), Some(y)) => x > y,
            (None, Some(_)) => true,
            (Some(_), None) => false,
            (None, None) => break,
        };
        if a_lacks {
            // A new bucket: b's bucket is inserted into a.
            into_a.open.num += 1;
            if float {
                // 3.5: the float appender writes the index into b's open insert.
                into_b.open.bucket = b_idx.unwrap_or_default();
            }
            into_b.flush();
            b_idx = bi.next();
            into_b.open.pos += 1;
            b_pos += 1;
        } else {
            // b lacks a's bucket: fine if it is empty, inserted into b.
            if count(a_counts, a_pos) != zero {
                return None;
            }
            into_b.open.num += 1;
            // 3.5: the index of the run's last bucket.
            into_b.open.bucket = a_idx.unwrap_or_default();
            into_a.flush();
            a_idx = ai.next();
            into_a.open.pos += 1;
            a_pos += 1;
        }
    }
    Some(Expansion {
        forward: into_a.finish(),
        backward: into_b.finish(),
    })
}

/// For gauge histograms: inserts to make the chunk's buckets (`a`) and a new sample's (`b`)
/// both cover their union, and the union's spans (Prometheus' `expandSpansBothWays`).
pub fn expand_spans_both_ways(a: &[Span], b: &[Span]) -> (Expansion, Vec<Span>) {
    let mut merged = SpanBuilder::default();
    let (mut ai, mut bi) = (BucketIndices::new(a), BucketIndices::new(b));
    let (mut a_idx, mut b_idx) = (ai.next(), bi.next());
    let (mut into_a, mut into_b) = (Inserts::default(), Inserts::default());
    loop {
        match (a_idx, b_idx) {
            (Some(x), Some(y)) if x == y => {
                into_a.flush();
                into_b.flush();
                merged.push(x);
                (a_idx, b_idx) = (ai.next(), bi.next());
                into_a.open.pos += 1;
                into_b.open.pos += 1;
            }
            (Some(x), Some(y)) if x < y => {
                into_b.open.num += 1;
                into_a.flush();
                merged.push(x);
                into_a.open.pos += 1;
                a_idx = ai.next();
            }
            (Some(_), Some(y)) => {
                into_a.open.num += 1;
                into_b.flush();
                merged.push(y);
                into_b.open.pos += 1;
                b_idx = bi.next();
            }
            // Past the end of one side, Prometheus neither flushes nor moves the other
            // side's open insert.
            (Some(x), None) => {
                into_b.open.num += 1;
                merged.push(x);
                a_idx = ai.next();
            }
            (None, Some(y)) => {
                into_a.open.num += 1;
                merged.push(y);
                b_idx = bi.next();
            }
            (None, None) => break,
        }
    }
    let expansion = Expansion {
        forward: into_a.finish(),
        backward: into_b.finish(),
    };
    (expansion, merged.spans)
}

/// Spans built bucket index by bucket index (the `addBucket` closures of Prometheus).
#[derive(Default)]
struct SpanBuilder {
    spans: Vec<Span>,
    last: i64,
}

impl SpanBuilder {
    fn push(&mut self, bucket: i64) {
        let mut offset = bucket - self.last - 1;
        match self.spans.last_mut() {
            Some(span) if offset == 0 => span.length += 1,
            _ => {
                if self.spans.is_empty() {
                    offset += 1;
                }
                // Go's int32(...) conversion: truncating.
                self.spans.push(Span {
                    offset: offset as i32,
                    length: 1,
                });
            }
        }
        self.last = bucket;
    }
}

/// `spans` with the buckets of backward `inserts` added (Prometheus' `adjustForInserts`).
pub fn adjust_for_inserts(spans: &[Span], inserts: &[Insert]) -> Vec<Span> {
    if inserts.is_empty() {
        return spans.to_vec();
    }
    let mut merged = SpanBuilder::default();
    let mut i = 0;
    let (mut at, mut left) = (inserts[0].bucket, inserts[0].num);
    let consume = |i: &mut usize, at: &mut i64, left: &mut usize| {
        *left -= 1;
        if *left == 0 {
            *i += 1;
            if let Some(next) = inserts.get(*i) {
                (*at, *left) = (next.bucket, next.num);
            }
        } else {
            *at += 1;
        }
    };
    let mut indices = BucketIndices::new(spans).peekable();
    while let Some(&bucket) = indices.peek() {
        if i < inserts.len() && at < bucket {
            merged.push(at);
            consume(&mut i, &mut at, &mut left);
        } else {
            merged.push(bucket);
            indices.next();
        }
    }
    while i < inserts.len() {
        // 3.5: the insert's recorded index, not the running one.
        merged.push(inserts[i].bucket);
        consume(&mut i, &mut at, &mut left);
    }
    merged.spans
}

/// `values` (absolute counts) with the empty buckets of `inserts` added.
pub fn insert_empty<T: Copy + Default>(values: &[T], inserts: &[Insert]) -> Vec<T> {
    let added: usize = inserts.iter().map(|i| i.num).sum();
    let mut out = Vec::with_capacity(values.len() + added);
    let mut pending = inserts.iter().peekable();
    for (i, &v) in values.iter().enumerate() {
        while let Some(ins) = pending.next_if(|ins| ins.pos <= i) {
            out.extend(std::iter::repeat_n(T::default(), ins.num));
        }
        out.push(v);
    }
    for ins in pending {
        out.extend(std::iter::repeat_n(T::default(), ins.num));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(s: &[(i32, u32)]) -> Vec<Span> {
        s.iter()
            .map(|&(offset, length)| Span { offset, length })
            .collect()
    }

    #[test]
    fn bucket_indices_follow_offsets_and_skip_empty_spans() {
        let s = spans(&[(-2, 2), (0, 0), (3, 1), (1, 0), (0, 2)]);
        let got: Vec<i64> = BucketIndices::new(&s).collect();
        assert_eq!(got, [-2, -1, 3, 5, 6]);
        assert_eq!(BucketIndices::new(&[]).next(), None);
        assert_eq!(BucketIndices::new(&spans(&[(4, 0)])).next(), None);
    }

    /// Prometheus' example: spans appended, unchanged, prepended and merged.
    #[test]
    fn expansion_of_prometheus_example() {
        let a = spans(&[(0, 2), (2, 1), (3, 2), (3, 1), (1, 1)]);
        let b = spans(&[(0, 3), (1, 1), (1, 4), (3, 3)]);
        let a_counts = [6i64, 3, 3, 2, 4, 5, 1];
        let b_counts = [6i64, 3, 0, 3, 0, 0, 2, 4, 5, 0, 1];
        let got = expand_spans_and_buckets(&a, &b, &a_counts, &b_counts, false).unwrap();
        let ins = |pos, num| Insert {
            pos,
            num,
            bucket: 0,
        };
        let forward: Vec<_> = got.forward.iter().map(|i| ins(i.pos, i.num)).collect();
        assert_eq!(forward, [ins(2, 1), ins(3, 2), ins(6, 1)]);
        assert!(got.backward.is_empty());
        // Inserting empty buckets into a's counts gives b's layout.
        assert_eq!(
            insert_empty(&a_counts, &got.forward),
            [6, 3, 0, 3, 0, 0, 2, 4, 5, 0, 1]
        );
    }

    #[test]
    fn missing_or_lower_buckets_are_resets_unless_empty() {
        let a = spans(&[(0, 3)]);
        let b = spans(&[(0, 2)]);
        assert_eq!(
            expand_spans_and_buckets(&a, &b, &[1, 1, 1], &[1, 1], false),
            None
        );
        let got = expand_spans_and_buckets(&a, &b, &[1, 1, 0], &[1, 2], false).unwrap();
        assert_eq!(
            got.backward,
            [Insert {
                pos: 2,
                num: 1,
                bucket: 2
            }]
        );
        assert_eq!(
            expand_spans_and_buckets(&a, &a, &[1, 2, 3], &[1, 1, 3], false),
            None
        );
    }

    #[test]
    fn both_ways_merges_spans() {
        let a = spans(&[(0, 2), (2, 1)]); // 0 1 4
        let b = spans(&[(1, 2), (3, 1)]); // 1 2 6
        let (e, merged) = expand_spans_both_ways(&a, &b);
        assert_eq!(merged, spans(&[(0, 3), (1, 1), (1, 1)])); // 0 1 2 4 6
        assert_eq!(insert_empty(&[1, 2, 3], &e.forward), [1, 2, 0, 3, 0]);
        assert_eq!(insert_empty(&[7, 8, 9], &e.backward), [0, 7, 8, 0, 9]);
    }

    #[test]
    fn adjust_adds_inserted_buckets() {
        let s = spans(&[(0, 1), (3, 1)]); // 0 4
        let ins = [Insert {
            pos: 1,
            num: 1,
            bucket: 2,
        }];
        assert_eq!(
            adjust_for_inserts(&s, &ins),
            spans(&[(0, 1), (1, 1), (1, 1)])
        );
        assert_eq!(adjust_for_inserts(&s, &[]), s);
    }
}
