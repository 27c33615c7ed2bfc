//! The harness's command line.

use super::dataset::Preset;
use super::systems::System;
use std::path::PathBuf;

pub const USAGE: &str = "\
usage: compare [--preset small|large] [--rounds N] [--systems LIST] [--output FILE|-] [--work-dir DIR]

  --preset    small: 10,080 series; large: 100,800 series; 6 h at 15 s (default small)
  --rounds    measured warm rounds per request (default 5)
  --systems   comma-separated, among vm, store, sidecar, sharded (default all); Prometheus,
              the reference, always runs
  --output    the markdown file whose compare section is replaced (default
              docs/benchmarks.md; `-` prints only)
  --work-dir  where blocks and data go (kept afterwards; default a temporary directory)";

#[derive(Debug)]
pub struct Options {
    pub preset: Preset,
    pub rounds: usize,
    /// Prometheus first, then the others asked for, in [`System::ALL`] order.
    pub systems: Vec<System>,
    pub output: Option<PathBuf>,
    pub work_dir: Option<PathBuf>,
}

impl Options {
    /// Parses the arguments after the program name; `default_output` unless `--output`.
    pub fn parse(
        args: impl IntoIterator<Item = String>,
        default_output: PathBuf,
    ) -> Result<Self, String> {
        let mut options = Self {
            preset: Preset::Small,
            rounds: 5,
            systems: System::ALL.to_vec(),
            output: Some(default_output),
            work_dir: None,
        };
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) => (flag.to_string(), Some(value.to_string())),
                None => (arg, None),
            };
            let mut value = || {
                inline
                    .clone()
                    .or_else(|| args.next())
                    .ok_or_else(|| format!("{flag} needs a value"))
            };
            match flag.as_str() {
                "--preset" => options.preset = Preset::parse(&value()?)?,
                "--rounds" => {
                    options.rounds = value()?
                        .parse()
                        .ok()
                        .filter(|&n| n > 0)
                        .ok_or("--rounds needs a positive number")?;
                }
                "--systems" => options.systems = parse_systems(&value()?)?,
                "--output" => {
                    let file = value()?;
                    options.output = (file != "-").then(|| PathBuf::from(file));
                }
                "--work-dir" => options.work_dir = Some(PathBuf::from(value()?)),
                "-h" | "--help" => return Err(String::new()),
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        Ok(options)
    }
}

fn parse_systems(list: &str) -> Result<Vec<System>, String> {
    let asked: Vec<System> = list
        .split(',')
        .filter(|s| !s.is_empty())
        .map(System::parse)
        .collect::<Result<_, _>>()?;
    Ok(System::ALL
        .into_iter()
        .filter(|s| *s == System::Prometheus || asked.contains(s))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, String> {
        Options::parse(args.iter().map(|s| s.to_string()), "doc.md".into())
    }

    #[test]
    fn defaults_and_flags() {
        let options = parse(&[]).unwrap();
        assert_eq!(options.preset, Preset::Small);
        assert_eq!(options.systems, System::ALL.to_vec());
        let options = parse(&[
            "--preset=large",
            "--rounds",
            "3",
            "--systems",
            "sidecar,vm",
            "--output",
            "-",
        ])
        .unwrap();
        assert_eq!(options.preset, Preset::Large);
        assert_eq!(options.rounds, 3);
        assert_eq!(
            options.systems,
            [System::Prometheus, System::VictoriaMetrics, System::Sidecar]
        );
        assert_eq!(options.output, None);
        assert!(parse(&["--rounds", "0"]).is_err());
        assert!(parse(&["--systems", "mimir"]).is_err());
    }
}
