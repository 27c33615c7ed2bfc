//! Faulty StoreAPI endpoints on loopback, for the fan-out fault tests: a store whose Series
//! stream stalls or carries undecodable chunks, a TCP proxy that can drop (process death) or
//! freeze (hung process) every connection, a listener that accepts and never speaks, a tiny
//! authoritative DNS server the test edits while it runs, and a real `panoptes query` process
//! with an HTTP client whose every call is bounded.

use crate::net::free_addr;
use crate::process::Panoptes;
use futures_util::StreamExt;
use futures_util::stream;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use store_api::chunk::ChunkEncoding;
use store_api::{
    LabelNamesRequest, LabelValuesRequest, LabelsResponse, MemoryStore, RawChunk, SeriesFrame,
    SeriesRequest, SeriesStream, Store, StoreError, StoreInfo,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

// ---------------------------------------------------------------------------------------------
// A store with faults
// ---------------------------------------------------------------------------------------------

/// What a [`FaultStore`] does to its Series answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answers as the store it wraps.
    None,
    /// Sends this many frames, reports the stall (see [`FaultStore::new`]), then sends nothing
    /// more and never ends: a store stuck (or about to die) in the middle of an answer.
    StallAfter(usize),
    /// Every chunk is undecodable: valid XOR chunks cut to half their length, or random
    /// bytes behind a header that declares more samples than they hold.
    GarbageChunks,
    /// Every frame comes this long after the one before: a store that answers, slowly.
    Drip(Duration),
}

/// A [`MemoryStore`] whose Series answers carry a [`Fault`]; Info and the label calls answer
/// normally.
pub struct FaultStore {
    inner: MemoryStore,
    fault: Mutex<Fault>,
    stalls: mpsc::UnboundedSender<()>,
}

impl FaultStore {
    /// The store, and a receiver that gets one message each time a Series stream stalls.
    pub fn new(inner: MemoryStore, fault: Fault) -> (Arc<Self>, mpsc::UnboundedReceiver<()>) {
        let (stalls, stalled) = mpsc::unbounded_channel();
        let store = Self {
            inner,
            fault: Mutex::new(fault),
            stalls,
        };
        (Arc::new(store), stalled)
    }

    pub fn set_fault(&self, fault: Fault) {
        *lock(&self.fault) = fault;
    }
}

impl Store for FaultStore {
    async fn info(&self) -> Result<StoreInfo, StoreError> {
        self.inner.info().await
    }

    async fn series(&self, request: SeriesRequest) -> Result<SeriesStream, StoreError> {
        let fault = *lock(&self.fault);
        let frames = self.inner.series(request).await?;
        Ok(match fault {
            Fault::None => frames,
            Fault::StallAfter(n) => {
                let stalls = self.stalls.clone();
                let stall = stream::once(async move {
                    let _ = stalls.send(());
                    std::future::pending::<Result<SeriesFrame, StoreError>>().await
                });
                frames.take(n).chain(stall).boxed()
            }
            Fault::GarbageChunks => frames
                .enumerate()
                .map(|(i, frame)| match frame {
                    Ok(SeriesFrame::Series(mut series)) => {
                        for chunk in &mut series.chunks {
                            *chunk = garbage_chunk(chunk, i as u64);
                        }
                        Ok(SeriesFrame::Series(series))
                    }
                    other => other,
                })
                .boxed(),
            Fault::Drip(every) => frames
                .then(move |frame| async move {
                    tokio::time::sleep(every).await;
                    frame
                })
                .boxed(),
        })
    }

    async fn label_names(&self, request: LabelNamesRequest) -> Result<LabelsResponse, StoreError> {
        self.inner.label_names(request).await
    }

    async fn label_values(
        &self,
        request: LabelValuesRequest,
    ) -> Result<LabelsResponse, StoreError> {
        self.inner.label_values(request).await
    }
}

/// An undecodable version of `chunk` (same time range and encoding): even `seed`s cut the
/// chunk to half its bytes; odd ones are 14 pseudo-random bytes after a header declaring 120
/// samples (a sample needs at least 9 bytes, so they can never hold 120).
pub fn garbage_chunk(chunk: &RawChunk, seed: u64) -> RawChunk {
    let data = if seed.is_multiple_of(2) {
        chunk.data.slice(..chunk.data.len() / 2)
    } else {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut bytes = vec![0, 120];
        bytes.extend((0..14).map(|_| {
            // xorshift64
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_be_bytes()[0]
        }));
        bytes.into()
    };
    RawChunk {
        min_time: chunk.min_time,
        max_time: chunk.max_time,
        encoding: ChunkEncoding::Xor,
        data,
    }
}

