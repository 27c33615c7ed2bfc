//! What the benchmark ran on, and the versions of what it measured.

use std::path::Path;
use std::process::Command;

/// The machine.
#[derive(Debug)]
pub struct Machine {
    pub cores: usize,
    pub cpu: String,
    pub memory_bytes: u64,
    pub kernel: String,
    pub os: String,
}

impl Machine {
    pub fn describe() -> Self {
        let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
        let field = |text: &str, name: &str| {
            text.lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_once([':', '=']))
                .map(|(_, v)| v.trim().trim_matches('"').to_string())
                .unwrap_or_else(|| "unknown".into())
        };
        let meminfo = read("/proc/meminfo");
        let memory_kib: u64 = field(&meminfo, "MemTotal")
            .trim_end_matches("kB")
            .trim()
            .parse()
            .unwrap_or(0);
        Self {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu: field(&read("/proc/cpuinfo"), "model name"),
            memory_bytes: memory_kib * 1024,
            kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
            os: field(&read("/etc/os-release"), "PRETTY_NAME"),
        }
    }
}

/// The versions of everything measured.
#[derive(Debug)]
pub struct Versions {
    pub prometheus: String,
    pub victoria_metrics: String,
    /// The commit of this repository, marked when the work tree has uncommitted changes.
    pub panoptes: String,
    pub rustc: String,
}

impl Versions {
    pub fn collect(repo: &Path, victoria_metrics: String) -> Self {
        let commit = first_line(
            "git",
            &[
                "-C",
                &repo.display().to_string(),
                "rev-parse",
                "--short",
                "HEAD",
            ],
        );
        let dirty = !first_line(
            "git",
            &["-C", &repo.display().to_string(), "status", "--porcelain"],
        )
        .is_empty();
        Self {
            prometheus: version_word(&first_line("prometheus", &["--version"])),
            victoria_metrics,
            panoptes: if dirty {
                format!("{commit} with uncommitted changes")
            } else {
                commit
            },
            rustc: first_line("rustc", &["--version"]),
        }
    }
}

/// `2.42.0+ds` out of `prometheus, version 2.42.0+ds (branch: …)`.
fn version_word(line: &str) -> String {
    line.split_once("version ")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .unwrap_or(line)
        .to_string()
}

/// The first line a command prints (on stdout, else stderr); empty when it cannot run.
fn first_line(program: &str, args: &[&str]) -> String {
    let Ok(output) = Command::new(program).args(args).output() else {
        return String::new();
    };
    let text = if output.stdout.is_empty() {
        output.stderr
    } else {
        output.stdout
    };
    String::from_utf8_lossy(&text)
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Now, as `YYYY-MM-DD HH:MM UTC`.
pub fn utc_now() -> String {
    first_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"])
}

/// A millisecond timestamp as `YYYY-MM-DD HH:MM UTC`.
pub fn utc_time(ms: i64) -> String {
    first_line(
        "date",
        &[
            "-u",
            "-d",
            &format!("@{}", ms / 1000),
            "+%Y-%m-%d %H:%M UTC",
        ],
    )
}
