//! Prometheus' own PromQL test scripts against the engine. Prints, per file, how many evals
//! passed, failed and were skipped (with the reasons grouped and the first failing queries),
//! then holds the run to `tests/conformance-ratchet.txt`: it fails on fewer passes, on a new
//! failure, on a script the ratchet does not name, and on progress not yet recorded.
//!
//! `cargo test -p panoptes-tests --test promql_conformance -- --nocapture` shows the report;
//! `PANOPTES_RATCHET=record cargo test -p panoptes-tests --test promql_conformance` rewrites
//! the ratchet from the run (the only way it changes; review shows its diff).

use gateway::promql::syntax::{self as parser, Expr, ExprKind, Span};
use panoptes_tests::promqltest::run::pinned_expr;
use panoptes_tests::promqltest::{self, FileReport, Runner, Script, classify, ratchet};
use std::time::Instant;

const RATCHET: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/conformance-ratchet.txt");

/// Failing queries shown per file.
const SHOWN_FAILURES: usize = 5;

/// The corpus survey: (file, evals, float-only evals, float-only evals our parser parses).
/// An eval is float-only unless it expects a native histogram or its query names a metric
/// loaded as one since the last `clear` (or has a selector without a metric name while there
/// are some). This matches the README's table for every file but histograms.test, where the
/// README has 68: the 23 more here are classic `_bucket` queries in `load_with_nhcb` blocks,
/// which read only the float series the store holds; and limit.test, where the README has 0:
/// its 31 evals that expect no histogram read histograms only by their labels and run over
/// float stand-ins (`HISTOGRAMS_BY_LABELS` in the runner). Hence 1,313 float-only evals where
/// the README says 1,259. All parse (the README's 1,113 are those promql-parser 0.11.1 parsed).
const SURVEY: [(&str, usize, usize, usize); 21] = [
    ("aggregators.test", 160, 125, 125),
    ("at_modifier.test", 78, 78, 78),
    ("collision.test", 2, 2, 2),
    ("duration_expression.test", 59, 59, 59),
    ("extended_vectors.test", 169, 120, 120),
    ("fill-modifier.test", 46, 46, 46),
    ("functions.test", 431, 320, 320),
    ("histograms.test", 185, 91, 91),
    ("info.test", 53, 52, 52),
    ("limit.test", 37, 31, 31),
    ("literals.test", 25, 25, 25),
    ("name_label_dropping.test", 30, 30, 30),
    ("native_histograms.test", 522, 3, 3),
    ("operators.test", 214, 142, 142),
    ("range_queries.test", 18, 16, 16),
    ("selectors.test", 31, 31, 31),
    ("staleness.test", 17, 17, 17),
    ("start_timestamps.test", 26, 16, 16),
    ("subquery.test", 34, 32, 32),
    ("trig_functions.test", 19, 19, 19),
    ("type_and_unit.test", 58, 58, 58),
];

