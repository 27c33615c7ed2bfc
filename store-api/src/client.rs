//! A StoreAPI client over gRPC; itself a `Store`, so stores can be stacked and tested alike.

use crate::convert;
use crate::error::StoreError;
use crate::server::{DEFAULT_MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES};
use crate::store::{
    LabelNamesRequest, LabelValuesRequest, LabelsResponse, MetadataRequest, MetadataResponse,
    SeriesRequest, SeriesStream, Store, StoreInfo,
};
use crate::tls::TlsConnector;
use crate::trace;
use futures_util::{StreamExt, TryStreamExt, stream};
use hyper_util::rt::TokioIo;
use panoptes_proto::thanos as pb;
use panoptes_proto::thanos::info as infopb;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tonic::transport::{Channel, Endpoint, Uri};

#[derive(Clone)]
pub struct StoreClient {
    address: String,
    /// Why the last TLS connection failed, as its stream saw it: in TLS 1.3 a refused client
    /// certificate surfaces after the handshake, and a request queued on that connection
    /// fails only with "canceled" or "connection closed".
    connection_error: Arc<Mutex<Option<String>>>,
    store: pb::store_client::StoreClient<Channel>,
    metadata: pb::metadata_client::MetadataClient<Channel>,
    info: infopb::info_client::InfoClient<Channel>,
}

impl std::fmt::Debug for StoreClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreClient")
            .field("address", &self.address)
            .finish()
    }
}

impl StoreClient {
    /// A client for `host:port` (or a full `http://` URI). It connects lazily and reconnects
    /// by itself, so an endpoint that is down now can serve later.
    pub fn new(address: &str) -> Result<Self, StoreError> {
        Self::with_tls(address, None)
    }

    /// Like [`StoreClient::new`], over TLS where `tls` is given.
    pub fn with_tls(address: &str, tls: Option<&TlsConnector>) -> Result<Self, StoreError> {
        let scheme = if tls.is_some() { "https" } else { "http" };
        let uri = if address.contains("://") {
            address.to_string()
        } else {
            format!("{scheme}://{address}")
        };
        let endpoint = Endpoint::from_shared(uri)
            .map_err(|e| StoreError::InvalidArgument(format!("bad address {address:?}: {e}")))?
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(30));
        let connection_error = Arc::new(Mutex::new(None));
        let channel = match tls {
            None => endpoint.connect_lazy(),
            Some(tls) => {
                let (tls, seen) = (tls.clone(), connection_error.clone());
                endpoint.connect_with_connector_lazy(tower::service_fn(move |uri: Uri| {
                    let (tls, seen) = (tls.clone(), seen.clone());
                    async move {
                        let host = uri.host().unwrap_or_default();
                        let port = uri.port_u16().unwrap_or(443);
                        match tls.connect(host, port).await {
                            Ok(stream) => Ok(TokioIo::new(Recorded { stream, seen })),
                            Err(err) => {
                                record(&seen, &err);
                                Err(err)
                            }
                        }
                    }
                }))
            }
        };
        Ok(Self {
            address: address.to_string(),
            connection_error,
            store: pb::store_client::StoreClient::new(channel.clone())
                .max_decoding_message_size(MAX_RESPONSE_BYTES)
                .max_encoding_message_size(DEFAULT_MAX_REQUEST_BYTES),
            metadata: pb::metadata_client::MetadataClient::new(channel.clone())
                .max_decoding_message_size(MAX_RESPONSE_BYTES)
                .max_encoding_message_size(DEFAULT_MAX_REQUEST_BYTES),
            info: infopb::info_client::InfoClient::new(channel)
                .max_decoding_message_size(MAX_RESPONSE_BYTES)
                .max_encoding_message_size(DEFAULT_MAX_REQUEST_BYTES),
        })
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    /// `status` as an error, with why the connection ended where the status cannot say.
    fn failed(&self, status: tonic::Status) -> StoreError {
        let transport = matches!(
            status.code(),
            tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Cancelled
        );
        let why = self
            .connection_error
            .lock()
            .ok()
            .and_then(|seen| seen.clone());
        let error = StoreError::from(status);
        match why {
            Some(why) if transport && !error.to_string().contains(&why) => {
                StoreError::Unavailable(format!("{error} (the connection ended: {why})"))
            }
            _ => error,
        }
    }
}

fn record(seen: &Mutex<Option<String>>, err: &std::io::Error) {
    if let Ok(mut seen) = seen.lock() {
        *seen = Some(err.to_string());
    }
}

/// A connection that notes its first read or write error in `seen`.
struct Recorded<S> {
    stream: S,
    seen: Arc<Mutex<Option<String>>>,
}

impl<S> Recorded<S> {
    fn note<T>(&self, polled: Poll<std::io::Result<T>>) -> Poll<std::io::Result<T>> {
        if let Poll::Ready(Err(err)) = &polled {
            record(&self.seen, err);
        }
        polled
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Recorded<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        self.note(polled)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Recorded<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.note(polled)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let polled = Pin::new(&mut self.stream).poll_flush(cx);
        self.note(polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

impl Store for StoreClient {
    async fn metric_metadata(
        &self,
        request: MetadataRequest,
    ) -> Result<MetadataResponse, StoreError> {
        use pb::metric_metadata_response::Result as R;
        let mut stream = self
            .metadata
            .clone()
            .metric_metadata(trace::grpc_request(convert::metadata_request_to_pb(
                &request,
            )))
            .await
            .map_err(|s| self.failed(s))?
            .into_inner();
        let mut answer = MetadataResponse::default();
        while let Some(frame) = stream.message().await? {
            match frame.result {
                Some(R::Metadata(m)) => answer.merge(convert::metadata_from_pb(m)),
                Some(R::Warning(w)) => answer.warnings.push(w),
                None => {}
            }
        }
        Ok(answer)
    }

    async fn info(&self) -> Result<StoreInfo, StoreError> {
        let response = self
            .info
            .clone()
            .info(trace::grpc_request(infopb::InfoRequest {}))
            .await
            .map_err(|s| self.failed(s))?
            .into_inner();
        convert::info_from_pb(response)
    }

    async fn series(&self, request: SeriesRequest) -> Result<SeriesStream, StoreError> {
        let responses = self
            .store
            .clone()
            .series(trace::grpc_request(convert::series_request_to_pb(&request)))
            .await
            .map_err(|s| self.failed(s))?
            .into_inner();
        let frames = responses
            .map_err(StoreError::from)
            .map_ok(|r| {
                stream::iter(convert::frames_from_pb(r).map_or_else(
                    |e| vec![Err(e)],
                    |frames| frames.into_iter().map(Ok).collect(),
                ))
            })
            .try_flatten();
        Ok(frames.boxed())
    }

    async fn label_names(&self, request: LabelNamesRequest) -> Result<LabelsResponse, StoreError> {
        let response = self
            .store
            .clone()
            .label_names(trace::grpc_request(convert::label_names_request_to_pb(
                &request,
            )))
            .await
            .map_err(|s| self.failed(s))?
            .into_inner();
        Ok(convert::labels_response_from_names(response))
    }

    async fn label_values(
        &self,
        request: LabelValuesRequest,
    ) -> Result<LabelsResponse, StoreError> {
        let response = self
            .store
            .clone()
            .label_values(trace::grpc_request(convert::label_values_request_to_pb(
                &request,
            )))
            .await
            .map_err(|s| self.failed(s))?
            .into_inner();
        Ok(convert::labels_response_from_values(response))
    }
}
