//! Per-file scan state: where we are (file, member chain) and what we found.

use mlsecops_core::{Finding, Location, Severity};

use crate::limits::Limits;

/// The state threaded through every format scanner for one input file.
pub(crate) struct Ctx<'s> {
    pub limits: &'s Limits,
    pub secrets: &'s mlsecops_sensitive::Detector,
    pub path: String,
    pub members: Vec<String>,
    pub findings: Vec<Finding>,
    pub depth: usize,
    pub members_scanned: u64,
    pub decompressed: u64,
    /// Formats seen, outermost first (for the target's `format`).
    pub formats: Vec<&'static str>,
}

impl<'s> Ctx<'s> {
    pub fn new(
        limits: &'s Limits,
        secrets: &'s mlsecops_sensitive::Detector,
        path: String,
    ) -> Self {
        Self {
            limits,
            secrets,
            path,
            members: Vec::new(),
            findings: Vec::new(),
            depth: 0,
            members_scanned: 0,
            decompressed: 0,
            formats: Vec::new(),
        }
    }

    pub fn location(&self, offset: Option<u64>) -> Location {
        Location {
            path: self.path.clone(),
            members: self.members.clone(),
            offset,
            row: None,
            column: None,
            row_id: None,
        }
    }

    /// Records a finding at `offset` of the current member.
    pub fn report(
        &mut self,
        rule: &'static str,
        severity: Severity,
        offset: Option<u64>,
        message: impl Into<String>,
        evidence: Option<String>,
    ) {
        let mut f = Finding::new(rule, severity, self.location(offset), message);
        if let Some(e) = evidence {
            f = f.with_evidence(e);
        }
        self.findings.push(f);
    }

    /// Runs `f` inside archive member `name` (nesting-depth bounded).
    pub fn in_member<R>(&mut self, name: &str, f: impl FnOnce(&mut Self) -> R) -> Option<R> {
        if self.depth >= self.limits.max_depth {
            self.report(
                "SCAN-INCOMPLETE",
                Severity::Medium,
                None,
                format!(
                    "member `{name}` is nested deeper than {} levels and was not scanned",
                    self.limits.max_depth
                ),
                None,
            );
            return None;
        }
        self.members.push(name.to_owned());
        self.depth += 1;
        self.members_scanned += 1;
        let r = f(self);
        self.depth -= 1;
        self.members.pop();
        Some(r)
    }

    pub fn saw(&mut self, format: &'static str) {
        if self.formats.len() < 8 && !self.formats.contains(&format) {
            self.formats.push(format);
        }
    }
}
