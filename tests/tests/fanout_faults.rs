//! Fault tests with real processes: a real `panoptes query` gateway, queried over HTTP, in front
//! of real gRPC StoreAPI servers on loopback, some of them faulty — killed in the middle of an
//! answer, hung, silent from the start, gone from DNS, or sending undecodable chunks. Partial
//! response must give warnings naming the endpoint and the rest of the data, abort a
//! Prometheus-shaped error naming it, nothing may hang past `--store.response-timeout`, and the
//! gateway must keep serving afterwards.
//!
//! Needs the binary: `cargo build --bin panoptes`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use futures_util::TryStreamExt;
use panoptes_tests::faults::{
    Fault, FaultStore, Gateway, Proxy, Record, Reply, SilentListener, StoreStatus, TestDns,
};
use panoptes_tests::net::free_addr;
use panoptes_tests::prometheus::{
    Answer, Eval, PrometheusServer, Version, api_client, get_data, query_answer,
};
use panoptes_tests::vmalert::{Metrics, Vmalert};
use std::collections::BTreeMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use store_api::chunk::decode_into;
use store_api::server::{RunningServer, spawn};
use store_api::{Labels, MatchOp, Matcher, MemoryStore, SeriesFrame, SeriesRequest, Store};
use tokio::sync::mpsc;

/// No test may run longer than this, whatever happens.
const TEST_LIMIT: Duration = Duration::from_secs(150);
/// The gateway polls Info every 5 s (not a flag) with a 5 s timeout.
const INFO_ROUND: Duration = Duration::from_secs(5);

// Timing bounds. Each is derived from the timeout it tests, with headroom for a loaded 2-core
// machine: these tests pass 20 runs in a row with two CPU hogs beside them (each test prints
// what it measured; cuts land within ~20 ms of the timeout there, clean replies in tens of ms).

/// A reply that waited on no faulty endpoint comes before the response timeout could have
/// cut anything.
fn unhindered(response_timeout: Duration) -> Duration {
    response_timeout
}

/// A reply cut at the response timeout comes no earlier than the timeout (the client's clock
/// starts before the gateway's; timers never fire early, the slack is for clock reading), and
/// before a second timeout has passed, which a cut that waited on another one would need.
fn cut_window(response_timeout: Duration) -> (Duration, Duration) {
    (
        response_timeout - Duration::from_millis(20),
        response_timeout * 2,
    )
}

/// How long an Info call in flight at a freeze may already have been waiting: an answering
/// endpoint's Info takes milliseconds; a second is for a loaded machine.
const INFO_IN_FLIGHT: Duration = Duration::from_secs(1);

const QUERY: &str = "/api/v1/query";
const QUERY_RANGE: &str = "/api/v1/query_range";
const SERIES: &str = "/api/v1/series";
const LABELS: &str = "/api/v1/labels";

const INSTANT: [(&str, &str); 2] = [("query", "fault_test"), ("time", "300")];
const RANGE: [(&str, &str); 4] = [
    ("query", "fault_test"),
    ("start", "0"),
    ("end", "600"),
    ("step", "60"),
];
const MATCH: [(&str, &str); 1] = [("match[]", "fault_test")];
const ABORT: (&str, &str) = ("partial_response", "false");

async fn bounded(test: impl Future<Output = ()>) {
    tokio::time::timeout(TEST_LIMIT, test)
        .await
        .expect("the test ran past its time limit");
}

fn with<'a>(params: &[(&'a str, &'a str)], extra: (&'a str, &'a str)) -> Vec<(&'a str, &'a str)> {
    let mut all = params.to_vec();
    all.push(extra);
    all
}

// ----- data ----------------------------------------------------------------------------------

/// `fault_test{source=..., <extra>}` every 15 s over [0, 600 s], constant `value`.
fn series(source: &str, extra: &[(&str, &str)], value: f64) -> (Labels, Vec<(i64, f64)>) {
    let mut pairs = vec![("__name__", "fault_test"), ("source", source)];
    pairs.extend_from_slice(extra);
    let samples = (0..=40).map(|i| (i * 15_000, value)).collect();
    (Labels::from_pairs(pairs), samples)
}

/// The healthy endpoint's data: `fault_test{source="healthy"} 1`.
fn healthy_store() -> MemoryStore {
    MemoryStore::new(Labels::new(), [series("healthy", &[], 1.0)])
}

/// 20 series `fault_test{source=<source>, n="00".."19"}` with `value`: enough frames that a
/// stall after a few is in the middle of the answer.
fn many(source: &str, value: f64) -> MemoryStore {
    let numbers: Vec<String> = (0..20).map(|n| format!("{n:02}")).collect();
    MemoryStore::new(
        Labels::new(),
        numbers
            .iter()
            .map(|n| series(source, &[("n", n.as_str())], value))
            .collect::<Vec<_>>(),
    )
}

