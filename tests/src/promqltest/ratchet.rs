//! The conformance ratchet: what a run of Prometheus' scripts gave, per file — evals passed,
//! evals failed (by line) and evals skipped (by reason) — kept in
//! `tests/conformance-ratchet.txt`.
//!
//! A run must give exactly what the file records. Fewer passes or a new failure is a
//! regression; more passes, or a file the ratchet does not name, is progress that must be
//! recorded before it lands, so that the floor is always today's count and nothing can slip
//! back to an older one unseen. Only a run writes the file ([`record`]): raising a count is a
//! run, and lowering one shows in review as a diff of that file.

use super::run::FileReport;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// What one file gave.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileCounts {
    pub passed: usize,
    /// The lines of the failing evals.
    pub failing: Vec<usize>,
    /// Skipped evals by reason.
    pub skipped: BTreeMap<String, usize>,
}

/// Per file name.
pub type Ratchet = BTreeMap<String, FileCounts>;

const HEADER: &str = "\
# The PromQL conformance ratchet: per script of ../shared/conformance/promql, the evals that
# pass, the lines of those that fail, and the skipped ones by reason. The conformance test
# (tests/tests/promql_conformance.rs) fails unless a run gives exactly this. Never edit it by
# hand; a run rewrites it, and the diff is what review sees:
#   PANOPTES_RATCHET=record cargo test -p panoptes-tests --test promql_conformance
";

/// The counts of a run.
pub fn of_run(reports: &[FileReport]) -> Ratchet {
    reports
        .iter()
        .map(|report| {
            let counts = FileCounts {
                passed: report.passed(),
                failing: report.failures().map(|(eval, _)| eval.line).collect(),
                skipped: report
                    .skip_reasons()
                    .into_iter()
                    .map(|(reason, n)| (reason.to_string(), n))
                    .collect(),
            };
            (report.file.clone(), counts)
        })
        .collect()
}

/// The file's text for `ratchet`.
pub fn render(ratchet: &Ratchet) -> String {
    let mut text = String::from(HEADER);
    for (file, counts) in ratchet {
        let _ = write!(
            text,
            "{file} passed {} failed {}",
            counts.passed,
            counts.failing.len()
        );
        for line in &counts.failing {
            let _ = write!(text, " {line}");
        }
        text.push('\n');
        for (reason, n) in &counts.skipped {
            let _ = writeln!(text, "  skipped {n} {reason}");
        }
    }
    text
}

/// Reads the file's text: `<file> passed <n> failed <m> [<line> ...]` per script, each followed
/// by `  skipped <n> <reason>` lines; `#` comments.
pub fn parse(text: &str) -> Result<Ratchet, String> {
    let mut ratchet = Ratchet::new();
    let mut current: Option<String> = None;
    for (i, line) in text.lines().enumerate() {
        let bad = |what: &str| format!("line {}: {what}: {line:?}", i + 1);
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(skip) = line.strip_prefix("  skipped ") {
            let file = current
                .as_ref()
                .ok_or_else(|| bad("a skip before any file"))?;
            let (n, reason) = skip
                .split_once(' ')
                .ok_or_else(|| bad("expected `  skipped <n> <reason>`"))?;
            let n = n.parse().map_err(|_| bad("not a count"))?;
            let counts = ratchet.get_mut(file).ok_or_else(|| bad("no file"))?;
            if counts.skipped.insert(reason.to_owned(), n).is_some() {
                return Err(bad("a reason named twice"));
            }
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let [file, "passed", passed, "failed", failed, lines @ ..] = words.as_slice() else {
            return Err(bad("expected `<file> passed <n> failed <m> [<line> ...]`"));
        };
        let failing = lines
            .iter()
            .map(|l| l.parse().map_err(|_| bad("not a line number")))
            .collect::<Result<Vec<usize>, _>>()?;
        if failed.parse() != Ok(failing.len()) {
            return Err(bad("the failure count is not the number of lines listed"));
        }
        let counts = FileCounts {
            passed: passed.parse().map_err(|_| bad("not a count"))?,
            failing,
            skipped: BTreeMap::new(),
        };
        if ratchet.insert((*file).to_owned(), counts).is_some() {
            return Err(bad("a file named twice"));
        }
        current = Some((*file).to_owned());
    }
    Ok(ratchet)
}

/// How a run differs from the record: regressions (which fail whatever happens) and progress
/// (which fails until recorded).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    pub regressions: Vec<String>,
    pub progress: Vec<String>,
}

impl Verdict {
    pub fn is_clean(&self) -> bool {
        self.regressions.is_empty() && self.progress.is_empty()
    }
}

