//! What a merge consumes: the samples of one replica, the series hint, staleness markers, and a
//! repair for out-of-order input.

use std::fmt;

/// Bit pattern of Prometheus' staleness marker (`value.StaleNaN`).
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// Whether `v` is Prometheus' staleness marker (this exact NaN; other NaNs are ordinary values).
#[inline]
pub fn is_stale(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// The decoded float samples of one replica of a series: timestamps in milliseconds, which
/// must strictly increase, and one value per timestamp.
///
/// [`Replica::new`] checks that; a `Replica` built from its fields is checked by the merge
/// itself, which repairs bad input (see [`DedupAlgorithm::merge`](super::DedupAlgorithm::merge)).
#[derive(Clone, Copy, Debug, Default)]
pub struct Replica<'a> {
    pub timestamps: &'a [i64],
    pub values: &'a [f64],
}

impl<'a> Replica<'a> {
    /// A checked replica: one value per timestamp, timestamps strictly increasing.
    pub fn new(timestamps: &'a [i64], values: &'a [f64]) -> Result<Self, ReplicaError> {
        let r = Self { timestamps, values };
        r.validate()?;
        Ok(r)
    }

    /// Checks one value per timestamp and strictly increasing timestamps (O(n), no allocation).
    /// Out-of-order or repeated timestamps must not silently break a merge (Thanos #6257);
    /// callers that want to report a misbehaving store check here.
    pub fn validate(&self) -> Result<(), ReplicaError> {
        let ts = self.timestamps;
        if ts.len() != self.values.len() {
            return Err(ReplicaError::LengthMismatch {
                timestamps: ts.len(),
                values: self.values.len(),
            });
        }
        match ts.windows(2).position(|w| w[0] >= w[1]) {
            Some(i) => Err(ReplicaError::NotIncreasing {
                index: i + 1,
                previous: ts[i],
                timestamp: ts[i + 1],
            }),
            None => Ok(()),
        }
    }

    /// Number of samples.
    #[inline]
    pub fn len(&self) -> usize {
        self.timestamps.len()
    }

    /// Whether the replica has no samples.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.timestamps.is_empty()
    }

    /// The samples within `[min, max]`.
    pub(super) fn within(&self, (min, max): (i64, i64)) -> Self {
        let from = self.timestamps.partition_point(|&t| t < min);
        let to = self.timestamps.partition_point(|&t| t <= max).max(from);
        Self {
            timestamps: self.timestamps.get(from..to).unwrap_or_default(),
            values: self.values.get(from..to).unwrap_or_default(),
        }
    }

    /// The time of the latest live sample (not a staleness marker) before `t`.
    pub(super) fn live_before(&self, t: i64) -> Option<i64> {
        let end = self.timestamps.partition_point(|&x| x < t);
        (0..end)
            .rev()
            .find(|&i| self.values.get(i).is_some_and(|&v| !is_stale(v)))
            .and_then(|i| self.timestamps.get(i).copied())
    }

    /// The sample at `i`, if any.
    #[inline]
    pub(super) fn get(&self, i: usize) -> Option<(i64, f64)> {
        Some((*self.timestamps.get(i)?, *self.values.get(i)?))
    }
}

/// Why samples cannot be used as a [`Replica`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplicaError {
    /// Not one value per timestamp.
    LengthMismatch { timestamps: usize, values: usize },
    /// `timestamp` at `index` is not after the `previous` one.
    NotIncreasing {
        index: usize,
        previous: i64,
        timestamp: i64,
    },
}

impl fmt::Display for ReplicaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LengthMismatch { timestamps, values } => {
                write!(f, "replica has {timestamps} timestamps but {values} values")
            }
            Self::NotIncreasing {
                index,
                previous,
                timestamp,
            } => write!(
                f,
                "replica samples out of order: timestamp {timestamp} at index {index} \
                 is not after {previous}"
            ),
        }
    }
}

impl std::error::Error for ReplicaError {}

