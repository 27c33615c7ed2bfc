//! Every process the benchmark runs, restartable (for cold runs) and watched for memory.
//!
//! Processes are started in tiers: a tier starts once the one before is ready (Prometheus
//! before the sidecar in front of it, stores before the gateways over them); processes of a
//! tier restart in parallel. A process's peak resident memory is the largest `VmHWM` of any
//! of its incarnations, read before each restart and at the end.

use super::systems::System;
use std::collections::BTreeMap;

/// Servers that hold data: Prometheus, VictoriaMetrics, `panoptes store`.
pub const TIER_STORAGE: usize = 0;
/// Processes that read a server of the tier before: `panoptes sidecar`.
pub const TIER_SIDECAR: usize = 1;
/// Gateways over the tiers before.
pub const TIER_GATEWAY: usize = 2;

/// A process that can be restarted and watched.
pub trait Service: Send {
    /// The process id of the running incarnation.
    fn pid(&self) -> Option<u32>;
    /// Stops the process and starts it again on the same address and data; returns once it
    /// accepts connections.
    fn restart(&mut self);
}

/// Which process: the system it belongs to and its role there.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ProcessName {
    pub system: System,
    pub role: String,
}

struct Member {
    name: ProcessName,
    tier: usize,
    service: Box<dyn Service>,
    peak_rss_bytes: u64,
}

/// The processes of every system, killed when dropped (each [`Service`] kills its process
/// on drop).
#[derive(Default)]
pub struct Fleet {
    members: Vec<Member>,
}

impl Fleet {
    /// Adds a started process; `tier` orders restarts (0 first).
    pub fn add(&mut self, system: System, role: &str, tier: usize, service: Box<dyn Service>) {
        self.members.push(Member {
            name: ProcessName {
                system,
                role: role.to_string(),
            },
            tier,
            service,
            peak_rss_bytes: 0,
        });
    }

    /// Restarts every process, tier after tier.
    pub fn restart_all(&mut self) {
        self.observe_memory();
        let tiers = self.members.iter().map(|m| m.tier).max().unwrap_or(0);
        for tier in 0..=tiers {
            std::thread::scope(|scope| {
                for member in self.members.iter_mut().filter(|m| m.tier == tier) {
                    scope.spawn(|| member.service.restart());
                }
            });
        }
    }

    /// The peak resident memory of every process so far, in bytes.
    pub fn peak_rss(&mut self) -> Vec<(ProcessName, u64)> {
        self.observe_memory();
        let mut peaks: Vec<(ProcessName, u64)> = self
            .members
            .iter()
            .map(|m| (m.name.clone(), m.peak_rss_bytes))
            .collect();
        peaks.sort();
        peaks
    }

    fn observe_memory(&mut self) {
        for member in &mut self.members {
            if let Some(bytes) = member.service.pid().and_then(peak_rss_bytes) {
                member.peak_rss_bytes = member.peak_rss_bytes.max(bytes);
            }
        }
    }
}

/// The peak resident set size (`VmHWM`) of a live process, in bytes.
pub fn peak_rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status_kib(&status, "VmHWM:").map(|kib| kib * 1024)
}

fn status_kib(status: &str, field: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(field))?;
    line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Sums peak memory per system, in the order of [`System::ALL`].
pub fn per_system(peaks: &[(ProcessName, u64)]) -> BTreeMap<System, u64> {
    let mut sums = BTreeMap::new();
    for (name, bytes) in peaks {
        *sums.entry(name.system).or_default() += bytes;
    }
    sums
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_high_water_mark_in_kib() {
        let status = "Name:\tx\nVmPeak:\t  300 kB\nVmHWM:\t    1234 kB\nVmRSS:\t  1000 kB\n";
        assert_eq!(status_kib(status, "VmHWM:"), Some(1234));
        assert!(peak_rss_bytes(std::process::id()).unwrap() > 0);
    }
}