async fn serve<S: Store>(store: Arc<S>) -> RunningServer {
    spawn(store, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .expect("serving a store on loopback")
}

fn endpoint(addr: impl std::fmt::Display) -> String {
    format!("--endpoint={addr}")
}

// ----- answers -------------------------------------------------------------------------------

/// Instant or range result: number of series and values seen, by `source` label.
fn by_source(reply: &Reply) -> BTreeMap<String, (usize, Vec<f64>)> {
    let mut out: BTreeMap<String, (usize, Vec<f64>)> = BTreeMap::new();
    let data = &reply.body["data"];
    let results = match data["result"].as_array() {
        Some(r) => r.clone(),
        None => data.as_array().cloned().unwrap_or_default(), // /api/v1/series
    };
    for item in results {
        let labels = if item["metric"].is_object() {
            &item["metric"]
        } else {
            &item
        };
        let source = labels["source"].as_str().unwrap_or("").to_string();
        let entry = out.entry(source).or_default();
        entry.0 += 1;
        let points: Vec<serde_json::Value> = if item["value"].is_array() {
            vec![item["value"].clone()]
        } else {
            item["values"].as_array().cloned().unwrap_or_default()
        };
        entry.1.extend(
            points
                .iter()
                .filter_map(|p| p[1].as_str()?.parse::<f64>().ok()),
        );
    }
    out
}

fn sources(reply: &Reply) -> Vec<String> {
    by_source(reply).into_keys().collect()
}

/// HTTP 200 `status: success`, data from the healthy endpoint(s), and a warning naming
/// `address` with a reason after it.
#[track_caller]
fn assert_partial(reply: &Reply, address: &str, healthy: &[&str]) -> String {
    assert!(
        reply.is_success(),
        "expected a partial answer: {}",
        reply.body
    );
    let found = by_source(reply);
    for source in healthy {
        assert!(
            found.contains_key(*source),
            "data of {source:?} missing: {}",
            reply.body
        );
    }
    let warning = reply
        .warnings()
        .into_iter()
        .find(|w| w.contains(address))
        .unwrap_or_else(|| panic!("no warning names {address}: {}", reply.body));
    let reason = warning.split_once(address).map_or("", |(_, r)| r);
    assert!(
        reason.trim_start_matches([':', ' ']).len() > 3,
        "the warning gives no reason: {warning:?}"
    );
    warning
}

/// A Prometheus-shaped error naming `address`, with a status code Grafana reads.
#[track_caller]
fn assert_abort(reply: &Reply, address: &str) -> String {
    assert!(
        [400, 422, 503].contains(&reply.status),
        "status {} is not one Grafana parses as a query error: {}",
        reply.status,
        reply.body
    );
    assert_eq!(reply.body["status"], "error", "{}", reply.body);
    assert!(
        reply.body["errorType"]
            .as_str()
            .is_some_and(|t| !t.is_empty()),
        "no errorType: {}",
        reply.body
    );
    let error = reply.body["error"].as_str().unwrap_or_default().to_string();
    assert!(
        error.contains(address),
        "the error does not name {address}: {}",
        reply.body
    );
    assert!(
        reply.body.get("data").is_none(),
        "an error carries no data: {}",
        reply.body
    );
    error
}

/// 200, no warnings, exactly `expected` sources, without waiting on a faulty endpoint.
#[track_caller]
fn assert_clean(reply: &Reply, expected: &[&str], response_timeout: Duration) {
    assert!(reply.is_success(), "{}", reply.body);
    assert!(
        reply.warnings().is_empty(),
        "unexpected warnings: {}",
        reply.body
    );
    assert_eq!(sources(reply), expected, "{}", reply.body);
    assert_unhindered(reply, response_timeout);
}

#[track_caller]
fn assert_unhindered(reply: &Reply, response_timeout: Duration) {
    let bound = unhindered(response_timeout);
    assert!(
        reply.elapsed < bound,
        "took {:?}: it waited on something (the response timeout is {response_timeout:?})",
        reply.elapsed
    );
}

#[track_caller]
fn assert_cut_at(reply: &Reply, timeout: Duration) {
    let (earliest, latest) = cut_window(timeout);
    assert!(
        reply.elapsed >= earliest && reply.elapsed < latest,
        "took {:?}; expected a cut at the response timeout {timeout:?} (in [{earliest:?}, \
         {latest:?}))",
        reply.elapsed
    );
}

fn is_healthy(s: Option<&StoreStatus>) -> bool {
    s.is_some_and(|s| s.healthy && s.last_error.is_none())
}

fn is_unhealthy(s: Option<&StoreStatus>) -> bool {
    s.is_some_and(|s| !s.healthy && s.last_error.is_some())
}

// ----- 1. an endpoint killed in the middle of its answer ------------------------------------

/// Waits until `n` Series answers have stalled (each after sending 5 series), lets their
/// frames reach the wire, then kills every connection of `proxy`: the endpoint's process dies
/// in the middle of `n` answers.
async fn kill_after_stalls(stalls: &mut mpsc::UnboundedReceiver<()>, n: usize, proxy: &Proxy) {
    for i in 0..n {
        tokio::time::timeout(Duration::from_secs(10), stalls.recv())
            .await
            .unwrap_or_else(|_| panic!("only {i} of {n} answers reached the endpoint"))
            .expect("the store is alive");
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let open = proxy.kill_connections();
    assert!(open > 0, "nothing to kill: the gateway was not connected");
}

/// The faulty endpoint sends 5 of its 20 series, then its process dies: every connection to it
/// closes at once (a proxy in front of the real server drops them; it keeps listening, as a
/// process restarted by its supervisor). Partial response: 200, the healthy data, a warning
/// naming the endpoint and the reason; abort: an error naming it — for instant and range
/// queries and the series API, within a fraction of the response timeout. Then the process
/// stays dead; Info marks it unhealthy, and the gateway answers cleanly from the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoint_killed_mid_stream() {
    bounded(async {
        let healthy = serve(Arc::new(healthy_store())).await;
        let (dying_store, mut stalls) = FaultStore::new(many("dying", 2.0), Fault::StallAfter(5));
        let dying = serve(dying_store.clone()).await;
        let proxy = Proxy::start(dying.addr).await;
        let address = proxy.addr().to_string();
        let response_timeout = Duration::from_secs(10);
        let gateway = Gateway::start(&[
            endpoint(healthy.addr),
            endpoint(&address),
            "--store.response-timeout=10s".into(),
        ])
        .await;
        gateway
            .wait_for_store(&address, INFO_ROUND * 3, "healthy", is_healthy)
            .await;

        // Partial response (the default), instant query.
        let (reply, ()) = tokio::join!(
            gateway.get(QUERY, &INSTANT),
            kill_after_stalls(&mut stalls, 1, &proxy),
        );
        let warning = assert_partial(&reply, &address, &["healthy"]);
        assert!(
            reply.elapsed < response_timeout / 2,
            "a dead connection must be noticed at once, not at the response timeout: {:?}",
            reply.elapsed
        );
        println!(
            "killed, partial: {:?}, warning {warning:?}, data {:?}",
            reply.elapsed,
            by_source(&reply)
        );

        // The process restarted (the proxy listens again): once the gateway has reconnected
        // (its next Info poll), four requests at once, and the process dies in the middle of
        // all four answers.
        let reconnected = proxy.wait_for_connection(INFO_ROUND * 2).await;
        println!("the gateway reconnected after {reconnected:?}");
        let abort_instant = with(&INSTANT, ABORT);
        let abort_series = with(&MATCH, ABORT);
        let (abort, range, series, series_abort, ()) = tokio::join!(
            gateway.get(QUERY, &abort_instant),
            gateway.get(QUERY_RANGE, &RANGE),
            gateway.get(SERIES, &MATCH),
            gateway.get(SERIES, &abort_series),
            kill_after_stalls(&mut stalls, 4, &proxy),
        );
        assert_eq!(proxy.kills(), 2);
        for reply in [&range, &series] {
            let warning = assert_partial(reply, &address, &["healthy"]);
            assert!(reply.elapsed < response_timeout / 2, "{:?}", reply.elapsed);
            println!("killed, partial: {:?}, {warning:?}", reply.elapsed);
        }
        assert_eq!(by_source(&range)["healthy"], (1, vec![1.0; 11]));
        for reply in [&abort, &series_abort] {
            let error = assert_abort(reply, &address);
            assert!(reply.elapsed < response_timeout / 2, "{:?}", reply.elapsed);
            println!(
                "killed, abort: {} in {:?}: {error}",
                reply.status, reply.elapsed
            );
        }

        // The process is gone for good: Info fails, the endpoint is not queried any more.
        proxy.shutdown();
        let took = gateway
            .wait_for_store(&address, INFO_ROUND * 3, "unhealthy", is_unhealthy)
            .await;
        let status = gateway.store(&address).await.unwrap();
        println!("dead endpoint unhealthy after {took:?}: {status:?}");

        // The gateway keeps serving without waiting for it, and says it is left out: a
        // warning of a partial answer, the error of an aborted one.
        assert_left_out(&gateway, &address, &["healthy"], response_timeout).await;
        let reply = gateway.get(QUERY_RANGE, &RANGE).await;
        assert_eq!(by_source(&reply)["healthy"], (1, vec![1.0; 11]));
    })
    .await;
}

/// Every API answers at once without the endpoint at `address`, naming it: partial answers
/// have the `healthy` data and a warning that it was not queried, aborted ones fail with that.
async fn assert_left_out(gateway: &Gateway, address: &str, healthy: &[&str], timeout: Duration) {
    let left_out = |text: &str| text.contains("not queried");
    for (path, params) in [
        (QUERY, &INSTANT[..]),
        (QUERY_RANGE, &RANGE[..]),
        (SERIES, &MATCH[..]),
    ] {
        let reply = gateway.get(path, params).await;
        let warning = assert_partial(&reply, address, healthy);
        assert!(left_out(&warning), "{path}: {warning}");
        assert_unhindered(&reply, timeout);
        let reply = gateway.get(path, &with(params, ABORT)).await;
        let error = assert_abort(&reply, address);
        assert!(left_out(&error), "{path}: {error}");
        assert_unhindered(&reply, timeout);
    }
    let labels = gateway.get(LABELS, &[]).await;
    assert!(labels.is_success(), "{}", labels.body);
    assert!(
        labels
            .warnings()
            .iter()
            .any(|w| w.contains(address) && left_out(w)),
        "{}",
        labels.body
    );
    assert!(
        labels.body["data"]
            .as_array()
            .unwrap()
            .contains(&"source".into()),
        "{}",
        labels.body
    );
    assert_unhindered(&labels, timeout);
    assert_abort(&gateway.get(LABELS, &[ABORT]).await, address);
    let values = gateway.get("/api/v1/label/source/values", &[]).await;
    assert!(
        values
            .warnings()
            .iter()
            .any(|w| w.contains(address) && left_out(w)),
        "{}",
        values.body
    );
    assert_unhindered(&values, timeout);
}

// ----- 2. endpoints that never answer --------------------------------------------------------

/// An endpoint that accepts TCP connections and never speaks HTTP/2. While the gateway's first
/// Info round waits for it, `/-/ready` is 503 and answers name it as not yet probed; once its
/// Info has timed out it is unhealthy in `/api/v1/stores` with its error, and answers name it
/// as not queried. No query ever waits for it, and none is an empty success: partial answers
/// carry a warning, aborted ones fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_endpoint_is_named_and_never_waited_for() {
    bounded(async {
        let timeout = Duration::from_secs(2);
        let healthy = serve(Arc::new(healthy_store())).await;
        let silent = SilentListener::start().await;
        let address = silent.addr().to_string();
        let started = Instant::now();
        let gateway = Gateway::start_unready(&[
            endpoint(healthy.addr),
            endpoint(&address),
            "--store.response-timeout=2s".into(),
        ])
        .await;
        // The first Info round waits up to the Info timeout for the silent endpoint; what
        // is asked well before it ends must say so. (Checked only when the start was quick
        // enough to leave that time, so a loaded machine cannot fail it.)
        let ready = gateway.ready_status().await;
        let reply = gateway.get(QUERY, &INSTANT).await;
        if started.elapsed() + Duration::from_secs(1) < INFO_ROUND {
            assert_eq!(ready, 503, "ready before its first Info round ended");
            let warning = assert_partial(&reply, &address, &["healthy"]);
            assert!(warning.contains("not yet probed"), "{warning}");
            println!("before the first round: /-/ready {ready}, {warning:?}");
        }
        gateway.wait_ready(INFO_ROUND * 2).await;
        println!("ready after {:?}", started.elapsed());
        assert!(silent.accepted() >= 1, "the gateway never connected");

        let status = gateway
            .store(&address)
            .await
            .expect("listed in /api/v1/stores");
        println!("silent endpoint: {status:?}");
        assert!(is_unhealthy(Some(&status)), "{status:?}");
        assert!(
            gateway
                .store(&healthy.addr.to_string())
                .await
                .is_some_and(|s| s.healthy),
            "the healthy endpoint"
        );
        assert_left_out(&gateway, &address, &["healthy"], timeout).await;
    })
    .await;
}

