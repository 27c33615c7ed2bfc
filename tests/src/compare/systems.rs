//! The systems under comparison and the HTTP endpoint each answers queries on.

use std::fmt;

/// A system that answers Prometheus' HTTP API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum System {
    Prometheus,
    VictoriaMetrics,
    /// The gateway over `panoptes store` on the same blocks as Prometheus.
    Store,
    /// The gateway over `panoptes sidecar` in front of the Prometheus above.
    Sidecar,
    /// The gateway over 4 shards × 2 replicas of `panoptes store`.
    Sharded,
}

impl System {
    pub const ALL: [System; 5] = [
        System::Prometheus,
        System::VictoriaMetrics,
        System::Store,
        System::Sidecar,
        System::Sharded,
    ];

    /// The short name used in flags and table headers.
    pub fn id(self) -> &'static str {
        match self {
            Self::Prometheus => "prometheus",
            Self::VictoriaMetrics => "vm",
            Self::Store => "store",
            Self::Sidecar => "sidecar",
            Self::Sharded => "sharded",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Self::Prometheus => "Prometheus on the promtool blocks",
            Self::VictoriaMetrics => {
                "VictoriaMetrics (single node) after /api/v1/import/prometheus"
            }
            Self::Store => "`panoptes query` over one `panoptes store` on the same blocks",
            Self::Sidecar => "`panoptes query` over `panoptes sidecar` in front of the Prometheus",
            Self::Sharded => {
                "`panoptes query --query.replica-label=replica` over 4 shards × 2 replicas of \
                 `panoptes store`"
            }
        }
    }

    pub fn parse(id: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|s| s.id() == id)
            .ok_or_else(|| format!("unknown system {id:?}"))
    }

    /// Whether this system needs `panoptes store`.
    pub fn needs_store(self) -> bool {
        matches!(self, Self::Store | Self::Sharded)
    }

    /// Labels this system adds to answers by the data's layout rather than by its query
    /// semantics (the shard's external label), removed before comparing with Prometheus.
    pub fn layout_labels(self) -> &'static [&'static str] {
        match self {
            Self::Sharded => &["shard"],
            _ => &[],
        }
    }
}

impl fmt::Display for System {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// How to tell that a system answers queries after a (re)start.
#[derive(Clone, Debug)]
pub enum Readiness {
    /// Ready once its port accepts connections (checked by its process wrapper).
    Listening,
    /// Ready once `GET path` answers 200.
    Health(&'static str),
    /// A gateway: ready once `/api/v1/stores` lists this many healthy endpoints.
    Gateway { endpoints: usize },
}

/// A system's query endpoint.
#[derive(Clone, Debug)]
pub struct Target {
    pub system: System,
    pub url: String,
    pub readiness: Readiness,
}