// ---------------------------------------------------------------------------------------------
// A TCP proxy that can kill or freeze connections
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ProxyMode {
    Forward,
    /// Bytes stop flowing both ways; sockets stay open; new connections are accepted and held.
    Frozen,
}

/// A loopback TCP proxy in front of one endpoint. [`Proxy::kill_connections`] closes every
/// connection at once, as the kernel does when the process behind them dies;
/// [`Proxy::freeze`] keeps them open but silent, as with a process stopped by SIGSTOP or a
/// network black hole; [`Proxy::shutdown`] also stops listening (the process is gone).
pub struct Proxy {
    addr: SocketAddr,
    mode: watch::Sender<ProxyMode>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
    /// Connections that stopped relaying since the freeze.
    frozen: Arc<AtomicUsize>,
    accept: JoinHandle<()>,
    kills: AtomicUsize,
}

impl Proxy {
    pub async fn start(backend: SocketAddr) -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("binding the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let (mode, modes) = watch::channel(ProxyMode::Forward);
        let connections: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let frozen = Arc::new(AtomicUsize::new(0));
        let accept = tokio::spawn({
            let connections = connections.clone();
            let frozen = frozen.clone();
            async move {
                while let Ok((client, _)) = listener.accept().await {
                    let relay = relay(client, backend, modes.clone(), frozen.clone());
                    let task = tokio::spawn(relay);
                    let mut connections = lock(&connections);
                    connections.retain(|t| !t.is_finished());
                    connections.push(task);
                }
            }
        });
        Self {
            addr,
            mode,
            connections,
            frozen,
            accept,
            kills: AtomicUsize::new(0),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Closes every open connection (the listener stays: a restarted process). Returns how
    /// many were open.
    pub fn kill_connections(&self) -> usize {
        let tasks = std::mem::take(&mut *lock(&self.connections));
        let open = tasks.iter().filter(|t| !t.is_finished()).count();
        for task in tasks {
            task.abort();
        }
        self.kills.fetch_add(1, Ordering::SeqCst);
        open
    }

    /// How many times [`Self::kill_connections`] ran.
    pub fn kills(&self) -> usize {
        self.kills.load(Ordering::SeqCst)
    }

    /// Connections open now.
    pub fn open_connections(&self) -> usize {
        lock(&self.connections)
            .iter()
            .filter(|t| !t.is_finished())
            .count()
    }

    /// Waits until a client has connected (again); panics after `timeout`.
    pub async fn wait_for_connection(&self, timeout: Duration) -> Duration {
        let started = Instant::now();
        while self.open_connections() == 0 {
            assert!(
                started.elapsed() < timeout,
                "nobody connected to the proxy at {} within {timeout:?}",
                self.addr
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        started.elapsed()
    }

    /// Stops every byte in both directions, keeping the sockets open; returns once every open
    /// connection has stopped relaying.
    pub async fn freeze(&self) {
        self.mode.send_replace(ProxyMode::Frozen);
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if self.frozen.load(Ordering::SeqCst) >= self.open_connections() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "proxy connections did not freeze"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Relays again (the frozen connections are closed, the way a peer resumed by SIGCONT after
    /// its connections timed out starts over).
    pub fn thaw(&self) {
        self.mode.send_replace(ProxyMode::Forward);
        self.kill_connections();
        self.frozen.store(0, Ordering::SeqCst);
    }

    /// Stops listening and closes every connection: connecting now fails.
    pub fn shutdown(&self) {
        self.accept.abort();
        self.kill_connections();
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shutdown();
    }
}

async fn relay(
    mut client: TcpStream,
    backend: SocketAddr,
    mut mode: watch::Receiver<ProxyMode>,
    frozen: Arc<AtomicUsize>,
) {
    if *mode.borrow() == ProxyMode::Frozen {
        frozen.fetch_add(1, Ordering::SeqCst);
        return hold(client).await;
    }
    let Ok(mut server) = TcpStream::connect(backend).await else {
        return; // dropping the client socket: as if the process were not there
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        _ = async { mode.wait_for(|m| *m == ProxyMode::Frozen).await.is_ok() } => {
            frozen.fetch_add(1, Ordering::SeqCst);
            let _held = server;
            hold(client).await;
        }
    }
}

/// Keeps a socket open and silent until the task is aborted.
async fn hold(socket: TcpStream) {
    let _held = socket;
    std::future::pending::<()>().await;
}

// ---------------------------------------------------------------------------------------------
// A listener that never speaks
// ---------------------------------------------------------------------------------------------

/// Accepts TCP connections and holds them without reading or writing a byte: an endpoint
/// that is "up" for the kernel and dead for gRPC.
pub struct SilentListener {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl SilentListener {
    pub async fn start() -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("binding the silent listener");
        let addr = listener.local_addr().expect("silent listener address");
        let accepted = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn({
            let accepted = accepted.clone();
            async move {
                let mut held = Vec::new();
                while let Ok((socket, _)) = listener.accept().await {
                    accepted.fetch_add(1, Ordering::SeqCst);
                    held.push(socket);
                }
            }
        });
        Self {
            addr,
            accepted,
            task,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for SilentListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

// ---------------------------------------------------------------------------------------------
// A test DNS server (real UDP DNS on loopback): the gateway's own, shared through its
// `test-support` feature.
// ---------------------------------------------------------------------------------------------

pub use gateway::fanout::discovery::test_dns::{Record, TestDns};

// ---------------------------------------------------------------------------------------------
// The gateway process and its HTTP API
// ---------------------------------------------------------------------------------------------

/// No HTTP call of a fault test may take longer than this.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(30);

/// A real `panoptes query` process on a loopback port, killed on drop.
pub struct Gateway {
    _process: Panoptes,
    url: String,
    client: reqwest::Client,
}

/// One HTTP answer: status, JSON body and how long it took.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: serde_json::Value,
    pub elapsed: Duration,
}

impl Reply {
    pub fn warnings(&self) -> Vec<String> {
        self.body["warnings"]
            .as_array()
            .map(|w| {
                w.iter()
                    .map(|s| s.as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn is_success(&self) -> bool {
        self.status == 200 && self.body["status"] == "success"
    }
}

/// One endpoint as `/api/v1/stores` shows it.
#[derive(Clone, Debug)]
pub struct StoreStatus {
    pub name: String,
    pub healthy: bool,
    pub last_error: Option<String>,
}

/// Every endpoint a `/api/v1/stores` answer lists, whatever its component type.
pub fn store_statuses(body: &serde_json::Value) -> Vec<StoreStatus> {
    let mut out = Vec::new();
    if let Some(groups) = body["data"].as_object() {
        for entries in groups.values() {
            for entry in entries.as_array().into_iter().flatten() {
                out.push(StoreStatus {
                    name: entry["name"].as_str().unwrap_or_default().to_string(),
                    healthy: entry["healthy"].as_bool().unwrap_or(false),
                    last_error: entry["lastError"].as_str().map(str::to_string),
                });
            }
        }
    }
    out
}

impl Gateway {
    /// Starts `panoptes query --http-address=<free port> <args>` and waits until it is ready
    /// (`/-/ready`: its first discovery and Info round has finished).
    pub async fn start(args: &[String]) -> Self {
        Self::launch(args, Panoptes::start).await
    }

    /// `store` served over gRPC on loopback, and a gateway over it alone with `flags`; the
    /// server stops when its handle is dropped.
    pub async fn over_store(
        store: store_api::MemoryStore,
        flags: &[String],
    ) -> (Self, store_api::server::RunningServer) {
        let server = store_api::server::spawn(Arc::new(store), free_addr())
            .await
            .expect("serve the store on loopback");
        let mut args = vec![format!("--endpoint={}", server.addr)];
        args.extend_from_slice(flags);
        (Self::start(&args).await, server)
    }

    /// Like [`Gateway::start_unready`], its log (standard error) written to `log`.
    pub async fn start_logging_to(args: &[String], log: &Path) -> Self {
        let log = log.to_owned();
        Self::launch(args, move |argv: &[String], http| {
            Panoptes::start_logging_to(argv, http, &log)
        })
        .await
    }

    /// Like [`Gateway::start`], waiting only until it serves HTTP, which it does before its
    /// first Info round ends.
    pub async fn start_unready(args: &[String]) -> Self {
        Self::launch(args, Panoptes::start_listening).await
    }

    async fn launch(
        args: &[String],
        start: impl FnOnce(&[String], SocketAddr) -> Panoptes + Send + 'static,
    ) -> Self {
        let http = free_addr();
        let mut argv = vec!["query".to_string(), format!("--http-address={http}")];
        argv.extend(args.iter().cloned());
        let process = tokio::task::spawn_blocking(move || start(&argv, http))
            .await
            .expect("starting panoptes query");
        let client = reqwest::Client::builder()
            .timeout(HTTP_TIMEOUT)
            .build()
            .expect("HTTP client");
        Self {
            _process: process,
            url: format!("http://{http}"),
            client,
        }
    }

    /// `http://<address>` of its HTTP API.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn pid(&self) -> u32 {
        self._process.pid()
    }

    /// Sends `GET path` with `params`; panics if no answer comes within [`HTTP_TIMEOUT`].
    async fn send(&self, path: &str, params: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.url))
            .query(params)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path} {params:?}: {e}"))
    }

    /// GET `path` with `params`, the body as JSON.
    pub async fn get(&self, path: &str, params: &[(&str, &str)]) -> Reply {
        let started = Instant::now();
        let response = self.send(path, params).await;
        let status = response.status().as_u16();
        let bytes = response
            .bytes()
            .await
            .unwrap_or_else(|e| panic!("GET {path} {params:?}: reading the body: {e}"));
        let elapsed = started.elapsed();
        let body = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "GET {path} {params:?}: not JSON ({e}): {}",
                String::from_utf8_lossy(&bytes)
            )
        });
        Reply {
            status,
            body,
            elapsed,
        }
    }

    /// GET `path` with `params` as text: status, content type and body (for `/federate`).
    pub async fn get_text(&self, path: &str, params: &[(&str, &str)]) -> (u16, String, String) {
        let response = self.send(path, params).await;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = response
            .text()
            .await
            .unwrap_or_else(|e| panic!("GET {path} {params:?}: reading the body: {e}"));
        (status, content_type, body)
    }

    /// GET `path` with `params` as text: the status, and the body or why it could not be
    /// read whole (an answer cut short after its status).
    pub async fn get_text_or_cut(
        &self,
        path: &str,
        params: &[(&str, &str)],
    ) -> (u16, Result<String, String>) {
        let response = self.send(path, params).await;
        let status = response.status().as_u16();
        let body = response.text().await.map_err(|e| format!("{e:?}"));
        (status, body)
    }

    /// The status code of `/-/ready`.
    pub async fn ready_status(&self) -> u16 {
        self.client
            .get(format!("{}/-/ready", self.url))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET /-/ready: {e}"))
            .status()
            .as_u16()
    }

    /// Polls `/-/ready` until it is 200, every 50 ms; panics after `timeout`.
    pub async fn wait_ready(&self, timeout: Duration) {
        let started = Instant::now();
        while self.ready_status().await != 200 {
            assert!(started.elapsed() < timeout, "not ready after {timeout:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Every endpoint `/api/v1/stores` lists, whatever its component type.
    pub async fn stores(&self) -> Vec<StoreStatus> {
        let reply = self.get("/api/v1/stores", &[]).await;
        assert!(reply.is_success(), "/api/v1/stores: {}", reply.body);
        store_statuses(&reply.body)
    }

    /// The endpoint at `address` as `/api/v1/stores` shows it now, if listed.
    pub async fn store(&self, address: &str) -> Option<StoreStatus> {
        self.stores().await.into_iter().find(|s| s.name == address)
    }

    /// Polls `/api/v1/stores` until `accept` holds for the endpoint at `address` (`None`: not
    /// listed), every 100 ms; panics after `timeout`. Returns how long it took.
    pub async fn wait_for_store(
        &self,
        address: &str,
        timeout: Duration,
        what: &str,
        mut accept: impl FnMut(Option<&StoreStatus>) -> bool,
    ) -> Duration {
        let started = Instant::now();
        loop {
            let status = self.store(address).await;
            if accept(status.as_ref()) {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < timeout,
                "endpoint {address}: not {what} after {timeout:?}; now: {status:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