/// Compares a run with the record.
pub fn judge(recorded: &Ratchet, run: &Ratchet) -> Verdict {
    let mut verdict = Verdict::default();
    for (file, got) in run {
        let Some(want) = recorded.get(file) else {
            verdict.regressions.push(format!(
                "{file}: not in the ratchet (every script needs a line)"
            ));
            continue;
        };
        if got.passed < want.passed {
            verdict.regressions.push(format!(
                "{file}: {} evals pass, the ratchet records {}",
                got.passed, want.passed
            ));
        } else if got.passed > want.passed {
            verdict.progress.push(format!(
                "{file}: {} evals pass, the ratchet records {}",
                got.passed, want.passed
            ));
        }
        let not_in = |lines: &[usize], of: &[usize]| -> Vec<usize> {
            lines.iter().copied().filter(|l| !of.contains(l)).collect()
        };
        let new = not_in(&got.failing, &want.failing);
        if !new.is_empty() {
            verdict
                .regressions
                .push(format!("{file}: new failures at lines {new:?}"));
        }
        let fixed = not_in(&want.failing, &got.failing);
        if !fixed.is_empty() {
            verdict
                .progress
                .push(format!("{file}: lines {fixed:?} no longer fail"));
        }
        if got.skipped != want.skipped {
            // Evals moved between skipped and run: a change of the runner's classification,
            // which review must see in the file.
            verdict.progress.push(format!(
                "{file}: skipped {:?}, the ratchet records {:?}",
                got.skipped, want.skipped
            ));
        }
    }
    for file in recorded.keys().filter(|f| !run.contains_key(*f)) {
        verdict
            .regressions
            .push(format!("{file}: in the ratchet, not in the corpus"));
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(passed: usize, failing: &[usize], skipped: &[(&str, usize)]) -> FileCounts {
        FileCounts {
            passed,
            failing: failing.to_vec(),
            skipped: skipped.iter().map(|&(r, n)| (r.to_owned(), n)).collect(),
        }
    }

    fn ratchet(files: &[(&str, FileCounts)]) -> Ratchet {
        files
            .iter()
            .map(|(f, c)| ((*f).to_owned(), c.clone()))
            .collect()
    }

    #[test]
    fn render_and_parse_round_trip() {
        let r = ratchet(&[
            ("a.test", counts(10, &[], &[("native histograms", 3)])),
            ("b.test", counts(4, &[17, 30], &[])),
        ]);
        let text = render(&r);
        assert!(text.contains("a.test passed 10 failed 0\n  skipped 3 native histograms\n"));
        assert!(text.contains("b.test passed 4 failed 2 17 30\n"));
        assert_eq!(parse(&text), Ok(r));
    }

    #[test]
    fn parse_refuses_what_a_run_cannot_write() {
        for bad in [
            "a.test 10\n",
            "a.test passed 10 failed 1\n",
            "a.test passed x failed 0\n",
            "  skipped 3 native histograms\n",
            "a.test passed 1 failed 0\na.test passed 1 failed 0\n",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_same_run_is_clean() {
        let r = ratchet(&[("a.test", counts(10, &[5], &[("x", 1)]))]);
        assert!(judge(&r, &r).is_clean());
    }

    #[test]
    fn fewer_passes_new_failures_and_missing_files_are_regressions() {
        let recorded = ratchet(&[
            ("a.test", counts(10, &[], &[])),
            ("gone.test", counts(1, &[], &[])),
        ]);
        let run = ratchet(&[
            ("a.test", counts(9, &[12], &[])),
            ("new.test", counts(3, &[], &[])),
        ]);
        let verdict = judge(&recorded, &run);
        assert_eq!(verdict.regressions.len(), 4, "{verdict:?}");
        assert!(verdict.regressions[0].contains("9 evals pass, the ratchet records 10"));
        assert!(verdict.regressions[1].contains("new failures at lines [12]"));
        assert!(verdict.regressions[2].contains("new.test: not in the ratchet"));
        assert!(verdict.regressions[3].contains("gone.test"));
    }

    #[test]
    fn a_lowered_record_fails_as_unrecorded_progress() {
        // Someone edits the floor down by hand: the run no longer matches it.
        let run = ratchet(&[("a.test", counts(10, &[], &[]))]);
        let lowered = ratchet(&[("a.test", counts(9, &[], &[]))]);
        let verdict = judge(&lowered, &run);
        assert!(verdict.regressions.is_empty());
        assert_eq!(verdict.progress.len(), 1, "{verdict:?}");
        assert!(!verdict.is_clean());
    }

    #[test]
    fn a_fixed_failure_and_changed_skips_must_be_recorded() {
        let recorded = ratchet(&[("a.test", counts(10, &[7], &[("x", 2)]))]);
        let run = ratchet(&[("a.test", counts(11, &[], &[("x", 1)]))]);
        let verdict = judge(&recorded, &run);
        assert!(verdict.regressions.is_empty(), "{verdict:?}");
        assert_eq!(verdict.progress.len(), 3, "{verdict:?}");
    }
}
