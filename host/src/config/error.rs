//! Config errors that name the file, line and key.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A position in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

impl Location {
    /// The location of byte offset `span.start` in `text`.
    pub fn of_span(file: &Path, text: &str, span: Range<usize>) -> Self {
        let start = span.start.min(text.len());
        let before = &text[..start];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        Self {
            file: file.to_owned(),
            line,
            column,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// Why a config could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A key is missing, unknown or has a bad value.
    #[error("{location}: {key}: {message}")]
    Invalid {
        /// Where.
        location: Location,
        /// The dotted key path, e.g. `plugins[0].wasm`.
        key: String,
        /// What is wrong and how to fix it.
        message: String,
    },
}

impl ConfigError {
    /// The key path, when the error is about one key.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { key, .. } => Some(key),
            ConfigError::Read { .. } => None,
        }
    }

    /// The location, when known.
    pub fn location(&self) -> Option<&Location> {
        match self {
            ConfigError::Invalid { location, .. } => Some(location),
            ConfigError::Read { .. } => None,
        }
    }
}
