//! The API v1 routes and handlers.

use super::AppState;
use super::admission::Admitted;
use super::envelope::{ApiData, ApiError, ApiResult, Data, query_error, respond};
use super::json;
use super::params::{ApiParams, MAX_TIME, MIN_TIME, Params, parse_duration};
use super::query_log::{Entry, Timings};
use crate::fanout::{FanoutStorage, QueryOptions};
use crate::promql::RangeRefusal;
use crate::promql::{Engine, EngineOptions, QueryResult, syntax};
use axum::Extension;
use axum::Router;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::routing::get;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use store_api::Matcher;
use store_api::text::push_json_string;
use tracing::Instrument;

type Shared = State<Arc<AppState>>;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/query", get(query).post(query))
        .route("/api/v1/query_range", get(query_range).post(query_range))
        .route("/api/v1/labels", get(labels).post(labels))
        .route("/api/v1/label/{name}/values", get(label_values))
        .route("/api/v1/series", get(series).post(series))
        .route("/api/v1/stores", get(stores))
        .route("/api/v1/status/buildinfo", get(buildinfo))
        .route("/api/v1/status/flags", get(flags))
        .route("/api/v1/status/runtimeinfo", get(runtimeinfo))
        .route("/api/v1/metadata", get(metadata))
        .route("/api/v1/query_exemplars", get(exemplars).post(exemplars))
        .route("/api/v1/rules", get(rules))
        .route("/api/v1/alerts", get(alerts))
        .route("/api/v1/format_query", get(format_query).post(format_query))
        .route("/api/v1/parse_query", get(parse_query).post(parse_query))
        .route(
            "/api/v1/query_explain",
            get(query_explain).post(query_explain),
        )
        .route("/-/healthy", get(|| async { super::ops::HEALTHY }))
        .route("/-/ready", get(ready))
}

/// 503 until the first discovery and Info round has finished, as Prometheus is not ready
/// before its storage is; then 200.
async fn ready(State(state): State<Arc<AppState>>) -> (StatusCode, &'static str) {
    super::ops::readiness(state.fanout.is_ready())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Per-request fan-out options: Thanos' `dedup`, `partial_response`, `replicaLabels[]`,
/// `storeMatch[]`.
fn query_options(p: &Params) -> Result<QueryOptions, ApiError> {
    let replica_labels: Vec<String> = p
        .get_all("replicaLabels[]")
        .into_iter()
        .map(String::from)
        .collect();
    Ok(QueryOptions {
        dedup: p.bool("dedup")?,
        replica_labels: (!replica_labels.is_empty()).then_some(replica_labels),
        partial_response: p.bool("partial_response")?,
        store_matchers: p
            .get_all("storeMatch[]")
            .into_iter()
            .map(|s| selector_matchers(s).map_err(|e| ApiError::bad_param("storeMatch[]", e)))
            .collect::<Result<_, _>>()?,
    })
}

/// The engine for one request: `timeout` and `lookback_delta` may narrow the defaults.
/// The engine for this request, once admitted (`admission`): its timeout, lowered by the
/// request's `timeout` and by the time it waited for its place.
async fn admitted_engine(state: &AppState, p: &Params) -> Result<(Engine, Admitted), ApiError> {
    let mut options: EngineOptions = state.engine.options().clone();
    if let Some(t) = p.get("timeout").filter(|t| !t.is_empty()) {
        let ms = parse_duration(t).map_err(|e| ApiError::bad_param("timeout", e))?;
        options.timeout = options.timeout.min(Duration::from_millis(ms.max(0) as u64));
    }
    let admitted = state.admission.admit(options.timeout).await?;
    options.timeout = options.timeout.saturating_sub(admitted.waited);
    if let Some(l) = p.get("lookback_delta").filter(|l| !l.is_empty()) {
        let ms = parse_duration(l).map_err(|e| ApiError::bad_param("lookback_delta", e))?;
        if ms > 0 {
            options.lookback_delta_ms = ms;
        }
    }
    options.per_step_stats = p.get("stats") == Some("all");
    Ok((Engine::new(options), admitted))
}

/// A place for a label or series call, waiting at most the query timeout.
async fn admitted(state: &AppState) -> Result<Admitted, ApiError> {
    state.admission.admit(state.engine.options().timeout).await
}

/// `{a="b", ...}` or `metric{...}` into matchers.
pub fn selector_matchers(text: &str) -> Result<Vec<Matcher>, String> {
    let selector = syntax::parse_selector(text).map_err(|e| {
        if e.message.contains("at least one non-empty matcher") {
            "match[] must contain at least one non-empty matcher".to_string()
        } else {
            e.to_string()
        }
    })?;
    Ok(selector.matchers)
}

/// The `match[]` selectors. The series API names the parameter in its errors, the label APIs
/// do not (as Prometheus words them).
fn match_params(p: &Params, name_param: bool) -> Result<Vec<Vec<Matcher>>, ApiError> {
    p.get_all("match[]")
        .into_iter()
        .map(|s| {
            selector_matchers(s).map_err(|e| {
                if name_param {
                    ApiError::bad_param("match[]", e)
                } else {
                    ApiError::bad_data(e)
                }
            })
        })
        .collect()
}

fn limit(p: &Params) -> Result<usize, ApiError> {
    match p.get("limit") {
        None | Some("") => Ok(0),
        Some(l) => l.parse::<usize>().map_err(|_| {
            ApiError::bad_param("limit", format!("cannot parse {l:?} to a positive integer"))
        }),
    }
}

/// The address of the client, when the server knows it.
type Client = Option<Extension<ConnectInfo<SocketAddr>>>;

/// What a query asks: the expression and when (an instant query: one time, step 0).
struct Evaluation<'a> {
    query: &'a str,
    start: i64,
    end: i64,
    step: i64,
}

