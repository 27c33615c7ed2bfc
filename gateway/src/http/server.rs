//! The HTTP server loop, shared by every component: HTTP/1.1 over accepted TCP connections
//! (or TLS over them, handshaken in the connection's own task), with the client's address for
//! handlers (`ConnectInfo`), no Nagle, basic auth where configured, and the timeouts that
//! keep a slow or silent client from holding a connection: a request's headers must arrive
//! within the header-read timeout (which also closes idle keep-alive connections), and an
//! answer that makes no write progress for the write timeout is dropped. Connections finish
//! their requests on shutdown.

use super::basic_auth::{self, BasicAuth};
use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// How long a client may take.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// To send a request's headers, or the next request on a kept-alive connection.
    pub header_read: Duration,
    /// To take any part of an answer being written.
    pub write: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            header_read: Duration::from_secs(10),
            write: Duration::from_secs(120),
        }
    }
}

/// How a server serves: timeouts, and TLS and basic auth where configured (`--http.config`).
#[derive(Clone, Debug, Default)]
pub struct Serving {
    pub timeouts: Timeouts,
    pub tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    pub auth: Option<Arc<BasicAuth>>,
}

/// Serves `router` on `listener` until `shutdown` completes, then lets open requests finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    serving: &Serving,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let timeouts = serving.timeouts;
    let router = match &serving.auth {
        Some(auth) => basic_auth::require(router, auth.clone()),
        None => router,
    };
    let tls = serving.tls.clone().map(TlsAcceptor::from);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(timeouts.header_read);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, client) = tokio::select! {
            accepted = store_api::net::accept(&listener) => accepted,
            () = &mut shutdown => break,
        };
        let service =
            router
                .clone()
                .map_request(move |request: hyper::Request<hyper::body::Incoming>| {
                    let mut request = request.map(axum::body::Body::new);
                    request.extensions_mut().insert(ConnectInfo(client));
                    request
                });
        let service = TowerToHyperService::new(service);
        match &tls {
            None => {
                let io = TokioIo::new(WriteDeadline::new(stream, timeouts.write));
                let connection = graceful.watch(http.serve_connection(io, service));
                tokio::spawn(async move {
                    if let Err(error) = connection.await {
                        tracing::debug!(%error, %client, "HTTP connection ended");
                    }
                });
            }
            Some(acceptor) => {
                let (acceptor, http, watcher) =
                    (acceptor.clone(), http.clone(), graceful.watcher());
                tokio::spawn(async move {
                    let stream = match store_api::tls::accept(&acceptor, stream).await {
                        Ok(stream) => stream,
                        Err(error) => {
                            tracing::warn!(%error, %client, "TLS handshake refused");
                            return;
                        }
                    };
                    let io = TokioIo::new(WriteDeadline::new(stream, timeouts.write));
                    let connection = watcher.watch(http.serve_connection(io, service));
                    if let Err(error) = connection.await {
                        tracing::debug!(%error, %client, "HTTP connection ended");
                    }
                });
            }
        }
    }
    graceful.shutdown().await;
    Ok(())
}

/// A connection whose writes fail once they have made no progress for `limit`: a client that
/// stops reading frees its connection and the answer it held.
struct WriteDeadline<S> {
    stream: S,
    limit: Duration,
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<S> WriteDeadline<S> {
    fn new(stream: S, limit: Duration) -> Self {
        Self {
            stream,
            limit,
            stalled: None,
        }
    }

    /// Whether a write that cannot progress has waited too long (registering the wake-up).
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        let limit = self.limit;
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        stalled.as_mut().poll(cx).is_ready()
    }

    fn timed_out() -> io::Error {
        io::Error::new(
            io::ErrorKind::TimedOut,
            "client took no data within the write timeout",
        )
    }

    fn guard<T>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match polled {
            Poll::Pending if self.expired(cx) => Poll::Ready(Err(Self::timed_out())),
            Poll::Pending => Poll::Pending,
            ready => {
                self.stalled = None;
                ready
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WriteDeadline<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WriteDeadline<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.guard(cx, polled)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.stream).poll_flush(cx);
        self.guard(cx, polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.guard(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
