//! Markdown pieces: tables, number formats, and the generated section of a document.

use std::path::Path;
use std::time::Duration;

/// A markdown table built row by row.
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            header: header.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: impl IntoIterator<Item = impl Into<String>>) {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }

    pub fn render(&self) -> String {
        let line = |cells: &[String]| format!("| {} |\n", cells.join(" | "));
        let mut out = line(&self.header);
        out.push_str(&line(&vec!["---".to_string(); self.header.len()]));
        for row in &self.rows {
            out.push_str(&line(row));
        }
        out
    }
}

/// `4.2 ms`, `310 ms`, `1.25 s`.
pub fn latency(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.1} ms")
    } else if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.2} s", ms / 1000.0)
    }
}

/// `0.84×`.
pub fn ratio(r: f64) -> String {
    format!("{r:.2}×")
}

/// `412 MiB`.
pub fn mebibytes(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// `12 min 5 s`.
pub fn minutes(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s} s")
    } else {
        format!("{} min {} s", s / 60, s % 60)
    }
}

/// The geometric mean of positive ratios.
pub fn geometric_mean(ratios: &[f64]) -> Option<f64> {
    if ratios.is_empty() {
        return None;
    }
    let log_sum: f64 = ratios.iter().map(|r| r.ln()).sum();
    Some((log_sum / ratios.len() as f64).exp())
}

pub const BEGIN_MARKER: &str = "<!-- compare:begin -->";
pub const END_MARKER: &str = "<!-- compare:end -->";

/// Replaces what lies between the markers in the document at `path` with `section` (or
/// appends markers and section when the document has none).
pub fn write_section(path: &Path, section: &str) -> std::io::Result<()> {
    let document = std::fs::read_to_string(path)?;
    std::fs::write(path, with_section(&document, section))
}

fn with_section(document: &str, section: &str) -> String {
    let generated = format!("{BEGIN_MARKER}\n{}\n{END_MARKER}", section.trim_end());
    match (document.find(BEGIN_MARKER), document.find(END_MARKER)) {
        (Some(begin), Some(end)) if begin < end => format!(
            "{}{generated}{}",
            &document[..begin],
            &document[end + END_MARKER.len()..]
        ),
        _ => format!("{}\n\n{generated}\n", document.trim_end()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_between_markers_and_keeps_the_rest() {
        let doc = format!("# A\n\n{BEGIN_MARKER}\nold\n{END_MARKER}\n\n## B\n");
        assert_eq!(
            with_section(&doc, "new\n"),
            format!("# A\n\n{BEGIN_MARKER}\nnew\n{END_MARKER}\n\n## B\n")
        );
        assert_eq!(
            with_section("# A\n", "new"),
            format!("# A\n\n{BEGIN_MARKER}\nnew\n{END_MARKER}\n")
        );
    }

    #[test]
    fn formats() {
        assert_eq!(latency(Duration::from_micros(4_210)), "4.2 ms");
        assert_eq!(latency(Duration::from_millis(310)), "310 ms");
        assert_eq!(latency(Duration::from_millis(1_254)), "1.25 s");
        assert_eq!(minutes(Duration::from_secs(725)), "12 min 5 s");
        assert!((geometric_mean(&[2.0, 8.0]).unwrap() - 4.0).abs() < 1e-12);
        let mut table = Table::new(["a", "b"]);
        table.row(["1", "2"]);
        assert_eq!(table.render(), "| a | b |\n| --- | --- |\n| 1 | 2 |\n");
    }
}