async fn query(
    State(state): Shared,
    method: Method,
    client: Client,
    ApiParams(p): ApiParams,
) -> Response {
    let time = match p.time_or("time", now_ms()) {
        Ok(time) => time,
        Err(error) => return respond(Err(error)),
    };
    let evaluation = Evaluation {
        query: p.get("query").unwrap_or(""),
        start: time,
        end: time,
        step: 0,
    };
    let request = (&method, client, "/api/v1/query");
    respond(execute(&state, &p, &evaluation, request).await)
}

async fn query_range(
    State(state): Shared,
    method: Method,
    client: Client,
    ApiParams(p): ApiParams,
) -> Response {
    let evaluation = match range_evaluation(&p) {
        Ok(evaluation) => evaluation,
        Err(error) => return respond(Err(error)),
    };
    let request = (&method, client, "/api/v1/query_range");
    respond(execute(&state, &p, &evaluation, request).await)
}

fn range_evaluation(p: &Params) -> Result<Evaluation<'_>, ApiError> {
    let start = p.time("start")?;
    let end = p.time("end")?;
    let refused = |refusal: RangeRefusal| match refusal.param {
        Some(param) => ApiError::bad_param(param, refusal.message),
        None => ApiError::bad_data(refusal.message),
    };
    if let Some(refusal) = RangeRefusal::times(start, end) {
        return Err(refused(refusal));
    }
    let step =
        parse_duration(p.get("step").unwrap_or("")).map_err(|e| ApiError::bad_param("step", e))?;
    if let Some(refusal) = RangeRefusal::steps(start, end, step) {
        return Err(refused(refusal));
    }
    Ok(Evaluation {
        query: p.get("query").unwrap_or(""),
        start,
        end,
        step,
    })
}