/// A gateway whose every endpoint is down answers no query with an empty success: `count`
/// and `absent` of anything carry a warning naming each endpoint (and fail in abort mode),
/// so neither a dashboard nor an `absent()` alert reads the gateway's state as the fleet's;
/// `/federate` fails with a 500 in abort mode.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_empty_success_when_every_endpoint_is_down() {
    bounded(async {
        let timeout = Duration::from_secs(2);
        let (first, second) = (free_addr().to_string(), free_addr().to_string());
        let gateway = Gateway::start(&[
            endpoint(&first),
            endpoint(&second),
            "--store.response-timeout=2s".into(),
        ])
        .await;
        for query in ["count(fault_test)", "absent(fault_test)"] {
            let params = [("query", query), ("time", "300")];
            let reply = gateway.get(QUERY, &params).await;
            assert!(reply.is_success(), "{}", reply.body);
            for address in [&first, &second] {
                assert!(
                    reply
                        .warnings()
                        .iter()
                        .any(|w| w.contains(address.as_str())),
                    "{query}: no warning names {address}: {}",
                    reply.body
                );
            }
            assert_unhindered(&reply, timeout);
            println!("{query}, all down: {}", reply.body);
            let reply = gateway.get(QUERY, &with(&params, ABORT)).await;
            assert_abort(&reply, &first);
            assert_abort(&reply, &second);
        }
        // `/federate` has no warnings to give: with partial response it serves what it has
        // (and logs the rest); a gateway that aborts answers Prometheus' plain-text 500.
        let federate = [("match[]", "fault_test")];
        let (status, _, body) = gateway.get_text("/federate", &federate).await;
        assert_eq!((status, body.as_str()), (200, ""));
        let strict =
            Gateway::start(&[endpoint(&first), "--query.partial-response=false".into()]).await;
        let (status, content_type, body) = strict.get_text("/federate", &federate).await;
        println!("/federate, all down, aborting: {status} {body:?}");
        assert_eq!(status, 500, "{body}");
        assert_eq!(content_type, "text/plain; charset=utf-8");
        assert!(
            body.contains(&first) && body.contains("not queried"),
            "{body}"
        );
    })
    .await;
}

/// An endpoint healthy by Info whose Series answer stops after 3 frames and never ends: the
/// query is cut `--store.response-timeout` (2 s) after the last frame, with a warning
/// (partial) or an error (abort), for instant queries and the series API alike. Info still
/// works, so the endpoint stays in; once it answers again the gateway uses it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoint_hung_mid_answer_is_cut_at_response_timeout() {
    bounded(async {
        let timeout = Duration::from_secs(2);
        let healthy = serve(Arc::new(healthy_store())).await;
        let (store, mut stalls) = FaultStore::new(many("stuck", 2.0), Fault::StallAfter(3));
        let stuck = serve(store.clone()).await;
        let address = stuck.addr.to_string();
        let gateway = Gateway::start(&[
            endpoint(healthy.addr),
            endpoint(&address),
            "--store.response-timeout=2s".into(),
        ])
        .await;
        gateway
            .wait_for_store(&address, INFO_ROUND * 3, "healthy", is_healthy)
            .await;

        // All at once: each is cut at the timeout, not one after the other.
        let started = Instant::now();
        let abort_instant = with(&INSTANT, ABORT);
        let abort_series = with(&MATCH, ABORT);
        let (partial, abort, range, series, series_abort) = tokio::join!(
            gateway.get(QUERY, &INSTANT),
            gateway.get(QUERY, &abort_instant),
            gateway.get(QUERY_RANGE, &RANGE),
            gateway.get(SERIES, &MATCH),
            gateway.get(SERIES, &abort_series),
        );
        println!("5 concurrent requests done in {:?}", started.elapsed());
        let mut stalled = 0;
        while stalls.try_recv().is_ok() {
            stalled += 1;
        }
        assert_eq!(stalled, 5, "every request met the stall");

        for reply in [&partial, &range, &series] {
            let warning = assert_partial(reply, &address, &["healthy"]);
            assert!(
                warning.contains("2s"),
                "the warning names the timeout: {warning}"
            );
            assert_cut_at(reply, timeout);
            println!("hung, partial: {:?}, {warning:?}", reply.elapsed);
        }
        for reply in [&abort, &series_abort] {
            let error = assert_abort(reply, &address);
            assert_cut_at(reply, timeout);
            println!(
                "hung, abort: {} in {:?}: {error}",
                reply.status, reply.elapsed
            );
        }

        // Info never failed: still healthy. Once it answers whole again it is used again.
        assert!(is_healthy(gateway.store(&address).await.as_ref()));
        store.set_fault(Fault::None);
        let reply = gateway.get(QUERY, &with(&INSTANT, ABORT)).await;
        assert_clean(&reply, &["healthy", "stuck"], timeout);
        assert_eq!(by_source(&reply)["stuck"], (20, vec![2.0; 20]));
        assert_clean(
            &gateway.get(SERIES, &MATCH).await,
            &["healthy", "stuck"],
            timeout,
        );
    })
    .await;
}

/// `/federate?match[]=fault_test`: the status, the body or why it was cut, and how long it took.
async fn timed_federate(gateway: &Gateway) -> ((u16, Result<String, String>), Duration) {
    let started = Instant::now();
    let reply = gateway
        .get_text_or_cut("/federate", &[("match[]", "fault_test")])
        .await;
    (reply, started.elapsed())
}

