//! Build information for `status/buildinfo` and `panoptes_build_info`: the git revision and
//! branch the binary was built from (empty outside a git checkout), the commit's date and
//! the compiler's version. The commit date, not the wall clock, keeps builds reproducible.

use std::process::Command;

fn output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn main() {
    let git = |args: &[&str]| output("git", args);
    println!(
        "cargo:rustc-env=PANOPTES_REVISION={}",
        git(&["rev-parse", "HEAD"])
    );
    println!(
        "cargo:rustc-env=PANOPTES_BRANCH={}",
        git(&["rev-parse", "--abbrev-ref", "HEAD"])
    );
    println!(
        "cargo:rustc-env=PANOPTES_BUILD_DATE={}",
        git(&["log", "-1", "--format=%cd", "--date=format:%Y%m%d-%H:%M:%S"])
    );
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    println!(
        "cargo:rustc-env=PANOPTES_RUSTC={}",
        output(&rustc, &["--version"])
    );
    // A new commit or checkout changes what is printed.
    let (git_dir, common) = (
        git(&["rev-parse", "--absolute-git-dir"]),
        git(&["rev-parse", "--path-format=absolute", "--git-common-dir"]),
    );
    if !git_dir.is_empty() {
        println!("cargo:rerun-if-changed={git_dir}/HEAD");
        println!("cargo:rerun-if-changed={common}/refs");
        println!("cargo:rerun-if-changed={common}/packed-refs");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
