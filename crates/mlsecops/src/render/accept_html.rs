//! The acceptance report as one self-contained HTML page: verdict and
//! checks, metrics, a confusion-matrix heat map, robust accuracy against ε,
//! per-slice accuracy bars and the calibration bins. Inline SVG, no
//! scripts, no external resources.

use std::fmt::Write;

use mlsecops_robust::accept::AcceptReport;

use super::html::{CSS, esc};

const EXTRA_CSS: &str = ".plots{display:grid;grid-template-columns:repeat(auto-fit,minmax(22rem,1fr));gap:1rem}
.plot{border:1px solid #e3e6ec;border-radius:.5rem;padding:.6rem}.plot h3{font-size:.95rem;margin:0 0 .4rem}
svg text{font:10px system-ui,sans-serif;fill:#1d2330}.pass{background:#1a7f37}.fail{background:#d1342f}";

/// Classes drawn in the confusion matrix before it is cut.
const MAX_CLASSES: usize = 30;
/// Slices drawn before the list is cut (worst first).
const MAX_SLICES: usize = 40;

fn pct(v: f64) -> String {
    format!("{:.2}%", v * 100.0)
}

fn confusion(r: &AcceptReport) -> String {
    let m = &r.metrics.confusion;
    let k = m.len().min(MAX_CLASSES);
    let cell = 22.0;
    let pad = 60.0;
    let size = pad + cell * k as f64 + 4.0;
    let mut s = format!(
        "<div class=\"plot\"><h3>Confusion matrix (rows: true, columns: predicted)</h3><svg viewBox=\"0 0 {size} {size}\" width=\"100%\" role=\"img\">"
    );
    for (t, row) in m.iter().take(k).enumerate() {
        let total: u64 = row.iter().sum::<u64>().max(1);
        let _ = write!(
            s,
            "<text x=\"0\" y=\"{:.1}\">{}</text>",
            pad + cell * t as f64 + 15.0,
            esc(&mlsecops_core::shorten(&r.classes[t], 8))
        );
        for (p, &count) in row.iter().take(k).enumerate() {
            let share = count as f64 / total as f64;
            let color = if t == p { "26,127,55" } else { "209,52,47" };
            let _ = write!(
                s,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"rgba({color},{:.3})\" stroke=\"#e3e6ec\"><title>true {} → predicted {}: {count}</title></rect>",
                pad + cell * p as f64,
                pad + cell * t as f64,
                cell,
                cell,
                0.08 + 0.92 * share,
                esc(&r.classes[t]),
                esc(&r.classes[p])
            );
            if count > 0 {
                let _ = write!(
                    s,
                    "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{count}</text>",
                    pad + cell * p as f64 + cell / 2.0,
                    pad + cell * t as f64 + 15.0
                );
            }
        }
    }
    for p in 0..k {
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            pad + cell * p as f64 + cell / 2.0,
            pad - 6.0,
            esc(&mlsecops_core::shorten(&r.classes[p], 4))
        );
    }
    s.push_str("</svg>");
    if m.len() > k {
        let _ = write!(s, "<p class=\"sub\">first {k} of {} classes</p>", m.len());
    }
    s.push_str("</div>");
    s
}

fn curve(r: &AcceptReport) -> Option<String> {
    let rob = r.robustness.as_ref()?;
    if rob.curve.is_empty() {
        return None;
    }
    let (w, h, pad) = (360.0, 200.0, 30.0);
    let max_eps = rob
        .curve
        .iter()
        .map(|p| p.eps)
        .fold(0.0f32, f32::max)
        .max(1e-6);
    let pts: Vec<(f64, f64)> = rob
        .curve
        .iter()
        .map(|p| {
            (
                pad + f64::from(p.eps / max_eps) * (w - 2.0 * pad),
                h - pad - p.robust_accuracy * (h - 2.0 * pad),
            )
        })
        .collect();
    let mut s = format!(
        "<div class=\"plot\"><h3>Robust accuracy vs ε ({norm})</h3><svg viewBox=\"0 0 {w} {h}\" width=\"100%\" role=\"img\">\
<line x1=\"{pad}\" y1=\"{base}\" x2=\"{right}\" y2=\"{base}\" stroke=\"#7a8394\"/><line x1=\"{pad}\" y1=\"{pad}\" x2=\"{pad}\" y2=\"{base}\" stroke=\"#7a8394\"/>\
<text x=\"2\" y=\"{top}\">100%</text><text x=\"8\" y=\"{base}\">0%</text>",
        base = h - pad,
        right = w - pad,
        top = pad + 4.0,
        norm = rob.suite.threat.norm
    );
    let path: Vec<String> = pts.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
    let _ = write!(
        s,
        "<polyline points=\"{}\" fill=\"none\" stroke=\"#2b7bb9\" stroke-width=\"2\"/>",
        path.join(" ")
    );
    for (p, (x, y)) in rob.curve.iter().zip(&pts) {
        let _ = write!(
            s,
            "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3\" fill=\"#2b7bb9\"><title>ε {}: {}</title></circle><text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            p.eps,
            pct(p.robust_accuracy),
            h - pad + 14.0,
            p.eps
        );
    }
    s.push_str("</svg></div>");
    Some(s)
}

fn slice_bars(r: &AcceptReport) -> Option<String> {
    if r.slices.is_empty() {
        return None;
    }
    let mut sl: Vec<_> = r.slices.iter().collect();
    sl.sort_by(|a, b| a.accuracy.total_cmp(&b.accuracy));
    let n = sl.len().min(MAX_SLICES);
    let (w, row_h) = (360.0, 18.0);
    let h = row_h * n as f64 + 8.0;
    let mut s = format!(
        "<div class=\"plot\"><h3>Accuracy per slice (worst first)</h3><svg viewBox=\"0 0 {w} {h}\" width=\"100%\" role=\"img\">"
    );
    let min_rows = r.policy.min_slice_rows;
    for (i, m) in sl.iter().take(n).enumerate() {
        let y = i as f64 * row_h + 3.0;
        let bw = m.accuracy * (w - 190.0);
        let fill = if m.rows < min_rows {
            "#c5cad3"
        } else {
            "#2b7bb9"
        };
        let _ = write!(
            s,
            "<text x=\"0\" y=\"{:.1}\">{}</text><rect x=\"120\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"12\" fill=\"{fill}\"><title>{} rows</title></rect><text x=\"{:.1}\" y=\"{:.1}\">{} ({} rows)</text>",
            y + 10.0,
            esc(&mlsecops_core::shorten(
                &format!("{}={}", m.column, m.value),
                20
            )),
            m.rows,
            124.0 + bw,
            y + 10.0,
            pct(m.accuracy),
            m.rows
        );
    }
    s.push_str("</svg>");
    if sl.len() > n {
        let _ = write!(s, "<p class=\"sub\">{n} worst of {} slices</p>", sl.len());
    }
    s.push_str("<p class=\"sub\">grey: fewer rows than min_slice_rows (not gated)</p></div>");
    Some(s)
}

fn calibration(r: &AcceptReport) -> String {
    let (w, h, pad) = (360.0, 200.0, 30.0);
    let mut s = format!(
        "<div class=\"plot\"><h3>Calibration (ECE {ece:.4})</h3><svg viewBox=\"0 0 {w} {h}\" width=\"100%\" role=\"img\">\
<line x1=\"{pad}\" y1=\"{base}\" x2=\"{right}\" y2=\"{pad}\" stroke=\"#c5cad3\" stroke-dasharray=\"4\"/>",
        ece = r.ece,
        base = h - pad,
        right = w - pad
    );
    let bw = (w - 2.0 * pad) / r.metrics.calibration.len().max(1) as f64;
    for (i, b) in r.metrics.calibration.iter().enumerate() {
        if b.rows == 0 {
            continue;
        }
        let bh = b.accuracy * (h - 2.0 * pad);
        let _ = write!(
            s,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"#2b7bb9\" opacity=\".8\"><title>confidence {:.2}–{:.2}: {} rows, accuracy {}, mean confidence {}</title></rect>",
            pad + bw * i as f64,
            h - pad - bh,
            bw - 1.0,
            b.lo,
            b.hi,
            b.rows,
            pct(b.accuracy),
            pct(b.confidence)
        );
    }
    s.push_str("</svg><p class=\"sub\">bars: accuracy per confidence bin; dashed: perfect calibration</p></div>");
    s
}

/// The page.
#[must_use]
pub fn render(r: &AcceptReport) -> String {
    let mut h = String::with_capacity(32 << 10);
    let file = r.model["file"].as_str().unwrap_or("?");
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>mlsecops accept: {}</title><style>{CSS}\n{EXTRA_CSS}</style></head><body><h1>Acceptance: <code>{}</code></h1><p class=\"sub\">data <code>{}</code>, {} rows · model digest <code>{}</code></p>",
        esc(file),
        esc(file),
        esc(r.data["file"].as_str().unwrap_or("?")),
        r.metrics.rows,
        esc(r.model["digest"].as_str().unwrap_or("?"))
    );
    let _ = write!(
        h,
        "<div class=\"cards\"><div class=\"card {0}\"><b>{1}</b>verdict</div><div class=\"card info\"><b>{2}</b>accuracy</div><div class=\"card info\"><b>{3}</b>macro F1</div>",
        if r.verdict == "pass" { "pass" } else { "fail" },
        r.verdict.to_uppercase(),
        pct(r.accuracy),
        pct(r.f1_macro)
    );
    if let Some(ra) = r.robust_accuracy {
        let _ = write!(
            h,
            "<div class=\"card info\"><b>{}</b>robust accuracy</div>",
            pct(ra)
        );
    }
    if let Some(w) = &r.worst_slice {
        let _ = write!(
            h,
            "<div class=\"card info\"><b>{}</b>worst slice {}</div>",
            pct(w.accuracy),
            esc(&format!("{}={}", w.column, w.value))
        );
    }
    h.push_str("</div>");
    if !r.checks.is_empty() {
        h.push_str("<h2>Policy checks</h2><table><tr><th></th><th>Check</th><th>Value</th><th>Threshold</th><th>Reason</th></tr>");
        for c in &r.checks {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{:.4}</td><td>{}</td><td>{}</td></tr>",
                if c.passed {
                    "<span class=\"ok\">pass</span>"
                } else {
                    "<b>FAIL</b>"
                },
                esc(&c.name),
                c.value,
                c.threshold,
                esc(&c.reason)
            );
        }
        h.push_str("</table>");
    }
    if let Some(rob) = &r.robustness {
        let t = &rob.suite.threat;
        let _ = write!(
            h,
            "<h2>Robustness</h2><p>{} ε = {} within [{}, {}] on {} samples: clean accuracy {}, robust accuracy <b>{}</b></p><table><tr><th>Attack</th><th>Attacked</th><th>Flipped</th><th>Robust after</th><th>Queries / sample</th><th>Seconds</th></tr>",
            t.norm,
            t.eps,
            t.lo,
            t.hi,
            rob.suite.samples,
            pct(rob.suite.clean_accuracy),
            pct(rob.suite.robust_accuracy)
        );
        for a in &rob.suite.attacks {
            match &a.skipped {
                Some(why) => {
                    let _ = write!(
                        h,
                        "<tr><td>{}</td><td colspan=\"5\" class=\"sub\">skipped: {}</td></tr>",
                        esc(&a.attack),
                        esc(why)
                    );
                }
                None => {
                    let _ = write!(
                        h,
                        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.0}</td><td>{:.2}</td></tr>",
                        esc(&a.attack),
                        a.attacked,
                        a.flipped,
                        pct(a.robust_accuracy_after),
                        a.mean_queries,
                        a.seconds
                    );
                }
            }
        }
        h.push_str("</table>");
        if let Some(m) = &rob.suite.gradient_masking {
            let _ = write!(h, "<p><b>Gradient masking suspected:</b> {}</p>", esc(m));
        }
    }
    if let Some(b) = &r.baseline {
        let _ = write!(
            h,
            "<h2>Against the approved model</h2><p><code>{}</code>: accuracy {} → {} ({:+.2} points)</p>",
            esc(&b.source),
            pct(b.accuracy),
            pct(b.accuracy + b.accuracy_delta),
            b.accuracy_delta * 100.0
        );
    }
    h.push_str("<h2>Plots</h2><div class=\"plots\">");
    h.push_str(&confusion(r));
    if let Some(c) = curve(r) {
        h.push_str(&c);
    }
    if let Some(s) = slice_bars(r) {
        h.push_str(&s);
    }
    h.push_str(&calibration(r));
    h.push_str("</div><h2>Per class</h2><table><tr><th>Class</th><th>Precision</th><th>Recall</th><th>F1</th><th>Support</th></tr>");
    for c in &r.metrics.per_class {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&c.class),
            pct(c.precision),
            pct(c.recall),
            pct(c.f1),
            c.support
        );
    }
    h.push_str("</table></body></html>\n");
    h
}
