//! `/api/v1/query_explain` on a running gateway: the plan tree with the optimizer rules'
//! marks (a pinned subtree computed once, selectors sharing a read, matchers in canonical
//! order), which rules changed it, the range shape resolving `step()`, and Prometheus' error
//! shape for a bad query.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use panoptes_tests::block_store::start_gateway;
use panoptes_tests::prometheus::{api_client, get_json};
use serde_json::Value;

fn names(node: &Value, out: &mut Vec<String>) {
    out.push(node["name"].as_str().unwrap().to_string());
    for child in node["children"].as_array().unwrap() {
        names(child, out);
    }
}

fn changed(data: &Value) -> Vec<&str> {
    data["optimizers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["changed"].as_bool().unwrap())
        .map(|o| o["name"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plan_shows_what_each_optimizer_did() {
    let (_gateway, url) = start_gateway(&[], &[]);
    let client = api_client();
    let query = r#"sum by (job) (rate(x{b="2",a="1"}[5m] @ 100)) / on (job) sum by (job) (rate(x{a="1",b="2"}[5m]))"#;
    let (status, answer) =
        get_json(&client, &url, "/api/v1/query_explain", &[("query", query)]).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], "success");
    let data = &answer["data"];
    let mut tree = Vec::new();
    names(&data["plan"], &mut tree);
    assert_eq!(
        tree,
        [
            "binary / on (job)",
            "step invariant (evaluated once, at the first step)",
            "aggregate sum by (job)",
            "function rate",
            r#"matrix selector {__name__="x",a="1",b="2"} @ 100.000 (shared read #0) [5m]"#,
            "aggregate sum by (job)",
            "function rate",
            r#"matrix selector {__name__="x",a="1",b="2"} (shared read #0) [5m]"#,
        ]
    );
    assert_eq!(
        changed(data),
        ["sort_matchers", "step_invariant", "share_reads"]
    );
    let rules: Vec<&str> = data["optimizers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        rules,
        [
            "fold_negation",
            "sort_matchers",
            "step_invariant",
            "share_reads"
        ]
    );

    // A plain query: nothing to do.
    let (_, plain) = get_json(&client, &url, "/api/v1/query_explain", &[("query", "up")]).await;
    assert!(changed(&plain["data"]).is_empty(), "{plain}");

    // A range shape resolves step() in durations.
    let (status, ranged) = get_json(
        &client,
        &url,
        "/api/v1/query_explain",
        &[
            ("query", "rate(x[step() * 4])"),
            ("start", "0"),
            ("end", "3600"),
            ("step", "30"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{ranged}");
    let mut tree = Vec::new();
    names(&ranged["data"]["plan"], &mut tree);
    assert_eq!(tree[1], r#"matrix selector {__name__="x"} [2m]"#);

    // A query that does not parse: Prometheus' error shape, naming the parameter.
    let (status, refused) =
        get_json(&client, &url, "/api/v1/query_explain", &[("query", "sum(")]).await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["status"], "error");
    assert_eq!(refused["errorType"], "bad_data");
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("invalid parameter \"query\""),
        "{refused}"
    );
}
