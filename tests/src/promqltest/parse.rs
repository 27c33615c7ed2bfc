//! Reads Prometheus' PromQL test scripts (`promql/promqltest/testdata/*.test`) into commands,
//! with the Go harness' rules: lines are trimmed, `#` lines and blank lines end a block, the
//! first word picks the command, numbers are read the way Go's `strconv` reads them.

use regex::Regex;
use std::collections::HashMap;
use std::fmt;
use std::sync::LazyLock;
use store_api::Labels;
use store_api::labels::METRIC_NAME;

/// Prometheus' staleness marker: a NaN with its own bit pattern.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// Longest run one `xN` may expand to; a typo must not allocate gigabytes.
const MAX_REPEAT: u64 = 1_000_000;

pub fn stale_nan() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

// The harness' own command patterns, so that odd spacing is read the same way.
static LOAD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^load(?:_(with_nhcb))?\s+(.+?)$").expect("valid pattern"));
static EVAL_INSTANT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$")
        .expect("valid pattern")
});
static EVAL_RANGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$",
    )
    .expect("valid pattern")
});
static EXPECT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^expect\s+(ordered|fail|warn|no_warn|info|no_info)(?:\s+(regex|msg):(.+))?$")
        .expect("valid pattern")
});
static EXPECT_RANGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^expect range vector\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+)$")
        .expect("valid pattern")
});

const RANGE_VECTOR_PREFIX: &str = "expect range vector";
const STRING_PREFIX: &str = "expect string";
const FAIL_MESSAGE_PREFIX: &str = "expected_fail_message";
const FAIL_REGEXP_PREFIX: &str = "expected_fail_regexp";

/// A malformed script line: names the file and the 1-based line.
#[derive(Clone, Debug, PartialEq)]
pub struct ScriptError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

impl std::error::Error for ScriptError {}

/// One position of a value sequence.
#[derive(Clone, Copy, Debug)]
pub enum SeqValue {
    /// `_`: no sample at this step.
    Omitted,
    Float(f64),
}

#[derive(Debug)]
pub struct Script {
    /// The file name, e.g. `aggregators.test`.
    pub file: String,
    pub commands: Vec<Command>,
}

impl Script {
    pub fn evals(&self) -> impl Iterator<Item = &Eval> {
        self.commands.iter().filter_map(|c| match c {
            Command::Eval(eval) => Some(eval.as_ref()),
            _ => None,
        })
    }
}

#[derive(Debug)]
pub enum Command {
    Load(Load),
    Clear,
    Eval(Box<Eval>),
}

#[derive(Debug)]
pub struct Load {
    pub line: usize,
    pub step_ms: i64,
    /// `load_with_nhcb`: classic histograms also become native histograms.
    pub with_nhcb: bool,
    pub series: Vec<SeriesDef>,
    /// The `@st` lines.
    pub start_timestamps: Vec<StartTimestampsDef>,
}

/// One `<series> <values>` line of a `load` or of an expected result.
#[derive(Clone, Debug)]
pub struct SeriesDef {
    pub labels: Labels,
    pub values: Vec<SeqValue>,
    /// The line holds `{{...}}` native histogram values (left unparsed, `values` is empty).
    pub native_histogram: bool,
    /// For a `{{...}}` line: a NaN where it has a histogram sample, `Omitted` where it has none:
    /// the sample times, for float stand-ins of series that only count by their labels.
    pub histogram_stand_ins: Vec<SeqValue>,
}

/// A `<series>@st <offsets>` line of a `load`: each sample's start timestamp, as an offset
/// from the sample's own time (`-1m`: a minute before it).
#[derive(Clone, Debug)]
pub struct StartTimestampsDef {
    pub labels: Labels,
    /// Milliseconds; None (`_`) where the start is unknown.
    pub offsets: Vec<Option<i64>>,
}

