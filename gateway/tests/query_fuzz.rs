//! No input makes the engine panic or hang: arbitrary strings, PromQL-ish token soup and
//! generated well-formed queries run as instant and range queries against a small in-memory
//! data set, and valid queries run at arbitrary times, steps and ranges. Every query must
//! return `Ok` or `Err` within a time limit.
//!
//! Each query runs on its own thread (own current-thread runtime, `tokio::time::timeout`),
//! with a hard limit on the thread as a backstop, so a panic anywhere (planner, operators on
//! the blocking pool) or a hang that never yields is reported with the query that caused it.
//! Set `PROPTEST_CASES` to explore more cases than the defaults (which keep a debug run
//! under 30 s).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, Once, OnceLock, mpsc};
use std::time::Duration;

use gateway::promql::value::STALE_NAN_BITS;
use gateway::promql::{Engine, EngineError, EngineOptions, QueryResult, StoreStorage};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{TestCaseError, TestRunner};
use store_api::{Labels, MemoryStore};

/// The engine's own timeout; the test's limit (`QUERY_LIMIT`) is well above it. Some
/// generated queries legitimately run into it (a 1 ms-step subquery over a range of years
/// evaluates empty steps until the deadline), so it is short to keep the suite fast.
const ENGINE_TIMEOUT: Duration = Duration::from_millis(500);
/// A query must return within this (`tokio::time::timeout`).
const QUERY_LIMIT: Duration = Duration::from_secs(10);
/// The query thread must be done by then, even if it never yields to the runtime.
const THREAD_LIMIT: Duration = Duration::from_secs(12);

/// The data: scrapes every 15 s from -30 min to +60 min around 0.
const DATA_START: i64 = -30 * 60 * 1000;
const DATA_END: i64 = 60 * 60 * 1000;
const SCRAPE: i64 = 15_000;

// ---------------------------------------------------------------------------------------
// Harness

#[derive(Clone, Copy, Debug)]
enum Call {
    Instant { time: i64 },
    Range { start: i64, end: i64, step: i64 },
}

#[derive(Debug)]
enum Outcome {
    Ok,
    Err(String),
    /// Panicked: where (`file:line`, if the panic hook saw it) and the message.
    Panic {
        location: String,
        message: String,
    },
    /// Did not return within the limit.
    Hang,
}

/// Every panic seen in this process: (`file:line`, message). The engine evaluates on tokio's
/// blocking pool and turns a panic there into an error without its location; this log is
/// where the location comes from.
static PANICS: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

/// Records panics (location and message) before the default hook prints them; panics on
/// the query threads are not printed (the failing case's report says what and where)
/// unless `QUERY_FUZZ_VERBOSE` is set (then with a backtrace if `RUST_BACKTRACE` says so).
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let mut location = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()))
                .unwrap_or_default();
            // A panic inside std (slice indexing, unwrap on a caller's behalf) or a
            // dependency: the first frame in the gateway's own code says where.
            if !location.starts_with("gateway/src/") {
                let trace = std::backtrace::Backtrace::force_capture().to_string();
                if let Some(frame) = trace
                    .lines()
                    .filter_map(|l| l.trim().strip_prefix("at "))
                    .find_map(gateway_source)
                {
                    location = frame
                        .rsplit_once(':')
                        .map_or(frame.as_str(), |(f, _)| f)
                        .into();
                }
            }
            let message = panic_message(info.payload());
            PANICS
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((location, message));
            let thread = std::thread::current();
            let quiet = matches!(
                thread.name(),
                Some("fuzz-query" | "tokio-runtime-worker" | "tokio-rt-worker")
            ) && std::env::var_os("QUERY_FUZZ_VERBOSE").is_none();
            if !quiet {
                default(info);
            }
        }));
    });
}

/// `gateway/src/...:line:column` if a backtrace frame's path is in the gateway's sources
/// (printed relative to the working directory: `./src/...` under `cargo test`,
/// `./gateway/src/...` from the workspace root).
fn gateway_source(path: &str) -> Option<String> {
    if let Some(i) = path.find("gateway/src/") {
        return Some(path[i..].to_string());
    }
    path.strip_prefix("./src/")
        .map(|p| format!("gateway/src/{p}"))
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "non-string panic payload".into())
}

/// The location and message of the first panic logged since `mark` whose message is `text`
/// or is quoted in it (as in tokio's "task 12 panicked with message \"...\"").
fn locate_panic(mark: usize, text: &str) -> (String, String) {
    let log = PANICS.lock().unwrap_or_else(|p| p.into_inner());
    log.iter()
        .skip(mark)
        .find(|(_, m)| text == m || text.contains(&format!("{m:?}")))
        .cloned()
        .unwrap_or_else(|| ("unknown location".into(), text.to_string()))
}

