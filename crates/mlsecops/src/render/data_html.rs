//! The data check's HTML page: the findings grouped by rule (a bounded
//! number of rows each, so a broken file still renders), and inline SVG
//! plots of class balance, suspicion scores and spectral scores per class,
//! plus the rows most worth a look. Self-contained like `html.rs`: no
//! scripts, no external resources.

use std::collections::BTreeMap;
use std::fmt::Write;

use mlsecops_core::{Finding, Report, Severity};
use mlsecops_data::report::Insights;

use super::html::{CSS, class, errors_section, esc};

/// Rows shown per rule before "… and N more".
const ROWS_PER_RULE: usize = 25;

const EXTRA_CSS: &str = ".plots{display:grid;grid-template-columns:repeat(auto-fit,minmax(22rem,1fr));gap:1rem}
.plot{border:1px solid #e3e6ec;border-radius:.5rem;padding:.6rem}.plot h3{font-size:.95rem;margin:0 0 .4rem}
svg text{font:11px system-ui,sans-serif;fill:#1d2330}details summary{cursor:pointer;margin:.3rem 0}";

fn bar_chart(title: &str, labels: &[String], values: &[u64], overlay: Option<&[u64]>) -> String {
    let w = 360.0;
    let row_h = 18.0;
    let n = labels.len().min(40);
    let h = row_h * n as f64 + 10.0;
    let max = values.iter().copied().max().unwrap_or(1).max(1) as f64;
    let mut s = format!(
        "<div class=\"plot\"><h3>{}</h3><svg viewBox=\"0 0 {w} {h}\" width=\"100%\" role=\"img\">",
        esc(title)
    );
    for i in 0..n {
        let y = i as f64 * row_h + 4.0;
        let bw = (values[i] as f64 / max) * (w - 150.0);
        let _ = write!(
            s,
            "<text x=\"0\" y=\"{:.1}\">{}</text><rect x=\"90\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"12\" fill=\"#2b7bb9\"/>",
            y + 10.0,
            esc(&mlsecops_core::shorten(&labels[i], 14))
        );
        let mut text = values[i].to_string();
        if let Some(flags) = overlay {
            let fw = (flags[i] as f64 / max) * (w - 150.0);
            let _ = write!(
                s,
                "<rect x=\"90\" y=\"{y:.1}\" width=\"{fw:.1}\" height=\"12\" fill=\"#d1342f\"/>"
            );
            if flags[i] > 0 {
                let _ = write!(text, " ({} flagged)", flags[i]);
            }
        }
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\">{text}</text>",
            94.0 + bw,
            y + 10.0
        );
    }
    s.push_str("</svg></div>");
    s
}

fn histogram(title: &str, bins: &[u64]) -> String {
    let (w, h) = (360.0, 150.0);
    let max = bins.iter().copied().max().unwrap_or(1).max(1) as f64;
    // Log scale: a handful of suspicious rows must stay visible next to
    // thousands of clean ones.
    let scale = |v: u64| ((v as f64 + 1.0).ln() / (max + 1.0).ln()) * (h - 30.0);
    let bw = (w - 20.0) / bins.len().max(1) as f64;
    let mut s = format!(
        "<div class=\"plot\"><h3>{}</h3><svg viewBox=\"0 0 {w} {h}\" width=\"100%\" role=\"img\">",
        esc(title)
    );
    for (i, &v) in bins.iter().enumerate() {
        let bh = if v == 0 { 0.0 } else { scale(v) };
        let x = 10.0 + i as f64 * bw;
        let color = if i >= bins.len() / 2 {
            "#d1342f"
        } else {
            "#7a8394"
        };
        let _ = write!(
            s,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"{color}\"><title>{v} rows</title></rect>",
            h - 20.0 - bh,
            bw - 1.0
        );
    }
    let _ = write!(
        s,
        "<text x=\"10\" y=\"{:.1}\">0</text><text x=\"{:.1}\" y=\"{:.1}\">score 1</text><text x=\"10\" y=\"10\">rows (log scale)</text></svg></div>",
        h - 6.0,
        w - 50.0,
        h - 6.0
    );
    s
}

fn spectral_plot(insights: &Insights) -> Option<String> {
    let classes: Vec<_> = insights
        .classes
        .iter()
        .filter(|c| !c.spectral_scores.is_empty())
        .collect();
    if classes.is_empty() {
        return None;
    }
    let (w, row_h) = (360.0, 20.0);
    let h = row_h * classes.len() as f64 + 14.0;
    let max = classes
        .iter()
        .flat_map(|c| c.spectral_scores.iter().copied())
        .fold(0f32, f32::max)
        .max(f32::MIN_POSITIVE);
    let mut s = String::from(
        "<div class=\"plot\"><h3>Spectral-signature scores per class (red: suspicious class)</h3>",
    );
    let _ = write!(
        s,
        "<svg viewBox=\"0 0 {w} {h}\" width=\"100%\" role=\"img\">"
    );
    for (i, c) in classes.iter().enumerate() {
        let y = i as f64 * row_h + 10.0;
        let color = if c.suspicious { "#d1342f" } else { "#2b7bb9" };
        let gap = c
            .spectral_gap
            .map(|g| format!(" gap {g:.2}"))
            .unwrap_or_default();
        let _ = write!(
            s,
            "<text x=\"0\" y=\"{:.1}\"><title>{}{gap}</title>{}</text>",
            y + 4.0,
            esc(&c.label),
            esc(&mlsecops_core::shorten(&c.label, 12))
        );
        for &v in &c.spectral_scores {
            let x = 80.0 + f64::from(v / max) * (w - 90.0);
            let _ = write!(
                s,
                "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"2\" fill=\"{color}\" fill-opacity=\".45\"/>"
            );
        }
    }
    s.push_str("</svg></div>");
    Some(s)
}

fn location(f: &Finding) -> String {
    let mut place = String::new();
    if let Some(r) = f.location.row {
        let _ = write!(place, "row {r}");
    }
    if let Some(id) = &f.location.row_id {
        let _ = write!(place, " (id {})", esc(id));
    }
    if let Some(c) = &f.location.column {
        let _ = write!(place, " · <code>{}</code>", esc(c));
    }
    place
}

/// Renders the data check page.
pub fn render(r: &Report, insights: &Insights) -> String {
    let s = &r.summary;
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
         <title>mlsecops data check</title><style>{CSS}\n{EXTRA_CSS}</style></head><body>"
    );
    let files: Vec<_> = r.targets.iter().map(|t| esc(&t.path)).collect();
    let _ = write!(
        h,
        "<h1>mlsecops data check</h1><div class=\"sub\">{} · {} rows × {} columns · {} rows flagged · {} finding(s)</div>",
        files.join(", "),
        insights.rows,
        insights.columns,
        insights.flagged_rows,
        s.findings
    );
    h.push_str("<div class=\"cards\">");
    for sev in Severity::ALL_DESC {
        let n = s.by_severity.get(&sev).copied().unwrap_or(0);
        let _ = write!(
            h,
            "<div class=\"card {}\"><b>{n}</b>{}</div>",
            class(sev),
            sev.as_str()
        );
    }
    h.push_str("</div>");
    if !insights.skipped.is_empty() {
        h.push_str("<p class=\"sub\">Not run: ");
        h.push_str(
            &insights
                .skipped
                .iter()
                .map(|x| esc(x))
                .collect::<Vec<_>>()
                .join("; "),
        );
        h.push_str("</p>");
    }

    h.push_str("<h2>At a glance</h2><div class=\"plots\">");
    if !insights.classes.is_empty() {
        let labels: Vec<String> = insights.classes.iter().map(|c| c.label.clone()).collect();
        let rows: Vec<u64> = insights.classes.iter().map(|c| c.rows).collect();
        let flagged: Vec<u64> = insights.classes.iter().map(|c| c.flagged).collect();
        h.push_str(&bar_chart(
            "Class balance (red: flagged rows)",
            &labels,
            &rows,
            Some(&flagged),
        ));
    }
    h.push_str(&histogram(
        "Per-row suspicion score",
        &insights.score_histogram,
    ));
    if let Some(p) = spectral_plot(insights) {
        h.push_str(&p);
    }
    let mut by_rule: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for f in &r.findings {
        by_rule.entry(f.rule.as_str()).or_default().push(f);
    }
    let rule_names: Vec<String> = by_rule.keys().map(|k| (*k).to_owned()).collect();
    let rule_counts: Vec<u64> = by_rule.values().map(|v| v.len() as u64).collect();
    if !rule_names.is_empty() {
        h.push_str(&bar_chart(
            "Findings per rule",
            &rule_names,
            &rule_counts,
            None,
        ));
    }
    h.push_str("</div>");

    if !insights.top_rows.is_empty() {
        h.push_str("<h2>Rows to look at first</h2><table><tr><th>Row</th><th>Id</th><th>Score</th><th>Flagged by</th></tr>");
        for t in &insights.top_rows {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{:.3}</td><td>{}</td></tr>",
                t.row,
                esc(t.row_id.as_deref().unwrap_or("")),
                t.score,
                t.rules
                    .iter()
                    .map(|x| format!("<code>{}</code>", esc(x)))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
        }
        h.push_str("</table>");
    }

    if r.findings.is_empty() {
        h.push_str("<p class=\"ok\">No findings.</p>");
    }
    for (rule, findings) in &by_rule {
        let _ = write!(
            h,
            "<h2><code>{}</code> <span class=\"sub\">{} finding(s)</span></h2><table><tr><th>Severity</th><th>Where</th><th>Finding</th></tr>",
            esc(rule),
            findings.len()
        );
        for f in findings.iter().take(ROWS_PER_RULE) {
            let ev = f
                .evidence
                .as_ref()
                .map(|e| format!("<br><code>{}</code>", esc(e)))
                .unwrap_or_default();
            let _ = write!(
                h,
                "<tr><td class=\"sev\"><span class=\"{}\">{}</span></td><td>{}</td><td>{}{ev}</td></tr>",
                class(f.severity),
                f.severity.as_str(),
                location(f),
                esc(&f.message)
            );
        }
        if findings.len() > ROWS_PER_RULE {
            let _ = write!(
                h,
                "<tr><td></td><td colspan=\"2\" class=\"sub\">… and {} more (see the JSON report)</td></tr>",
                findings.len() - ROWS_PER_RULE
            );
        }
        h.push_str("</table>");
    }
    errors_section(&mut h, r);
    if !insights.timings.is_empty() {
        h.push_str("<h2>Time</h2><table><tr><th>Stage</th><th>Seconds</th></tr>");
        for t in &insights.timings {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{:.3}</td></tr>",
                esc(&t.stage),
                t.seconds
            );
        }
        h.push_str("</table>");
    }
    h.push_str("</body></html>\n");
    h
}
