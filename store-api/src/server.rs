//! The gRPC adapter: serves any `Store` as Thanos' `thanos.Store` and `thanos.info.Info`.

use crate::convert;
use crate::store::Store;
use crate::trace;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use panoptes_proto::thanos as pb;
use panoptes_proto::thanos::info as infopb;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tonic::{Request, Response, Status};
use tracing::Instrument;

/// Requests are small (matchers and a time range): a larger one is refused, not decoded
/// (`--grpc-server-max-recv-msg-size`), and a client never sends one.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 4 << 20;
/// Answers carry one series per message, and a year of 15 s samples is a few MB: this bounds
/// what a peer can make the other side allocate, far above any real message.
pub const MAX_RESPONSE_BYTES: usize = 256 << 20;

/// A `Store` behind the StoreAPI and Info gRPC services.
pub struct StoreService<S> {
    store: Arc<S>,
    max_request_bytes: usize,
    tls: Option<Arc<rustls::ServerConfig>>,
}

impl<S> Clone for StoreService<S> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            max_request_bytes: self.max_request_bytes,
            tls: self.tls.clone(),
        }
    }
}

impl<S: Store> StoreService<S> {
    pub fn new(store: Arc<S>) -> Self {
        Self {
            store,
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            tls: None,
        }
    }

    /// Serves over TLS with `config` (its ALPN must offer `h2`; see [`crate::tls`]).
    pub fn with_tls(mut self, config: Arc<rustls::ServerConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// Refuses requests larger than `bytes` (`ResourceExhausted`).
    pub fn with_max_request_bytes(mut self, bytes: usize) -> Self {
        self.max_request_bytes = bytes;
        self
    }

    /// Both gRPC services, ready to add to a tonic router.
    pub fn routes(self) -> tonic::service::Routes {
        let request = self.max_request_bytes;
        let store = pb::store_server::StoreServer::new(self.clone())
            .max_decoding_message_size(request)
            .max_encoding_message_size(MAX_RESPONSE_BYTES);
        let metadata = pb::metadata_server::MetadataServer::new(self.clone())
            .max_decoding_message_size(request)
            .max_encoding_message_size(MAX_RESPONSE_BYTES);
        let info = infopb::info_server::InfoServer::new(self)
            .max_decoding_message_size(request)
            .max_encoding_message_size(MAX_RESPONSE_BYTES);
        tonic::service::Routes::new(store)
            .add_service(metadata)
            .add_service(info)
    }

    /// Serves on an already bound listener until `shutdown` completes.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send,
    ) -> Result<(), tonic::transport::Error> {
        let server = tonic::transport::Server::builder().add_routes(self.clone().routes());
        if let Some(tls) = self.tls {
            return server
                .serve_with_incoming_shutdown(crate::tls::incoming(listener, tls), shutdown)
                .await;
        }
        // No Nagle: a small answer written in two segments would otherwise wait for the
        // peer's delayed ACK (40 ms on Linux).
        let incoming =
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
        server
            .serve_with_incoming_shutdown(incoming, shutdown)
            .await
    }
}

/// A server running in the background; dropping it stops the server.
#[derive(Debug)]
pub struct RunningServer {
    pub addr: SocketAddr,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// Binds `addr` and serves `store` in a background task until the returned handle is
/// dropped; the handle has the bound address (useful with port 0).
pub async fn spawn<S: Store>(store: Arc<S>, addr: SocketAddr) -> std::io::Result<RunningServer> {
    spawn_service(StoreService::new(store), addr).await
}

/// Like [`spawn`], for a configured service.
pub async fn spawn_service<S: Store>(
    service: StoreService<S>,
    addr: SocketAddr,
) -> std::io::Result<RunningServer> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let shutdown = async {
            // Resolves when the handle sends or is dropped.
            let _ = stopped.await;
        };
        if let Err(err) = service.serve(listener, shutdown).await {
            tracing::error!(%err, "gRPC server stopped");
        }
    });
    Ok(RunningServer {
        addr: local,
        _stop: stop,
    })
}

#[tonic::async_trait]
impl<S: Store> pb::store_server::Store for StoreService<S> {
    type SeriesStream = BoxStream<'static, Result<pb::SeriesResponse, Status>>;

    async fn series(
        &self,
        request: Request<pb::SeriesRequest>,
    ) -> Result<Response<Self::SeriesStream>, Status> {
        let span = trace::grpc_server_span("thanos.Store/Series", request.metadata());
        let request = convert::series_request_from_pb(request.into_inner())?;
        let frames = self.store.series(request).instrument(span.clone()).await?;
        let responses = frames.map(|frame| match frame {
            Ok(frame) => Ok(convert::frame_to_pb(frame)),
            Err(err) => Err(Status::from(err)),
        });
        Ok(Response::new(
            trace::InSpan::new(responses.boxed(), span).boxed(),
        ))
    }

    async fn label_names(
        &self,
        request: Request<pb::LabelNamesRequest>,
    ) -> Result<Response<pb::LabelNamesResponse>, Status> {
        let span = trace::grpc_server_span("thanos.Store/LabelNames", request.metadata());
        let request = convert::label_names_request_from_pb(request.into_inner())?;
        let answer = self.store.label_names(request).instrument(span).await?;
        Ok(Response::new(pb::LabelNamesResponse {
            names: answer.values,
            warnings: answer.warnings,
            hints: None,
        }))
    }

    async fn label_values(
        &self,
        request: Request<pb::LabelValuesRequest>,
    ) -> Result<Response<pb::LabelValuesResponse>, Status> {
        let span = trace::grpc_server_span("thanos.Store/LabelValues", request.metadata());
        let request = convert::label_values_request_from_pb(request.into_inner())?;
        let answer = self.store.label_values(request).instrument(span).await?;
        Ok(Response::new(pb::LabelValuesResponse {
            values: answer.values,
            warnings: answer.warnings,
            hints: None,
        }))
    }
}

#[tonic::async_trait]
impl<S: Store> pb::metadata_server::Metadata for StoreService<S> {
    type MetricMetadataStream = BoxStream<'static, Result<pb::MetricMetadataResponse, Status>>;

    async fn metric_metadata(
        &self,
        request: Request<pb::MetricMetadataRequest>,
    ) -> Result<Response<Self::MetricMetadataStream>, Status> {
        use pb::metric_metadata_response::Result as R;
        let span = trace::grpc_server_span("thanos.Metadata/MetricMetadata", request.metadata());
        let request = convert::metadata_request_from_pb(request.into_inner());
        let answer = self.store.metric_metadata(request).instrument(span).await?;
        let warnings = answer.warnings.clone();
        let frames: Vec<Result<pb::MetricMetadataResponse, Status>> =
            std::iter::once(R::Metadata(convert::metadata_to_pb(answer)))
                .chain(warnings.into_iter().map(R::Warning))
                .map(|r| Ok(pb::MetricMetadataResponse { result: Some(r) }))
                .collect();
        Ok(Response::new(futures_util::stream::iter(frames).boxed()))
    }
}

#[tonic::async_trait]
impl<S: Store> infopb::info_server::Info for StoreService<S> {
    async fn info(
        &self,
        _request: Request<infopb::InfoRequest>,
    ) -> Result<Response<infopb::InfoResponse>, Status> {
        let info = self.store.info().await?;
        Ok(Response::new(convert::info_to_pb(info)))
    }
}
