//! Real `panoptes` processes.

use crate::net::wait_for_port;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The `panoptes` binary of this build (README's test command builds it before the tests).
pub fn panoptes_binary() -> PathBuf {
    panoptes_binary_in("debug")
}

/// The `panoptes` binary of the `profile` build ("debug" or "release").
pub fn panoptes_binary_in(profile: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let binary = target.join(profile).join("panoptes");
    let flag = if profile == "release" {
        " --release"
    } else {
        ""
    };
    assert!(
        binary.exists(),
        "{} is missing: run `cargo build{flag} --bin panoptes` first",
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
        Self::start_binary(&panoptes_binary(), args, ready_addr)
    }

    /// Like [`Panoptes::start`] with the given `panoptes` binary.
    pub fn start_binary(binary: &Path, args: &[String], ready_addr: SocketAddr) -> Self {
        let child = Command::new(binary)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start panoptes");
        let process = Self { child };
        wait_for_port(ready_addr, Duration::from_secs(20));
        process
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Panoptes {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