/// The time range of a matrix: inclusive, milliseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Window {
    pub start_ms: i64,
    pub end_ms: i64,
    pub step_ms: i64,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mode {
    Instant { at_ms: i64 },
    Range(Window),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExpectKind {
    Ordered,
    Fail,
    Warn,
    NoWarn,
    Info,
    NoInfo,
}

/// How an `expect` line matches a message: no text matches anything.
#[derive(Clone, Debug)]
pub enum MessageMatch {
    Any,
    Exact(String),
    Regex(Regex),
}

impl MessageMatch {
    pub fn matches(&self, message: &str) -> bool {
        match self {
            MessageMatch::Any => true,
            MessageMatch::Exact(text) => text == message,
            MessageMatch::Regex(re) => re.is_match(message),
        }
    }
}

impl fmt::Display for MessageMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MessageMatch::Any => f.write_str("anything"),
            MessageMatch::Exact(text) => write!(f, "message {text:?}"),
            MessageMatch::Regex(re) => write!(f, "pattern {:?}", re.as_str()),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Expect {
    pub kind: ExpectKind,
    pub matcher: MessageMatch,
}

/// An expected series and its 1-based position among the result lines (for ordered checks).
#[derive(Clone, Debug)]
pub struct ExpectedSeries {
    pub def: SeriesDef,
    pub pos: usize,
}

/// What the result lines of an eval say.
#[derive(Clone, Debug, Default)]
pub struct ExpectedResult {
    /// A bare number line: the result must be a scalar.
    pub scalar: Option<f64>,
    /// Unique labels; a later line with the same labels replaces an earlier one.
    pub series: Vec<ExpectedSeries>,
    /// `expect string "..."`; the harness compares string results with "" without one.
    pub string: String,
}

impl ExpectedResult {
    pub fn uses_native_histograms(&self) -> bool {
        self.series.iter().any(|s| s.def.native_histogram)
    }

    fn add_series(&mut self, def: SeriesDef, pos: usize) {
        self.scalar = None;
        match self.series.iter_mut().find(|s| s.def.labels == def.labels) {
            Some(existing) => *existing = ExpectedSeries { def, pos },
            None => self.series.push(ExpectedSeries { def, pos }),
        }
    }
}

#[derive(Debug)]
pub struct Eval {
    pub line: usize,
    pub query: String,
    pub mode: Mode,
    /// The legacy `eval_fail`, `eval_warn`, `eval_info`, `eval_ordered` spellings.
    pub fail: bool,
    pub warn: bool,
    pub info: bool,
    pub ordered: bool,
    pub expected_fail_message: Option<String>,
    pub expected_fail_regexp: Option<Regex>,
    pub expects: Vec<Expect>,
    pub result: ExpectedResult,
    /// `expect range vector from .. to .. step ..`: an instant query returning a matrix.
    pub range_vector: Option<Window>,
    /// Not re-run as a range query (range-vector and string expectations).
    pub exclude_from_range_query: bool,
}

impl Eval {
    fn new(line: usize, query: String, mode: Mode) -> Self {
        Self {
            line,
            query,
            mode,
            fail: false,
            warn: false,
            info: false,
            ordered: false,
            expected_fail_message: None,
            expected_fail_regexp: None,
            expects: Vec::new(),
            result: ExpectedResult::default(),
            range_vector: None,
            exclude_from_range_query: false,
        }
    }

    pub fn is_fail(&self) -> bool {
        self.fail || self.has_expect(ExpectKind::Fail)
    }

    pub fn is_ordered(&self) -> bool {
        self.ordered || self.has_expect(ExpectKind::Ordered)
    }

    pub fn has_expect(&self, kind: ExpectKind) -> bool {
        self.expects.iter().any(|e| e.kind == kind)
    }

    pub fn expects_of(&self, kind: ExpectKind) -> impl Iterator<Item = &Expect> {
        self.expects.iter().filter(move |e| e.kind == kind)
    }

    /// How the eval runs: the end of an expected range vector overrides an instant's `at`.
    pub fn effective_mode(&self) -> Mode {
        match (self.mode, self.range_vector) {
            (Mode::Instant { .. }, Some(window)) => Mode::Instant {
                at_ms: window.end_ms,
            },
            (mode, _) => mode,
        }
    }

    /// The timestamps expected matrix points are laid out on. An instant eval without
    /// `expect range vector` has an end before any time, so any expected point is "too many"
    /// (the harness' zero `time.Time`).
    pub fn result_window(&self) -> Window {
        match (self.mode, self.range_vector) {
            (Mode::Range(window), _) | (Mode::Instant { .. }, Some(window)) => window,
            (Mode::Instant { at_ms }, None) => Window {
                start_ms: at_ms,
                end_ms: i64::MIN,
                step_ms: 0,
            },
        }
    }

    fn check_expects(&self) -> Result<(), String> {
        let count = |kind| self.expects_of(kind).count();
        if count(ExpectKind::Info) > 0 && count(ExpectKind::NoInfo) > 0 {
            return Err("invalid expect lines, info and no_info cannot be used together".into());
        }
        if count(ExpectKind::Warn) > 0 && count(ExpectKind::NoWarn) > 0 {
            return Err("invalid expect lines, warn and no_warn cannot be used together".into());
        }
        if count(ExpectKind::Fail) > 1 {
            return Err("invalid expect lines, multiple expect fail lines are not allowed".into());
        }
        Ok(())
    }
}

/// Parses a whole script; `file` only names it in errors.
pub fn parse_script(file: &str, text: &str) -> Result<Script, ScriptError> {
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| {
            let l = l.trim();
            if l.starts_with('#') { "" } else { l }
        })
        .collect();
    let mut parser = ScriptParser {
        file,
        lines: &lines,
        next: 0,
    };
    let mut commands = Vec::new();
    while let Some(command) = parser.command()? {
        commands.push(command);
    }
    Ok(Script {
        file: file.to_owned(),
        commands,
    })
}

struct ScriptParser<'a> {
    file: &'a str,
    lines: &'a [&'a str],
    /// Index of the next unread line.
    next: usize,
}

impl<'a> ScriptParser<'a> {
    fn error(&self, index: usize, message: impl Into<String>) -> ScriptError {
        ScriptError {
            file: self.file.to_owned(),
            line: index + 1,
            message: message.into(),
        }
    }

    /// The next line of the current block, if the block goes on.
    fn block_line(&mut self) -> Option<(usize, &'a str)> {
        let index = self.next;
        let line = *self.lines.get(index)?;
        if line.is_empty() {
            return None;
        }
        self.next += 1;
        Some((index, line))
    }

    fn command(&mut self) -> Result<Option<Command>, ScriptError> {
        while self.lines.get(self.next).is_some_and(|l| l.is_empty()) {
            self.next += 1;
        }
        let Some(&line) = self.lines.get(self.next) else {
            return Ok(None);
        };
        let index = self.next;
        self.next += 1;
        let word = line
            .split([' ', '\t'])
            .next()
            .unwrap_or_default()
            .to_lowercase();
        let command = if word == "clear" {
            Command::Clear
        } else if word.starts_with("load") {
            Command::Load(self.load(index, line)?)
        } else if word.starts_with("eval") {
            Command::Eval(Box::new(self.eval(index, line)?))
        } else {
            return Err(self.error(index, format!("invalid command {line:?}")));
        };
        Ok(Some(command))
    }

    fn load(&mut self, index: usize, line: &str) -> Result<Load, ScriptError> {
        let caps = LOAD.captures(line).ok_or_else(|| {
            self.error(
                index,
                "invalid load command. (load[_with_nhcb] <step:duration>)",
            )
        })?;
        let step = &caps[2];
        let step_ms = parse_duration_ms(step)
            .map_err(|e| self.error(index, format!("invalid step definition {step:?}: {e}")))?;
        let mut load = Load {
            line: index + 1,
            step_ms,
            with_nhcb: caps.get(1).is_some(),
            series: Vec::new(),
            start_timestamps: Vec::new(),
        };
        // Within one load a repeated series replaces its earlier line, as in the harness.
        let mut positions: HashMap<Labels, usize> = HashMap::new();
        while let Some((index, line)) = self.block_line() {
            if let Some(def) = parse_start_timestamps(line) {
                load.start_timestamps
                    .push(def.map_err(|e| self.error(index, e))?);
                continue;
            }
            let def = parse_series(line).map_err(|e| self.error(index, e))?;
            match positions.get(&def.labels) {
                Some(&i) => load.series[i] = def,
                None => {
                    positions.insert(def.labels.clone(), load.series.len());
                    load.series.push(def);
                }
            }
        }
        Ok(load)
    }

