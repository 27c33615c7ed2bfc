//! Traces: the process' `tracing` spans exported over OTLP/gRPC when `--tracing.config` (or
//! `--tracing.config-file`) asks for it, in Thanos' configuration shape. Trace context travels
//! as W3C `traceparent` (see `store_api::trace`), so one trace crosses gateways, sidecars and
//! the Prometheus servers behind them.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{WithExportConfig, WithTonicConfig};
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// The tracing configuration file: `type: OTLP` and its `config`, as Thanos reads it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TracingFile {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    config: OtlpConfig,
}

/// The OTLP options Panoptes implements; any other key is refused by name rather than ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct OtlpConfig {
    #[serde(default)]
    client_type: String,
    #[serde(default)]
    service_name: String,
    #[serde(default)]
    endpoint: String,
    #[serde(default)]
    insecure: bool,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    timeout: String,
    #[serde(default)]
    sampler_type: String,
    #[serde(default)]
    sampler_param: String,
}

/// A validated tracing configuration.
#[derive(Debug)]
pub struct TracingConfig {
    service_name: String,
    endpoint: String,
    headers: BTreeMap<String, String>,
    timeout: Duration,
    sampler: SamplerChoice,
}

#[derive(Debug, Clone, Copy)]
enum SamplerChoice {
    Always,
    Never,
    Ratio(f64),
}

impl TracingConfig {
    /// Reads the YAML text of `--tracing.config`; `default_service` names the process when
    /// the file does not (`panoptes-query`, `panoptes-sidecar`, ...).
    pub fn parse(yaml: &str, default_service: &str) -> Result<Self, String> {
        let file: TracingFile =
            serde_yaml_ng::from_str(yaml).map_err(|e| format!("tracing config: {e}"))?;
        if !file.kind.eq_ignore_ascii_case("otlp") {
            return Err(format!(
                "tracing config: type {:?} is not supported (only OTLP)",
                file.kind
            ));
        }
        let config = file.config;
        if !matches!(config.client_type.as_str(), "" | "grpc") {
            return Err(format!(
                "tracing config: client_type {:?} is not supported (only grpc)",
                config.client_type
            ));
        }
        if config.endpoint.is_empty() {
            return Err(
                "tracing config: endpoint is required (host:port of an OTLP/gRPC receiver)".into(),
            );
        }
        if !config.insecure {
            return Err(
                "tracing config: only plain-text OTLP is supported; set insecure: true".into(),
            );
        }
        let timeout = match config.timeout.as_str() {
            "" => Duration::from_secs(10),
            text => crate::promql::syntax::parse_duration(text)
                .ok()
                .and_then(|ms| u64::try_from(ms).ok())
                .map(Duration::from_millis)
                .ok_or_else(|| format!("tracing config: timeout {text:?} is not a duration"))?,
        };
        let sampler = match config.sampler_type.as_str() {
            "" | "alwayssample" => SamplerChoice::Always,
            "neversample" => SamplerChoice::Never,
            "traceidratiobased" => {
                let ratio: f64 = config.sampler_param.parse().map_err(|_| {
                    format!(
                        "tracing config: sampler_param {:?} is not a ratio between 0 and 1",
                        config.sampler_param
                    )
                })?;
                if !(0.0..=1.0).contains(&ratio) {
                    return Err(format!(
                        "tracing config: sampler_param {ratio} is not between 0 and 1"
                    ));
                }
                SamplerChoice::Ratio(ratio)
            }
            other => {
                return Err(format!(
                    "tracing config: sampler_type {other:?} is not supported \
                     (alwayssample, neversample, traceidratiobased)"
                ));
            }
        };
        let endpoint = if config.endpoint.contains("://") {
            config.endpoint
        } else {
            format!("http://{}", config.endpoint)
        };
        Ok(Self {
            service_name: if config.service_name.is_empty() {
                default_service.to_string()
            } else {
                config.service_name
            },
            endpoint,
            headers: config.headers,
            timeout,
            sampler,
        })
    }

