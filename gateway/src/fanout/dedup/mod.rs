//! Replica de-duplication: merge the replicas of ONE series (the same labels once the replica
//! labels are removed) into one sample sequence.
//!
//! Three algorithms, one per file, chosen by `--deduplication.func` (see [`DedupAlgorithm`]):
//! - `penalty.rs`, [`DedupAlgorithm::Penalty`]: Thanos' algorithm, reproduced exactly (the
//!   behaviour Thanos users know, with its defects: late switch into gaps, counter spikes).
//! - `chain.rs`, [`DedupAlgorithm::Chain`]: Prometheus' chained merge, a union by timestamp.
//! - `counter.rs`, [`DedupAlgorithm::CounterAware`], the default: follows one replica, switches
//!   at the first usable sample of another when the followed one has a gap, never doubles the
//!   sample rate, and for counters shifts the values of the replica switched to so that a
//!   switch is neither a reset nor a jump (the algorithm and its reasons are in that file).
//!
//! Contract shared by all: the output replaces the contents of the caller's buffers (their
//! capacity is reused), has strictly increasing timestamps, and every output timestamp is a
//! timestamp of some input sample. Replicas are checked first (one pass); unsorted or
//! duplicated timestamps are repaired on a copy rather than silently breaking the merge. No
//! allocation per sample; per-replica state lives on the stack for up to 8 replicas.

mod chain;
mod counter;
mod penalty;
#[cfg(test)]
mod properties;
mod replica;
#[cfg(test)]
mod simulation;
#[cfg(test)]
mod testutil;

pub use replica::{Replica, ReplicaError, STALE_NAN_BITS, SeriesHint, is_stale, sort_and_dedup};

use std::fmt;
use std::str::FromStr;

/// How the replicas of a series are merged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum DedupAlgorithm {
    /// Thanos' penalty algorithm (`penalty`).
    Penalty,
    /// Union by timestamp, the first replica wins ties (`chain`).
    Chain,
    /// Gap-aware, rate-preserving and, for counters, offset-correcting (`counter-aware`).
    #[default]
    CounterAware,
}

impl DedupAlgorithm {
    /// Every algorithm, in the order of their CLI names.
    pub const ALL: [Self; 3] = [Self::Penalty, Self::Chain, Self::CounterAware];

    /// The CLI name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Penalty => "penalty",
            Self::Chain => "chain",
            Self::CounterAware => "counter-aware",
        }
    }

    /// Merges `replicas` into `out_ts`/`out_vs` (cleared first; their capacity is reused).
    /// `hint` only matters to [`DedupAlgorithm::CounterAware`].
    ///
    /// Replicas that fail [`Replica::validate`] (out-of-order or repeated timestamps, lengths
    /// that differ) are merged from a repaired copy ([`sort_and_dedup`]); that copy is the only
    /// allocation proportional to the input, and only bad input pays it.
    pub fn merge(
        &self,
        replicas: &[Replica<'_>],
        hint: SeriesHint,
        out_ts: &mut Vec<i64>,
        out_vs: &mut Vec<f64>,
    ) -> usize {
        self.merge_within(replicas, hint, (i64::MIN, i64::MAX), out_ts, out_vs)
    }

    /// Like [`DedupAlgorithm::merge`], for samples read over `range` (a request's start and
    /// end, milliseconds, inclusive). Only the samples within it are merged; replicas may hold
    /// more (whole chunks), and [`DedupAlgorithm::CounterAware`] looks at those just before
    /// it to see which scrape round the range's start cuts. The range tells it whether a
    /// replica misses a scrape at either end: one whose first and last samples are less than
    /// an interval from them misses none there, and if it misses none inside either it is
    /// the answer as it is; otherwise the replica followed at the end whose last sample is
    /// less than 7/8 of an interval before it has its next scrape not yet due, so no later
    /// sample of another replica is added (phase-shifted replicas would otherwise put one
    /// scrape more in the window than either holds).
    ///
    /// Returns how often the merged samples move from one replica to another (`switches`):
    /// what an operator watches to see replicas with gaps.
    pub fn merge_within(
        &self,
        replicas: &[Replica<'_>],
        hint: SeriesHint,
        range: (i64, i64),
        out_ts: &mut Vec<i64>,
        out_vs: &mut Vec<f64>,
    ) -> usize {
        out_ts.clear();
        out_vs.clear();
        if replicas.iter().all(|r| r.validate().is_ok()) {
            return self.merge_valid(replicas, hint, range, out_ts, out_vs);
        }
        let repaired: Vec<Option<(Vec<i64>, Vec<f64>)>> = replicas
            .iter()
            .map(|r| {
                r.validate().is_err().then(|| {
                    let (mut ts, mut vs) = (r.timestamps.to_vec(), r.values.to_vec());
                    sort_and_dedup(&mut ts, &mut vs);
                    (ts, vs)
                })
            })
            .collect();
        let fixed: Vec<Replica<'_>> = replicas
            .iter()
            .zip(&repaired)
            .map(|(r, fix)| match fix {
                Some((ts, vs)) => Replica {
                    timestamps: ts,
                    values: vs,
                },
                None => *r,
            })
            .collect();
        self.merge_valid(&fixed, hint, range, out_ts, out_vs)
    }

    fn merge_valid(
        &self,
        replicas: &[Replica<'_>],
        hint: SeriesHint,
        range: (i64, i64),
        out_ts: &mut Vec<i64>,
        out_vs: &mut Vec<f64>,
    ) -> usize {
        replica::with_states::<Replica<'_>, _>(replicas.len(), |within| {
            for (w, r) in within.iter_mut().zip(replicas) {
                *w = r.within(range);
            }
            if let [only] = within {
                out_ts.extend_from_slice(only.timestamps);
                out_vs.extend_from_slice(only.values);
                return 0;
            }
            let typical = within.iter().map(Replica::len).max().unwrap_or(0);
            out_ts.reserve(typical);
            out_vs.reserve(typical);
            let whole = match self {
                Self::Penalty => {
                    penalty::merge(within, out_ts, out_vs);
                    false
                }
                Self::Chain => {
                    chain::merge(within, out_ts, out_vs);
                    false
                }
                Self::CounterAware => counter::merge(within, replicas, hint, range, out_ts, out_vs),
            };
            // One replica's samples as they are: no switch to count (the usual case).
            if whole {
                0
            } else {
                replica::switches(within, out_ts)
            }
        })
    }
}

impl fmt::Display for DedupAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DedupAlgorithm {
    type Err = UnknownDedupAlgorithm;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| UnknownDedupAlgorithm(s.to_owned()))
    }
}

/// A dedup algorithm name that is none of [`DedupAlgorithm::ALL`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownDedupAlgorithm(pub String);

impl fmt::Display for UnknownDedupAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown dedup algorithm {:?} (expected one of: penalty, chain, counter-aware)",
            self.0
        )
    }
}

impl std::error::Error for UnknownDedupAlgorithm {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for a in DedupAlgorithm::ALL {
            assert_eq!(a.as_str().parse::<DedupAlgorithm>(), Ok(a));
            assert_eq!(a.to_string(), a.as_str());
        }
        assert_eq!(DedupAlgorithm::default(), DedupAlgorithm::CounterAware);
        let err = "Penalty".parse::<DedupAlgorithm>().unwrap_err();
        assert!(err.to_string().contains("counter-aware"), "{err}");
    }
}