/// `/federate` over a live endpoint and one that stops after 3 of its 20 series (the
/// healthy one's 5 interleave with them in label order), `--store.response-timeout=2s`. The
/// body has begun by then (its status and first series were known), so the failure cannot
/// be the status. With partial response the answer is whole but for the stuck endpoint's
/// missing series: 200, the failure logged naming the endpoint, counted as a partial answer.
/// With `--query.partial-response=false` the body is cut, so the scraper fails rather than
/// taking partial data: logged, counted as cut.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn federate_reports_an_endpoint_failing_mid_answer() {
    bounded(async {
        let timeout = Duration::from_secs(2);
        let now = unix_now_ms();
        let healthy = serve(Arc::new(live_store(&[], "healthy", 5, now))).await;
        let (store, mut stalls) =
            FaultStore::new(live_store(&[], "stuck", 20, now), Fault::StallAfter(3));
        let stuck = serve(store).await;
        let address = stuck.addr.to_string();
        let logs = tempfile::tempdir().unwrap();
        let start = |name: &str, extra: &[&str]| {
            let mut args = vec![
                endpoint(healthy.addr),
                endpoint(&address),
                "--store.response-timeout=2s".to_string(),
            ];
            args.extend(extra.iter().map(ToString::to_string));
            let log = logs.path().join(name);
            async move {
                let gateway = Gateway::start_logging_to(&args, &log).await;
                gateway.wait_ready(INFO_ROUND * 2).await;
                (gateway, log)
            }
        };
        let ((partial, partial_log), (strict, strict_log)) = tokio::join!(
            start("partial.log", &[]),
            start("strict.log", &["--query.partial-response=false"]),
        );
        let (((status, body), took), ((strict_status, cut), strict_took)) =
            tokio::join!(timed_federate(&partial), timed_federate(&strict));
        assert_eq!(stalls.try_recv(), Ok(()));
        assert_eq!(stalls.try_recv(), Ok(()), "both answers met the stall");
        let (earliest, latest) = cut_window(timeout);
        for took in [took, strict_took] {
            assert!(earliest <= took && took <= latest, "took {took:?}");
        }

        let body = body.expect("a partial answer is whole");
        println!("partial: {status} in {took:?}:\n{body}");
        assert_eq!(status, 200);
        let count = |source: &str| {
            let label = format!("source=\"{source}\"");
            body.lines().filter(|l| l.contains(&label)).count()
        };
        assert_eq!((count("healthy"), count("stuck")), (5, 3), "{body}");
        println!("aborting: {strict_status} in {strict_took:?}, {cut:?}");
        assert_eq!(strict_status, 200, "the status was sent before the failure");
        assert!(
            cut.is_err(),
            "the body must be cut, not end cleanly: {cut:?}"
        );

        for (gateway, log, outcome, logged) in [
            (&partial, &partial_log, "partial", "federate: partial data"),
            (&strict, &strict_log, "cut", "federate: answer cut"),
        ] {
            let (_, _, page) = gateway.get_text("/metrics", &[]).await;
            let answers = Metrics::parse(&page);
            let counted = answers.max("panoptes_federate_answers_total", &[("outcome", outcome)]);
            assert_eq!(counted, 1.0, "{outcome}");
            let text = std::fs::read_to_string(log).unwrap();
            assert!(
                text.lines()
                    .any(|l| l.contains(logged) && l.contains(&address) && l.contains("2s")),
                "no {logged:?} line naming {address} and the timeout:\n{text}"
            );
        }
    })
    .await;
}