    /// Starts the exporter (it needs the Tokio runtime) and installs W3C trace-context
    /// propagation; spans reach the receiver in batches.
    pub fn start(&self) -> Result<Tracing, String> {
        let mut metadata = tonic::metadata::MetadataMap::new();
        for (name, value) in &self.headers {
            let key = tonic::metadata::MetadataKey::from_bytes(name.as_bytes())
                .map_err(|_| format!("tracing config: bad header name {name:?}"))?;
            let value = value
                .parse()
                .map_err(|_| format!("tracing config: bad value for header {name:?}"))?;
            metadata.insert(key, value);
        }
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(&self.endpoint)
            .with_timeout(self.timeout)
            .with_metadata(metadata)
            .build()
            .map_err(|e| format!("tracing: OTLP exporter to {}: {e}", self.endpoint))?;
        // Below a traced caller, follow its decision; a trace starting here samples as told.
        let root = match self.sampler {
            SamplerChoice::Always => Sampler::AlwaysOn,
            SamplerChoice::Never => Sampler::AlwaysOff,
            SamplerChoice::Ratio(ratio) => Sampler::TraceIdRatioBased(ratio),
        };
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_sampler(Sampler::ParentBased(Box::new(root)))
            .with_resource(
                opentelemetry_sdk::Resource::builder()
                    .with_service_name(self.service_name.clone())
                    .build(),
            )
            .build();
        opentelemetry::global::set_text_map_propagator(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        );
        Ok(Tracing { provider })
    }
}

/// A running trace exporter: the `tracing` layer that feeds it, and its shutdown.
pub struct Tracing {
    provider: SdkTracerProvider,
}

impl Tracing {
    /// The layer that turns this process' spans into exported ones.
    pub fn layer<S>(&self) -> impl tracing_subscriber::Layer<S> + use<S>
    where
        S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
    {
        tracing_opentelemetry::layer().with_tracer(self.provider.tracer("panoptes"))
    }

    /// Sends the spans still queued, off the async workers (the exporter blocks on them).
    pub async fn shutdown(self) {
        let provider = self.provider;
        let flushed = tokio::task::spawn_blocking(move || provider.shutdown()).await;
        if let Ok(Err(err)) = flushed {
            eprintln!("panoptes: tracing: spans not sent at shutdown: {err}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thanos_shaped_config_is_read() {
        let config = TracingConfig::parse(
            "type: OTLP\nconfig:\n  client_type: grpc\n  endpoint: 127.0.0.1:4317\n  \
             insecure: true\n  sampler_type: traceidratiobased\n  sampler_param: '0.25'\n",
            "panoptes-query",
        )
        .unwrap();
        assert_eq!(config.service_name, "panoptes-query");
        assert_eq!(config.endpoint, "http://127.0.0.1:4317");
        assert!(matches!(config.sampler, SamplerChoice::Ratio(r) if r == 0.25));
    }

    #[test]
    fn what_is_not_implemented_is_refused_by_name() {
        let refused = |yaml: &str| TracingConfig::parse(yaml, "p").unwrap_err();
        assert!(refused("type: JAEGER\n").contains("JAEGER"));
        assert!(refused("type: OTLP\nconfig: {endpoint: a:1}\n").contains("insecure"));
        assert!(
            refused("type: OTLP\nconfig: {endpoint: a:1, insecure: true, tls_config: {}}\n")
                .contains("tls_config")
        );
        assert!(
            refused("type: OTLP\nconfig: {endpoint: a:1, insecure: true, client_type: http}\n")
                .contains("http")
        );
        assert!(
            refused(
                "type: OTLP\nconfig: {endpoint: a:1, insecure: true, \
                 sampler_type: traceidratiobased, sampler_param: '2'}\n"
            )
            .contains("between 0 and 1")
        );
    }
}
