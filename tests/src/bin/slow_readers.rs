//! The slow-reader harness (a benchmark, not a test): a release `panoptes query` over the load
//! harness' store (1,000 series of 6 h at 15 s) is asked by 20 clients at once for the raw
//! series over the 6 h (`m`, 1.44 M points, tens of MB of JSON each); each client reads the
//! first 64 KiB of its answer and then stops reading for 20 s, as a stalled dashboard or a
//! client on a slow link does. It prints, as markdown for docs/operations.md, the size of one
//! answer and the gateway's resident memory before, at its peak (`VmHWM`) and after. With
//! answers encoded as they are sent, the peak follows the results held, not their text.
//! `cargo run --release -p panoptes-tests --bin slow_readers [-- FLAGS]` passes FLAGS on to
//! the gateway.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a harness: failing loudly is the point

use panoptes_tests::load::{HOURS, gateway_over_store, memory};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CLIENTS: usize = 20;
const READ_FIRST: usize = 64 << 10;
const STALL: Duration = Duration::from_secs(20);

fn request(base: &str) -> (String, String) {
    let authority = base.trim_start_matches("http://").to_string();
    let path = format!(
        "/api/v1/query_range?query=m&start=0&end={}&step=15",
        HOURS * 3600
    );
    (
        authority.clone(),
        format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"),
    )
}

/// Sends the query, reads `READ_FIRST` bytes, stalls, then reads the rest: the answer's size.
async fn slow_client(base: String) -> usize {
    let (authority, request) = request(&base);
    let mut stream = tokio::net::TcpStream::connect(authority).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut first = vec![0u8; READ_FIRST];
    stream.read_exact(&mut first).await.unwrap();
    tokio::time::sleep(STALL).await;
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest).await;
    READ_FIRST + rest.len()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let flags: Vec<String> = std::env::args().skip(1).collect();
    let (gateway, base, _store) = gateway_over_store(&flags).await;
    let pid = gateway.pid();
    let (rss_before, _) = memory(pid);
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| tokio::spawn(slow_client(base.clone())))
        .collect();
    let mut sizes = Vec::new();
    for client in clients {
        sizes.push(client.await.unwrap());
    }
    let (rss_after, hwm) = memory(pid);
    let answer_mb = sizes.iter().max().copied().unwrap_or(0) as f64 / 1e6;
    println!("| figure | value |");
    println!("|---|---|");
    println!(
        "| slow readers | {CLIENTS} at once, each reading 64 KiB of its answer, then nothing for {} s |",
        STALL.as_secs()
    );
    println!(
        "| one answer | {answer_mb:.1} MB of JSON (headers included); {:.0} MB for all {CLIENTS} |",
        answer_mb * CLIENTS as f64
    );
    println!(
        "| gateway RSS | {rss_before:.0} MB before, {hwm:.0} MB peak (VmHWM), {rss_after:.0} MB after |"
    );
    drop(gateway);
}
