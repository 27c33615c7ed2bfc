//! The label APIs of a store over a Prometheus-compatible HTTP API whose series lack the
//! store's external labels (Prometheus' TSDB does not hold them; VictoriaMetrics is given
//! them by its endpoint config): the server's answer plus the external labels.

use super::PrometheusClient;
use crate::error::StoreError;
use crate::labels::{Labels, without_external};
use crate::store::{LabelNamesRequest, LabelValuesRequest, LabelsResponse};

pub(crate) async fn label_names(
    api: &PrometheusClient,
    external: &Labels,
    request: LabelNamesRequest,
) -> Result<LabelsResponse, StoreError> {
    // Matchers on external labels are decided here; the server does not hold them.
    let Some(matchers) = without_external(external, &request.matchers) else {
        return Ok(LabelsResponse::default());
    };
    let mut names = api
        .label_names(request.start, request.end, &matchers)
        .await?;
    // External labels exist only on series: none matched, none to add.
    if !names.is_empty() {
        names.extend(external.iter().map(|l| l.name.clone()));
    }
    names.retain(|n| !request.without_replica_labels.contains(n));
    Ok(LabelsResponse::from_unsorted(names, request.limit))
}

pub(crate) async fn label_values(
    api: &PrometheusClient,
    external: &Labels,
    request: LabelValuesRequest,
) -> Result<LabelsResponse, StoreError> {
    if request.without_replica_labels.contains(&request.label) {
        return Ok(LabelsResponse::default());
    }
    let Some(matchers) = without_external(external, &request.matchers) else {
        return Ok(LabelsResponse::default());
    };
    let (start, end) = (request.start, request.end);
    let mut values = api
        .label_values(&request.label, start, end, &matchers)
        .await?;
    if let Some(value) = external.get(&request.label) {
        // Every matching series carries the external label, unless it has its own value
        // (which the server reports itself).
        if !api.label_names(start, end, &matchers).await?.is_empty() {
            values.push(value.to_string());
        }
    }
    Ok(LabelsResponse::from_unsorted(values, request.limit))
}