/// The plan of `query`: of that range query with `start`, `end` and `step`, else of an
/// instant query.
async fn query_explain(State(state): Shared, ApiParams(p): ApiParams) -> Response {
    let explained = (|| {
        let (step, range) = match p.get("step") {
            None => (0, 0),
            Some(_) => {
                let range = range_evaluation(&p)?;
                (range.step, range.end - range.start)
            }
        };
        let explanation = state
            .engine
            .explain(p.get("query").unwrap_or(""), step, range)
            .map_err(|e| query_error(e, true))?;
        Ok(ApiData::new(super::explain::encode(&explanation)))
    })();
    respond(explained)
}

/// Evaluates a query and writes it to the query log, with where its time went.
async fn execute(
    state: &AppState,
    p: &Params,
    evaluation: &Evaluation<'_>,
    (method, client, path): (&Method, Client, &str),
) -> ApiResult {
    let started = Instant::now();
    let mut timings = Timings::default();
    let span = tracing::info_span!("query", query = evaluation.query);
    let result = evaluate(state, p, evaluation, &mut timings)
        .instrument(span)
        .await;
    timings.total = started.elapsed();
    let error = result.as_ref().err().map(|e| e.message.as_str());
    state.query_log.record(&Entry {
        path,
        method: method.as_str(),
        client: client.map(|Extension(ConnectInfo(address))| address),
        query: evaluation.query,
        start: evaluation.start,
        end: evaluation.end,
        step: Duration::from_millis(evaluation.step.max(0) as u64),
        timings,
        error,
    });
    result
}

async fn evaluate(
    state: &AppState,
    p: &Params,
    evaluation: &Evaluation<'_>,
    timings: &mut Timings,
) -> ApiResult {
    let (engine, admitted) = admitted_engine(state, p).await?;
    timings.queue = admitted.waited;
    let storage = FanoutStorage::new(state.fanout.clone(), query_options(p)?);
    let started = Instant::now();
    let Evaluation {
        query,
        start,
        end,
        step,
    } = *evaluation;
    let result = if step == 0 {
        engine
            .instant_query(&storage, query, start)
            .await
            .map_err(|e| query_error(e, true))
    } else {
        engine
            .range_query(&storage, query, start, end, step)
            .await
            .map_err(|e| query_error(e, false))
    };
    timings.eval = started.elapsed();
    let QueryResult {
        value,
        warnings,
        infos,
        phases,
        samples,
    } = result?;
    let stats = p
        .get("stats")
        .filter(|s| !s.is_empty())
        .map(|_| json::QueryStats {
            queue: admitted.waited,
            phases,
            samples,
        });
    let metrics = &state.metrics;
    metrics.query_phases(admitted.waited, phases);
    let body = json::QueryBody::new(value, stats, Some(metrics.encode_phase()));
    Ok(ApiData {
        data: Data::Query(body),
        warnings,
        infos,
    })
}

async fn labels(State(state): Shared, ApiParams(p): ApiParams) -> Response {
    respond(run_labels(&state, p, None).await)
}

async fn label_values(
    State(state): Shared,
    name: Result<Path<String>, axum::extract::rejection::PathRejection>,
    uri: axum::http::Uri,
    ApiParams(p): ApiParams,
) -> Response {
    // A name that is not UTF-8 is refused in the envelope, not as axum's plain text.
    let Ok(Path(name)) = name else {
        let raw = uri
            .path()
            .trim_end_matches("/values")
            .rsplit('/')
            .next()
            .unwrap_or("");
        return respond(Err(ApiError::bad_data(format!(
            "invalid label name: \"{}\"",
            go_escape_bytes(&percent_decode(raw))
        ))));
    };
    respond(run_labels(&state, p, Some(unescape_label_name(&name))).await)
}