/// Queries run one at a time, so that the panics logged during one belong to it.
static RUN_LOCK: Mutex<()> = Mutex::new(());

fn storage() -> Arc<StoreStorage<MemoryStore>> {
    static STORAGE: OnceLock<Arc<StoreStorage<MemoryStore>>> = OnceLock::new();
    STORAGE
        .get_or_init(|| Arc::new(StoreStorage::new(Arc::new(data()))))
        .clone()
}

fn engine() -> Arc<Engine> {
    static ENGINE: OnceLock<Arc<Engine>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            Arc::new(Engine::new(EngineOptions {
                max_samples: 200_000,
                timeout: ENGINE_TIMEOUT,
                ..EngineOptions::default()
            }))
        })
        .clone()
}

fn scrapes() -> impl Iterator<Item = i64> {
    (0..(DATA_END - DATA_START) / SCRAPE).map(|i| DATA_START + i * SCRAPE + 7 + i % 3)
}

/// A few series of each kind: counters with a reset, gauges with NaN, ±Inf, a staleness
/// marker and a gap, classic histogram buckets, and two series that differ only in name.
fn data() -> MemoryStore {
    let stale = f64::from_bits(STALE_NAN_BITS);
    let mut series: Vec<(Labels, Vec<(i64, f64)>)> = Vec::new();
    for (i, instance) in ["a:9090", "b:9090"].into_iter().enumerate() {
        for job in ["api", "db"] {
            series.push((
                Labels::from_pairs([("__name__", "up"), ("job", job), ("instance", instance)]),
                scrapes().map(|t| (t, ((t / 600_000) % 2) as f64)).collect(),
            ));
            for (code, rate) in [("200", 10.0), ("500", 0.5)] {
                series.push((
                    Labels::from_pairs([
                        ("__name__", "http_requests_total"),
                        ("job", job),
                        ("instance", instance),
                        ("code", code),
                    ]),
                    scrapes()
                        .enumerate()
                        .map(|(k, t)| {
                            let k = k as f64;
                            // A counter reset half-way through.
                            let v = if k < 180.0 {
                                k * rate
                            } else {
                                (k - 180.0) * rate
                            };
                            (t, v + i as f64)
                        })
                        .collect(),
                ));
            }
        }
        let mut count = 0.0;
        let mut buckets: Vec<Vec<(i64, f64)>> = vec![Vec::new(); 5];
        for t in scrapes() {
            count += 3.0;
            for (b, samples) in buckets.iter_mut().enumerate() {
                samples.push((t, (count * (b + 1) as f64 / 5.0).floor()));
            }
        }
        for (le, samples) in ["0.1", "0.5", "1", "5", "+Inf"].into_iter().zip(buckets) {
            series.push((
                Labels::from_pairs([
                    ("__name__", "req_seconds_bucket"),
                    ("instance", instance),
                    ("le", le),
                ]),
                samples,
            ));
        }
    }
    let odd = [
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        -0.0,
        stale,
        1e308,
    ];
    series.push((
        Labels::from_pairs([("__name__", "temperature"), ("sensor", "x")]),
        scrapes()
            .enumerate()
            .filter(|(k, _)| !(100..140).contains(k))
            .map(|(k, t)| {
                (
                    t,
                    if k % 17 == 0 {
                        odd[k / 17 % odd.len()]
                    } else {
                        k as f64 - 150.5
                    },
                )
            })
            .collect(),
    ));
    series.push((
        Labels::from_pairs([("__name__", "temperature"), ("sensor", "y")]),
        vec![(0, 1.0), (1, 2.0), (2, stale), (DATA_END, -1.0)],
    ));
    // Same labels but the name: `vector cannot contain metrics with the same labelset`.
    series.push((
        Labels::from_pairs([("__name__", "dup_a"), ("k", "v")]),
        scrapes().map(|t| (t, 1.0)).collect(),
    ));
    series.push((
        Labels::from_pairs([("__name__", "dup_b"), ("k", "v")]),
        scrapes().map(|t| (t, 2.0)).collect(),
    ));
    MemoryStore::new(Labels::new(), series)
}

