//! SARIF 2.1.0: one run, the rules that fired, one result per finding.
//! Archive members become logical locations; byte offsets become regions.

use std::collections::BTreeMap;

use mlsecops_core::{Report, Severity};
use serde_json::{Value, json};

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// GitHub's `security-severity` scale.
fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "0.0",
    }
}

/// A relative URI reference for a path (percent-encoding what URIs forbid).
fn uri(path: &str) -> String {
    let p = path.replace('\\', "/");
    let p = p.strip_prefix("./").unwrap_or(&p);
    let mut out = String::with_capacity(p.len());
    for b in p.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.starts_with('/') {
        format!("file://{out}")
    } else {
        out
    }
}

pub fn render(r: &Report) -> Value {
    let mut rule_ix: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &r.findings {
        let n = rule_ix.len();
        rule_ix.entry(f.rule.as_str()).or_insert(n);
    }
    let mut rules: Vec<(usize, Value)> = rule_ix
        .iter()
        .map(|(id, &i)| {
            let doc = super::rule_doc(id);
            let sev = doc.map_or(Severity::Medium, |d| d.severity);
            let v = json!({
                "id": id,
                "name": doc.map_or(*id, |d| d.name),
                "shortDescription": {"text": doc.map_or(*id, |d| d.name)},
                "fullDescription": {"text": doc.map_or("", |d| d.summary)},
                "help": {
                    "text": doc.map_or(String::new(), |d| format!("{}\n\nWhy: {}\n\nFix: {}", d.summary, d.why, d.fix)),
                    "markdown": doc.map_or(String::new(), |d| format!("{}\n\n**Why:** {}\n\n**Fix:** {}\n\n**References:** {}", d.summary, d.why, d.fix, d.references.join("; "))),
                },
                "defaultConfiguration": {"level": level(sev)},
                "properties": {"security-severity": security_severity(sev), "tags": ["security", "ml-supply-chain"]},
            });
            (i, v)
        })
        .collect();
    rules.sort_by_key(|(i, _)| *i);
    let results: Vec<Value> = r
        .findings
        .iter()
        .map(|f| {
            let mut phys = json!({"artifactLocation": {"uri": uri(&f.location.path)}});
            if f.location.members.is_empty()
                && let Some(o) = f.location.offset
            {
                phys["region"] = json!({"byteOffset": o});
            }
            let mut loc = json!({"physicalLocation": phys});
            if !f.location.members.is_empty() {
                let fq = f.location.members.join("/");
                let mut ll = json!({"fullyQualifiedName": fq, "kind": "member"});
                if let Some(o) = f.location.offset {
                    ll["name"] = json!(format!("{}@{o}", f.location.members.last().map_or("", String::as_str)));
                }
                loc["logicalLocations"] = json!([ll]);
            }
            let mut msg = f.message.clone();
            if !f.location.members.is_empty() {
                msg = format!("{msg} (in {})", f.location.members.join(" › "));
            }
            let mut res = json!({
                "ruleId": f.rule,
                "ruleIndex": rule_ix[f.rule.as_str()],
                "level": level(f.severity),
                "message": {"text": msg},
                "locations": [loc],
                "partialFingerprints": {"mlsecops/v1": format!("{}:{}:{}:{}", f.rule, f.location.path, f.location.members.join("!"), f.evidence.as_deref().unwrap_or(&f.message))},
                "properties": {"severity": f.severity.as_str(), "security-severity": security_severity(f.severity)},
            });
            if let Some(e) = &f.evidence {
                res["properties"]["evidence"] = json!(e);
            }
            if let Some(s) = &f.suppressed {
                res["suppressions"] = json!([{"kind": "external", "justification": s.reason}]);
            }
            res
        })
        .collect();
    let notifications: Vec<Value> = r
        .errors
        .iter()
        .map(|e| {
            let mut at = e.path.clone();
            for m in &e.members {
                at.push('!');
                at.push_str(m);
            }
            json!({
                "level": "error",
                "message": {"text": format!("{at}: {}", e.message)},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri(&e.path)}}}],
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": r.tool.name,
                "version": r.tool.version,
                "semanticVersion": r.tool.version,
                "informationUri": "https://github.com/mlsecops/mlsecops",
                "rules": rules.into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
            }},
            "invocations": [{"executionSuccessful": true, "toolExecutionNotifications": notifications}],
            "results": results,
        }],
    })
}
