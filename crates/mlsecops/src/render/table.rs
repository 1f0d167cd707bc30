//! Human view: findings grouped by file, then a `Total:` line.

use std::fmt::Write;

use mlsecops_core::{Report, Severity};

fn paint(s: &str, sev: Severity, color: bool) -> String {
    if !color {
        return s.to_owned();
    }
    let code = match sev {
        Severity::Critical => "1;31",
        Severity::High => "31",
        Severity::Medium => "33",
        Severity::Low => "36",
        Severity::Info => "2",
    };
    format!("\x1b[{code}m{s}\x1b[0m")
}

pub fn render(r: &Report, color: bool) -> String {
    let mut out = String::new();
    let mut current: Option<&str> = None;
    for f in &r.findings {
        if current != Some(f.location.path.as_str()) {
            current = Some(&f.location.path);
            let fmt = r
                .targets
                .iter()
                .find(|t| t.path == f.location.path)
                .map_or("", |t| t.format.as_str());
            let _ = writeln!(out, "\n{} ({fmt})", f.location.path);
        }
        let mut place = f.location.members.join(" › ");
        if let Some(o) = f.location.offset {
            if !place.is_empty() {
                place.push(' ');
            }
            let _ = write!(place, "@{o}");
        }
        // Tabular findings: row (and its id), column.
        if let Some(row) = f.location.row {
            if !place.is_empty() {
                place.push(' ');
            }
            let _ = write!(place, "row {row}");
            if let Some(id) = &f.location.row_id {
                let _ = write!(place, " (id {id})");
            }
        }
        if let Some(col) = &f.location.column {
            let _ = write!(place, " · {col}");
        }
        let sev = paint(&format!("{:<8}", f.severity.as_str()), f.severity, color);
        let sup = f
            .suppressed
            .as_ref()
            .map(|s| format!(" [suppressed: {}]", s.reason))
            .unwrap_or_default();
        let line = format!("  {sev} {:<28} {place}", f.rule);
        let _ = writeln!(out, "{}", line.trim_end());
        let _ = writeln!(out, "           {}{sup}", f.message);
    }
    for e in &r.errors {
        let mut at = e.path.clone();
        for m in &e.members {
            at.push('!');
            at.push_str(m);
        }
        if let Some(o) = e.offset {
            let _ = write!(at, "@{o}");
        }
        let _ = writeln!(out, "\nerror: {at}: {}", e.message);
    }
    let s = &r.summary;
    let counts: Vec<String> = Severity::ALL_DESC
        .iter()
        .map(|sev| {
            format!(
                "{}: {}",
                sev.as_str(),
                s.by_severity.get(sev).copied().unwrap_or(0)
            )
        })
        .collect();
    let _ = writeln!(
        out,
        "\nTotal: {} ({}) in {} scanned of {} file(s); {} suppressed, {} error(s)",
        s.findings,
        counts.join(", "),
        s.scanned,
        s.targets,
        s.suppressed,
        s.errors
    );
    if s.findings == 0 && s.scanned > 0 {
        out.push_str("no known-unsafe constructs found\n");
    } else if let Some(f) = r
        .findings
        .iter()
        .filter(|f| f.suppressed.is_none())
        .max_by_key(|f| f.severity)
    {
        let _ = writeln!(
            out,
            "hint: `mlsecops rule {}` explains a rule and how to fix it",
            f.rule
        );
    }
    out
}