/// Runs one query on its own thread and classifies what happened.
fn run(query: &str, call: Call) -> Outcome {
    install_panic_hook();
    let _one_at_a_time = RUN_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let mark = PANICS.lock().unwrap_or_else(|p| p.into_inner()).len();
    let (tx, rx) = mpsc::channel::<Result<Result<QueryResult, EngineError>, ()>>();
    let query_owned = query.to_string();
    let thread = std::thread::Builder::new()
        .name("fuzz-query".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .unwrap();
            let engine = engine();
            let storage = storage();
            let result = rt.block_on(async {
                let fut = async {
                    match call {
                        Call::Instant { time } => {
                            engine
                                .instant_query(storage.as_ref(), &query_owned, time)
                                .await
                        }
                        Call::Range { start, end, step } => {
                            engine
                                .range_query(storage.as_ref(), &query_owned, start, end, step)
                                .await
                        }
                    }
                };
                tokio::time::timeout(QUERY_LIMIT, fut).await.map_err(|_| ())
            });
            let _ = tx.send(result);
            // Do not wait for an evaluation still running on the blocking pool.
            rt.shutdown_background();
        })
        .unwrap();
    match rx.recv_timeout(THREAD_LIMIT) {
        Ok(Ok(Ok(_))) => Outcome::Ok,
        // The engine evaluates on tokio's blocking pool and turns a panic there into an
        // error ("query evaluation failed: task 12 panicked with message ...").
        Ok(Ok(Err(EngineError::Execution(e))))
            if e.starts_with("query evaluation failed") && e.contains("panicked") =>
        {
            let (location, message) = locate_panic(mark, &e);
            Outcome::Panic { location, message }
        }
        Ok(Ok(Err(e))) => Outcome::Err(e.to_string()),
        Ok(Err(())) | Err(mpsc::RecvTimeoutError::Timeout) => Outcome::Hang,
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            let message = match thread.join() {
                Err(payload) => panic_message(payload.as_ref()),
                Ok(()) => "query thread ended without an answer".into(),
            };
            let (location, message) = locate_panic(mark, &message);
            Outcome::Panic { location, message }
        }
    }
}

/// Panics found and reported but not fixed yet: (source file, message). The properties
/// tolerate a panic with that message in that file, so that the suite stays green while the
/// `regression_` test named beside each entry waits, ignored, for the fix. Remove the entry
/// when un-ignoring its test.
const KNOWN_PANICS: &[(&str, &str)] = &[];

fn is_known(location: &str, message: &str) -> bool {
    KNOWN_PANICS
        .iter()
        .any(|(file, m)| location.starts_with(file) && message.contains(m))
}

/// Fails the case on a panic or a hang; `Ok` and `Err` are both fine.
fn check(query: &str, call: Call) -> Result<(), TestCaseError> {
    match run(query, call) {
        Outcome::Ok | Outcome::Err(_) => Ok(()),
        Outcome::Panic { location, message } if is_known(&location, &message) => Ok(()),
        Outcome::Panic { location, message } => Err(TestCaseError::fail(format!(
            "panic at {location} on {query:?} {call:?}: {message}"
        ))),
        Outcome::Hang => Err(TestCaseError::fail(format!(
            "no answer within {QUERY_LIMIT:?} on {query:?} {call:?}"
        ))),
    }
}

/// Both kinds of query at times inside the data.
fn check_both(query: &str) -> Result<(), TestCaseError> {
    check(query, Call::Instant { time: 1_234_567 })?;
    check(
        query,
        Call::Range {
            start: -600_001,
            end: 1_800_000,
            step: 60_000,
        },
    )
}

fn config(default_cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_cases);
    ProptestConfig {
        cases,
        // No regression files in the source tree: found cases go into `regression_` tests.
        failure_persistence: None,
        max_shrink_iters: 2_000,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------
// Strategies

#[rustfmt::skip]
const AGGREGATIONS: &[&str] = &[
    "sum", "avg", "count", "min", "max", "group", "stddev", "stdvar", "topk", "bottomk",
    "quantile", "count_values", "limitk", "limit_ratio",
];

const METRICS: &[&str] = &[
    "up",
    "http_requests_total",
    "req_seconds_bucket",
    "temperature",
    "dup_a",
    "nonexistent",
];

const LABELS: &[&str] = &[
    "job", "instance", "code", "le", "sensor", "k", "__name__", "x",
];

#[rustfmt::skip]
const NUMBERS: &[&str] = &[
    "0", "1", "-1", "0.5", "2", "0.9", "1e308", "-1e308", "1e-308", "Inf", "-Inf", "NaN",
    "0x1f", "1e400", "99999999999999999999", "9223372036854775807", "0.000001", "1_000",
];

#[rustfmt::skip]
const DURATIONS: &[&str] = &[
    "1ms", "1s", "15s", "1m", "5m", "1h", "1h30m", "1d", "1w", "1y", "0s", "10000y", "292y",
    "9223372036854775807ms", "3.5m", "1m15s",
];

#[rustfmt::skip]
const STRINGS: &[&str] = &[
    "\"api\"", "'db'", "\"\"", "\".*\"", "\".+\"", "\"a|b\"", "\"(\"", "\"\\\\\"", "`raw`",
    "\"$1\"", "\"job\"", "\"le\"", "\"x\"", "\"\\u00e9\"",
];

#[rustfmt::skip]
const SYMBOLS: &[&str] = &[
    "{", "}", "[", "]", "(", ")", ",", ":", "=", "!=", "=~", "!~", "==", ">", "<", ">=", "<=",
    "+", "-", "*", "/", "%", "^", "@", "by", "without", "offset", "bool", "on", "ignoring",
    "group_left", "group_right", "and", "or", "unless", "atan2", "start()", "end()", "#", "\n",
];

fn pick(list: &'static [&'static str]) -> impl Strategy<Value = String> + Clone {
    prop::sample::select(list).prop_map(str::to_string)
}

