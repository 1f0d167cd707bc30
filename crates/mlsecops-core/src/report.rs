//! Reports: findings plus what was examined, ready for any renderer.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Digest, Finding, Severity};

/// The tool that produced a report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolInfo {
    pub name: String,
    pub version: String,
}

/// One examined input (a file, or a directory treated as one model).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub path: String,
    /// Detected format (`pickle`, `pytorch-zip`, `safetensors`, …) or `unknown`.
    pub format: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<Digest>,
    /// Archive members (and nested streams) examined inside this file.
    pub members: u64,
    /// `false` when the file was not a format the guard examines.
    pub scanned: bool,
}

/// A file the guard could not examine fully. Scanning goes on with the rest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileError {
    pub path: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    pub message: String,
}

/// Counts for the summary line and exit status.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Unsuppressed findings per severity (`CRITICAL` … `INFO`, all present).
    pub by_severity: BTreeMap<Severity, u64>,
    pub findings: u64,
    pub suppressed: u64,
    pub targets: u64,
    pub scanned: u64,
    pub errors: u64,
}

/// What a guard examined and what it found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Report schema version.
    pub schema_version: u32,
    pub tool: ToolInfo,
    /// Which guard made it: `scan`, `data-check`, …
    pub kind: String,
    pub targets: Vec<Target>,
    pub findings: Vec<Finding>,
    pub errors: Vec<FileError>,
    pub summary: Summary,
}

impl Report {
    /// Current JSON report schema version.
    pub const SCHEMA_VERSION: u32 = 1;

    #[must_use]
    pub fn new(kind: &str, tool: ToolInfo) -> Self {
        Self {
            schema_version: Self::SCHEMA_VERSION,
            tool,
            kind: kind.to_owned(),
            targets: Vec::new(),
            findings: Vec::new(),
            errors: Vec::new(),
            summary: Summary::default(),
        }
    }

    /// Sorts findings (path, members, offset, severity desc, rule) and
    /// recomputes the summary. Call after the last change.
    pub fn finalize(&mut self) {
        self.targets.sort_by(|a, b| a.path.cmp(&b.path));
        self.findings.sort_by(|a, b| {
            (
                &a.location.path,
                &a.location.members,
                a.location.offset,
                a.location.row,
            )
                .cmp(&(
                    &b.location.path,
                    &b.location.members,
                    b.location.offset,
                    b.location.row,
                ))
                .then(b.severity.cmp(&a.severity))
                .then(a.rule.cmp(&b.rule))
                .then(a.message.cmp(&b.message))
        });
        self.findings.dedup();
        self.errors
            .sort_by(|a, b| (&a.path, &a.members).cmp(&(&b.path, &b.members)));
        let mut s = Summary::default();
        for sev in Severity::ALL_DESC {
            s.by_severity.insert(sev, 0);
        }
        for f in &self.findings {
            if f.suppressed.is_some() {
                s.suppressed += 1;
            } else {
                s.findings += 1;
                *s.by_severity.entry(f.severity).or_default() += 1;
            }
        }
        s.targets = self.targets.len() as u64;
        s.scanned = self.targets.iter().filter(|t| t.scanned).count() as u64;
        s.errors = self.errors.len() as u64;
        self.summary = s;
    }

    /// Highest unsuppressed severity, if any finding.
    #[must_use]
    pub fn max_severity(&self) -> Option<Severity> {
        self.findings
            .iter()
            .filter(|f| f.suppressed.is_none())
            .map(|f| f.severity)
            .max()
    }

    /// Unsuppressed findings at or above `gate`.
    pub fn at_or_above(&self, gate: Severity) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(move |f| f.suppressed.is_none() && f.severity >= gate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Location;

    #[test]
    fn finalize_counts_and_sorts() {
        let mut r = Report::new(
            "scan",
            ToolInfo {
                name: "t".into(),
                version: "0".into(),
            },
        );
        r.findings
            .push(Finding::new("B", Severity::Low, Location::file("b"), "x"));
        r.findings.push(Finding::new(
            "A",
            Severity::Critical,
            Location::file("a"),
            "x",
        ));
        let mut sup = Finding::new("C", Severity::High, Location::file("a"), "y");
        sup.suppressed = Some(crate::Suppression {
            reason: "r".into(),
            expires: None,
        });
        r.findings.push(sup);
        r.finalize();
        assert_eq!(r.findings[0].rule, "A");
        assert_eq!(r.summary.findings, 2);
        assert_eq!(r.summary.suppressed, 1);
        assert_eq!(r.summary.by_severity[&Severity::Critical], 1);
        assert_eq!(r.max_severity(), Some(Severity::Critical));
        assert_eq!(r.at_or_above(Severity::High).count(), 1);
    }
}