/// Label names (name = None) or the values of one label, for the union of `match[]`.
async fn run_labels(state: &AppState, p: Params, name: Option<String>) -> ApiResult {
    let start = p.time_or("start", MIN_TIME)?;
    let end = p.time_or("end", MAX_TIME)?;
    let limit = limit(&p)?;
    let storage = FanoutStorage::new(state.fanout.clone(), query_options(&p)?);
    let mut selectors = match_params(&p, false)?;
    let _admitted = admitted(state).await?;
    if selectors.is_empty() {
        selectors.push(Vec::new());
    }
    // One more than the limit tells whether the answer was cut.
    let fetch = if limit > 0 { limit + 1 } else { 0 };
    let (mut values, mut warnings) = for_each_selector(selectors, |matchers| {
        let (storage, name) = (&storage, &name);
        async move {
            match name {
                None => storage.label_names(start, end, matchers, fetch).await,
                Some(name) => {
                    storage
                        .label_values(name, start, end, matchers, fetch)
                        .await
                }
            }
        }
    })
    .await?;
    values.sort_unstable();
    values.dedup();
    if limit > 0 && values.len() > limit {
        values.truncate(limit);
        warnings.push("results truncated due to limit".into());
    }
    Ok(ApiData {
        data: Data::Json(json::string_array(&values)),
        warnings,
        infos: Vec::new(),
    })
}

/// `match[]` selectors asked at once.
const SELECTOR_CONCURRENCY: usize = 16;

/// Runs `call` for every selector, a few at a time: their answers joined, their warnings
/// each once (an endpoint that is down warns about every selector alike).
async fn for_each_selector<T, F, Fut>(
    selectors: Vec<Vec<Matcher>>,
    call: F,
) -> Result<(Vec<T>, Vec<String>), ApiError>
where
    F: Fn(Vec<Matcher>) -> Fut,
    Fut: std::future::Future<Output = Result<crate::fanout::Answer<Vec<T>>, store_api::StoreError>>,
{
    use futures_util::StreamExt;
    let mut answers = futures_util::stream::iter(selectors)
        .map(call)
        .buffer_unordered(SELECTOR_CONCURRENCY);
    let (mut data, mut warnings) = (Vec::new(), Vec::new());
    while let Some(answer) = answers.next().await {
        let answer = answer?;
        data.extend(answer.data);
        for warning in answer.warnings {
            if !warnings.contains(&warning) {
                warnings.push(warning);
            }
        }
    }
    Ok((data, warnings))
}

/// The bytes of a percent-encoded path segment.
fn percent_decode(segment: &str) -> Vec<u8> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = segment
            .get(i + 1..i + 3)
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    out
}

/// Bytes as Go quotes them inside a string: printable ASCII as is, the rest as `\xNN`.
fn go_escape_bytes(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| match b {
            b'"' => "\\\"".to_string(),
            b'\\' => "\\\\".to_string(),
            0x20..=0x7e => (b as char).to_string(),
            _ => format!("\\x{b:02x}"),
        })
        .collect()
}

/// Grafana sends names that are not legacy-valid as `U__` + escapes (`_2e_` for `.`, `__`
/// for `_`).
fn unescape_label_name(name: &str) -> String {
    name.strip_prefix("U__")
        .and_then(unescape)
        // A name that does not unescape is kept as it is, as Prometheus does.
        .unwrap_or_else(|| name.to_string())
}

