//! Glue from the shared secret detector to scan findings.

use mlsecops_core::Severity;

use crate::ctx::Ctx;

/// Reports secrets in a text blob at `base` offset.
pub(crate) fn scan_text(ctx: &mut Ctx<'_>, data: &[u8], base: u64) {
    let found = ctx.secrets.find(data);
    for m in found.into_iter().take(50) {
        let evidence = mlsecops_sensitive::redact(&data[m.start..m.end]);
        ctx.report(
            "EMBEDDED-SECRET",
            Severity::High,
            Some(base + m.start as u64),
            format!("{} embedded in the file", m.kind.name()),
            Some(evidence),
        );
    }
}

/// Reports secrets in a metadata string value named `key`.
pub(crate) fn scan_str(ctx: &mut Ctx<'_>, s: &str, offset: Option<u64>, key: &str) {
    if s.len() < 16 {
        return;
    }
    let found = ctx.secrets.find(s.as_bytes());
    for m in found.into_iter().take(50) {
        let evidence = mlsecops_sensitive::redact(&s.as_bytes()[m.start..m.end]);
        ctx.report(
            "EMBEDDED-SECRET",
            Severity::High,
            offset,
            format!("{} in `{key}`", m.kind.name()),
            Some(evidence),
        );
    }
}
