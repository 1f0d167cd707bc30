//! Rule documentation, printed by `mlsecops rule ID`.

use serde::Serialize;

use crate::Severity;

/// The documentation of one stable rule id.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct RuleDoc {
    /// Stable id, e.g. `PICKLE-UNSAFE-GLOBAL`.
    pub id: &'static str,
    /// Short name for tables and SARIF `name`.
    pub name: &'static str,
    /// Severity the rule usually reports (a finding may be raised or lowered).
    pub severity: Severity,
    /// What the rule detects, one sentence.
    pub summary: &'static str,
    /// Why it matters.
    pub why: &'static str,
    /// What the user should do.
    pub fix: &'static str,
    /// Example of what triggers it.
    pub example: &'static str,
    /// MITRE ATLAS / OWASP ML Top-10 / CWE ids and specs.
    pub references: &'static [&'static str],
}