/// An HA pair: two replicas of one shard (external labels `replica="a"|"b"`, the same
/// series), the gateway de-duplicating by `replica`. One freezes (a black hole, as SIGSTOP):
/// queries, the series API and label calls answer once the grace after the other replica's
/// answer is over (`--store.replica-grace=1s`) — not at the 10 s response timeout — with the
/// full data and a warning naming
/// the frozen one, partial or not (the data is whole). Thawed, it answers again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frozen_replica_is_cut_after_the_grace() {
    bounded(async {
        let (response_timeout, grace) = (Duration::from_secs(10), Duration::from_secs(1));
        let replica = |name: &str| {
            MemoryStore::new(
                Labels::from_pairs([("replica", name)]),
                (0..20).map(|n| series("pair", &[("n", &format!("{n:02}"))], 7.0)),
            )
        };
        let a = serve(Arc::new(replica("a"))).await;
        let (b_store, _stalls) = FaultStore::new(replica("b"), Fault::None);
        let b = serve(b_store).await;
        let proxy = Proxy::start(b.addr).await;
        let frozen = proxy.addr().to_string();
        let gateway = Gateway::start(&[
            endpoint(a.addr),
            endpoint(&frozen),
            "--query.replica-label=replica".into(),
            "--store.response-timeout=10s".into(),
            "--store.replica-grace=1s".into(),
        ])
        .await;
        assert_clean(
            &gateway.get(QUERY, &INSTANT).await,
            &["pair"],
            response_timeout,
        );

        proxy.freeze().await;
        let abort_instant = with(&INSTANT, ABORT);
        let (instant, abort, range, series, labels, values) = tokio::join!(
            gateway.get(QUERY, &INSTANT),
            gateway.get(QUERY, &abort_instant),
            gateway.get(QUERY_RANGE, &RANGE),
            gateway.get(SERIES, &MATCH),
            gateway.get(LABELS, &[]),
            gateway.get("/api/v1/label/n/values", &[]),
        );
        for (what, reply) in [
            ("instant", &instant),
            ("abort", &abort),
            ("range", &range),
            ("series", &series),
            ("labels", &labels),
            ("values", &values),
        ] {
            assert!(reply.is_success(), "{what}: {}", reply.body);
            assert!(
                reply
                    .warnings()
                    .iter()
                    .any(|w| w.contains(&frozen) && w.contains("cut")),
                "{what}: no warning names the frozen replica: {}",
                reply.body
            );
            // Within the grace after the healthy replica's answer (it adapts to the replica's
            // usual latency, milliseconds here, but is never less than 1 s: so 1 s), far
            // below the response timeout; the bound leaves a second for a loaded machine.
            assert!(
                reply.elapsed < grace * 2 && reply.elapsed < response_timeout,
                "{what}: took {:?}",
                reply.elapsed
            );
            println!(
                "frozen replica, {what}: {:?}, {:?}",
                reply.elapsed,
                reply.warnings()
            );
        }
        assert_eq!(by_source(&instant)["pair"], (20, vec![7.0; 20]));
        assert_eq!(by_source(&abort)["pair"], (20, vec![7.0; 20]));
        assert_eq!(by_source(&range)["pair"], (20, vec![7.0; 220]));
        assert_eq!(values.body["data"].as_array().map(Vec::len), Some(20));

        // Cut once, it gets only a moment in the next requests (until its Info answers
        // again), or none once the Info poll has marked it unhealthy: a rule group
        // evaluating one query after another pays the grace once, not per query.
        for _ in 0..3 {
            let reply = gateway.get(QUERY, &INSTANT).await;
            assert_eq!(by_source(&reply)["pair"], (20, vec![7.0; 20]));
            assert!(
                reply.warnings().iter().any(|w| w.contains(&frozen)),
                "{}",
                reply.body
            );
            println!("frozen replica, next query: {:?}", reply.elapsed);
            assert!(reply.elapsed < grace / 2, "took {:?}", reply.elapsed);
        }

        // Thawed: answers are whole and clean again once it is reconnected.
        proxy.thaw();
        let thawed = Instant::now();
        loop {
            let reply = gateway.get(QUERY, &INSTANT).await;
            assert_eq!(by_source(&reply)["pair"], (20, vec![7.0; 20]));
            if reply.warnings().is_empty() {
                println!("clean again {:?} after the thaw", thawed.elapsed());
                break;
            }
            assert!(thawed.elapsed() < INFO_ROUND * 3, "{}", reply.body);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
}

/// Milliseconds since the Unix epoch.
fn unix_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Series of [`live_replica`], each with this value.
const LIVE_SERIES: usize = 5;
const LIVE_VALUE: f64 = 7.0;

/// A live HA pair (`live_replica` a and b) with b behind a proxy that can freeze it, and a
/// gateway over both: response timeout 10 s, replica grace `grace`.
struct FreezablePair {
    _a: RunningServer,
    _b: RunningServer,
    proxy: Proxy,
    gateway: Gateway,
}

impl FreezablePair {
    async fn start(now_ms: i64, grace: Duration) -> Self {
        let a = serve(Arc::new(live_replica("a", now_ms))).await;
        let b = serve(Arc::new(live_replica("b", now_ms))).await;
        let proxy = Proxy::start(b.addr).await;
        let gateway = Gateway::start(&[
            endpoint(a.addr),
            endpoint(proxy.addr()),
            "--query.replica-label=replica".into(),
            "--store.response-timeout=10s".into(),
            format!("--store.replica-grace={}ms", grace.as_millis()),
        ])
        .await;
        Self {
            _a: a,
            _b: b,
            proxy,
            gateway,
        }
    }
}

/// One replica of an HA pair (external label `replica=<name>`) with live data:
/// `fault_test{source="pair", n="0".."4"} 7`.
fn live_replica(name: &str, now_ms: i64) -> MemoryStore {
    live_store(&[("replica", name)], "pair", LIVE_SERIES, now_ms)
}

/// `fault_test{source=<source>, n="0"..} 7` (`series` of them) every 15 s up to `now_ms`,
/// as a scraper would have written it, with `external` labels.
fn live_store(external: &[(&str, &str)], source: &str, series: usize, now_ms: i64) -> MemoryStore {
    let live = (0..series).map(|n| {
        let labels = Labels::from_pairs([
            ("__name__", "fault_test".to_string()),
            ("source", source.into()),
            ("n", n.to_string()),
        ]);
        let samples = (0..20)
            .map(|i| (now_ms - (20 - i) * 15_000, LIVE_VALUE))
            .collect();
        (labels, samples)
    });
    MemoryStore::new(
        Labels::from_pairs(external.iter().copied()),
        live.collect::<Vec<_>>(),
    )
}

/// A real upper Prometheus (2.42) federates `{__name__=~".+"}` from the gateway every 3 s with
/// a 3 s scrape timeout, over an HA pair. One replica freezes: each `/federate` answer comes
/// once the grace after the other replica's answer is over (1 s), so every scrape succeeds
/// and `up` stays 1 — without hedging each would wait for the 10 s response timeout and fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upper_prometheus_federating_through_a_frozen_replica_stays_up() {
    bounded(async {
        let pair = FreezablePair::start(unix_now_ms(), Duration::from_secs(1)).await;
        let (proxy, gateway) = (&pair.proxy, &pair.gateway);
        let target = gateway.url().trim_start_matches("http://").to_owned();
        let config = format!(
            "scrape_configs:\n  - job_name: federate\n    honor_labels: true\n    \
             metrics_path: /federate\n    params:\n      'match[]': ['{{__name__=~\".+\"}}']\n    \
             scrape_interval: 3s\n    scrape_timeout: 3s\n    static_configs:\n      \
             - targets: ['{target}']\n"
        );
        let dir = tempfile::tempdir().unwrap();
        let upper = tokio::task::block_in_place(|| {
            PrometheusServer::start_with_config(None, dir.path(), &[], &config)
        });
        let client = api_client();
        let scrapes = |range: &'static str| {
            let (client, url) = (client.clone(), upper.url());
            async move {
                let query =
                    format!("count_over_time(up{{job=\"federate\"}}[{range}]) or vector(0)");
                let data = get_data(&client, &url, "/api/v1/query", &[("query", &query)]).await;
                let value = data["result"][0]["value"][1]
                    .as_str()
                    .unwrap_or("0")
                    .to_owned();
                value.parse::<f64>().unwrap_or(0.0)
            }
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while scrapes("1m").await < 2.0 {
            assert!(Instant::now() < deadline, "no scrapes: {}", upper.log());
            tokio::time::sleep(Duration::from_millis(250)).await;
        }

        proxy.freeze().await;
        let frozen_at = Instant::now();
        tokio::time::sleep(Duration::from_secs(13)).await;
        let window = format!("{}s", frozen_at.elapsed().as_secs() - 1);
        let during = |expr: &str| format!("{expr}(up{{job=\"federate\"}}[{window}])");
        let mut results = Vec::new();
        for query in [
            during("min_over_time"),
            during("count_over_time"),
            format!("max_over_time(scrape_duration_seconds{{job=\"federate\"}}[{window}])"),
            format!("min_over_time(scrape_samples_scraped{{job=\"federate\"}}[{window}])"),
        ] {
            let data = get_data(&client, &upper.url(), "/api/v1/query", &[("query", &query)]).await;
            let value = data["result"][0]["value"][1]
                .as_str()
                .unwrap_or("none")
                .to_owned();
            println!("{query} = {value}");
            results.push(value.parse::<f64>().unwrap_or(f64::NAN));
        }
        assert_eq!(
            results[0], 1.0,
            "a scrape failed while the replica was frozen"
        );
        assert!(
            results[1] >= 3.0,
            "only {} scrapes while frozen",
            results[1]
        );
        assert!(results[2] < 3.0, "a scrape took {} s", results[2]);
        assert_eq!(results[3], 5.0, "every series federated in every scrape");
    })
    .await;
}

/// vmalert (VictoriaMetrics' rule evaluator, from Debian sid's `victoria-metrics`) evaluates a
/// recording and an alerting rule every 2 s through the gateway over an HA pair, and
/// remote-writes their results to a Prometheus 3.5. One replica freezes for 12 s, longer than
/// the 10 s response timeout: each evaluation is answered once the 1 s grace after the other
/// replica's answer is over, so vmalert misses none, none fails, every one ends within the
/// interval, and the written series have no hole across the freeze. Without hedging this test
/// fails: run once without `--query.replica-label` (then b is no replica of a, and is waited
/// for up to the response timeout), vmalert counted a missed iteration, one iteration took
/// 10.0 s, two ran in the 12 s freeze, and the recorded series had a 12 s hole.
/// (`--store.replica-grace=10s` does not turn hedging off: it caps a grace of ten times the
/// laggard's usual latency, at least 1 s, which stays 1 s here.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vmalert_evaluating_through_a_frozen_replica_misses_no_evaluation() {
    bounded(async {
        let (interval, grace) = (Duration::from_secs(2), Duration::from_secs(1));
        let started_ms = unix_now_ms();
        let pair = FreezablePair::start(started_ms, grace).await;
        let (proxy, gateway) = (&pair.proxy, &pair.gateway);
        let dir = tempfile::tempdir().unwrap();
        let receiver = tokio::task::block_in_place(|| {
            PrometheusServer::launch(
                Version::V3_5,
                None,
                &dir.path().join("prometheus"),
                &[],
                "",
                &["--web.enable-remote-write-receiver"],
            )
        });
        let flags = vmalert_flags(gateway.url(), &receiver.url(), interval);
        let vmalert = tokio::task::block_in_place(|| {
            Vmalert::start(&dir.path().join("vmalert"), VMALERT_RULES, &flags)
        });
        let before = wait_for_iterations(&vmalert, 3).await;

        proxy.freeze().await;
        let frozen_ms = unix_now_ms();
        tokio::time::sleep(Duration::from_secs(12)).await;
        let at_thaw = Evaluations::of(&vmalert.metrics().await);
        proxy.thaw();
        let thawed_ms = unix_now_ms();
        tokio::time::sleep(interval * 2).await;
        let page = vmalert.metrics().await;
        let after = Evaluations::of(&page);

        let client = api_client();
        let window = (frozen_ms, thawed_ms);
        let range = Duration::from_millis((unix_now_ms() - started_ms) as u64) + interval;
        let alerts = "ALERTS{alertname=\"FaultTestPresent\", alertstate=\"firing\"}";
        let recorded = written_across(&client, &receiver, "fault_test:sum", range, window).await;
        let alerts = written_across(&client, &receiver, alerts, range, window).await;

        // Every figure first, so that a failing run shows them all.
        let in_freeze = at_thaw.iterations - before.iterations;
        let mean_in_freeze = (at_thaw.duration_sum - before.duration_sum) / in_freeze;
        println!(
            "vmalert: {} iterations ({in_freeze} in the 12 s freeze, mean {mean_in_freeze:.3} s), \
             {} missed, {} rule executions, {} errors, longest iteration {:.3} s",
            after.iterations, after.missed, after.executions, after.errors, after.max_duration
        );
        for (labels, samples) in recorded.iter().chain(&alerts) {
            let hole = longest_hole(samples);
            println!(
                "{labels}: {} samples, longest hole {hole} ms",
                samples.len()
            );
        }

        let log = || vmalert.log();
        assert_eq!(after.missed, 0.0, "vmalert missed evaluations: {}", log());
        assert_eq!(after.errors, 0.0, "evaluations failed: {}", log());
        // What was evaluated was written (else a hole below would not be the gateway's).
        for failed in [
            "vmalert_remotewrite_errors_total",
            "vmalert_remotewrite_dropped_rows_total",
        ] {
            assert_eq!(page.sum(failed), 0.0, "{failed}: {}", log());
        }
        // One tick per interval while frozen (one may straddle each end of the freeze).
        assert!(
            in_freeze >= (12 / interval.as_secs() - 1) as f64,
            "only {in_freeze} evaluations in the freeze"
        );
        // Each evaluation ends before the next tick; and one at least waited out the grace (the
        // 1 s flag is also the grace's floor, so exactly 1 s), so the frozen replica was on the
        // path: it stays in the request until its Info times out, 5 s after the freeze.
        assert!(
            after.max_duration < interval.as_secs_f64(),
            "an evaluation took {} s, longer than the interval",
            after.max_duration
        );
        assert!(
            after.max_duration >= (grace - Duration::from_millis(20)).as_secs_f64(),
            "no evaluation waited for the frozen replica: {} s",
            after.max_duration
        );
        assert_eq!(
            page.sum("vmalert_alerts_firing"),
            LIVE_SERIES as f64,
            "one alert per series"
        );
        assert_eq!(recorded.len(), 1, "{recorded:?}");
        assert_eq!(alerts.len(), LIVE_SERIES, "{alerts:?}");
        // Deduplicated and whole at every evaluation: the sum of one replica's series.
        assert_written_every_interval(&recorded, LIVE_SERIES as f64 * LIVE_VALUE, interval);
        assert_written_every_interval(&alerts, 1.0, interval);
    })
    .await;
}