/// Sorts samples by timestamp and keeps the first sample of each timestamp (first in input
/// order), so that [`Replica::validate`] accepts them. Already strictly increasing input (the normal
/// case) is left untouched without allocating; only out-of-order input is copied once to sort.
/// If the lengths differ, the longer one is truncated. Returns whether anything changed.
pub fn sort_and_dedup(ts: &mut Vec<i64>, vs: &mut Vec<f64>) -> bool {
    let mut changed = false;
    if ts.len() != vs.len() {
        let n = ts.len().min(vs.len());
        ts.truncate(n);
        vs.truncate(n);
        changed = true;
    }
    if ts.windows(2).all(|w| w[0] < w[1]) {
        return changed;
    }
    if !ts.windows(2).all(|w| w[0] <= w[1]) {
        let mut pairs: Vec<(i64, f64)> = ts.iter().copied().zip(vs.iter().copied()).collect();
        pairs.sort_by_key(|&(t, _)| t); // stable: equal timestamps keep input order
        for (i, (t, v)) in pairs.into_iter().enumerate() {
            ts[i] = t;
            vs[i] = v;
        }
    }
    // Sorted now; drop repeated timestamps in place, keeping the first.
    let mut w = 0;
    for r in 0..ts.len() {
        if w == 0 || ts[r] != ts[w - 1] {
            ts[w] = ts[r];
            vs[w] = vs[r];
            w += 1;
        }
    }
    ts.truncate(w);
    vs.truncate(w);
    true
}

/// What the caller knows about the series from its name: whether it is a counter, so that the
/// counter-aware merge may shift a replica's values to line up with the one it replaces.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SeriesHint {
    /// A counter (only goes up, except on resets): values may be adjusted at replica switches.
    Counter,
    /// Anything else (gauges, unknown): values are passed through untouched.
    #[default]
    Other,
}

