//! What this binary was built from (see `build.rs`): shown by `status/buildinfo`, `--version`
//! and the `panoptes_build_info` metric.

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The git commit, empty when built outside a git checkout.
pub const REVISION: &str = env!("PANOPTES_REVISION");
pub const BRANCH: &str = env!("PANOPTES_BRANCH");
/// The commit's date, `YYYYMMDD-HH:MM:SS` as Prometheus prints its build date.
pub const BUILD_DATE: &str = env!("PANOPTES_BUILD_DATE");
/// `rustc x.y.z (...)`: in Prometheus' `goVersion` field.
pub const RUSTC: &str = env!("PANOPTES_RUSTC");
