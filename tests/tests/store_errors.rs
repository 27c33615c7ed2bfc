//! A store's error keeps its kind through the fan-out, the gateway's own StoreAPI face and a
//! second tier: a store that refuses a request as malformed makes it the client's error
//! (400 `bad_data`), one over its limit, one that sent unreadable data or failed inside a
//! 422 `execution` (Grafana shows the message of a 422, not of a 500), and one that is down
//! or timed out a 503. Each gRPC code a store can send is checked over real gRPC on loopback, through a
//! gateway and through a gateway above that one, on the query, label, series and metadata
//! APIs, with `partial_response=false` (with partial response the same failure is a warning
//! naming the endpoint, checked too).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use futures_util::future::join_all;
use panoptes_tests::faults::Gateway;
use panoptes_tests::net::free_addr;
use std::sync::Arc;
use store_api::{
    Component, LabelNamesRequest, LabelValuesRequest, Labels, LabelsResponse, MetadataRequest,
    MetadataResponse, SeriesRequest, SeriesStream, Store, StoreError, StoreInfo,
};

/// A store whose every data call fails with `error` (its Info answers: it is healthy).
struct FailingStore {
    error: StoreError,
}

impl Store for FailingStore {
    async fn info(&self) -> Result<StoreInfo, StoreError> {
        Ok(StoreInfo {
            component: Component::Store,
            label_sets: vec![Labels::from_pairs([("shard", "a")])],
            min_time: i64::MIN,
            max_time: i64::MAX,
            supports_without_replica_labels: true,
            serves_metadata: true,
        })
    }

    async fn series(&self, _: SeriesRequest) -> Result<SeriesStream, StoreError> {
        Err(self.error.clone())
    }

    async fn label_names(&self, _: LabelNamesRequest) -> Result<LabelsResponse, StoreError> {
        Err(self.error.clone())
    }

    async fn label_values(&self, _: LabelValuesRequest) -> Result<LabelsResponse, StoreError> {
        Err(self.error.clone())
    }

    async fn metric_metadata(&self, _: MetadataRequest) -> Result<MetadataResponse, StoreError> {
        Err(self.error.clone())
    }
}

/// Each kind a store can fail with, its message, and what a client of the gateway must get.
fn cases() -> Vec<(StoreError, u16, &'static str)> {
    vec![
        (
            StoreError::InvalidArgument("bad matcher x".into()),
            400,
            "bad_data",
        ),
        (
            StoreError::LimitExceeded("series limit 10 hit".into()),
            422,
            "execution",
        ),
        (
            StoreError::Timeout("gave up after 1s".into()),
            503,
            "timeout",
        ),
        (StoreError::Canceled("caller left".into()), 499, "canceled"),
        (
            StoreError::Unavailable("bucket down".into()),
            503,
            "unavailable",
        ),
        (
            StoreError::BadData("corrupt index".into()),
            422,
            "execution",
        ),
        (StoreError::Internal("assertion".into()), 422, "execution"),
    ]
}

const APIS: [(&str, &[(&str, &str)]); 6] = [
    ("/api/v1/query", &[("query", "up")]),
    (
        "/api/v1/query_range",
        &[
            ("query", "up"),
            ("start", "0"),
            ("end", "60"),
            ("step", "15"),
        ],
    ),
    ("/api/v1/labels", &[]),
    ("/api/v1/label/job/values", &[]),
    ("/api/v1/series", &[("match[]", "up")]),
    ("/api/v1/metadata", &[]),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_store_error_keeps_its_kind_through_two_tiers() {
    let mut servers = Vec::new();
    let mut tiers = Vec::new();
    for (error, _, _) in cases() {
        let server = store_api::server::spawn(Arc::new(FailingStore { error }), free_addr())
            .await
            .unwrap();
        let lower_grpc = free_addr();
        let args = [
            format!("--endpoint={}", server.addr),
            format!("--grpc-address={lower_grpc}"),
        ];
        servers.push(server);
        tiers.push((args, lower_grpc));
    }
    let lowers = join_all(tiers.iter().map(|(args, _)| Gateway::start(args))).await;
    let upper_args: Vec<[String; 1]> = tiers
        .iter()
        .map(|(_, grpc)| [format!("--endpoint={grpc}")])
        .collect();
    let uppers = join_all(upper_args.iter().map(|args| Gateway::start(args))).await;
    for ((error, status, error_type), (lower, upper)) in
        cases().into_iter().zip(lowers.iter().zip(&uppers))
    {
        for (tier, gateway) in [("gateway", lower), ("second tier", upper)] {
            for (path, params) in APIS {
                let mut strict = params.to_vec();
                strict.push(("partial_response", "false"));
                let reply = gateway.get(path, &strict).await;
                let what = format!("{error:?} via {tier}, {path}");
                assert_eq!(reply.status, status, "{what}: {}", reply.body);
                assert_eq!(reply.body["status"], "error", "{what}");
                assert_eq!(
                    reply.body["errorType"], error_type,
                    "{what}: {}",
                    reply.body
                );
                let message = reply.body["error"].as_str().unwrap_or_default();
                assert!(message.contains(error.message()), "{what}: {message}");
                assert!(
                    message.contains("endpoint "),
                    "{what} names no endpoint: {message}"
                );

                let lenient = gateway.get(path, params).await;
                assert!(lenient.is_success(), "{what}, partial: {}", lenient.body);
                assert!(
                    lenient
                        .warnings()
                        .iter()
                        .any(|w| w.contains(error.message())),
                    "{what}, partial: {:?}",
                    lenient.warnings()
                );
            }
        }
    }
    drop(servers);
}
