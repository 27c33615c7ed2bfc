//! The engine's settings, which every layer of it reads.

use std::time::Duration;

/// Engine settings; the defaults are Prometheus' defaults.
#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// How far back an instant selector looks for a sample (`--query.lookback-delta`).
    pub lookback_delta_ms: i64,
    /// Most samples held in memory at once by one query (`--query.max-samples`).
    pub max_samples: usize,
    /// Most series one query may select, over all its selectors (`--query.max-series`;
    /// Prometheus has no such limit).
    pub max_series: usize,
    /// Wall-clock limit of one query (`--query.timeout`).
    pub timeout: Duration,
    /// Step of a subquery written without one (`[5m:]`): the rule evaluation interval.
    pub default_subquery_step_ms: i64,
    /// `__name__` is removed at the end of evaluation, not where a function or operator
    /// drops it (`--enable-feature=promql-delayed-name-removal`; off in Prometheus 3.5, on
    /// in its test scripts).
    pub delayed_name_removal: bool,
    /// Count the samples read at every step, not only in total (`stats=all`).
    pub per_step_stats: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            lookback_delta_ms: 5 * 60 * 1000,
            max_samples: 50_000_000,
            max_series: usize::MAX,
            timeout: Duration::from_secs(120),
            default_subquery_step_ms: 60 * 1000,
            delayed_name_removal: false,
            per_step_stats: false,
        }
    }
}
