//! What a Panoptes process tells its operator: structured logs (`logging`) and self-metrics
//! (`metrics`), among them the StoreAPI a process serves (`storeapi`). Components define their own metrics beside their code and register them in
//! the process' registry.

mod logging;
pub mod metrics;
pub mod storeapi;

pub use logging::init_logging;
