//! What a Panoptes process tells its operator: structured logs (`logging`), traces (`traces`)
//! and self-metrics (`metrics`), among them the StoreAPI a process serves (`storeapi`) and the block store's
//! bucket and index cache (`blockstore`). Components define their own metrics beside their
//! code and register them in the process' registry.

pub mod blockstore;
mod logging;
pub mod metrics;
pub mod storeapi;
pub mod traces;

pub use logging::{LogFormat, init_logging};