/// A recording and an alerting rule over the live data. The group runs its two rules at once
/// (`concurrency: 2`): while a replica is frozen each query waits out the grace, and two in a
/// row (vmalert's default) would take a whole 2 s interval (measured: 2.03 s).
const VMALERT_RULES: &str = "groups:
  - name: panoptes
    concurrency: 2
    rules:
      - record: fault_test:sum
        expr: sum(fault_test)
      - alert: FaultTestPresent
        expr: fault_test > 0
";

fn vmalert_flags(datasource: &str, remote_write: &str, interval: Duration) -> Vec<String> {
    vec![
        format!("-datasource.url={datasource}"),
        format!("-evaluationInterval={}s", interval.as_secs()),
        // Alerts are evaluated and written, never sent: no Alertmanager needed.
        "-notifier.blackhole".into(),
        // Recording rules need somewhere to write (vmalert refuses to start without).
        format!("-remoteWrite.url={remote_write}"),
        "-remoteWrite.flushInterval=1s".into(),
        // One writer, so that batches arrive in evaluation order: with several, a later batch
        // can land first and Prometheus rejects the earlier one as out of order (seen once, as
        // a hole that was no missed evaluation).
        "-remoteWrite.concurrency=1".into(),
        // The 30 s default waits out VictoriaMetrics' ingestion latency; without it samples are
        // written at their evaluation time, which the test places against the freeze.
        "-rule.evalDelay=0s".into(),
    ]
}

/// vmalert's counters at one moment, summed over its groups and rules.
struct Evaluations {
    iterations: f64,
    missed: f64,
    executions: f64,
    /// Failed executions, and rules whose last evaluation failed.
    errors: f64,
    duration_sum: f64,
    /// The longest iteration of the last minutes (the summary's `quantile="1"`).
    max_duration: f64,
}

impl Evaluations {
    fn of(page: &Metrics) -> Self {
        Self {
            iterations: page.sum("vmalert_iteration_total"),
            missed: page.sum("vmalert_iteration_missed_total"),
            executions: page.sum("vmalert_execution_total"),
            errors: page.sum("vmalert_execution_errors_total")
                + page.sum("vmalert_alerting_rules_errors_total")
                + page.sum("vmalert_recording_rules_errors_total"),
            duration_sum: page.sum("vmalert_iteration_duration_seconds_sum"),
            max_duration: page.max("vmalert_iteration_duration_seconds", &[("quantile", "1")]),
        }
    }
}