/// The name of a function the parser knows.
fn function_name() -> impl Strategy<Value = String> + Clone {
    let names: Vec<&'static str> = gateway::promql::functions::table::all()
        .iter()
        .map(|f| f.name)
        .collect();
    prop::sample::select(names).prop_map(str::to_string)
}

/// One token of PromQL-ish text.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => pick(SYMBOLS),
        2 => function_name(),
        1 => pick(AGGREGATIONS),
        2 => pick(METRICS),
        1 => pick(LABELS),
        1 => pick(NUMBERS),
        1 => pick(DURATIONS),
        1 => pick(STRINGS),
        1 => "[a-z_:][a-z0-9_:]{0,6}",
    ]
}

/// Tokens glued with or without spaces.
fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec((token(), prop::bool::weighted(0.6)), 0..24).prop_map(|tokens| {
        let mut s = String::new();
        for (t, space) in tokens {
            s.push_str(&t);
            if space {
                s.push(' ');
            }
        }
        s
    })
}

fn duration() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        6 => pick(&["30s", "1m", "5m", "10m", "1h", "2m30s", "45s"]),
        1 => pick(DURATIONS),
    ]
}

/// `metric{matchers}` with optional `offset` / `@`.
fn selector() -> impl Strategy<Value = String> + Clone {
    let matcher = (pick(LABELS), pick(&["=", "!=", "=~", "!~"]), pick(STRINGS))
        .prop_map(|(l, op, v)| format!("{l}{op}{v}"));
    (
        prop_oneof![4 => pick(METRICS), 1 => Just(String::new())],
        prop::collection::vec(matcher, 0..3),
    )
        .prop_map(|(name, matchers)| {
            if matchers.is_empty() && name.is_empty() {
                "{__name__=~\".+\"}".to_string()
            } else if matchers.is_empty() {
                name
            } else {
                format!("{name}{{{}}}", matchers.join(", "))
            }
        })
}

fn modifier() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        8 => Just(String::new()),
        1 => duration().prop_map(|d| format!(" offset {d}")),
        1 => duration().prop_map(|d| format!(" offset -{d}")),
        1 => pick(&[
            " @ 0", " @ 1800", " @ -1e9", " @ 1e12", " @ start()", " @ end()", " @ 9.2e15",
        ]),
    ]
}

/// A range vector: `sel[d]` or a subquery of an instant vector.
fn range_vector(inner: BoxedStrategy<String>) -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        3 => (selector(), duration(), modifier()).prop_map(|(s, d, m)| format!("{s}[{d}]{m}")),
        1 => (inner, duration(), prop::option::of(duration()), modifier())
            .prop_map(|(e, r, s, m)| format!("({e})[{r}:{}]{m}", s.unwrap_or_default())),
    ]
}

#[rustfmt::skip]
const RANGE_FUNCTIONS: &[&str] = &[
    "rate", "irate", "increase", "delta", "idelta", "deriv", "changes", "resets",
    "avg_over_time", "min_over_time", "max_over_time", "sum_over_time", "count_over_time",
    "last_over_time", "first_over_time", "present_over_time", "absent_over_time",
    "stddev_over_time", "stdvar_over_time", "mad_over_time", "ts_of_max_over_time",
    "ts_of_min_over_time", "ts_of_last_over_time", "ts_of_first_over_time",
];

#[rustfmt::skip]
const VECTOR_FUNCTIONS: &[&str] = &[
    "abs", "ceil", "floor", "exp", "sqrt", "ln", "log2", "log10", "sgn", "deg", "rad", "sin",
    "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh",
    "timestamp", "absent", "sort", "sort_desc", "round", "hour", "minute", "month", "year",
    "day_of_month", "day_of_week", "day_of_year", "days_in_month",
];

fn scalar_leaf() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        4 => pick(NUMBERS),
        1 => pick(&["time()", "pi()", "step()", "start()", "end()", "range()"]),
    ]
}

