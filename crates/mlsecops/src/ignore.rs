//! `.mlsecopsignore.toml`: suppress findings by rule id and path, with a
//! reason and an optional expiry. Suppressed findings stay in the report
//! (SARIF shows them as suppressions); expired entries warn and no longer apply.

use std::path::Path;

use anyhow::Context;
use mlsecops_core::{Finding, Suppression};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    id: String,
    #[serde(default)]
    paths: Vec<String>,
    reason: String,
    #[serde(default)]
    expires: Option<toml::value::Datetime>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    ignore: Vec<Entry>,
}

/// A civil date (year, month, day).
type Date = (i64, u32, u32);

/// A parsed ignore file.
#[derive(Debug)]
pub struct IgnoreFile {
    entries: Vec<(Entry, globset::GlobSet, Option<Date>)>,
}

/// Today's civil date (UTC) from the system clock.
fn today() -> (i64, u32, u32) {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    civil_from_days((secs / 86_400) as i64)
}

/// Howard Hinnant's days-to-civil algorithm.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

impl IgnoreFile {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading ignore file {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("invalid ignore file {}", path.display()))
    }

    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let f: File = toml::from_str(text)?;
        let mut entries = Vec::new();
        for e in f.ignore {
            let mut b = globset::GlobSetBuilder::new();
            for p in &e.paths {
                b.add(
                    globset::Glob::new(p)
                        .with_context(|| format!("bad glob `{p}` for {}", e.id))?,
                );
            }
            let expires = match &e.expires {
                Some(dt) => {
                    let d = dt.date.with_context(|| {
                        format!("`expires` of {} must be a date (YYYY-MM-DD)", e.id)
                    })?;
                    Some((i64::from(d.year), u32::from(d.month), u32::from(d.day)))
                }
                None => None,
            };
            entries.push((e, b.build()?, expires));
        }
        Ok(Self { entries })
    }

    /// Marks matching findings as suppressed; returns warnings (expired entries).
    pub fn apply(&self, findings: &mut [Finding]) -> Vec<String> {
        let now = today();
        let mut warnings = Vec::new();
        for (e, globs, expires) in &self.entries {
            let expired = expires.is_some_and(|x| x < now);
            if expired {
                let (y, m, d) = expires.unwrap_or_default();
                warnings.push(format!("ignore entry for {} expired on {y:04}-{m:02}-{d:02} and no longer applies ({})", e.id, e.reason));
                continue;
            }
            for f in findings.iter_mut() {
                let id_ok = e.id == "*" || e.id.eq_ignore_ascii_case(&f.rule);
                let path_ok = e.paths.is_empty() || globs.is_match(&f.location.path);
                if id_ok && path_ok && f.suppressed.is_none() {
                    f.suppressed = Some(Suppression {
                        reason: e.reason.clone(),
                        expires: expires.map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}")),
                    });
                }
            }
        }
        warnings
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlsecops_core::{Location, Severity};

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_779), (2026, 11, 22));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn suppresses_and_expires() {
        let f = IgnoreFile::parse(
            r#"
[[ignore]]
id = "PICKLE-UNKNOWN-GLOBAL"
paths = ["models/*.pkl"]
reason = "our own class"

[[ignore]]
id = "EMBEDDED-SECRET"
reason = "old"
expires = 2001-01-01
"#,
        )
        .unwrap();
        let mut v = vec![
            Finding::new(
                "PICKLE-UNKNOWN-GLOBAL",
                Severity::Medium,
                Location::file("models/a.pkl"),
                "m",
            ),
            Finding::new(
                "PICKLE-UNKNOWN-GLOBAL",
                Severity::Medium,
                Location::file("other/a.pkl"),
                "m",
            ),
            Finding::new("EMBEDDED-SECRET", Severity::High, Location::file("x"), "m"),
        ];
        let w = f.apply(&mut v);
        assert!(v[0].suppressed.is_some());
        assert!(v[1].suppressed.is_none());
        assert!(v[2].suppressed.is_none());
        assert_eq!(w.len(), 1);
        assert!(
            IgnoreFile::parse("[[ignore]]\nid='X'\n").is_err(),
            "reason is required"
        );
    }
}
