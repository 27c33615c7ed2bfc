//! A parse error where Prometheus puts it: `<line>:<column>: parse error: <message>`.

use crate::promql::functions::Position;
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// Line and byte column (both from 1) of where the error is, as Prometheus counts them.
    pub position: Position,
    pub message: String,
}

impl ParseError {
    /// An error at byte `offset` of `query`.
    pub fn new(query: &str, offset: usize, message: impl Into<String>) -> Self {
        let offset = offset.min(query.len());
        let offset = (0..=offset)
            .rev()
            .find(|&o| query.is_char_boundary(o))
            .unwrap_or(0);
        Self {
            position: Position::from_offset(query, offset)
                .unwrap_or(Position { line: 1, column: 1 }),
            message: message.into(),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: parse error: {}",
            self.position.line, self.position.column, self.message
        )
    }
}

impl std::error::Error for ParseError {}