impl SeriesHint {
    /// Name suffixes of counters by Prometheus' naming conventions (classic histogram and summary
    /// `_count`/`_sum`/`_bucket` series are counters too).
    pub const COUNTER_SUFFIXES: [&'static str; 4] = ["_total", "_count", "_sum", "_bucket"];

    /// The hint for a metric name (the `__name__` label value).
    pub fn from_metric_name(name: &str) -> Self {
        if Self::COUNTER_SUFFIXES.iter().any(|s| name.ends_with(s)) {
            Self::Counter
        } else {
            Self::Other
        }
    }

    /// Whether values may be treated as a counter.
    #[inline]
    pub fn is_counter(self) -> bool {
        self == Self::Counter
    }
}

/// The first index at or after `from` whose timestamp is not `before`, looking at a few samples
/// linearly first (the usual short hop) and bisecting the rest. `before` must hold for a prefix.
#[inline]
pub(super) fn seek(ts: &[i64], from: usize, before: impl Fn(i64) -> bool) -> usize {
    const LINEAR: usize = 8;
    let mut i = from;
    while i < from + LINEAR {
        match ts.get(i) {
            Some(&t) if before(t) => i += 1,
            Some(_) => return i,
            None => return ts.len(),
        }
    }
    ts.get(i..)
        .map_or(ts.len(), |rest| i + rest.partition_point(|&t| before(t)))
}

/// How often a merged sequence `out` moves from one replica to another: each output sample
/// is some replicas' (those holding its timestamp), and a switch is counted where none of the
/// replicas that could have given the samples since the last switch holds it. The fewest
/// switches that explain `out`, whichever algorithm made it. Up to 64 replicas are told
/// apart (more count as the 64th).
pub(super) fn switches(replicas: &[Replica<'_>], out: &[i64]) -> usize {
    with_states::<usize, _>(replicas.len(), |cursors| {
        let mut switches = 0;
        let mut current = u64::MAX;
        for &t in out {
            let mut holding = 0u64;
            for (i, (r, cursor)) in replicas.iter().zip(cursors.iter_mut()).enumerate() {
                *cursor = seek(r.timestamps, *cursor, |x| x < t);
                if r.timestamps.get(*cursor) == Some(&t) {
                    holding |= 1 << i.min(63);
                }
            }
            let still = current & holding;
            if still == 0 && current != u64::MAX {
                switches += 1;
            }
            current = if still == 0 { holding } else { still };
        }
        switches
    })
}

/// How many per-replica states live on the stack before a merge falls back to one heap
/// allocation (per series, never per sample).
const INLINE_STATES: usize = 8;

/// Runs `f` over `n` default states, on the stack when `n` is small.
pub(super) fn with_states<T: Copy + Default, R>(n: usize, f: impl FnOnce(&mut [T]) -> R) -> R {
    if n <= INLINE_STATES {
        let mut inline = [T::default(); INLINE_STATES];
        f(&mut inline[..n])
    } else {
        let mut heap = vec![T::default(); n];
        f(&mut heap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replica_new_checks_lengths_and_order() {
        assert!(Replica::new(&[1, 2, 3], &[0.0, 1.0, 2.0]).is_ok());
        assert!(Replica::new(&[], &[]).is_ok());
        assert_eq!(
            Replica::new(&[1, 2], &[0.0]).unwrap_err(),
            ReplicaError::LengthMismatch {
                timestamps: 2,
                values: 1
            }
        );
        assert_eq!(
            Replica::new(&[1, 3, 3], &[0.0; 3]).unwrap_err(),
            ReplicaError::NotIncreasing {
                index: 2,
                previous: 3,
                timestamp: 3
            }
        );
        let err = Replica::new(&[5, 4], &[0.0; 2]).unwrap_err();
        assert!(err.to_string().contains("out of order"), "{err}");
    }

    #[test]
    fn sort_and_dedup_repairs_unsorted_input() {
        let (mut ts, mut vs) = (vec![1, 2, 3], vec![1.0, 2.0, 3.0]);
        assert!(!sort_and_dedup(&mut ts, &mut vs));
        assert_eq!(ts, [1, 2, 3]);

        let (mut ts, mut vs) = (vec![3, 1, 2, 1, 3], vec![30.0, 10.0, 20.0, 11.0, 31.0]);
        assert!(sort_and_dedup(&mut ts, &mut vs));
        assert_eq!(ts, [1, 2, 3]);
        assert_eq!(vs, [10.0, 20.0, 30.0]);
        assert!(Replica::new(&ts, &vs).is_ok());

        let (mut ts, mut vs) = (vec![1, 1, 2], vec![1.0, 9.0, 2.0, 7.0]);
        assert!(sort_and_dedup(&mut ts, &mut vs));
        assert_eq!((ts, vs), (vec![1, 2], vec![1.0, 2.0]));
    }

    #[test]
    fn seek_finds_the_first_timestamp_not_before_the_target() {
        let ts: Vec<i64> = (0..100).map(|i| i * 10).collect();
        for from in [0, 3, 50, 99, 100, 200] {
            for target in [-5, 0, 1, 10, 25, 89, 90, 500, 989, 990, 991, 5000] {
                let want = (from.min(ts.len())..ts.len())
                    .find(|&i| ts[i] >= target)
                    .unwrap_or(ts.len());
                assert_eq!(
                    seek(&ts, from, |t| t < target),
                    want,
                    "from {from} target {target}"
                );
            }
        }
        assert_eq!(seek(&[], 0, |t| t < 1), 0);
    }

    #[test]
    fn hint_from_metric_name() {
        for name in [
            "http_requests_total",
            "rpc_duration_seconds_count",
            "rpc_duration_seconds_sum",
            "rpc_duration_seconds_bucket",
        ] {
            assert_eq!(
                SeriesHint::from_metric_name(name),
                SeriesHint::Counter,
                "{name}"
            );
        }
        for name in ["up", "node_memory_free_bytes", "total", "x_created", ""] {
            assert_eq!(
                SeriesHint::from_metric_name(name),
                SeriesHint::Other,
                "{name}"
            );
        }
    }

    #[test]
    fn switches_are_the_fewest_moves_between_replicas() {
        let (a, b) = ([0, 10, 20, 30], [5, 15, 25, 35]);
        let vs = [0.0; 4];
        let reps = [
            Replica::new(&a, &vs).unwrap(),
            Replica::new(&b, &vs).unwrap(),
        ];
        assert_eq!(switches(&reps, &[0, 10, 20, 30]), 0);
        assert_eq!(switches(&reps, &[0, 10, 25, 35]), 1);
        assert_eq!(switches(&reps, &[0, 15, 20]), 2);
        // In phase: every sample is both replicas', no move is needed.
        let same = [
            Replica::new(&a, &vs).unwrap(),
            Replica::new(&a, &vs).unwrap(),
        ];
        assert_eq!(switches(&same, &[0, 10, 20]), 0);
        assert_eq!(switches(&reps, &[]), 0);
    }

    #[test]
    fn stale_marker_is_one_exact_nan() {
        assert!(is_stale(f64::from_bits(STALE_NAN_BITS)));
        assert!(!is_stale(f64::NAN));
        assert!(!is_stale(0.0));
    }
}
