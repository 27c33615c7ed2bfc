//! The global-view invariance test: Prometheus' PromQL corpus through a topology of real gRPC
//! endpoints on loopback (data sharded by series over 3 stores, each shard held by 2 replicas
//! that miss different, disjoint windows) passes exactly the evals the engine passes over the
//! unsharded data.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use panoptes_tests::promqltest::run::Outcome;
use panoptes_tests::promqltest::{self, FileReport, Runner};
use panoptes_tests::topology::ShardedReplicas;

fn outcomes(report: &FileReport) -> Vec<(usize, bool)> {
    report
        .evals
        .iter()
        .map(|e| (e.line, matches!(e.outcome, Outcome::Passed)))
        .collect()
}

#[test]
fn sharded_replicated_topology_answers_as_one_store() {
    let dir = promqltest::scripts_dir();
    assert!(
        dir.is_dir(),
        "PromQL scripts not found at {}",
        dir.display()
    );
    let scripts = promqltest::load_scripts(&dir).unwrap();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());

    let single = Runner::new(promqltest::script_engine());
    let single = promqltest::run_all(&single, &scripts, threads).unwrap();
    let global = Runner::new(promqltest::script_engine()).with_storage(ShardedReplicas::default());
    let global = promqltest::run_all(&global, &scripts, threads).unwrap();

    let mut differences = Vec::new();
    let (mut passed_single, mut passed_global) = (0, 0);
    for (one, many) in single.iter().zip(&global) {
        assert_eq!(one.file, many.file);
        println!(
            "{:<28} single store {:>4} passed, global view {:>4} passed",
            one.file,
            one.passed(),
            many.passed()
        );
        passed_single += one.passed();
        passed_global += many.passed();
        for ((line, a), (_, b)) in outcomes(one).into_iter().zip(outcomes(many)) {
            if a != b {
                let failure = many
                    .failures()
                    .find(|(e, _)| e.line == line)
                    .map(|(_, f)| f.detail.clone())
                    .unwrap_or_default();
                differences.push(format!(
                    "{}:{line}: single={a} global={b} {failure}",
                    one.file
                ));
            }
        }
    }
    println!("total: single store {passed_single} passed, global view {passed_global} passed");
    for d in &differences {
        println!("  {d}");
    }
    assert!(
        passed_single > 1000,
        "the corpus ran ({passed_single} passed)"
    );
    assert!(
        differences.is_empty(),
        "{} evals differ between one store and the global view",
        differences.len()
    );
}
