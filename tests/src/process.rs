//! Real `panoptes` processes.

use crate::net::wait_for_port;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The `panoptes` binary of this build (README's test command builds it before the tests).
pub fn panoptes_binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let binary = target.join("debug").join("panoptes");
    assert!(
        binary.exists(),
        "{} is missing: run `cargo build --bin panoptes` first",
        binary.display()
    );
    binary
}

/// A running `panoptes` subcommand, killed on drop.
pub struct Panoptes {
    child: Child,
}

impl Panoptes {
    /// Starts `panoptes <args>` and waits until it listens on `ready_addr`.
    pub fn start(args: &[String], ready_addr: SocketAddr) -> Self {
        let child = Command::new(panoptes_binary())
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start panoptes");
        let process = Self { child };
        wait_for_port(ready_addr, Duration::from_secs(20));
        process
    }
}

impl Drop for Panoptes {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