/// `a_2e_b` → `a.b`, `a__b` → `a_b`; None when malformed.
fn unescape(escaped: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = escaped;
    while let Some(i) = rest.find('_') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        if let Some(after) = rest.strip_prefix('_') {
            out.push('_');
            rest = after;
            continue;
        }
        let end = rest.find('_')?;
        out.push(
            u32::from_str_radix(&rest[..end], 16)
                .ok()
                .and_then(char::from_u32)?,
        );
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

async fn series(State(state): Shared, ApiParams(p): ApiParams) -> Response {
    respond(run_series(&state, p).await)
}

async fn run_series(state: &AppState, p: Params) -> ApiResult {
    let selectors = match_params(&p, true)?;
    if selectors.is_empty() {
        return Err(ApiError::bad_data("no match[] parameter provided"));
    }
    let start = p.time_or("start", MIN_TIME)?;
    let end = p.time_or("end", MAX_TIME)?;
    let limit = limit(&p)?;
    let storage = FanoutStorage::new(state.fanout.clone(), query_options(&p)?);
    let _admitted = admitted(state).await?;
    let fetch = if limit > 0 { limit + 1 } else { 0 };
    let (mut all, mut warnings) = for_each_selector(selectors, |matchers| {
        let storage = &storage;
        async move { storage.series_labels(start, end, matchers, fetch).await }
    })
    .await?;
    all.sort();
    all.dedup();
    if limit > 0 && all.len() > limit {
        all.truncate(limit);
        warnings.push("results truncated due to limit".into());
    }
    let mut out = String::from("[");
    for (i, labels) in all.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json::push_labels(&mut out, labels);
    }
    out.push(']');
    Ok(ApiData {
        data: Data::Json(out),
        warnings,
        infos: Vec::new(),
    })
}

/// Thanos' `/api/v1/stores`: endpoints by component type with labels, range, health.
async fn stores(State(state): Shared) -> Response {
    let mut groups: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for endpoint in state.fanout.endpoints.all() {
        let s = endpoint.state();
        let mut o = String::from("{\"name\":");
        push_json_string(&mut o, &endpoint.address);
        o.push_str(",\"lastCheck\":");
        match s.last_check.and_then(|t| t.duration_since(UNIX_EPOCH).ok()) {
            Some(d) => push_json_string(
                &mut o,
                &crate::promql::functions::format::rfc3339(d.as_secs() as i64),
            ),
            None => o.push_str("null"),
        }
        o.push_str(",\"lastError\":");
        match &s.last_error {
            Some(e) => push_json_string(&mut o, e),
            None => o.push_str("null"),
        }
        let (component, label_sets, min, max) = match &s.info {
            Some(i) => (
                i.component.as_str(),
                i.label_sets.clone(),
                i.min_time,
                i.max_time,
            ),
            None => ("unknown", Vec::new(), 0, 0),
        };
        o.push_str(",\"labelSets\":[");
        for (i, set) in label_sets.iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            json::push_labels(&mut o, set);
        }
        o.push_str(&format!(
            "],\"minTime\":{min},\"maxTime\":{max},\"healthy\":{}}}",
            s.healthy()
        ));
        groups.entry(component.to_string()).or_default().push(o);
    }
    let mut out = String::from("{");
    for (i, (component, entries)) in groups.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_string(&mut out, component);
        out.push_str(":[");
        out.push_str(&entries.join(","));
        out.push(']');
    }
    out.push('}');
    respond(Ok(ApiData::new(out)))
}

/// The flags the gateway runs with, as `{"name": "value"}`.
async fn flags(State(state): Shared) -> Response {
    let pairs = state.flags.iter().map(|(n, v)| (n.as_str(), v.as_str()));
    respond(Ok(ApiData::new(json::string_object(pairs))))
}

async fn runtimeinfo(State(state): Shared) -> Response {
    let started = state
        .started
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let cwd = std::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    let mut out = String::from("{\"startTime\":");
    push_json_string(
        &mut out,
        &crate::promql::functions::format::rfc3339(started),
    );
    out.push_str(",\"CWD\":");
    push_json_string(&mut out, &cwd);
    out.push_str(&format!(
        ",\"reloadConfigSuccess\":true,\"lastConfigTime\":\"0001-01-01T00:00:00Z\",\"corruptionCount\":0,\"goroutineCount\":0,\"GOMAXPROCS\":{},\"GOMEMLIMIT\":0,\"GOGC\":\"\",\"GODEBUG\":\"\",\"storageRetention\":\"\"}}",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    ));
    respond(Ok(ApiData::new(out)))
}