    fn eval(&mut self, index: usize, line: &str) -> Result<Eval, ScriptError> {
        let mut eval = self.eval_header(index, line)?;
        // Result lines count positions for ordered checks; `expect <kind>` lines do not.
        let mut pos = 1;
        let (query, eval_line) = (eval.query.clone(), eval.line);
        while let Some((index, line)) = self.block_line() {
            let at_line = |message: String| {
                self.error(
                    index,
                    format!("error in eval {query} (line {eval_line}): {message}"),
                )
            };
            if eval.fail {
                if let Some(rest) = line.strip_prefix(FAIL_MESSAGE_PREFIX) {
                    eval.expected_fail_message = Some(rest.trim().to_owned());
                    break;
                }
                if let Some(rest) = line.strip_prefix(FAIL_REGEXP_PREFIX) {
                    let pattern = rest.trim();
                    let re = Regex::new(pattern).map_err(|e| {
                        at_line(format!(
                            "invalid regexp '{pattern}' for {FAIL_REGEXP_PREFIX}: {e}"
                        ))
                    })?;
                    eval.expected_fail_regexp = Some(re);
                    break;
                }
            }
            if line.starts_with(RANGE_VECTOR_PREFIX) {
                eval.range_vector = Some(parse_expect_range(line).map_err(at_line)?);
                eval.exclude_from_range_query = true;
            } else if line.starts_with(STRING_PREFIX) {
                eval.result.string = parse_expect_string(line).map_err(at_line)?;
                eval.exclude_from_range_query = true;
            } else if line.split(' ').next() == Some("expect") {
                eval.expects.push(parse_expect(line).map_err(at_line)?);
                eval.check_expects().map_err(at_line)?;
                continue;
            } else if let Some(value) = parse_go_number(line) {
                eval.result.scalar = Some(value);
                break;
            } else {
                let def = parse_series(line).map_err(|e| self.error(index, e))?;
                let instant = matches!(eval.mode, Mode::Instant { .. });
                if def.values.len() > 1 && instant && eval.range_vector.is_none() {
                    return Err(at_line(
                        "expecting multiple values in instant evaluation not allowed. consider \
                         using 'expect range vector' directive to enable a range vector result \
                         for an instant query"
                            .into(),
                    ));
                }
                eval.result.add_series(def, pos);
            }
            pos += 1;
        }
        Ok(eval)
    }

    fn eval_header(&self, index: usize, line: &str) -> Result<Eval, ScriptError> {
        let bad_duration = |what: &str, text: &str, e: String| {
            self.error(index, format!("invalid {what} definition {text:?}: {e}"))
        };
        let (modifier, query, mode) = if let Some(caps) = EVAL_INSTANT.captures(line) {
            let at = caps.get(2).map_or("", |m| m.as_str());
            let at_ms = parse_duration_ms(at).map_err(|e| bad_duration("timestamp", at, e))?;
            (caps.get(1), caps[3].to_owned(), Mode::Instant { at_ms })
        } else if let Some(caps) = EVAL_RANGE.captures(line) {
            let window =
                parse_window(&caps[2], &caps[3], &caps[4]).map_err(|e| self.error(index, e))?;
            (caps.get(1), caps[5].to_owned(), Mode::Range(window))
        } else {
            return Err(self.error(
                index,
                "invalid evaluation command. Must be either 'eval[_fail|_warn|_ordered|_info] \
                 instant [at <offset:duration>] <query>' or 'eval[_fail|_warn|_info] range from \
                 <from> to <to> step <step> <query>'",
            ));
        };
        let mut eval = Eval::new(index + 1, query, mode);
        match modifier.map(|m| m.as_str()) {
            Some("fail") => eval.fail = true,
            Some("warn") => eval.warn = true,
            Some("info") => eval.info = true,
            Some("ordered") => eval.ordered = true,
            _ => {}
        }
        Ok(eval)
    }
}

fn parse_window(from: &str, to: &str, step: &str) -> Result<Window, String> {
    let start_ms = parse_duration_ms(from)
        .map_err(|e| format!("invalid start timestamp definition {from:?}: {e}"))?;
    let end_ms = parse_duration_ms(to)
        .map_err(|e| format!("invalid end timestamp definition {to:?}: {e}"))?;
    if end_ms < start_ms {
        return Err(format!(
            "invalid test definition, end timestamp ({to}) is before start timestamp ({from})"
        ));
    }
    let step_ms =
        parse_duration_ms(step).map_err(|e| format!("invalid step definition {step:?}: {e}"))?;
    Ok(Window {
        start_ms,
        end_ms,
        step_ms,
    })
}

fn parse_expect_range(line: &str) -> Result<Window, String> {
    let caps = EXPECT_RANGE
        .captures(line)
        .ok_or_else(|| format!("invalid range vector definition {line:?}"))?;
    parse_window(&caps[1], &caps[2], &caps[3])
}

fn parse_expect_string(line: &str) -> Result<String, String> {
    let literal = line
        .strip_prefix(STRING_PREFIX)
        .and_then(|rest| rest.strip_prefix(' '))
        .filter(|rest| !rest.is_empty())
        .ok_or("expected string literal not valid - a quoted string literal is required")?;
    unquote(literal).map_err(|_| {
        "expected string literal not valid - check that the string is correctly quoted".into()
    })
}

