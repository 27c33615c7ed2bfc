//! Prometheus and `panoptes` processes as restartable [`Service`]s.

use super::fleet::Service;
use crate::process::Panoptes;
use crate::prometheus::PrometheusServer;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

impl Service for PrometheusServer {
    fn pid(&self) -> Option<u32> {
        PrometheusServer::pid(self)
    }

    fn restart(&mut self) {
        PrometheusServer::restart(self);
    }
}

/// A `panoptes` subcommand that listens on `addr`, restartable with the same arguments.
pub struct PanoptesProcess {
    binary: PathBuf,
    args: Vec<String>,
    addr: SocketAddr,
    process: Option<Panoptes>,
}

impl PanoptesProcess {
    /// Starts `binary <args>` and waits until it accepts connections on `addr`.
    pub fn start(binary: &Path, args: Vec<String>, addr: SocketAddr) -> Self {
        let mut process = Self {
            binary: binary.to_path_buf(),
            args,
            addr,
            process: None,
        };
        process.restart();
        process
    }
}

impl Service for PanoptesProcess {
    fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(Panoptes::pid)
    }

    fn restart(&mut self) {
        self.process = None; // killed on drop
        self.process = Some(Panoptes::start_binary(&self.binary, &self.args, self.addr));
    }
}