/// Waits until vmalert has run `n` iterations without error; returns its counters then.
async fn wait_for_iterations(vmalert: &Vmalert, n: usize) -> Evaluations {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let page = vmalert.metrics().await;
        // A group's metrics appear with its first iteration.
        let iterations: f64 = page.named("vmalert_iteration_total").map(|s| s.value).sum();
        if iterations >= n as f64 {
            let now = Evaluations::of(&page);
            assert_eq!(now.errors, 0.0, "evaluations failed: {}", vmalert.log());
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "vmalert ran {iterations} iterations: {}",
            vmalert.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The samples `selector` selects in `receiver` over the last `range`, once vmalert's writes
/// cover `window` (milliseconds: samples before its start and after its end).
async fn written_across(
    client: &reqwest::Client,
    receiver: &PrometheusServer,
    selector: &str,
    range: Duration,
    (start, end): (i64, i64),
) -> Answer {
    let query = format!("{selector}[{}s]", range.as_secs());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = query_answer(
            client,
            &receiver.url(),
            &query,
            Eval::Instant(unix_now_ms()),
        )
        .await;
        let covers = |samples: &Vec<(i64, f64)>| {
            samples.first().is_some_and(|s| s.0 < start)
                && samples.last().is_some_and(|s| s.0 > end)
        };
        if !answer.is_empty() && answer.values().all(covers) {
            return answer;
        }
        assert!(
            Instant::now() < deadline,
            "{query}: the writes do not cover [{start}, {end}]: {answer:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Each series of `written` holds `value` throughout, with no hole longer than 1.5 intervals
/// (an evaluation missed would leave two).
#[track_caller]
fn assert_written_every_interval(written: &Answer, value: f64, interval: Duration) {
    for (labels, samples) in written {
        let hole = longest_hole(samples);
        assert!(
            hole * 2 <= interval.as_millis() as i64 * 3,
            "{labels}: a {hole} ms hole (interval {interval:?}): {samples:?}"
        );
        assert!(
            samples.iter().all(|(_, v)| *v == value),
            "{labels}: not {value} throughout: {samples:?}"
        );
    }
}

/// The longest time between two consecutive samples, in milliseconds.
fn longest_hole(samples: &[(i64, f64)]) -> i64 {
    samples
        .windows(2)
        .map(|w| w[1].0 - w[0].0)
        .max()
        .unwrap_or(0)
}

/// An endpoint that drips its answer, a frame a second (20 series: 20 s), is cut at the
/// response timeout counted from the request, not from its last frame: the partial answer
/// keeps the healthy store's data and names it, the aborted one fails. And `--query.timeout`
/// bounds the wait on storage too: with a response timeout longer than the query timeout,
/// the query fails at the query timeout rather than when the store is done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dripping_endpoint_is_cut_at_response_timeout() {
    bounded(async {
        let timeout = Duration::from_secs(2);
        let healthy = serve(Arc::new(healthy_store())).await;
        let (store, _stalls) =
            FaultStore::new(many("drip", 5.0), Fault::Drip(Duration::from_secs(1)));
        let drip = serve(store).await;
        let address = drip.addr.to_string();
        let gateway = Gateway::start(&[
            endpoint(healthy.addr),
            endpoint(&address),
            "--store.response-timeout=2s".into(),
        ])
        .await;
        let abort_instant = with(&INSTANT, ABORT);
        let (partial, abort) = tokio::join!(
            gateway.get(QUERY, &INSTANT),
            gateway.get(QUERY, &abort_instant)
        );
        let warning = assert_partial(&partial, &address, &["healthy"]);
        assert!(warning.contains("not complete within 2s"), "{warning}");
        assert_cut_at(&partial, timeout);
        println!("dripping, partial: {:?}, {warning:?}", partial.elapsed);
        let error = assert_abort(&abort, &address);
        assert_cut_at(&abort, timeout);
        println!(
            "dripping, abort: {} in {:?}: {error}",
            abort.status, abort.elapsed
        );

        let query_timeout = Duration::from_secs(3);
        let slow_stores = Gateway::start(&[
            endpoint(healthy.addr),
            endpoint(&address),
            "--store.response-timeout=60s".into(),
            "--query.timeout=3s".into(),
        ])
        .await;
        let reply = slow_stores.get(QUERY, &INSTANT).await;
        println!(
            "query timeout: {} in {:?}: {}",
            reply.status, reply.elapsed, reply.body
        );
        assert_eq!(reply.body["status"], "error", "{}", reply.body);
        assert_eq!(reply.body["errorType"], "timeout", "{}", reply.body);
        assert_cut_at(&reply, query_timeout);
    })
    .await;
}

/// An endpoint that freezes (SIGSTOP, a network black hole: connections stay open, no byte
/// moves) while healthy: queries, series and label calls already routed to it are cut at the
/// response timeout with a warning or an error; the next Info round times out, the endpoint
/// turns unhealthy in `/api/v1/stores`, and from then on queries answer at once without it,
/// naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frozen_endpoint_is_cut_at_response_timeout_then_dropped() {
    bounded(async {
        let timeout = Duration::from_secs(2);
        let healthy = serve(Arc::new(healthy_store())).await;
        let (store, _stalls) = FaultStore::new(many("frozen", 3.0), Fault::None);
        let server = serve(store).await;
        let proxy = Proxy::start(server.addr).await;
        let address = proxy.addr().to_string();
        let gateway = Gateway::start(&[
            endpoint(healthy.addr),
            endpoint(&address),
            "--store.response-timeout=2s".into(),
        ])
        .await;
        gateway
            .wait_for_store(&address, INFO_ROUND * 3, "healthy", is_healthy)
            .await;
        assert_clean(
            &gateway.get(QUERY, &INSTANT).await,
            &["frozen", "healthy"],
            timeout,
        );

        proxy.freeze().await;
        let frozen_at = Instant::now();
        // Concurrently, so that all of them run before the next Info round can notice (Info
        // has a 5 s timeout, so the endpoint stays "healthy" at least 5 s after the freeze).
        let abort_instant = with(&INSTANT, ABORT);
        let abort_range = with(&RANGE, ABORT);
        let (partial, abort, range, range_abort, series, labels, labels_abort) = tokio::join!(
            gateway.get(QUERY, &INSTANT),
            gateway.get(QUERY, &abort_instant),
            gateway.get(QUERY_RANGE, &RANGE),
            gateway.get(QUERY_RANGE, &abort_range),
            gateway.get(SERIES, &MATCH),
            gateway.get(LABELS, &[]),
            gateway.get(LABELS, &[ABORT]),
        );
        println!("7 concurrent requests done in {:?}", frozen_at.elapsed());
        for reply in [&partial, &range, &series] {
            let warning = assert_partial(reply, &address, &["healthy"]);
            assert_cut_at(reply, timeout);
            println!("frozen, partial: {:?}, {warning:?}", reply.elapsed);
        }
        assert!(labels.is_success(), "{}", labels.body);
        assert!(
            labels.warnings().iter().any(|w| w.contains(&address)),
            "{}",
            labels.body
        );
        assert_cut_at(&labels, timeout);
        for reply in [&abort, &range_abort, &labels_abort] {
            let error = assert_abort(reply, &address);
            assert_cut_at(reply, timeout);
            println!(
                "frozen, abort: {} in {:?}: {error}",
                reply.status, reply.elapsed
            );
        }

        let took = gateway
            .wait_for_store(&address, INFO_ROUND * 4, "unhealthy", is_unhealthy)
            .await;
        let status = gateway.store(&address).await.unwrap();
        println!(
            "frozen endpoint unhealthy {:?} after the freeze: {status:?}",
            frozen_at.elapsed()
        );
        // Only an Info call timing out turns it unhealthy: not before the Info timeout after
        // the freeze, less the age of a call already in flight then. The wait polls every
        // 100 ms, so it turned unhealthy at most that long before now.
        let unhealthy_after = frozen_at
            .elapsed()
            .saturating_sub(Duration::from_millis(100));
        println!("waited {took:?} for it after the cut requests");
        assert!(
            unhealthy_after + INFO_IN_FLIGHT >= INFO_ROUND,
            "unhealthy {unhealthy_after:?} after the freeze, before an Info call could time out"
        );

        assert_left_out(&gateway, &address, &["healthy"], timeout).await;
    })
    .await;
}

// ----- 3. an endpoint whose DNS name stops resolving -----------------------------------------

/// `--endpoint=dns+store.test:<port>` through a DNS server the test controls
/// (`--endpoint.dns-server`). The name disappears: the endpoint, still answering Info, stays
/// (a DNS blip must not drop a store; endpoints.rs: "one no longer discovered stays while it
/// answered Info within `unhealthy_timeout`"), past the unhealthy timeout, and every answer
/// names the spec whose name fails (a warning, or the error when aborting). Then its process
/// dies too: queries keep answering without hanging, and the endpoint leaves
/// `/api/v1/stores` once it has not answered Info for the unhealthy timeout. Name and server
/// back: it is used again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoint_gone_from_dns_leaves_after_unhealthy_timeout() {
    bounded(async {
        let timeout = Duration::from_secs(2);
        // Longer than the 5 s Info interval, so that the endpoint's removal is seen across
        // several discovery rounds (a shorter timeout is tested below).
        let unhealthy_timeout = Duration::from_secs(8);
        let name = "store.test";
        let dns = TestDns::start().await;
        dns.set(name, vec![Record::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST))]);
        let healthy = serve(Arc::new(healthy_store())).await;
        let dns_store = Arc::new(MemoryStore::new(Labels::new(), [series("dns", &[], 4.0)]));
        // The store's process: a real server behind a proxy that can make it vanish at once.
        let server = serve(dns_store.clone()).await;
        let proxy = Proxy::start(server.addr).await;
        let port = proxy.addr().port();
        let address = format!("127.0.0.1:{port}");
        let gateway = Gateway::start(&[
            format!("--endpoint=dns+{name}:{port}"),
            endpoint(healthy.addr),
            format!("--endpoint.dns-server={}", dns.addr()),
            "--store.unhealthy-timeout=8s".into(),
            "--store.response-timeout=2s".into(),
        ])
        .await;
        gateway
            .wait_for_store(&address, INFO_ROUND * 3, "healthy", is_healthy)
            .await;
        let reply = gateway.get(QUERY, &INSTANT).await;
        assert_clean(&reply, &["dns", "healthy"], timeout);
        assert_eq!(by_source(&reply)["dns"], (1, vec![4.0]));

        // The name goes away; the server still answers.
        dns.remove(name);
        let removed_at = Instant::now();
        let asked = dns.a_questions(name);
        let last = wait_for_late_lookups(&dns, name, removed_at, unhealthy_timeout).await;
        let status = gateway.store(&address).await;
        println!(
            "{:?} after the name went away ({} lookups): {status:?}",
            removed_at.elapsed(),
            last - asked
        );
        assert!(
            is_healthy(status.as_ref()),
            "an endpoint gone from DNS but answering Info must stay: {status:?}"
        );
        // Still queried, and the failing name is said.
        let spec = format!("dns+{name}:{port}");
        let reply = gateway.get(QUERY, &INSTANT).await;
        assert_partial(&reply, &spec, &["dns", "healthy"]);
        assert_unhindered(&reply, timeout);

        // Now its process dies too.
        proxy.shutdown();
        let stopped_at = Instant::now();
        wait_refused(server_addr(port)).await;
        let reply = gateway.get(QUERY, &INSTANT).await;
        assert!(reply.is_success(), "{}", reply.body);
        assert_eq!(sources(&reply), ["healthy"], "{}", reply.body);
        assert_unhindered(&reply, timeout);
        println!(
            "right after the stop: {:?}, warnings {:?}",
            reply.elapsed,
            reply.warnings()
        );

        let mut seen_unhealthy = false;
        let gone = gateway
            .wait_for_store(
                &address,
                unhealthy_timeout + INFO_ROUND * 3,
                "removed",
                |s| {
                    seen_unhealthy |= is_unhealthy(s);
                    s.is_none()
                },
            )
            .await;
        println!("left /api/v1/stores {gone:?} after its server stopped");
        assert!(seen_unhealthy, "it showed as unhealthy before leaving");
        assert!(
            stopped_at.elapsed() + INFO_ROUND + Duration::from_secs(1) >= unhealthy_timeout,
            "left before the unhealthy timeout: {:?}",
            stopped_at.elapsed()
        );

        // Gone from the set; its name still fails: never an empty success, an error when
        // aborting.
        let only_dns = [("query", "fault_test{source=\"dns\"}"), ("time", "300")];
        let reply = gateway.get(QUERY, &only_dns).await;
        let warning = assert_partial(&reply, &spec, &[]);
        assert_eq!(reply.body["data"]["result"], serde_json::json!([]));
        println!("gone: {warning}");
        for (path, params) in [(QUERY, &INSTANT[..]), (SERIES, &MATCH[..])] {
            let reply = gateway.get(path, params).await;
            assert_partial(&reply, &spec, &["healthy"]);
            assert_eq!(sources(&reply), ["healthy"], "{}", reply.body);
            assert_unhindered(&reply, timeout);
            assert_abort(&gateway.get(path, &with(params, ABORT)).await, &spec);
        }

        // Back in DNS and serving: used again.
        let _restarted = spawn(dns_store, server_addr(port))
            .await
            .expect("restarting the store on its port");
        dns.set(name, vec![Record::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST))]);
        let back = gateway
            .wait_for_store(&address, INFO_ROUND * 3, "back", is_healthy)
            .await;
        println!("back after {back:?}");
        assert_clean(
            &gateway.get(QUERY, &INSTANT).await,
            &["dns", "healthy"],
            timeout,
        );
    })
    .await;
}