fn parse_expect(line: &str) -> Result<Expect, String> {
    let caps = EXPECT.captures(line).ok_or(
        "invalid expect statement, must match `expect <type> <match_type>: <string>` format",
    )?;
    let kind = match &caps[1] {
        "ordered" => ExpectKind::Ordered,
        "fail" => ExpectKind::Fail,
        "warn" => ExpectKind::Warn,
        "no_warn" => ExpectKind::NoWarn,
        "info" => ExpectKind::Info,
        _ => ExpectKind::NoInfo,
    };
    let text = caps.get(3).map_or("", |m| m.as_str().trim());
    let matcher = match caps.get(2).map(|m| m.as_str()) {
        Some("msg") => MessageMatch::Exact(text.to_owned()),
        Some(_) => MessageMatch::Regex(
            Regex::new(text).map_err(|_| format!("invalid regex {text} for {}", &caps[1]))?,
        ),
        None => MessageMatch::Any,
    };
    Ok(Expect { kind, matcher })
}

/// Parses a `metric{...}@st <offsets>` line; None when the line is not one.
fn parse_start_timestamps(line: &str) -> Option<Result<StartTimestampsDef, String>> {
    let (labels, rest) = parse_metric(line).ok()?;
    let offsets = rest
        .strip_prefix("@st")
        .filter(|rest| rest.starts_with(char::is_whitespace))?;
    let mut def = StartTimestampsDef {
        labels,
        offsets: Vec::new(),
    };
    for item in offsets.split_whitespace() {
        let pushed = expand(item, scan_offset, |offset| def.offsets.push(offset));
        if let Err(e) = pushed {
            return Some(Err(format!(
                "bad start timestamp {item:?}: {e} in {line:?}"
            )));
        }
    }
    Some(Ok(def))
}

/// Parses `metric{label="value", ...} <values>`.
pub fn parse_series(line: &str) -> Result<SeriesDef, String> {
    let (labels, rest) = parse_metric(line)?;
    if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
        return Err(format!("unexpected {rest:?} after the series in {line:?}"));
    }
    let values = rest.trim();
    if values.contains("{{") {
        return Ok(SeriesDef {
            labels,
            values: Vec::new(),
            native_histogram: true,
            histogram_stand_ins: histogram_stand_ins(values)
                .map_err(|e| format!("{e} in {line:?}"))?,
        });
    }
    let values = parse_sequence(values).map_err(|e| format!("{e} in {line:?}"))?;
    Ok(SeriesDef {
        labels,
        values,
        native_histogram: false,
        histogram_stand_ins: Vec::new(),
    })
}

/// The sample times of a `{{...}}` sequence: each histogram is read as a 0, so that
/// `{{...}}x3`, `{{...}}+{{...}}x3`, `_` and `stale` expand as numbers do, then every sample
/// becomes a NaN (a value that cannot pass a comparison by chance).
fn histogram_stand_ins(values: &str) -> Result<Vec<SeqValue>, String> {
    let mut numbers = String::new();
    let mut rest = values;
    while let Some(open) = rest.find("{{") {
        let close = rest[open..]
            .find("}}")
            .ok_or_else(|| format!("unclosed histogram in {values:?}"))?;
        numbers.push_str(&rest[..open]);
        numbers.push('0');
        rest = &rest[open + close + 2..];
    }
    numbers.push_str(rest);
    let samples = parse_sequence(&numbers)?;
    Ok(samples
        .into_iter()
        .map(|v| match v {
            SeqValue::Float(f) if !is_stale_nan(f) => SeqValue::Float(f64::NAN),
            other => other,
        })
        .collect())
}

/// Reads the series part of a line, returning its labels and the rest of the line.
fn parse_metric(line: &str) -> Result<(Labels, &str), String> {
    let name_len = line
        .char_indices()
        .find(|&(i, c)| !is_name_char(c, i == 0))
        .map_or(line.len(), |(i, _)| i);
    let mut pairs: Vec<(String, String)> = Vec::new();
    if name_len > 0 {
        pairs.push((METRIC_NAME.to_owned(), line[..name_len].to_owned()));
    }
    let mut rest = &line[name_len..];
    if let Some(inner) = rest.strip_prefix('{') {
        rest = parse_label_set(inner, &mut pairs)?;
    } else if name_len == 0 {
        return Err(format!("missing series in {line:?}"));
    }
    Ok((Labels::from_pairs(pairs), rest))
}

/// Reads `a="1", "b"="2", "metric"}` (after the `{`); returns what follows the `}`.
fn parse_label_set<'s>(
    mut rest: &'s str,
    pairs: &mut Vec<(String, String)>,
) -> Result<&'s str, String> {
    loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix('}') {
            return Ok(after);
        }
        let (name, quoted, after) = if rest.starts_with(['"', '\'', '`']) {
            let (name, after) = take_quoted(rest)?;
            (name, true, after)
        } else {
            let len = rest
                .char_indices()
                .find(|&(i, c)| !is_label_char(c, i == 0))
                .map_or(rest.len(), |(i, _)| i);
            if len == 0 {
                return Err(format!("unexpected {rest:?} in label set"));
            }
            (rest[..len].to_owned(), false, &rest[len..])
        };
        rest = after.trim_start();
        if let Some(after) = rest.strip_prefix('=') {
            let (value, after) = take_quoted(after.trim_start())?;
            pairs.push((name, value));
            rest = after.trim_start();
        } else if quoted {
            // `{"metric.name", ...}`: a quoted name alone is the metric name.
            pairs.push((METRIC_NAME.to_owned(), name));
        } else {
            return Err(format!("expected '=' after label {name:?}"));
        }
        if let Some(after) = rest.strip_prefix(',') {
            rest = after;
        } else if !rest.starts_with('}') {
            return Err(format!("unexpected {rest:?} in label set"));
        }
    }
}

fn is_name_char(c: char, first: bool) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':' || (!first && c.is_ascii_digit())
}

fn is_label_char(c: char, first: bool) -> bool {
    c.is_ascii_alphabetic() || c == '_' || (!first && c.is_ascii_digit())
}

