//! Every RPC over real gRPC on loopback: the client's answers equal the store's own.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use futures_util::TryStreamExt;
use std::sync::Arc;
use store_api::server::RunningServer;
use store_api::{
    LabelNamesRequest, LabelValuesRequest, Labels, MatchOp, Matcher, MemoryStore, SeriesData,
    SeriesFrame, SeriesRequest, Store, StoreClient, StoreError,
};

fn store() -> MemoryStore {
    let series = (0..50).flat_map(|pod| {
        ["GET", "POST"].into_iter().map(move |method| {
            let labels = Labels::from_pairs([
                ("__name__", "http_requests_total".to_string()),
                ("pod", format!("pod-{pod:02}")),
                ("method", method.to_string()),
            ]);
            let samples = (0..500)
                .map(|i| (i * 15_000 + pod, (i * pod) as f64))
                .collect();
            (labels, samples)
        })
    });
    MemoryStore::new(
        Labels::from_pairs([("replica", "a"), ("region", "eu")]),
        series,
    )
}

/// A client of `store` served on loopback; the server stops when the handle is dropped.
async fn serve(store: MemoryStore) -> (StoreClient, RunningServer) {
    let server = store_api::server::spawn(Arc::new(store), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    (StoreClient::new(&server.addr.to_string()).unwrap(), server)
}

async fn collect(
    store: &impl Store,
    request: SeriesRequest,
) -> Result<Vec<SeriesData>, StoreError> {
    let frames: Vec<SeriesFrame> = store.series(request).await?.try_collect().await?;
    Ok(frames
        .into_iter()
        .map(|f| match f {
            SeriesFrame::Series(s) => s,
            SeriesFrame::Warning(w) => panic!("warning {w}"),
        })
        .collect())
}

fn m(op: MatchOp, name: &str, value: &str) -> Matcher {
    Matcher::new(op, name, value).unwrap()
}

fn requests() -> Vec<SeriesRequest> {
    let all = SeriesRequest {
        min_time: i64::MIN,
        max_time: i64::MAX,
        ..Default::default()
    };
    vec![
        all.clone(),
        SeriesRequest {
            matchers: vec![m(MatchOp::Equal, "replica", "a")],
            ..all.clone()
        },
        SeriesRequest {
            matchers: vec![m(MatchOp::Equal, "region", "us")],
            ..all.clone()
        },
        SeriesRequest {
            matchers: vec![
                m(MatchOp::Regex, "pod", "pod-0[1-3]"),
                m(MatchOp::NotEqual, "method", "GET"),
            ],
            ..all.clone()
        },
        SeriesRequest {
            matchers: vec![m(MatchOp::NotRegex, "pod", "pod-.[0-8]")],
            min_time: 1_000_000,
            max_time: 2_000_000,
            ..all.clone()
        },
        SeriesRequest {
            matchers: vec![m(MatchOp::Equal, "pod", "nope")],
            ..all.clone()
        },
        SeriesRequest {
            without_replica_labels: vec!["replica".into(), "method".into()],
            limit: 7,
            skip_chunks: true,
            ..all.clone()
        },
        SeriesRequest {
            min_time: 100_000_000,
            max_time: 200_000_000,
            ..all
        },
    ]
}

#[tokio::test]
async fn series_round_trip_equals_direct_answers() {
    let direct = store();
    let (client, _server) = serve(store()).await;
    for request in requests() {
        let want = collect(&direct, request.clone()).await.unwrap();
        let got = collect(&client, request.clone()).await.unwrap();
        assert_eq!(got, want, "{request:?}");
    }
    let none = collect(&client, requests()[5].clone()).await.unwrap();
    assert!(none.is_empty());
    let without = collect(&client, requests()[6].clone()).await.unwrap();
    assert_eq!(without.len(), 7);
    assert!(without.iter().all(|s| s.labels.get("replica").is_none()));
}

#[tokio::test]
async fn info_and_label_apis_round_trip() {
    let direct = store();
    let (client, _server) = serve(store()).await;
    assert_eq!(client.info().await.unwrap(), direct.info().await.unwrap());
    let names = LabelNamesRequest {
        start: 0,
        end: 10_000_000,
        matchers: vec![m(MatchOp::Regex, "method", "P.*")],
        without_replica_labels: vec!["replica".into()],
        ..Default::default()
    };
    let got = client.label_names(names.clone()).await.unwrap();
    assert_eq!(got, direct.label_names(names).await.unwrap());
    assert_eq!(got.values, ["__name__", "method", "pod", "region"]);
    let values = LabelValuesRequest {
        label: "pod".into(),
        start: 0,
        end: i64::MAX,
        matchers: vec![m(MatchOp::Equal, "region", "eu")],
        limit: 3,
        ..Default::default()
    };
    let got = client.label_values(values.clone()).await.unwrap();
    assert_eq!(got, direct.label_values(values).await.unwrap());
    assert_eq!(got.values, ["pod-00", "pod-01", "pod-02"]);
}

#[tokio::test]
async fn messages_over_four_mebibytes_pass() {
    // One series whose chunks alone are about 10 MiB: random values do not compress.
    let mut x: u64 = 1;
    let samples: Vec<(i64, f64)> = (0..1_200_000)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (i * 1000, f64::from_bits(x >> 2))
        })
        .collect();
    let huge_value = "v".repeat(5 << 20);
    let store = MemoryStore::new(
        Labels::new(),
        [
            (Labels::from_pairs([("__name__", "big")]), samples.clone()),
            (
                Labels::from_pairs([("__name__", "long"), ("l", huge_value.as_str())]),
                samples[..10].to_vec(),
            ),
        ],
    );
    let (client, _server) = serve(store).await;
    let got = collect(
        &client,
        SeriesRequest {
            min_time: i64::MIN,
            max_time: i64::MAX,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let bytes: usize = got[0].chunks.iter().map(|c| c.data.len()).sum();
    assert!(bytes > 8 << 20, "a {bytes}-byte series message");
    assert_eq!(got[1].labels.get("l").map(str::len), Some(5 << 20));
}

#[tokio::test]
async fn bad_requests_are_grpc_errors_not_panics() {
    use panoptes_proto::thanos as pb;
    let server = store_api::server::spawn(Arc::new(store()), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let addr = server.addr;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut raw = pb::store_client::StoreClient::new(channel);
    let bad_regex = pb::SeriesRequest {
        max_time: 1,
        matchers: vec![pb::LabelMatcher {
            r#type: pb::label_matcher::Type::Re as i32,
            name: "pod".into(),
            value: "(".into(),
        }],
        ..Default::default()
    };
    let status = raw.series(bad_regex).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert_eq!(
        status.message(),
        "error parsing regexp: missing closing ): `(`",
        "{status:?}"
    );
    let unknown_type = pb::SeriesRequest {
        matchers: vec![pb::LabelMatcher {
            r#type: 9,
            name: "pod".into(),
            value: "x".into(),
        }],
        ..Default::default()
    };
    let status = raw.series(unknown_type).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);

    let client = StoreClient::new(&addr.to_string()).unwrap();
    let backwards = SeriesRequest {
        min_time: 10,
        max_time: 5,
        ..Default::default()
    };
    let err = client
        .series(backwards)
        .await
        .err()
        .expect("min > max is refused");
    assert!(err.to_string().contains("after max_time"), "{err}");
    let err = client
        .label_values(LabelValuesRequest::default())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidArgument(_)), "{err:?}");
}