/// Waits for a discovery round that starts more than `timeout` after `removed_at` (its lookup
/// of `name` reaches the DNS server), and for the round after it, so that the first one has
/// applied its result. Returns the number of A questions for `name` so far.
async fn wait_for_late_lookups(
    dns: &TestDns,
    name: &str,
    removed_at: Instant,
    timeout: Duration,
) -> usize {
    let deadline = removed_at + timeout + INFO_ROUND * 4;
    let mut late_rounds = 0;
    let mut last = dns.a_questions(name);
    while late_rounds < 2 {
        assert!(
            Instant::now() < deadline,
            "the gateway stopped resolving {name}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = dns.a_questions(name);
        if now > last && removed_at.elapsed() > timeout {
            late_rounds += 1;
        }
        last = now;
    }
    last
}

/// The documented rule with an unhealthy timeout shorter than the Info interval: an endpoint
/// gone from DNS but answering every Info poll stays (the set is pruned right after each Info
/// round, so the last good Info is fresh when compared with the timeout).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoint_gone_from_dns_but_answering_stays_with_short_unhealthy_timeout() {
    bounded(async {
        let timeout = Duration::from_secs(2);
        let unhealthy_timeout = Duration::from_secs(3);
        let name = "store.test";
        let dns = TestDns::start().await;
        dns.set(name, vec![Record::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST))]);
        let server = serve(Arc::new(MemoryStore::new(
            Labels::new(),
            [series("dns", &[], 4.0)],
        )))
        .await;
        let port = server.addr.port();
        let address = format!("127.0.0.1:{port}");
        let gateway = Gateway::start(&[
            format!("--endpoint=dns+{name}:{port}"),
            format!("--endpoint.dns-server={}", dns.addr()),
            "--store.unhealthy-timeout=3s".into(),
            "--store.response-timeout=2s".into(),
        ])
        .await;
        gateway
            .wait_for_store(&address, INFO_ROUND * 3, "healthy", is_healthy)
            .await;
        dns.remove(name);
        let removed_at = Instant::now();
        wait_for_late_lookups(&dns, name, removed_at, unhealthy_timeout).await;
        let status = gateway.store(&address).await;
        assert!(
            is_healthy(status.as_ref()),
            "an endpoint gone from DNS but answering Info must stay: {status:?}"
        );
        let reply = gateway.get(QUERY, &INSTANT).await;
        assert_partial(&reply, &format!("dns+{name}:{port}"), &["dns"]);
        assert_unhindered(&reply, timeout);
    })
    .await;
}

fn server_addr(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// Waits until connecting to `addr` fails (its server has stopped listening).
async fn wait_refused(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while tokio::net::TcpStream::connect(addr).await.is_ok() {
        assert!(
            Instant::now() < deadline,
            "{addr} still accepts connections"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

// ----- 4. an endpoint that sends undecodable chunks ------------------------------------------

/// The faulty endpoint's chunks are truncated or random. It holds its own series and the `b`
/// replica of a series whose `a` replica is on the healthy endpoint. Partial response: a
/// warning naming the endpoint and the decode error, the healthy data (the shared series from
/// replica `a` alone); abort: an error naming it. The series API needs no chunks and answers
/// in full; once the chunks are good again, everything is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_chunks_give_a_warning_naming_the_endpoint() {
    bounded(async {
        let timeout = Duration::from_secs(2);
        let healthy = serve(Arc::new(MemoryStore::new(
            Labels::new(),
            [
                series("healthy", &[], 1.0),
                series("shared", &[("replica", "a")], 3.0),
            ],
        )))
        .await;
        let (store, _stalls) = FaultStore::new(
            MemoryStore::new(
                Labels::new(),
                [
                    series("garbage", &[], 2.0),
                    series("shared", &[("replica", "b")], 3.0),
                ],
            ),
            Fault::GarbageChunks,
        );
        // The premise: none of the chunks it sends can be decoded.
        let everything = SeriesRequest {
            min_time: 0,
            max_time: 600_000,
            matchers: vec![Matcher::new(MatchOp::Equal, "__name__", "fault_test").unwrap()],
            ..Default::default()
        };
        let frames: Vec<SeriesFrame> = store
            .series(everything)
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        assert_eq!(frames.len(), 2);
        for frame in &frames {
            let SeriesFrame::Series(s) = frame else {
                panic!("{frame:?}")
            };
            for chunk in &s.chunks {
                let (mut ts, mut vs) = (Vec::new(), Vec::new());
                let err = decode_into(&chunk.data, &mut ts, &mut vs).unwrap_err();
                println!("garbage chunk of {}: {err}", s.labels);
            }
        }
        let garbage = serve(store.clone()).await;
        let address = garbage.addr.to_string();
        let gateway = Gateway::start(&[
            endpoint(healthy.addr),
            endpoint(&address),
            "--query.replica-label=replica".into(),
            "--store.response-timeout=2s".into(),
        ])
        .await;
        gateway
            .wait_for_store(&address, INFO_ROUND * 3, "healthy", is_healthy)
            .await;

        let reply = gateway.get(QUERY, &INSTANT).await;
        println!("garbage, partial: {} {}", reply.status, reply.body);
        let warning = assert_partial(&reply, &address, &["healthy", "shared"]);
        assert!(
            warning.to_lowercase().contains("chunk"),
            "the warning names the decode error: {warning}"
        );
        assert_eq!(sources(&reply), ["healthy", "shared"], "{}", reply.body);
        assert_eq!(by_source(&reply)["shared"], (1, vec![3.0]));
        assert_unhindered(&reply, timeout);

        let reply = gateway.get(QUERY_RANGE, &RANGE).await;
        assert_partial(&reply, &address, &["healthy", "shared"]);
        assert_eq!(by_source(&reply)["shared"], (1, vec![3.0; 11]));

        let reply = gateway.get(QUERY, &with(&INSTANT, ABORT)).await;
        let error = assert_abort(&reply, &address);
        println!("garbage, abort: {} {error}", reply.status);
        let reply = gateway.get(QUERY_RANGE, &with(&RANGE, ABORT)).await;
        assert_abort(&reply, &address);

        // Labels only: nothing to decode.
        let reply = gateway.get(SERIES, &with(&MATCH, ABORT)).await;
        assert_clean(&reply, &["garbage", "healthy", "shared"], timeout);

        // The gateway keeps serving; a selector that leaves out the bad series is clean, and
        // once the endpoint sends good chunks again everything is back.
        let only_healthy = [
            ("query", "fault_test{source=\"healthy\"}"),
            ("time", "300"),
            ABORT,
        ];
        let reply = gateway.get(QUERY, &only_healthy).await;
        assert_clean(&reply, &["healthy"], timeout);
        assert_eq!(by_source(&reply)["healthy"], (1, vec![1.0]));
        store.set_fault(Fault::None);
        let reply = gateway.get(QUERY, &with(&INSTANT, ABORT)).await;
        assert_clean(&reply, &["garbage", "healthy", "shared"], timeout);
        assert_eq!(by_source(&reply)["garbage"], (1, vec![2.0]));
        assert_eq!(by_source(&reply)["shared"], (1, vec![3.0]));
    })
    .await;
}