/// Splits a leading quoted string off `s` and unquotes it.
fn take_quoted(s: &str) -> Result<(String, &str), String> {
    let quote = s
        .chars()
        .next()
        .filter(|c| matches!(c, '"' | '\'' | '`'))
        .ok_or_else(|| format!("expected a quoted string at {s:?}"))?;
    let mut escaped = false;
    for (i, c) in s.char_indices().skip(1) {
        if escaped {
            escaped = false;
        } else if c == '\\' && quote != '`' {
            escaped = true;
        } else if c == quote {
            let end = i + c.len_utf8();
            return Ok((unquote(&s[..end])?, &s[end..]));
        }
    }
    Err(format!("unterminated string {s:?}"))
}

/// Unquotes a PromQL / Go string literal: `"..."` and `'...'` with Go escapes, `` `...` `` raw.
pub fn unquote(literal: &str) -> Result<String, String> {
    let bad = || format!("invalid string literal {literal:?}");
    let quote = literal.chars().next().ok_or_else(bad)?;
    let inner = literal
        .strip_prefix(quote)
        .and_then(|s| s.strip_suffix(quote))
        .filter(|_| literal.len() >= 2 && matches!(quote, '"' | '\'' | '`'))
        .ok_or_else(bad)?;
    if quote == '`' {
        return if inner.contains('`') {
            Err(bad())
        } else {
            Ok(inner.to_owned())
        };
    }
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(unescape(&mut chars).ok_or_else(bad)?),
            c if c == quote || c == '\n' => return Err(bad()),
            c => out.push(c),
        }
    }
    Ok(out)
}

fn unescape(chars: &mut std::str::Chars<'_>) -> Option<char> {
    let hex = |chars: &mut std::str::Chars<'_>, n: usize| {
        let digits: String = chars.take(n).collect();
        let code = u32::from_str_radix(&digits, 16).ok()?;
        (digits.len() == n).then(|| char::from_u32(code))?
    };
    Some(match chars.next()? {
        'a' => '\u{7}',
        'b' => '\u{8}',
        'f' => '\u{c}',
        'n' => '\n',
        'r' => '\r',
        't' => '\t',
        'v' => '\u{b}',
        c @ ('\\' | '\'' | '"') => c,
        'x' => hex(chars, 2)?,
        'u' => hex(chars, 4)?,
        'U' => hex(chars, 8)?,
        first @ '0'..='7' => {
            let rest: String = chars.take(2).collect();
            let code = u32::from_str_radix(&format!("{first}{rest}"), 8).ok()?;
            (rest.len() == 2 && code <= 0xff).then(|| char::from_u32(code))??
        }
        _ => return None,
    })
}

/// Expands a value sequence: `1 2 _ stale`, `a+bxn`/`a-bxn` (n+1 values, stepping by b),
/// `axn` (n+1 copies), `_xn` (n missing samples).
pub fn parse_sequence(text: &str) -> Result<Vec<SeqValue>, String> {
    let mut values = Vec::new();
    for item in text.split_whitespace() {
        expand_item(item, &mut values).map_err(|e| format!("bad value {item:?}: {e}"))?;
    }
    Ok(values)
}

fn expand_item(item: &str, out: &mut Vec<SeqValue>) -> Result<(), String> {
    if item == "stale" {
        out.push(SeqValue::Float(stale_nan()));
        return Ok(());
    }
    expand(item, scan_number, |value| {
        out.push(value.map_or(SeqValue::Omitted, SeqValue::Float));
    })
}

/// Expands one sequence item of the values `scan` reads (numbers, or an `@st` line's
/// offsets): `_`, `_xn` (n missing), `v`, `vxn` (n+1 copies), `v+dxn` / `v-dxn` (n+1 values
/// stepping by d). `push` gets each value, None for a missing one.
fn expand<T>(
    item: &str,
    scan: impl Fn(&str) -> Result<(T, &str), String>,
    mut push: impl FnMut(Option<T>),
) -> Result<(), String>
where
    T: Copy + Default + std::ops::AddAssign,
{
    if item == "_" {
        push(None);
        return Ok(());
    }
    if let Some(count) = item.strip_prefix("_x") {
        for _ in 0..parse_repeat(count)? {
            push(None);
        }
        return Ok(());
    }
    let (mut value, rest) = scan(item)?;
    let (delta, rest) = if rest.starts_with(['+', '-']) {
        let (delta, rest) = scan(rest)?;
        if !rest.starts_with('x') {
            return Err("expected 'x<count>' after the step".into());
        }
        (delta, rest)
    } else {
        (T::default(), rest)
    };
    if rest.is_empty() {
        push(Some(value));
        return Ok(());
    }
    let count = rest
        .strip_prefix('x')
        .ok_or_else(|| format!("unexpected {rest:?}"))?;
    // n+1 values, accumulated step by step like the harness (the float rounding matches).
    for _ in 0..=parse_repeat(count)? {
        push(Some(value));
        value += delta;
    }
    Ok(())
}

fn parse_repeat(count: &str) -> Result<u64, String> {
    let n: u64 = count
        .parse()
        .ok()
        .filter(|_| count.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| format!("invalid repeat count {count:?}"))?;
    if n > MAX_REPEAT {
        return Err(format!("repeat count {n} is larger than {MAX_REPEAT}"));
    }
    Ok(n)
}

