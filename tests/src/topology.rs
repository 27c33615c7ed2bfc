//! Topologies of real gRPC endpoints on loopback, built from a script's data, for running the
//! PromQL corpus through the fan-out: the global view must answer as one store would.

use crate::promqltest::run::{LoadedSeries, StorageFactory};
use futures_util::future::BoxFuture;
use gateway::fanout::{Fanout, FanoutStorage, QueryOptions};
use gateway::promql::{EngineError, SelectRequest, SelectResult, Storage};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use store_api::server::RunningServer;
use store_api::{Labels, MemoryStore};

/// The series sharded over `shards` stores, each shard held by two replicas (external label
/// `replica="a"|"b"`) that each miss a different, disjoint part of every `period_ms`: replica
/// a the second fifth, replica b the fourth. Together they hold every sample once.
pub struct ShardedReplicas {
    pub shards: usize,
    pub period_ms: i64,
}

impl Default for ShardedReplicas {
    fn default() -> Self {
        Self {
            shards: 3,
            period_ms: 7 * 60_000,
        }
    }
}

/// The fan-out over the topology, and the servers it reads (stopped when dropped).
struct TopologyStorage {
    storage: FanoutStorage,
    _servers: Vec<RunningServer>,
}

impl Storage for TopologyStorage {
    fn select(&self, request: SelectRequest) -> BoxFuture<'_, Result<SelectResult, EngineError>> {
        self.storage.select(request)
    }
}

/// The shard (of `shards`) a series belongs to: a hash of its whole label set.
pub fn shard_of(labels: &Labels, shards: usize) -> usize {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    labels.hash(&mut hasher);
    (hasher.finish() % shards as u64) as usize
}

impl ShardedReplicas {
    /// The samples a replica holds: all but those in its missing part of each period.
    fn replica_data(&self, series: &LoadedSeries, missing: (i64, i64)) -> LoadedSeries {
        series
            .iter()
            .map(|(labels, samples)| {
                let kept = samples
                    .iter()
                    .filter(|(t, _)| {
                        let phase = t.rem_euclid(self.period_ms) * 5 / self.period_ms;
                        !(missing.0..missing.1).contains(&phase)
                    })
                    .copied()
                    .collect();
                (labels.clone(), kept)
            })
            .collect()
    }

    async fn build(&self, series: &LoadedSeries) -> Arc<dyn Storage> {
        let mut stores = Vec::new();
        for shard in 0..self.shards {
            let shard_series: LoadedSeries = series
                .iter()
                .filter(|(labels, _)| shard_of(labels, self.shards) == shard)
                .cloned()
                .collect();
            for (replica, missing) in [("a", (1, 2)), ("b", (3, 4))] {
                stores.push(MemoryStore::new(
                    Labels::from_pairs([("replica", replica)]),
                    self.replica_data(&shard_series, missing),
                ));
            }
        }
        let (storage, servers) = replica_fanout(stores).await;
        Arc::new(TopologyStorage {
            storage,
            _servers: servers,
        })
    }
}

/// Serves each store on loopback and reads them through the gateway's fan-out,
/// de-duplicating on `replica`, its first Info round done; the servers stop when dropped.
pub async fn replica_fanout(stores: Vec<MemoryStore>) -> (FanoutStorage, Vec<RunningServer>) {
    let mut servers = Vec::new();
    for store in stores {
        let server = store_api::server::spawn(Arc::new(store), "127.0.0.1:0".parse().unwrap())
            .await
            .expect("serve a store on loopback");
        servers.push(server);
    }
    let endpoints: Vec<String> = servers.iter().map(|s| s.addr.to_string()).collect();
    let fanout = Fanout::over_replicas(&endpoints, Default::default())
        .await
        .expect("static endpoints");
    (FanoutStorage::new(fanout, QueryOptions::default()), servers)
}

impl StorageFactory for ShardedReplicas {
    fn storage<'a>(&'a self, series: &'a LoadedSeries) -> BoxFuture<'a, Arc<dyn Storage>> {
        Box::pin(self.build(series))
    }
}
