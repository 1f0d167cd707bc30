//! Findings: what a guard reports, where, and how bad it is.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How bad a finding is. Ordered: `Info < Low < Medium < High < Critical`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// All severities, most severe first.
    pub const ALL_DESC: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ];

    /// Upper-case name as printed in reports (`CRITICAL`, `HIGH`, …).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "INFO",
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no severity.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown severity `{0}`, expected one of critical, high, medium, low, info")]
pub struct SeverityParseError(pub String);

impl FromStr for Severity {
    type Err = SeverityParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "info" => Ok(Severity::Info),
            "low" => Ok(Severity::Low),
            "medium" => Ok(Severity::Medium),
            "high" => Ok(Severity::High),
            "critical" => Ok(Severity::Critical),
            _ => Err(SeverityParseError(s.to_owned())),
        }
    }
}

/// Where a finding is: a file, the chain of archive members inside it, and a
/// byte offset (in the innermost member) or a row/column for tabular data.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    /// Path of the file as given by the user (relative when it was relative).
    pub path: String,
    /// Archive member chain, outermost first (`["model.zip", "archive/data.pkl"]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
    /// Byte offset inside the innermost member (or the file when no member).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// 0-based row for tabular data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row: Option<u64>,
    /// Column name for tabular data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// The row's identifier (value of the user's `--id` column), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row_id: Option<String>,
}

impl Location {
    #[must_use]
    pub fn file(path: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            ..Self::default()
        }
    }

    /// `path!member!member@offset`, the compact human form.
    #[must_use]
    pub fn display(&self) -> String {
        let mut s = self.path.clone();
        for m in &self.members {
            s.push('!');
            s.push_str(m);
        }
        if let Some(o) = self.offset {
            s.push('@');
            s.push_str(&o.to_string());
        }
        if let Some(r) = self.row {
            s.push_str(&format!(" row {r}"));
        }
        if let Some(id) = &self.row_id {
            s.push_str(&format!(" (id {id})"));
        }
        if let Some(c) = &self.column {
            s.push_str(&format!(" column {c}"));
        }
        s
    }
}

/// Why a finding is suppressed (from the ignore file).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppression {
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

/// One thing a guard found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable rule id, e.g. `PICKLE-UNSAFE-GLOBAL`.
    pub rule: String,
    pub severity: Severity,
    pub location: Location,
    /// One line, lowercase, no trailing period.
    pub message: String,
    /// The exact bytes/names that triggered the rule, shortened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<Suppression>,
}

impl Finding {
    #[must_use]
    pub fn new(
        rule: impl Into<String>,
        severity: Severity,
        location: Location,
        message: impl Into<String>,
    ) -> Self {
        Self {
            rule: rule.into(),
            severity,
            location,
            message: message.into(),
            evidence: None,
            suppressed: None,
        }
    }

    #[must_use]
    pub fn with_evidence(mut self, evidence: impl Into<String>) -> Self {
        self.evidence = Some(shorten(&evidence.into(), 240));
        self
    }
}

/// Shortens `s` to at most `max` chars, on a char boundary, with an ellipsis.
#[must_use]
pub fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_order_and_parse() {
        assert!(Severity::Critical > Severity::High);
        assert!(Severity::Info < Severity::Low);
        assert_eq!("HIGH".parse::<Severity>().unwrap(), Severity::High);
        assert!("urgent".parse::<Severity>().is_err());
    }

    #[test]
    fn location_display() {
        let loc = Location {
            path: "m.pt".into(),
            members: vec!["archive/data.pkl".into()],
            offset: Some(12),
            ..Location::default()
        };
        assert_eq!(loc.display(), "m.pt!archive/data.pkl@12");
    }

    #[test]
    fn evidence_is_shortened() {
        let f = Finding::new("X", Severity::Low, Location::file("a"), "m")
            .with_evidence("y".repeat(1000));
        assert_eq!(f.evidence.unwrap().chars().count(), 240);
    }
}