/// Reads an optionally signed number (decimal, `Inf`, `NaN`) off the front of a sequence item,
/// the way the series lexer splits it: no hex here, as `0x5` means "0, 5 more times".
fn scan_number(s: &str) -> Result<(f64, &str), String> {
    let (negative, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (value, len) = if body.starts_with(|c: char| c.is_ascii_alphabetic()) {
        let len = body
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(body.len());
        let value = match body[..len].to_ascii_lowercase().as_str() {
            "inf" => f64::INFINITY,
            "nan" => f64::NAN,
            word => return Err(format!("expected a number or 'stale', got {word:?}")),
        };
        (value, len)
    } else {
        let len = decimal_len(body);
        let token = &body[..len];
        let value = parse_go_number(token).ok_or_else(|| format!("bad number {token:?}"))?;
        (value, len)
    };
    Ok((if negative { -value } else { value }, &body[len..]))
}

/// Reads an optionally signed duration (`-1m30s`, `0`) off the front of an `@st` item, in
/// milliseconds.
fn scan_offset(s: &str) -> Result<(i64, &str), String> {
    let (negative, body) = split_sign(s);
    let len = body
        .find(|c: char| !(c.is_ascii_digit() || "ywdhms".contains(c)))
        .unwrap_or(body.len());
    let ms = parse_duration_ms(&body[..len])?;
    Ok((if negative { -ms } else { ms }, &body[len..]))
}

/// Length of the decimal literal `digits[.digits][e[+-]digits]` (with `_`) at the start of `s`.
fn decimal_len(s: &str) -> usize {
    let b = s.as_bytes();
    let digits = |mut i: usize| {
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            i += 1;
        }
        i
    };
    let mut i = digits(0);
    if b.get(i) == Some(&b'.') {
        i = digits(i + 1);
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(b.get(i + 1), Some(b'+' | b'-')));
        i = digits(i + 1 + sign);
    }
    i
}

/// Reads a number as the harness does: Go's `strconv.ParseInt(s, 0, 64)` (so `0x1F`, `0o17`,
/// `0b11`, `017` and `1_000` are integers), then `strconv.ParseFloat(s, 64)`.
pub fn parse_go_number(s: &str) -> Option<f64> {
    parse_go_int(s)
        .map(|i| i as f64)
        .or_else(|| parse_go_float(s))
}

fn split_sign(s: &str) -> (bool, &str) {
    match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    }
}

fn strip_base_prefix(body: &str) -> Option<(u32, &str)> {
    let prefix = body.get(..2)?.to_ascii_lowercase();
    let radix = match prefix.as_str() {
        "0x" => 16,
        "0o" => 8,
        "0b" => 2,
        _ => return None,
    };
    Some((radix, &body[2..]))
}

fn parse_go_int(s: &str) -> Option<i64> {
    let (negative, body) = split_sign(s);
    let (radix, digits, prefixed) = match strip_base_prefix(body) {
        Some((radix, digits)) => (radix, digits, true),
        None if body.len() > 1 && body.starts_with('0') => (8, &body[1..], true),
        None => (10, body, false),
    };
    let digits = remove_underscores(digits, prefixed)?;
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = i128::from_str_radix(&digits, radix).ok()?;
    i64::try_from(if negative { -magnitude } else { magnitude }).ok()
}

fn parse_go_float(s: &str) -> Option<f64> {
    let (negative, body) = split_sign(s);
    let lower = body.to_ascii_lowercase();
    let magnitude = match lower.as_str() {
        "inf" | "infinity" => f64::INFINITY,
        // Go accepts no sign on NaN.
        "nan" if body.len() == s.len() => f64::NAN,
        "nan" => return None,
        _ => match strip_base_prefix(&lower) {
            Some((16, hex)) => parse_hex_float(&remove_underscores(hex, true)?)?,
            Some(_) => return None,
            None => {
                let plain = remove_underscores(&lower, false)?;
                let valid = plain.starts_with(|c: char| c.is_ascii_digit() || c == '.')
                    && plain
                        .chars()
                        .all(|c| c.is_ascii_digit() || ".e+-".contains(c));
                if !valid {
                    return None;
                }
                plain.parse().ok()?
            }
        },
    };
    Some(if negative { -magnitude } else { magnitude })
}

/// Go's hexadecimal float: hex mantissa with an optional point, then a required `p` exponent.
fn parse_hex_float(s: &str) -> Option<f64> {
    let (mantissa, exponent) = s.split_once('p')?;
    let exponent: i32 = exponent.parse().ok()?;
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let mut value = 0.0f64;
    for c in int_part.chars().chain(frac_part.chars()) {
        value = value * 16.0 + f64::from(c.to_digit(16)?);
    }
    let frac_bits = i32::try_from(frac_part.len()).ok()?.checked_mul(4)?;
    Some(value * 2f64.powi(exponent - frac_bits))
}

/// Go's rule for `_` in number literals: only between digits, or right after a base prefix.
fn remove_underscores(digits: &str, after_prefix: bool) -> Option<String> {
    if !digits.contains('_') {
        return Some(digits.to_owned());
    }
    let b = digits.as_bytes();
    let is_digit = |c: u8| c.is_ascii_hexdigit();
    for (i, &c) in b.iter().enumerate() {
        if c != b'_' {
            continue;
        }
        let before = if i == 0 {
            after_prefix
        } else {
            is_digit(b[i - 1])
        };
        let after = b.get(i + 1).copied().is_some_and(is_digit);
        if !before || !after {
            return None;
        }
    }
    Some(digits.replace('_', ""))
}

