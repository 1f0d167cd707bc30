//! `DataError`: every way reading, checking or writing data can fail, each
//! naming the file and, where known, the row (0-based data row), the line
//! (1-based, CSV/JSON Lines) and the column.

use std::fmt::Write as _;

/// Formats the optional `row R (line L) column C` part of a message.
fn at(row: Option<u64>, line: Option<u64>, column: Option<&str>) -> String {
    let mut s = String::new();
    if let Some(r) = row {
        let _ = write!(s, ": row {r}");
    }
    if let Some(l) = line {
        let _ = write!(s, " (line {l})");
    }
    if let Some(c) = column {
        let _ = write!(s, " column `{c}`");
    }
    s
}

/// An error of the data guard. Messages are lowercase and name the file;
/// rows are 0-based data rows (the header is not a row), lines are 1-based.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// Reading or writing a file failed.
    #[error("{file}: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// Nothing to read (empty directory, no supported files).
    #[error("{path}: no CSV, Parquet or JSON Lines files found")]
    NoFiles { path: String },
    /// The format could not be decided or is not supported here.
    #[error("{file}: {message}")]
    Format { file: String, message: String },
    /// A record (CSV) or line (JSON Lines) is longer than the configured cap.
    #[error("{file}{}: record longer than {limit} bytes{}", at(Some(*row), Some(*line), None), if *in_quotes { "\nhint: a quoted field was never closed (an unterminated quote swallows the rest of the file)" } else { "" })]
    RecordTooLong {
        file: String,
        row: u64,
        line: u64,
        limit: usize,
        in_quotes: bool,
    },
    /// A quoted CSV field is still open at the end of the file.
    #[error("{file}{}: unterminated quoted field runs to the end of the file", at(Some(*row), Some(*line), None))]
    UnterminatedQuote { file: String, row: u64, line: u64 },
    /// A CSV row has a different number of fields than the header.
    #[error("{file}{}: {found} fields, the header has {expected}", at(Some(*row), Some(*line), None))]
    Ragged {
        file: String,
        row: u64,
        line: u64,
        expected: usize,
        found: usize,
    },
    /// Bytes that are not UTF-8.
    #[error("{file}{}: invalid UTF-8", at(*row, *line, column.as_deref()))]
    Utf8 {
        file: String,
        row: Option<u64>,
        line: Option<u64>,
        column: Option<String>,
    },
    /// A value or record could not be decoded.
    #[error("{file}{}: {message}", at(*row, None, column.as_deref()))]
    Parse {
        file: String,
        row: Option<u64>,
        column: Option<String>,
        message: String,
    },
    /// Files of one source disagree on the schema, or a column is missing.
    #[error("{file}: {message}")]
    Schema { file: String, message: String },
    /// A Parquet (or other binary) file is corrupt or truncated.
    #[error("{file}: corrupt file: {message}")]
    Corrupt { file: String, message: String },
    /// A configured bound was exceeded.
    #[error("{file}: {message}")]
    Limit { file: String, message: String },
    /// A contract file is not valid.
    #[error("contract{}: {message}", line.map(|l| format!(" line {l}")).unwrap_or_default())]
    Contract {
        line: Option<usize>,
        message: String,
    },
}

impl DataError {
    pub(crate) fn io(file: &str, source: std::io::Error) -> Self {
        DataError::Io {
            file: file.to_owned(),
            source,
        }
    }

    pub(crate) fn parse(
        file: &str,
        row: Option<u64>,
        column: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        DataError::Parse {
            file: file.to_owned(),
            row,
            column: column.map(str::to_owned),
            message: mlsecops_core::shorten(&message.into(), 300),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_file_row_line_column() {
        let e = DataError::Utf8 {
            file: "a.csv".into(),
            row: Some(3),
            line: Some(5),
            column: Some("name".into()),
        };
        assert_eq!(
            e.to_string(),
            "a.csv: row 3 (line 5) column `name`: invalid UTF-8"
        );
        let e = DataError::Contract {
            line: Some(7),
            message: "unknown field".into(),
        };
        assert_eq!(e.to_string(), "contract line 7: unknown field");
    }
}