fn scripts() -> Vec<Script> {
    let dir = promqltest::scripts_dir();
    assert!(
        dir.is_dir(),
        "PromQL conformance scripts not found at {}: this test needs Prometheus' test scripts \
         in ../shared/conformance/promql beside the repository (CI has them there)",
        dir.display()
    );
    promqltest::load_scripts(&dir).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn promql_conformance() {
    let scripts = scripts();
    let runner = Runner::new(promqltest::script_engine());
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let started = Instant::now();
    let reports = promqltest::run_all(&runner, &scripts, threads).expect("a Tokio runtime");
    let elapsed = started.elapsed();
    print_table(&reports);
    for report in &reports {
        print_details(report);
    }
    println!("\nran {} files in {elapsed:.1?}", reports.len());
    check_ratchet(&reports);
}

#[test]
fn float_only_classification() {
    let mut measured = Vec::new();
    for script in scripts() {
        let classes = classify(&script);
        let float_only = classes.iter().filter(|c| !c.native_histograms).count();
        let parseable = classes.iter().filter(|c| c.float_only_parseable()).count();
        measured.push((script.file.clone(), classes.len(), float_only, parseable));
    }
    let table: Vec<String> = measured
        .iter()
        .map(|(file, evals, float_only, parseable)| {
            format!("    (\"{file}\", {evals}, {float_only}, {parseable}),")
        })
        .collect();
    let expected: Vec<_> = SURVEY
        .iter()
        .map(|&(file, evals, float_only, parseable)| {
            (file.to_owned(), evals, float_only, parseable)
        })
        .collect();
    assert_eq!(
        measured,
        expected,
        "measured (file, evals, float-only, parseable):\n{}",
        table.join("\n")
    );
    let total = |column: fn(&(String, usize, usize, usize)) -> usize| {
        measured.iter().map(column).sum::<usize>()
    };
    assert_eq!(total(|m| m.1), 2214);
    assert_eq!(total(|m| m.2), 1313);
    assert_eq!(total(|m| m.3), 1313, "every float-only eval parses");
}

/// The `@` re-runs print the query; what is printed must parse back to the same tree, or
/// the re-runs would test the printer instead of the engine.
#[test]
fn at_rewrites_parse_back() {
    let mut checked = 0;
    for script in scripts() {
        for eval in script.evals() {
            let Ok(expr) = parser::parse(&eval.query) else {
                continue;
            };
            let Some(pinned) = pinned_expr(&expr, 123_456) else {
                continue;
            };
            let printed = pinned.to_string();
            let reparsed = parser::parse(&printed).unwrap_or_else(|e| {
                panic!(
                    "{}:{}: `{printed}` does not parse: {e}",
                    script.file, eval.line
                )
            });
            assert_eq!(
                without_positions(reparsed),
                without_positions(pinned),
                "{}:{}: `{printed}`",
                script.file,
                eval.line
            );
            checked += 1;
        }
    }
    assert!(checked > 1000, "only {checked} queries checked");
}

/// The tree's Debug text without positions, which printing changes and the meaning does not.
/// (Debug text also lets NaN equal NaN.)
fn without_positions(mut expr: Expr) -> String {
    clear_positions(&mut expr);
    format!("{expr:?}")
}

fn clear_positions(expr: &mut Expr) {
    expr.span = Span::default();
    match &mut expr.kind {
        ExprKind::Subquery(sq) => clear_positions(&mut sq.expr),
        ExprKind::Aggregate(agg) => {
            clear_positions(&mut agg.expr);
            if let Some(param) = &mut agg.param {
                clear_positions(param);
            }
        }
        ExprKind::Binary(binary) => {
            binary.op_at = 0;
            clear_positions(&mut binary.lhs);
            clear_positions(&mut binary.rhs);
        }
        ExprKind::Unary { expr, .. } | ExprKind::Paren(expr) => clear_positions(expr),
        ExprKind::Call(call) => call.args.iter_mut().for_each(clear_positions),
        ExprKind::Number(_) | ExprKind::String(_) | ExprKind::Selector(_) | ExprKind::Matrix(_) => {
        }
    }
}

fn print_table(reports: &[FileReport]) {
    println!(
        "\n{:<26} {:>6} {:>7} {:>7} {:>8} {:>11}",
        "file", "evals", "passed", "failed", "skipped", "float-only*"
    );
    let mut totals = [0; 5];
    for report in reports {
        let row = [
            report.evals.len(),
            report.passed(),
            report.failed(),
            report.skipped(),
            report.float_only_parseable(),
        ];
        print_row(&report.file, row);
        for (total, n) in totals.iter_mut().zip(row) {
            *total += n;
        }
    }
    print_row("total", totals);
    println!("* float-only evals the parser parses");
}

fn print_row(name: &str, [evals, passed, failed, skipped, parseable]: [usize; 5]) {
    println!("{name:<26} {evals:>6} {passed:>7} {failed:>7} {skipped:>8} {parseable:>11}");
}

fn print_details(report: &FileReport) {
    if report.failed() == 0 && report.skipped() == 0 {
        return;
    }
    println!("\n{}", report.file);
    for (reason, count) in report.skip_reasons() {
        println!("  skipped {count:>4}  {reason}");
    }
    for (group, count) in report.failure_groups() {
        println!("  failed  {count:>4}  {group}");
    }
    for (eval, failure) in report.failures().take(SHOWN_FAILURES) {
        println!(
            "    line {}: {}\n      {failure}",
            eval.line,
            failure.group()
        );
    }
}

/// Holds the run to `tests/conformance-ratchet.txt` (see `promqltest::ratchet`), or with
/// `PANOPTES_RATCHET=record` rewrites that file from the run.
fn check_ratchet(reports: &[FileReport]) {
    let run = ratchet::of_run(reports);
    if std::env::var("PANOPTES_RATCHET").as_deref() == Ok("record") {
        std::fs::write(RATCHET, ratchet::render(&run)).unwrap_or_else(|e| panic!("{RATCHET}: {e}"));
        println!("\nrecorded the run in {RATCHET}: review its diff");
        return;
    }
    let text = std::fs::read_to_string(RATCHET).unwrap_or_else(|e| panic!("{RATCHET}: {e}"));
    let recorded = ratchet::parse(&text).unwrap_or_else(|e| panic!("{RATCHET}: {e}"));
    let verdict = ratchet::judge(&recorded, &run);
    assert!(
        verdict.is_clean(),
        "the PromQL conformance run differs from {RATCHET}\n\
         regressions (fix them):\n  {}\n\
         progress (record it: PANOPTES_RATCHET=record cargo test -p panoptes-tests --test \
         promql_conformance):\n  {}",
        verdict.regressions.join("\n  "),
        verdict.progress.join("\n  ")
    );
}
