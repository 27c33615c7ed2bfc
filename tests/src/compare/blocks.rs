//! The data set as TSDB blocks, written by the real promtool: the whole data set in one
//! directory of blocks, and each shard's series (by a hash of their labels) in its own.
//!
//! The data is written one aligned 2 h window at a time: one OpenMetrics file per window and
//! per block set, turned into exactly one block by promtool and deleted. No file holds more
//! than a third of the data, and promtool (which parses its whole input once per block it
//! writes) reads each sample twice instead of once per window.

use super::dataset::{ALIGNMENT_MS, Dataset};
use crate::promtool::{self, OpenMetricsSample};
use crate::topology::shard_of;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Where the blocks are: every series, and per shard.
#[derive(Debug)]
pub struct BlockSets {
    pub all: PathBuf,
    pub shards: Vec<PathBuf>,
}

/// Writes the data set's blocks under `dir` (`all/`, `shard-0/`, …); `shards` may be 0.
pub fn write_blocks(dataset: &Dataset, dir: &Path, shards: usize) -> BlockSets {
    let sets = BlockSets {
        all: dir.join("all"),
        shards: (0..shards)
            .map(|i| dir.join(format!("shard-{i}")))
            .collect(),
    };
    let inputs = dir.join("openmetrics");
    std::fs::create_dir_all(&inputs).unwrap();
    for window_start in (dataset.start_ms..dataset.end_ms).step_by(ALIGNMENT_MS as usize) {
        let window = window_start..window_start + ALIGNMENT_MS;
        let mut files: Vec<OpenMetricsFile> = std::iter::once(&sets.all)
            .chain(&sets.shards)
            .map(|set| {
                let name = set.file_name().unwrap().to_string_lossy();
                OpenMetricsFile::create(&inputs.join(format!("{name}-{window_start}.om")), set)
            })
            .collect();
        for series in dataset.series() {
            let selector = promtool::series_selector(&series.labels);
            let samples: Vec<(i64, f64)> = series
                .samples
                .iter()
                .filter(|(t, _)| window.contains(t))
                .copied()
                .collect();
            files[0].write(&selector, &samples);
            if shards > 0 {
                files[1 + shard_of(&series.labels, shards)].write(&selector, &samples);
            }
        }
        // One promtool per file, all at once: each is single-threaded for most of its run.
        std::thread::scope(|scope| {
            for file in files {
                scope.spawn(move || file.into_blocks());
            }
        });
    }
    std::fs::remove_dir(&inputs).unwrap();
    sets
}

/// An OpenMetrics file being written, and the block directory it is for.
struct OpenMetricsFile {
    path: PathBuf,
    out: BufWriter<File>,
    blocks: PathBuf,
}

impl OpenMetricsFile {
    fn create(path: &Path, blocks: &Path) -> Self {
        let file = File::create(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Self {
            path: path.to_path_buf(),
            out: BufWriter::with_capacity(1 << 20, file),
            blocks: blocks.to_path_buf(),
        }
    }

    fn write(&mut self, selector: &str, samples: &[(i64, f64)]) {
        for &(t, v) in samples {
            writeln!(self.out, "{}", OpenMetricsSample(selector, t, v)).unwrap();
        }
    }

    /// Ends the file, runs promtool on it and deletes it.
    fn into_blocks(mut self) {
        self.out.write_all(b"# EOF\n").unwrap();
        self.out.flush().unwrap();
        drop(self.out);
        promtool::blocks_from_openmetrics(&self.path, &self.blocks);
        std::fs::remove_file(&self.path).unwrap();
    }
}