/// Well-formed (mostly well-typed) queries, nested a few levels.
fn structured() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        4 => (selector(), modifier()).prop_map(|(s, m)| format!("{s}{m}")),
        1 => scalar_leaf(),
    ];
    leaf.prop_recursive(4, 24, 3, |inner| {
        let inner_boxed = inner.clone().boxed();
        prop_oneof![
            // range functions
            3 => (pick(RANGE_FUNCTIONS), range_vector(inner_boxed.clone()))
                .prop_map(|(f, r)| format!("{f}({r})")),
            1 => (scalar_leaf(), range_vector(inner_boxed.clone()))
                .prop_map(|(q, r)| format!("quantile_over_time({q}, {r})")),
            1 => (range_vector(inner_boxed.clone()), scalar_leaf())
                .prop_map(|(r, t)| format!("predict_linear({r}, {t})")),
            1 => (range_vector(inner_boxed.clone()), scalar_leaf(), scalar_leaf())
                .prop_map(|(r, a, b)| format!("double_exponential_smoothing({r}, {a}, {b})")),
            // vector functions
            3 => (pick(VECTOR_FUNCTIONS), inner.clone()).prop_map(|(f, e)| format!("{f}({e})")),
            1 => (pick(&["clamp_min", "clamp_max", "round"]), inner.clone(), scalar_leaf())
                .prop_map(|(f, e, s)| format!("{f}({e}, {s})")),
            1 => (inner.clone(), scalar_leaf(), scalar_leaf())
                .prop_map(|(e, a, b)| format!("clamp({e}, {a}, {b})")),
            1 => (scalar_leaf(), inner.clone())
                .prop_map(|(q, e)| format!("histogram_quantile({q}, {e})")),
            1 => (scalar_leaf(), scalar_leaf(), inner.clone())
                .prop_map(|(a, b, e)| format!("histogram_fraction({a}, {b}, {e})")),
            1 => (inner.clone(), pick(LABELS), pick(STRINGS), pick(LABELS), pick(STRINGS))
                .prop_map(|(e, dst, rep, src, re)| {
                    format!("label_replace({e}, \"{dst}\", {rep}, \"{src}\", {re})")
                }),
            1 => (inner.clone(), pick(LABELS), pick(LABELS), pick(LABELS))
                .prop_map(|(e, dst, a, b)| {
                    format!("label_join({e}, \"{dst}\", \"-\", \"{a}\", \"{b}\")")
                }),
            1 => (pick(&["sort_by_label", "sort_by_label_desc"]), inner.clone(), pick(LABELS))
                .prop_map(|(f, e, l)| format!("{f}({e}, \"{l}\")")),
            1 => inner.clone().prop_map(|e| format!("scalar({e})")),
            1 => inner.clone().prop_map(|e| format!("vector({e})")),
            // aggregations
            3 => (
                pick(AGGREGATIONS),
                prop_oneof![
                    2 => Just(String::new()),
                    1 => pick(LABELS).prop_map(|l| format!(" by ({l})")),
                    1 => pick(LABELS).prop_map(|l| format!(" without ({l})")),
                    1 => Just(" by ()".to_string()),
                ],
                scalar_leaf(),
                inner.clone(),
            )
                .prop_map(|(a, grouping, param, e)| match a.as_str() {
                    "topk" | "bottomk" | "quantile" | "limitk" | "limit_ratio" => {
                        format!("{a}{grouping}({param}, {e})")
                    }
                    "count_values" => format!("{a}{grouping}(\"value\", {e})"),
                    _ => format!("{a}{grouping}({e})"),
                }),
            // binary operators
            4 => (
                inner.clone(),
                pick(&[
                    "+", "-", "*", "/", "%", "^", "==", "!=", ">", "<", ">=", "<=", "and", "or",
                    "unless", "atan2",
                ]),
                prop::bool::weighted(0.2),
                prop_oneof![
                    3 => Just(String::new()),
                    1 => pick(LABELS).prop_map(|l| format!(" on ({l})")),
                    1 => pick(LABELS).prop_map(|l| format!(" ignoring ({l})")),
                    1 => (pick(LABELS), pick(LABELS))
                        .prop_map(|(a, b)| format!(" on ({a}) group_left ({b})")),
                    1 => (pick(LABELS), pick(LABELS))
                        .prop_map(|(a, b)| format!(" ignoring ({a}) group_right ({b})")),
                ],
                inner.clone(),
            )
                .prop_map(|(l, op, bool_, matching, r)| {
                    let bool_ = if bool_ { " bool" } else { "" };
                    format!("({l}) {op}{bool_}{matching} ({r})")
                }),
            1 => inner.clone().prop_map(|e| format!("-({e})")),
            // a subquery, then a function over it
            1 => (inner, duration(), duration(), pick(&["max_over_time", "rate", "sum_over_time"]))
                .prop_map(|(e, r, s, f)| format!("{f}(({e})[{r}:{s}])")),
        ]
    })
}