/// Metric metadata of the endpoints that serve it (sidecars, gateways): `{metric: [{type,
/// help, unit}]}`, with `metric`, `limit` and `limit_per_metric`.
async fn metadata(State(state): Shared, ApiParams(p): ApiParams) -> Response {
    respond(run_metadata(&state, p).await)
}

async fn run_metadata(state: &AppState, p: Params) -> ApiResult {
    let count = |name: &str| match p.get(name) {
        None | Some("") => Ok(0),
        Some(l) => l
            .parse::<i64>()
            .map(|n| usize::try_from(n).unwrap_or(0))
            .map_err(|_| ApiError::bad_param(name, format!("cannot parse {l:?} to an integer"))),
    };
    let (limit, per_metric) = (count("limit")?, count("limit_per_metric")?);
    let storage = FanoutStorage::new(state.fanout.clone(), query_options(&p)?);
    let answer = storage
        .metric_metadata(p.get("metric").unwrap_or(""), limit)
        .await?;
    let mut out = String::from("{");
    for (i, (metric, metas)) in answer.data.metrics.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_string(&mut out, metric);
        out.push_str(":[");
        let shown = if per_metric > 0 {
            per_metric
        } else {
            metas.len()
        };
        for (j, meta) in metas.iter().take(shown).enumerate() {
            if j > 0 {
                out.push(',');
            }
            out.push_str("{\"type\":");
            push_json_string(&mut out, &meta.kind);
            out.push_str(",\"help\":");
            push_json_string(&mut out, &meta.help);
            out.push_str(",\"unit\":");
            push_json_string(&mut out, &meta.unit);
            out.push('}');
        }
        out.push(']');
    }
    out.push('}');
    Ok(ApiData {
        data: Data::Json(out),
        warnings: answer.warnings,
        infos: Vec::new(),
    })
}

/// Exemplars are not stored: an empty list, as Grafana's probe expects (`status: success`).
async fn exemplars(ApiParams(p): ApiParams) -> Response {
    let checked = (|| {
        syntax::parse(p.get("query").unwrap_or(""))
            .map_err(|e| ApiError::bad_data(e.to_string()))?;
        let start = p.time_or("start", MIN_TIME)?;
        let end = p.time_or("end", MAX_TIME)?;
        if end < start {
            return Err(ApiError::bad_data(
                "end timestamp must not be before start timestamp",
            ));
        }
        Ok(ApiData::new("[]".into()))
    })();
    respond(checked)
}

/// No rules are evaluated here: empty groups.
async fn rules() -> Response {
    respond(Ok(ApiData::new("{\"groups\":[]}".into())))
}

async fn alerts() -> Response {
    respond(Ok(ApiData::new("{\"alerts\":[]}".into())))
}

fn parsed(p: &Params) -> Result<syntax::Expr, ApiError> {
    let query = p.get("query").unwrap_or("");
    syntax::parse(query).map_err(|e| ApiError::bad_data(e.to_string()))
}

async fn format_query(ApiParams(p): ApiParams) -> Response {
    let result = parsed(&p).map(|expr| {
        let mut out = String::new();
        push_json_string(&mut out, &syntax::pretty::prettify(&expr));
        ApiData::new(out)
    });
    respond(result)
}

/// The query's syntax tree as JSON, in the shape of Prometheus' UI.
async fn parse_query(ApiParams(p): ApiParams) -> Response {
    let result = parsed(&p).map(|expr| ApiData::new(syntax::pretty::tree_json(&expr)));
    respond(result)
}

async fn buildinfo() -> Response {
    use crate::build_info::{BRANCH, BUILD_DATE, REVISION, RUSTC, VERSION};
    respond(Ok(ApiData::new(json::string_object([
        ("version", VERSION),
        ("revision", REVISION),
        ("branch", BRANCH),
        ("buildUser", ""),
        ("buildDate", BUILD_DATE),
        ("goVersion", RUSTC),
    ]))))
}