/// Prometheus' duration syntax (`1h30m`, `5m`, `0`, units y w d h m s ms in that order).
pub fn parse_duration_ms(s: &str) -> Result<i64, String> {
    const UNITS: [(&str, i64); 7] = [
        ("y", 365 * 86_400_000),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ];
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err("empty duration string".into());
    }
    let bad = || format!("not a valid duration string: {s:?}");
    let (mut rest, mut total, mut next_unit) = (s, 0i64, 0);
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit_len = rest[digits..]
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len() - digits);
        let unit = &rest[digits..digits + unit_len];
        let n: i64 = rest[..digits].parse().map_err(|_| bad())?;
        let offset = UNITS[next_unit..]
            .iter()
            .position(|(u, _)| *u == unit)
            .ok_or_else(bad)?;
        let (_, unit_ms) = UNITS[next_unit + offset];
        total = n
            .checked_mul(unit_ms)
            .and_then(|ms| total.checked_add(ms))
            .ok_or_else(bad)?;
        next_unit += offset + 1;
        rest = &rest[digits + unit_len..];
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn floats(text: &str) -> Vec<Option<f64>> {
        parse_sequence(text)
            .unwrap()
            .into_iter()
            .map(|v| match v {
                SeqValue::Omitted => None,
                SeqValue::Float(f) => Some(f),
            })
            .collect()
    }

    #[test]
    fn expands_value_sequences() {
        assert_eq!(
            floats("1+2x3"),
            [Some(1.0), Some(3.0), Some(5.0), Some(7.0)]
        );
        assert_eq!(
            floats("-2-1x3"),
            [Some(-2.0), Some(-3.0), Some(-4.0), Some(-5.0)]
        );
        assert_eq!(floats("5x2"), [Some(5.0); 3]);
        assert_eq!(floats("1x0"), [Some(1.0)]);
        assert_eq!(floats("_x2"), [None, None]);
        assert_eq!(floats("_x0 _"), [None]);
        assert_eq!(floats("1 _ 3"), [Some(1.0), None, Some(3.0)]);
        assert_eq!(
            floats("0x3"),
            [Some(0.0); 4],
            "no hex in sequences: 0, three more times"
        );
        assert_eq!(
            floats("1e3 1.5e-1+1e-1x1"),
            [Some(1000.0), Some(0.15), Some(0.25)]
        );
        assert_eq!(
            floats("Inf -Inf +inf"),
            [
                Some(f64::INFINITY),
                Some(f64::NEG_INFINITY),
                Some(f64::INFINITY)
            ]
        );
        assert_eq!(
            floats("1_000 010"),
            [Some(1000.0), Some(8.0)],
            "Go reads 010 as octal"
        );
    }

    #[test]
    fn sequence_steps_accumulate_like_the_harness() {
        let mut expected = 0.0;
        for v in floats("0+0.1x10") {
            assert_eq!(v.unwrap().to_bits(), f64::to_bits(expected));
            expected += 0.1;
        }
    }

    #[test]
    fn stale_and_nan_are_distinct() {
        let v = parse_sequence("stale NaN nan").unwrap();
        assert!(matches!(v[0], SeqValue::Float(f) if is_stale_nan(f)));
        assert!(matches!(v[1], SeqValue::Float(f) if f.is_nan() && !is_stale_nan(f)));
        assert!(matches!(v[2], SeqValue::Float(f) if f.is_nan()));
    }

    #[test]
    fn rejects_bad_sequences() {
        for bad in [
            "1+2",
            "1x",
            "foo",
            "1xy",
            "_x",
            "1+2y3",
            "stalex3",
            "1x9999999999",
        ] {
            assert!(parse_sequence(bad).is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn reads_numbers_like_go() {
        assert_eq!(parse_go_number("0x1F"), Some(31.0));
        assert_eq!(parse_go_number("-0x10"), Some(-16.0));
        assert_eq!(parse_go_number("0b101"), Some(5.0));
        assert_eq!(parse_go_number("0o17"), Some(15.0));
        assert_eq!(parse_go_number("017"), Some(15.0));
        assert_eq!(
            parse_go_number("08"),
            Some(8.0),
            "not octal: falls back to float"
        );
        assert_eq!(parse_go_number("0x1p-2"), Some(0.25));
        assert_eq!(parse_go_number("0x1.8p1"), Some(3.0));
        assert_eq!(parse_go_number("12.34e+6"), Some(12_340_000.0));
        assert_eq!(parse_go_number(".5"), Some(0.5));
        assert_eq!(parse_go_number("2."), Some(2.0));
        assert_eq!(parse_go_number("+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_go_number("-inf"), Some(f64::NEG_INFINITY));
        assert!(parse_go_number("NaN").is_some_and(f64::is_nan));
        assert_eq!(parse_go_number("1_000"), Some(1000.0));
        for bad in [
            "", "-NaN", "1__0", "_1", "1_", "0x", "abc", "1e", "{} 1", "1 2",
        ] {
            assert_eq!(parse_go_number(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn parses_start_timestamp_lines() {
        let offsets = |line: &str| parse_start_timestamps(line).map(|def| def.unwrap().offsets);
        assert_eq!(
            offsets(r#"foo{a="b"}@st _ -30s-1mx2 0 +1m1ms _x2"#),
            Some(vec![
                None,
                Some(-30_000),
                Some(-90_000),
                Some(-150_000),
                Some(0),
                Some(60_001),
                None,
                None
            ])
        );
        assert_eq!(
            offsets("foo@st 1ms-1mx1 -0msx1"),
            Some(vec![Some(1), Some(-59_999), Some(0), Some(0)])
        );
        assert_eq!(offsets("foo 1 2"), None, "a samples line");
        assert_eq!(offsets(r#"{a="x y"}@st 1s"#), Some(vec![Some(1000)]));
        let def = parse_start_timestamps(r#"foo{a="b"}@st 1s"#)
            .unwrap()
            .unwrap();
        assert_eq!(
            def.labels,
            Labels::from_pairs([("__name__", "foo"), ("a", "b")])
        );
        for bad in [
            "foo@st 1",
            "foo@st 1m+",
            "foo@st 1mx",
            "foo@st 1.5m",
            "foo@st stale",
        ] {
            assert!(parse_start_timestamps(bad).unwrap().is_err(), "{bad}");
        }
    }

    #[test]
    fn parses_durations() {
        assert_eq!(parse_duration_ms("0"), Ok(0));
        assert_eq!(parse_duration_ms("50m"), Ok(3_000_000));
        assert_eq!(parse_duration_ms("1h30m5s10ms"), Ok(5_405_010));
        assert_eq!(parse_duration_ms("1d"), Ok(86_400_000));
        assert_eq!(
            parse_duration_ms("2y1w"),
            Ok(2 * 365 * 86_400_000 + 7 * 86_400_000)
        );
        for bad in ["", "5", "m", "1m1h", "1m1m", "-1m", "1.5m", "5x"] {
            assert!(parse_duration_ms(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn parses_series_lines() {
        let def = parse_series(r#"http_requests{job="api", instance="0"} 1 2"#).unwrap();
        assert_eq!(
            def.labels,
            Labels::from_pairs([
                ("__name__", "http_requests"),
                ("job", "api"),
                ("instance", "0")
            ])
        );
        assert_eq!(def.values.len(), 2);
        let def = parse_series(r#"{} 3"#).unwrap();
        assert!(def.labels.is_empty());
        let def = parse_series(r#"{"my.metric", 'a'="x\"y", b=`raw\n`,} 1"#).unwrap();
        assert_eq!(
            def.labels,
            Labels::from_pairs([("__name__", "my.metric"), ("a", "x\"y"), ("b", "raw\\n")])
        );
        let def = parse_series("job:rate5m 1").unwrap();
        assert_eq!(def.labels.get("__name__"), Some("job:rate5m"));
        let def = parse_series(r#"h{le="1"} {{schema:0 sum:1 count:1}}x2"#).unwrap();
        assert!(def.native_histogram);
        let times = |def: &SeriesDef| -> Vec<bool> {
            let present = |v: &SeqValue| matches!(v, SeqValue::Float(f) if f.is_nan());
            def.histogram_stand_ins.iter().map(present).collect()
        };
        assert_eq!(times(&def), [true; 3]);
        let def =
            parse_series("h {{count:1}}+{{count:2 buckets:[1 2]}}x2 _ {{sum:1}} _x2").unwrap();
        assert_eq!(times(&def), [true, true, true, false, true, false, false]);
        for bad in [
            r#"foo{a="b" 1"#,
            r#"foo{a} 1"#,
            r#"foo{a="b} 1"#,
            "1 2",
            r#"foo{a="b"}1"#,
        ] {
            assert!(parse_series(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unquotes_go_strings() {
        assert_eq!(unquote(r#""a\tb\x41\u00e9\101""#).unwrap(), "a\tbAéA");
        assert_eq!(unquote("`a\\b`").unwrap(), "a\\b");
        assert_eq!(unquote("'it''s'").ok(), None);
        assert_eq!(unquote(r#"" Foo ""#).unwrap(), " Foo ");
        assert!(unquote(r#""\q""#).is_err());
        assert!(unquote("\"").is_err());
    }

    const SCRIPT: &str = r#"
# comment
load 5m
  metric{a="1"} 0+10x2
  metric{a="1"} 1 2
  other 1

eval instant at 10m metric
  expect no_warn
  metric{a="1"} 2

eval_ordered instant at 10m sort(metric)
  metric{a="1"} 2
  expect warn msg: careful
  other 5

eval range from 0 to 10m step 5m metric
  metric{a="1"} 1 _ 2

eval instant at 0 0x10
  0x10

eval_fail instant at 0 foo

CLEAR

eval_fail instant at 1m bar
  expected_fail_regexp (?i)bad.*
eval instant at 1m some[1m]
  expect range vector from 10s to 1m step 10s
  some 1 2

eval instant at 1m "x"
  expect string "x"
"#;

    #[test]
    fn parses_commands() {
        let script = parse_script("t.test", SCRIPT).unwrap();
        let Command::Load(load) = &script.commands[0] else {
            panic!("load first");
        };
        assert_eq!(load.step_ms, 300_000);
        assert_eq!(
            load.series.len(),
            2,
            "the repeated series replaced its first line"
        );
        assert_eq!(load.series[0].values.len(), 2);
        let evals: Vec<&Eval> = script.evals().collect();
        assert_eq!(evals.len(), 8);
        assert_eq!(evals[0].mode, Mode::Instant { at_ms: 600_000 });
        assert!(evals[0].has_expect(ExpectKind::NoWarn));
        assert!(evals[1].is_ordered());
        let positions: Vec<usize> = evals[1].result.series.iter().map(|s| s.pos).collect();
        assert_eq!(
            positions,
            [1, 2],
            "expect lines do not count as result positions"
        );
        assert_eq!(
            evals[2].mode,
            Mode::Range(Window {
                start_ms: 0,
                end_ms: 600_000,
                step_ms: 300_000
            })
        );
        assert_eq!(
            evals[3].result.scalar,
            Some(16.0),
            "bare result lines may be hex"
        );
        assert_eq!(evals[3].line, 20);
        assert!(evals[4].fail);
        assert!(
            matches!(script.commands[6], Command::Clear),
            "command words are case-insensitive…"
        );
        assert!(evals[5].expected_fail_regexp.is_some());
        assert_eq!(evals[6].effective_mode(), Mode::Instant { at_ms: 60_000 });
        assert!(evals[6].exclude_from_range_query);
        assert_eq!(evals[6].result.series[0].def.values.len(), 2);
        assert_eq!(evals[7].result.string, "x");
        assert!(evals[7].exclude_from_range_query);
    }

    #[test]
    fn errors_name_file_and_line() {
        let cases = [
            ("load 5m\n  foo 1+\n", 2),
            ("\n\nevil instant at 0 1\n", 3),
            ("eval instant at 5x foo\n", 1),
            ("eval instant at 0 foo\n  foo 1 2\n", 2),
            (
                "eval instant at 0 foo\n  expect warn\n  expect no_warn\n",
                3,
            ),
            ("eval instant at 0 foo\n  expect nothing\n", 2),
            ("eval range from 5m to 1m step 1m foo\n", 1),
            ("load 5m\n  foo@st 1s 2s\n  foo{ 1\n", 3),
            ("load 5m\n  foo@st 1 2\n", 2),
            ("\nEVAL instant at 0 foo\n", 2), // …but the harness' patterns are case-sensitive
        ];
        for (text, line) in cases {
            let err = parse_script("bad.test", text).unwrap_err();
            assert_eq!(
                (err.file.as_str(), err.line),
                ("bad.test", line),
                "{text:?}: {err}"
            );
        }
    }
}
