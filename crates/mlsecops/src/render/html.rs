//! One self-contained HTML page: inline CSS, no scripts, no external
//! resources, so it can be archived as a CI artifact and opened anywhere.

use std::fmt::Write;

use mlsecops_core::{Report, Severity};

pub(super) fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

pub(super) fn class(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "crit",
        Severity::High => "high",
        Severity::Medium => "med",
        Severity::Low => "low",
        Severity::Info => "info",
    }
}

pub(super) const CSS: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:70rem;color:#1d2330;padding:0 1rem}
h1{font-size:1.5rem;margin:0 0 .3rem}h2{font-size:1.1rem;margin:2rem 0 .5rem;word-break:break-all}
.sub{color:#5b6475}.cards{display:flex;gap:.6rem;margin:1.2rem 0;flex-wrap:wrap}
.card{border-radius:.5rem;padding:.6rem 1rem;min-width:6.5rem;color:#fff}.card b{display:block;font-size:1.6rem}
.crit{background:#8b0000}.high{background:#d1342f}.med{background:#d98b00}.low{background:#2b7bb9}.info{background:#7a8394}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.4rem .5rem;border-bottom:1px solid #e3e6ec;vertical-align:top}
th{background:#f4f6f9}td.sev span{color:#fff;border-radius:.3rem;padding:.1rem .4rem;font-size:.8rem;font-weight:600}
code{font:12px ui-monospace,monospace;background:#f4f6f9;padding:.05rem .25rem;border-radius:.2rem;word-break:break-all}
.bar{display:flex;height:.7rem;border-radius:.35rem;overflow:hidden;margin:.5rem 0 1rem;background:#e3e6ec}
.sup{opacity:.55}.ok{color:#1a7f37;font-weight:600}";

/// The per-file errors of a report as a table (nothing when there are none).
pub(super) fn errors_section(h: &mut String, r: &Report) {
    if r.errors.is_empty() {
        return;
    }
    h.push_str("<h2>Errors</h2><table><tr><th>File</th><th>Error</th></tr>");
    for e in &r.errors {
        let _ = write!(
            h,
            "<tr><td><code>{}</code></td><td>{}</td></tr>",
            esc(&e.path),
            esc(&e.message)
        );
    }
    h.push_str("</table>");
}

pub fn render(r: &Report) -> String {
    let s = &r.summary;
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
         <title>mlsecops {} report</title><style>{CSS}</style></head><body>",
        esc(&r.kind)
    );
    let _ = write!(
        h,
        "<h1>mlsecops {} report</h1><div class=\"sub\">{} {} · {} file(s), {} scanned · {} suppressed · {} error(s)</div>",
        esc(&r.kind),
        esc(&r.tool.name),
        esc(&r.tool.version),
        s.targets,
        s.scanned,
        s.suppressed,
        s.errors
    );
    h.push_str("<div class=\"cards\">");
    let total = s.findings.max(1);
    let mut bar = String::from("<div class=\"bar\">");
    for sev in Severity::ALL_DESC {
        let n = s.by_severity.get(&sev).copied().unwrap_or(0);
        let _ = write!(
            h,
            "<div class=\"card {}\"><b>{n}</b>{}</div>",
            class(sev),
            sev.as_str()
        );
        if n > 0 {
            let _ = write!(
                bar,
                "<div class=\"{}\" style=\"width:{:.2}%\"></div>",
                class(sev),
                n as f64 * 100.0 / total as f64
            );
        }
    }
    bar.push_str("</div>");
    h.push_str("</div>");
    h.push_str(&bar);
    if s.findings == 0 {
        h.push_str("<p class=\"ok\">No known-unsafe constructs found.</p>");
    }
    let mut current: Option<&str> = None;
    for f in &r.findings {
        if current != Some(f.location.path.as_str()) {
            if current.is_some() {
                h.push_str("</table>");
            }
            current = Some(&f.location.path);
            let fmt = r
                .targets
                .iter()
                .find(|t| t.path == f.location.path)
                .map_or("", |t| t.format.as_str());
            let _ = write!(
                h,
                "<h2>{} <span class=\"sub\">({})</span></h2><table><tr><th>Severity</th><th>Rule</th><th>Where</th><th>Finding</th></tr>",
                esc(&f.location.path),
                esc(fmt)
            );
        }
        let mut place = f
            .location
            .members
            .iter()
            .map(|m| esc(m))
            .collect::<Vec<_>>()
            .join(" › ");
        if let Some(o) = f.location.offset {
            let _ = write!(place, " @{o}");
        }
        let sup = f
            .suppressed
            .as_ref()
            .map(|x| format!("<br><i>suppressed: {}</i>", esc(&x.reason)))
            .unwrap_or_default();
        let ev = f
            .evidence
            .as_ref()
            .map(|e| format!("<br><code>{}</code>", esc(e)))
            .unwrap_or_default();
        let _ = write!(
            h,
            "<tr class=\"{}\"><td class=\"sev\"><span class=\"{}\">{}</span></td><td><code>{}</code></td><td>{}</td><td>{}{ev}{sup}</td></tr>",
            if f.suppressed.is_some() { "sup" } else { "" },
            class(f.severity),
            f.severity.as_str(),
            esc(&f.rule),
            place,
            esc(&f.message)
        );
    }
    if current.is_some() {
        h.push_str("</table>");
    }
    errors_section(&mut h, r);
    h.push_str("<h2>Examined</h2><table><tr><th>File</th><th>Format</th><th>Size</th><th>Members</th></tr>");
    for t in &r.targets {
        let _ = write!(
            h,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&t.path),
            esc(&t.format),
            t.size,
            t.members
        );
    }
    h.push_str("</table></body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::esc;

    #[test]
    fn escapes_markup() {
        assert_eq!(esc("<script>&'\""), "&lt;script&gt;&amp;&#39;&quot;");
    }
}