/// Queries that are valid and evaluate (for the parameter fuzzing).
const VALID_QUERIES: &[&str] = &[
    "up",
    "1",
    "time()",
    "http_requests_total offset 5m",
    "http_requests_total @ 1800",
    "http_requests_total @ start()",
    "http_requests_total @ end() offset -1m",
    "rate(http_requests_total[5m])",
    "sum by (job) (rate(http_requests_total[5m]))",
    "histogram_quantile(0.9, sum by (le) (rate(req_seconds_bucket[5m])))",
    "topk(2, temperature)",
    "sort_desc(up)",
    "http_requests_total * on (job, instance) group_left up",
    "max_over_time(rate(http_requests_total[5m])[30m:1m])",
    "max_over_time(deriv(temperature[10m])[1h:])",
    "sum_over_time(up[10m:1ms])",
    "count_over_time(up[1h])",
    "absent(nonexistent)",
    "timestamp(temperature)",
    "day_of_week()",
    "year(up)",
    "vector(time())",
    "scalar(sum(up))",
    "predict_linear(temperature[10m], 3600)",
    "label_replace(up, \"x\", \"$1\", \"instance\", \"(.*):.*\")",
    "last_over_time(up[5m] @ 0 offset 1h)",
];

/// Milliseconds: the edges of i64, around the data, and anything.
fn time_ms() -> impl Strategy<Value = i64> + Clone {
    prop_oneof![
        2 => prop::sample::select(&[
            i64::MIN, i64::MIN + 1, i64::MAX, i64::MAX - 1, 0, -1, 1,
            i64::MAX / 1000, i64::MIN / 1000, 9_223_372_036_854_775, -9_223_372_036_854_775,
        ][..]),
        3 => DATA_START - 3_600_000..DATA_END + 3_600_000,
        2 => any::<i64>(),
    ]
}

fn step_ms() -> impl Strategy<Value = i64> + Clone {
    prop_oneof![
        2 => prop::sample::select(&[
            0, -1, 1, 2, 1000, 15_000, i64::MAX, i64::MIN, i64::MAX / 2, -60_000,
        ][..]),
        2 => 1i64..10_000_000,
        1 => any::<i64>(),
    ]
}

fn call() -> impl Strategy<Value = Call> {
    prop_oneof![
        1 => time_ms().prop_map(|time| Call::Instant { time }),
        3 => (time_ms(), time_ms(), step_ms())
            .prop_map(|(start, end, step)| Call::Range { start, end, step }),
        // A valid, short range near chosen times (including the edges of i64).
        2 => (time_ms(), 0i64..20, step_ms()).prop_map(|(start, n, step)| Call::Range {
            start,
            end: start.saturating_add(n.saturating_mul(step.max(0))),
            step,
        }),
    ]
}

// ---------------------------------------------------------------------------------------
// Properties

proptest! {
    #![proptest_config(config(256))]

    /// Any Unicode text.
    #[test]
    fn arbitrary_text_never_panics(query in any::<String>()) {
        check_both(&query)?;
    }

    /// Text made of PromQL tokens: mostly parse errors, some odd valid queries.
    #[test]
    fn token_soup_never_panics(query in token_soup()) {
        check_both(&query)?;
    }
}

proptest! {
    #![proptest_config(config(512))]

    /// Generated well-formed queries: these reach the planner and the operators.
    #[test]
    fn generated_queries_never_panic(query in structured()) {
        check_both(&query)?;
    }

    /// Valid queries at arbitrary times, steps and ranges (end before start, zero and
    /// negative steps, the edges of i64).
    #[test]
    fn arbitrary_parameters_never_panic(
        query in prop::sample::select(VALID_QUERIES),
        call in call(),
    ) {
        check(query, call)?;
    }
}