/// A request larger than the server's limit is refused (a limit error), not decoded, and the
/// server answers the next one; a client never sends a request over the default limit.
#[tokio::test]
async fn oversized_requests_are_refused() {
    let service =
        store_api::server::StoreService::new(Arc::new(store())).with_max_request_bytes(1024);
    let server = store_api::server::spawn_service(service, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let client = StoreClient::new(&server.addr.to_string()).unwrap();
    let big = SeriesRequest {
        max_time: i64::MAX,
        matchers: vec![m(MatchOp::Regex, "pod", &"x|".repeat(1000))],
        ..Default::default()
    };
    let refused = collect(&client, big).await.err().unwrap();
    assert!(matches!(refused, StoreError::LimitExceeded(_)), "{refused}");
    let small = SeriesRequest {
        max_time: i64::MAX,
        matchers: vec![m(MatchOp::Equal, "pod", "pod-01")],
        ..Default::default()
    };
    assert_eq!(collect(&client, small).await.unwrap().len(), 2);

    let (default_client, _default_server) = serve(store()).await;
    let huge = SeriesRequest {
        max_time: i64::MAX,
        matchers: vec![m(
            MatchOp::Equal,
            "pod",
            &"x".repeat(store_api::server::DEFAULT_MAX_REQUEST_BYTES),
        )],
        ..Default::default()
    };
    // Refused before it reaches the server (the transport reports it as its own error).
    assert!(collect(&default_client, huge).await.is_err());
    let small = SeriesRequest {
        max_time: i64::MAX,
        matchers: vec![m(MatchOp::Equal, "pod", "pod-01")],
        ..Default::default()
    };
    assert_eq!(collect(&default_client, small).await.unwrap().len(), 2);
}
