//! The side-by-side benchmark (`scripts/compare.sh`, binary `compare`): the same generated
//! data in Prometheus, VictoriaMetrics and three Panoptes deployments, the same queries to
//! each over HTTP, latency and memory measured and answers compared.

pub mod answers;
pub mod blocks;
pub mod buckets;
pub mod dataset;
pub mod fleet;
pub mod http;
pub mod import;
pub mod machine;
pub mod markdown;
pub mod measure;
pub mod options;
pub mod processes;
pub mod queries;
pub mod report;
pub mod shapes;
pub mod systems;
pub mod victoria;