/// Every valid query evaluates at ordinary times (so that the parameter fuzzing starts
/// from queries that get past parsing and planning).
#[test]
fn valid_queries_evaluate() {
    let calls = [
        Call::Instant { time: 1_800_000 },
        Call::Range {
            start: 0,
            end: 1_800_000,
            step: 60_000,
        },
    ];
    let mut failures = Vec::new();
    for query in VALID_QUERIES {
        for call in calls {
            match run(query, call) {
                Outcome::Ok => {}
                // The tiny-step subquery is there to reach the sample limit.
                Outcome::Err(e) if e.contains("too many samples") && query.contains(":1ms]") => {}
                Outcome::Err(e) => failures.push(format!("{query} {call:?}: error {e}")),
                other => failures.push(format!("{query} {call:?}: {other:?}")),
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

// ---------------------------------------------------------------------------------------
// Exploration

/// All kinds of input as (query, call).
fn any_case() -> impl Strategy<Value = (String, Call)> {
    let usual = prop_oneof![
        Just(Call::Instant { time: 1_234_567 }),
        Just(Call::Range {
            start: -600_001,
            end: 1_800_000,
            step: 60_000,
        }),
    ];
    prop_oneof![
        1 => (any::<String>(), usual.clone()),
        2 => (token_soup(), usual.clone()),
        4 => (structured(), usual),
        2 => (prop::sample::select(VALID_QUERIES).prop_map(str::to_string), call()),
        1 => (structured(), call()),
    ]
}

/// What tells one bug from another: where it panicked (known panics aside), or that it hung.
fn failure_key(outcome: &Outcome) -> Option<String> {
    match outcome {
        Outcome::Panic { location, message } if !is_known(location, message) => {
            Some(format!("panic at {location}"))
        }
        Outcome::Hang => Some("hang".into()),
        Outcome::Ok | Outcome::Err(_) | Outcome::Panic { .. } => None,
    }
}

/// A longer hunt than the properties: keeps going after a failure, shrinks each distinct
/// new failure (by panic location; `KNOWN_PANICS` aside) to a small repro, and prints them.
#[test]
#[ignore = "a long hunt for distinct panics and hangs; run alone: PROPTEST_CASES=5000 \
            cargo test -p gateway --test query_fuzz -- --ignored explore --test-threads=1"]
fn explore_distinct_failures() {
    let cases: usize = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let mut runner = TestRunner::default();
    let strategy = any_case();
    let mut found: BTreeMap<String, (String, Call)> = BTreeMap::new();
    for _ in 0..cases {
        let mut tree = strategy.new_tree(&mut runner).unwrap();
        let (query, call) = tree.current();
        let Some(key) = failure_key(&run(&query, call)) else {
            continue;
        };
        if found.contains_key(&key) {
            continue;
        }
        let mut best = (query, call);
        // Hangs cost the whole time limit per try: report them as found.
        if key != "hang" && tree.simplify() {
            for _ in 0..1_000 {
                let (query, call) = tree.current();
                let same = failure_key(&run(&query, call)).as_ref() == Some(&key);
                let more = if same {
                    best = (query, call);
                    tree.simplify()
                } else {
                    tree.complicate()
                };
                if !more {
                    break;
                }
            }
        }
        eprintln!(
            "FOUND {key}\n    query: {:?}\n    call:  {:?}",
            best.0, best.1
        );
        found.insert(key, best);
    }
    eprintln!("{} distinct failures in {cases} cases", found.len());
    for (key, (query, call)) in &found {
        eprintln!("- {key}\n    query: {query:?}\n    call:  {call:?}");
    }
    assert!(found.is_empty(), "{} distinct failures", found.len());
}

// ---------------------------------------------------------------------------------------
// Regressions: panics found by the properties above, minimized. A new one is `#[ignore]`d
// with the bug named until it is fixed (and its `KNOWN_PANICS` entry keeps the properties
// green meanwhile). "with overflow" panics are debug builds' overflow checks: release builds
// wrapped instead and evaluated at nonsense times. All but the first were fixed in f45d8f3
// (saturating time arithmetic, empty ranges trim to nothing, `parse` under `catch_unwind`).

/// The query must answer, `Ok` or `Err`, without a panic or a hang.
fn assert_answers(query: &str, call: Call) {
    match run(query, call) {
        Outcome::Ok | Outcome::Err(_) => {}
        other => panic!("{query:?} {call:?}: {other:?}"),
    }
}

const T: i64 = 1_234_567;

/// Bug: `Steps::time` (exec/context.rs) computes `start + index * step` in i64: over a
/// range wider than i64::MAX (start i64::MIN, end i64::MAX, step i64::MAX: 3 steps) the
/// product `2 * step` overflows although the step time itself (i64::MAX - 1) fits. Debug
/// builds panic ("attempt to multiply with overflow" on the blocking pool, returned as
/// "query evaluation failed: ... panicked"); release builds wrap to the right time. Such
/// ranges pass the 11,000-steps check since `Steps::count` went to i128 in f45d8f3.
#[test]
fn regression_step_time_multiply_overflows() {
    for query in ["up", "1", "rate(up[5m])"] {
        assert_answers(
            query,
            Call::Range {
                start: i64::MIN,
                end: i64::MAX,
                step: i64::MAX,
            },
        );
    }
}

/// Was: a subquery whose window holds no step of its grid (here a 1 s window, 5 m step,
/// evaluated at 1234.567 s) planned its inner selector over an empty step grid, which then
/// selected `[first - range + 1, last]` with min_time > max_time, and trimming the decoded
/// samples to that inverted range panicked (`drain(..start)` after `truncate(end)` with
/// start > end): "range end index 96 out of range for slice of length 83". Prometheus
/// answers with an empty result.
#[test]
fn regression_subquery_without_steps_selects_inverted_range() {
    assert_answers("rate(up[1m])[1s:5m]", Call::Instant { time: T });
    assert_answers("max_over_time(up[30s:10m])", Call::Instant { time: T });
    assert_answers(
        "max_over_time(rate(up[30s])[1ms:5m])",
        Call::Instant { time: T },
    );
}

/// Was: the step count of a range query was computed from `end - start` unchecked (the
/// 11,000-points check in `Engine::range_query` and `Steps::count`): a span beyond i64
/// overflowed before the check could reject it.
#[test]
fn regression_range_query_step_count_overflows() {
    assert_answers(
        "1",
        Call::Range {
            start: -1,
            end: i64::MAX,
            step: 1,
        },
    );
    assert_answers(
        "1",
        Call::Range {
            start: i64::MIN,
            end: 0,
            step: i64::MAX,
        },
    );
}

/// Was: an `@` time near i64::MIN milliseconds (reachable from the query text alone)
/// overflowed `first - lookback + 1` in `Planner::vector_scan`. (Prometheus also refuses
/// `@` values at or beyond ±2^63 *seconds*, e.g. `@ -1e19`, with "timestamp out of bounds
/// for @ modifier", as the parser now does too.)
#[test]
fn regression_at_near_i64_min_overflows_lookback() {
    assert_answers("up @ -9223372036854775.808", Call::Instant { time: T });
    assert_answers("up @ -1e19", Call::Instant { time: T });
    assert_answers("up", Call::Instant { time: i64::MIN });
}

/// Was: the same near i64::MIN for a range selector: `first - range_ms + 1` in
/// `Planner::range_source`.
#[test]
fn regression_at_near_i64_min_overflows_range_window() {
    assert_answers("up[1s] @ -9223372036854775.808", Call::Instant { time: T });
    assert_answers("rate(up[1m])", Call::Instant { time: i64::MIN });
}

/// Was: the same for a subquery: `first - range_ms` in `Planner::subquery_source`.
#[test]
fn regression_at_near_i64_min_overflows_subquery_start() {
    assert_answers(
        "max_over_time(up[1h:1m] @ -9223372036854775.808)",
        Call::Instant { time: T },
    );
}

/// Was: near i64::MAX the subquery grid's alignment `aligned + step_ms` in
/// `Planner::subquery_source` overflowed.
#[test]
fn regression_subquery_alignment_overflows_near_i64_max() {
    assert_answers(
        "max_over_time(up[30s:1m])",
        Call::Instant { time: i64::MAX },
    );
}

/// Was: `EvalTime::at` computed `at - offset` unchecked: a negative offset after an `@`
/// near i64::MAX, or an offset at a step near i64::MIN, overflowed.
#[test]
fn regression_offset_overflows_eval_time() {
    assert_answers(
        "up @ 9223372036854775.807 offset -1ms",
        Call::Instant { time: T },
    );
    assert_answers("up offset 1m", Call::Instant { time: i64::MIN });
}

/// Was (in promql-parser 0.11.1, reached through `Engine::plan`): a number used as a
/// duration (`offset`, range, subquery step) went through `Duration::from_secs_f64`, which
/// panics on NaN, ±Inf and values past u64 seconds. Prometheus answers an error; so does the
/// planner now ("duration out of range").
#[test]
fn regression_parser_panics_on_number_durations() {
    for query in [
        "up offset 1e308",
        "up offset NaN",
        "up offset -Inf",
        "rate(up[1e20])",
        "up[5m:1e20]",
    ] {
        assert_answers(query, Call::Instant { time: T });
    }
}

/// Was: a long chain of binary operators (`up + up + …`) built a tree as deep as the chain
/// without the parser recursing, and the type checks overflowed a 2 MiB runtime stack
/// (the process aborted). The parser now counts depth wherever the tree grows and refuses
/// more than 128 levels; chains and nesting just below that are evaluated.
#[test]
fn regression_long_operator_chain_overflows_stack() {
    let too_deep = vec!["up"; 2_000].join(" + ");
    assert!(matches!(
        run(&too_deep, Call::Instant { time: T }),
        Outcome::Err(_)
    ));
    let chain = vec!["up"; 120].join(" + ");
    let nested = format!("{}up{}", "abs(".repeat(120), ")".repeat(120));
    for query in [chain, nested] {
        let call = Call::Range {
            start: T,
            end: T + 600_000,
            step: 60_000,
        };
        let outcome = run(&query, call);
        assert!(matches!(outcome, Outcome::Ok), "{outcome:?}");
    }
}
