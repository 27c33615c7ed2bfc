//! A store whose data keeps arriving, as a scraping Prometheus' does: its series are generated
//! again up to the present every scrape interval, so the demo's queries over "the last 5
//! minutes" keep finding data however long it runs.

use super::data::{STEP_MS, Series};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use store_api::{
    LabelNamesRequest, LabelValuesRequest, Labels, LabelsResponse, MemoryStore, SeriesRequest,
    SeriesStream, Store, StoreError, StoreInfo,
};

/// What the store holds when the present is the given time (milliseconds).
type Generate = Box<dyn Fn(i64) -> Vec<Series> + Send + Sync>;

pub struct LiveStore {
    external_labels: Labels,
    generate: Generate,
    current: RwLock<Arc<MemoryStore>>,
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl LiveStore {
    /// A store with `external_labels` holding `generate(now)`, regenerated every scrape
    /// interval for as long as it is referenced.
    pub fn spawn(external_labels: Labels, generate: Generate) -> Arc<Self> {
        let initial = MemoryStore::new(external_labels.clone(), generate(now_ms()));
        let store = Arc::new(Self {
            external_labels,
            generate,
            current: RwLock::new(Arc::new(initial)),
        });
        let weak = Arc::downgrade(&store);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(STEP_MS as u64)).await;
                let Some(store) = weak.upgrade() else { return };
                store.refresh(now_ms());
            }
        });
        store
    }

    /// Generates the data as of `now`.
    pub fn refresh(&self, now: i64) {
        let fresh = MemoryStore::new(self.external_labels.clone(), (self.generate)(now));
        if let Ok(mut current) = self.current.write() {
            *current = Arc::new(fresh);
        }
    }

    fn current(&self) -> Arc<MemoryStore> {
        self.current
            .read()
            .map_or_else(|poisoned| poisoned.into_inner().clone(), |c| c.clone())
    }
}

impl Store for LiveStore {
    async fn info(&self) -> Result<StoreInfo, StoreError> {
        self.current().info().await
    }

    async fn series(&self, request: SeriesRequest) -> Result<SeriesStream, StoreError> {
        self.current().series(request).await
    }

    async fn label_names(&self, request: LabelNamesRequest) -> Result<LabelsResponse, StoreError> {
        self.current().label_names(request).await
    }

    async fn label_values(
        &self,
        request: LabelValuesRequest,
    ) -> Result<LabelsResponse, StoreError> {
        self.current().label_values(request).await
    }
}
