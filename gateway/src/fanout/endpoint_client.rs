//! How one endpoint is read: a gRPC StoreAPI client, or an HTTP backend turned into a `Store`
//! inside the gateway (a Prometheus through remote read, a VictoriaMetrics through its export
//! API). Everything above the endpoint sees one `Store` whichever it is.

use std::sync::Arc;
use std::time::Duration;

use store_api::sidecar::{HttpClientConfig, PrometheusClient, SidecarStore};
use store_api::tls::TlsConnector;
use store_api::victoriametrics::VictoriaMetricsStore;
use store_api::{
    LabelNamesRequest, LabelValuesRequest, Labels, LabelsResponse, MetadataRequest,
    MetadataResponse, SeriesRequest, SeriesStream, Store, StoreClient, StoreError, StoreInfo,
};

use super::discovery::{EndpointConfig, EndpointKind};

/// An HTTP backend's request timeout when its config gives none (`--prometheus.timeout`'s
/// default): a long export is cut by `--store.response-timeout` before that anyway.
const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(120);

/// One endpoint's `Store`; cheap to clone (calls of one request share it).
#[derive(Clone)]
pub enum EndpointClient {
    Grpc(Arc<StoreClient>),
    Prometheus(Arc<SidecarStore>),
    VictoriaMetrics(Arc<VictoriaMetricsStore>),
}

impl std::fmt::Debug for EndpointClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Grpc(_) => "EndpointClient::Grpc",
            Self::Prometheus(_) => "EndpointClient::Prometheus",
            Self::VictoriaMetrics(_) => "EndpointClient::VictoriaMetrics",
        })
    }
}

impl EndpointClient {
    /// The client `config` asks for; gRPC over TLS where `tls` is given (the HTTP kinds use
    /// their URL's scheme).
    pub fn new(config: &EndpointConfig, tls: Option<&TlsConnector>) -> Result<Self, StoreError> {
        let http = || {
            let timeout = config.timeout.unwrap_or(DEFAULT_HTTP_TIMEOUT);
            let client = match &config.http_client_file {
                Some(file) => HttpClientConfig::load(file)?,
                None => HttpClientConfig::default(),
            };
            PrometheusClient::new(&config.address, timeout, client)
        };
        Ok(match config.kind {
            EndpointKind::Grpc => {
                Self::Grpc(Arc::new(StoreClient::with_tls(&config.address, tls)?))
            }
            EndpointKind::Prometheus => Self::Prometheus(Arc::new(SidecarStore::new(http()?))),
            EndpointKind::VictoriaMetrics => {
                let labels = Labels::from_pairs(config.labels.clone());
                Self::VictoriaMetrics(Arc::new(VictoriaMetricsStore::new(http()?, labels)))
            }
        })
    }
}

/// Calls `$call` on whichever store `$client` holds.
macro_rules! each {
    ($client:expr, $store:ident => $call:expr) => {
        match $client {
            EndpointClient::Grpc($store) => $call,
            EndpointClient::Prometheus($store) => $call,
            EndpointClient::VictoriaMetrics($store) => $call,
        }
    };
}

impl Store for EndpointClient {
    async fn info(&self) -> Result<StoreInfo, StoreError> {
        each!(self, store => store.info().await)
    }

    async fn series(&self, request: SeriesRequest) -> Result<SeriesStream, StoreError> {
        each!(self, store => store.series(request).await)
    }

    async fn label_names(&self, request: LabelNamesRequest) -> Result<LabelsResponse, StoreError> {
        each!(self, store => store.label_names(request).await)
    }

    async fn label_values(
        &self,
        request: LabelValuesRequest,
    ) -> Result<LabelsResponse, StoreError> {
        each!(self, store => store.label_values(request).await)
    }

    async fn metric_metadata(
        &self,
        request: MetadataRequest,
    ) -> Result<MetadataResponse, StoreError> {
        each!(self, store => store.metric_metadata(request).await)
    }
}
