//! A slow or silent HTTP client cannot hold a gateway connection: one that sends nothing, or
//! half a request, or idles on a kept-alive connection, is closed at the header-read timeout;
//! one that stops reading an answer is dropped at the write timeout, its answer unsent.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use panoptes_tests::faults::Gateway;
use std::time::{Duration, Instant};
use store_api::{Labels, MemoryStore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const HEADER_READ: Duration = Duration::from_secs(1);
const WRITE: Duration = Duration::from_secs(2);

/// 4,000 series of an hour at 15 s: a raw range selector over all of them is many MB of JSON.
fn store() -> MemoryStore {
    let series = (0..4000).map(|i| {
        let labels = Labels::from_pairs([("__name__", "m".to_string()), ("i", i.to_string())]);
        (labels, (0..240).map(|t| (t * 15_000, t as f64)).collect())
    });
    MemoryStore::new(Labels::new(), series.collect::<Vec<_>>())
}

async fn gateway() -> (Gateway, store_api::server::RunningServer) {
    Gateway::over_store(
        store(),
        &[
            format!("--http.header-read-timeout={}s", HEADER_READ.as_secs()),
            format!("--http.write-timeout={}s", WRITE.as_secs()),
        ],
    )
    .await
}

fn address(gateway: &Gateway) -> String {
    gateway.url().trim_start_matches("http://").to_owned()
}

/// How long until the server closes `stream` (a read of 0 bytes or an error), reading and
/// discarding whatever comes first; the bytes read.
async fn until_closed(stream: &mut TcpStream, limit: Duration) -> (Duration, usize) {
    let started = Instant::now();
    let mut buffer = vec![0u8; 64 << 10];
    let mut total = 0;
    loop {
        let left = limit.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Err(_) => panic!("still open after {limit:?}"),
            Ok(Ok(0)) | Ok(Err(_)) => return (started.elapsed(), total),
            Ok(Ok(n)) => total += n,
        }
    }
}

const QUERY: &str = "GET /api/v1/query?query=vector(1)&time=0 HTTP/1.1\r\nHost: gateway\r\n\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_and_idle_clients_are_closed_at_the_header_read_timeout() {
    let (gateway, _server) = gateway().await;
    let addr = address(&gateway);
    let bound = HEADER_READ * 3;

    let mut silent = TcpStream::connect(&addr).await.unwrap();
    let (took, _) = until_closed(&mut silent, bound).await;
    println!("silent client closed after {took:?}");
    assert!(took >= HEADER_READ / 2, "{took:?}");

    let mut half = TcpStream::connect(&addr).await.unwrap();
    half.write_all(b"GET /api/v1/query?query=1 HTTP/1.1\r\nHost: gateway\r\n")
        .await
        .unwrap();
    let (took, _) = until_closed(&mut half, bound).await;
    println!("half a request closed after {took:?}");

    // A whole request is answered, then the idle kept-alive connection is closed.
    let mut idle = TcpStream::connect(&addr).await.unwrap();
    idle.write_all(QUERY.as_bytes()).await.unwrap();
    let mut head = [0u8; 12];
    idle.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    let (took, _) = until_closed(&mut idle, bound).await;
    println!("idle kept-alive connection closed after {took:?}");

    // Meanwhile everyone else is served.
    let reply = gateway.get("/api/v1/query", &[("query", "count(m)")]).await;
    assert!(reply.is_success(), "{}", reply.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_dropped_at_the_write_timeout() {
    let (gateway, _server) = gateway().await;
    let addr = address(&gateway);
    let request = "GET /api/v1/query?query=m%5B1h%5D&time=3600 HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n";

    // Read in full, the answer is this long.
    let mut reader = TcpStream::connect(&addr).await.unwrap();
    reader.write_all(request.as_bytes()).await.unwrap();
    let (_, full) = until_closed(&mut reader, Duration::from_secs(60)).await;
    println!("whole answer: {full} bytes");
    assert!(
        full > 8 << 20,
        "the answer must outgrow the socket buffers: {full}"
    );

    // A client with a small receive buffer that reads nothing for twice the write timeout.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stalled = socket.connect(addr.parse().unwrap()).await.unwrap();
    stalled.write_all(request.as_bytes()).await.unwrap();
    tokio::time::sleep(WRITE * 2).await;
    let (_, got) = until_closed(&mut stalled, Duration::from_secs(10)).await;
    println!("stalled reader got {got} of {full} bytes");
    assert!(
        got < full / 2,
        "the stalled answer was not dropped: {got} of {full}"
    );
}
