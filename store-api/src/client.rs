//! A StoreAPI client over gRPC; itself a `Store`, so stores can be stacked and tested alike.

use crate::convert;
use crate::error::StoreError;
use crate::server::{DEFAULT_MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES};
use crate::store::{
    LabelNamesRequest, LabelValuesRequest, LabelsResponse, MetadataRequest, MetadataResponse,
    SeriesRequest, SeriesStream, Store, StoreInfo,
};
use crate::tls::TlsConnector;
use futures_util::{StreamExt, TryStreamExt, stream};
use hyper_util::rt::TokioIo;
use panoptes_proto::thanos as pb;
use panoptes_proto::thanos::info as infopb;
use std::time::Duration;
use tonic::transport::{Channel, Endpoint, Uri};

#[derive(Clone)]
pub struct StoreClient {
    address: String,
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
        let channel = match tls {
            None => endpoint.connect_lazy(),
            Some(tls) => {
                let tls = tls.clone();
                endpoint.connect_with_connector_lazy(tower::service_fn(move |uri: Uri| {
                    let tls = tls.clone();
                    async move {
                        let host = uri.host().unwrap_or_default();
                        let port = uri.port_u16().unwrap_or(443);
                        tls.connect(host, port).await.map(TokioIo::new)
                    }
                }))
            }
        };
        Ok(Self {
            address: address.to_string(),
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
            .metric_metadata(convert::metadata_request_to_pb(&request))
            .await?
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
            .info(infopb::InfoRequest {})
            .await?
            .into_inner();
        convert::info_from_pb(response)
    }

    async fn series(&self, request: SeriesRequest) -> Result<SeriesStream, StoreError> {
        let responses = self
            .store
            .clone()
            .series(convert::series_request_to_pb(&request))
            .await?
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
            .label_names(convert::label_names_request_to_pb(&request))
            .await?
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
            .label_values(convert::label_values_request_to_pb(&request))
            .await?
            .into_inner();
        Ok(convert::labels_response_from_values(response))
    }
}
