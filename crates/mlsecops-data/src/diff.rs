//! Version diff of two datasets: schema changes, key-based row changes
//! (added, removed, modified, relabelled) and per-column distribution
//! shift (PSI on the old version's decile bins, Kolmogorov–Smirnov,
//! Jensen–Shannon, L∞ on category frequencies), each reported once per
//! column. Distributions come from mergeable sketches, so the shift part
//! streams; the key-based part keeps one small record per old row and is
//! bounded by [`DiffOptions::max_rows`] (an error past it).

use std::collections::HashMap;

use arrow_schema::DataType;
use mlsecops_core::{Finding, Location, Severity, shorten};
use mlsecops_stats::sketch::{FrequentValues, TDigest, hash64};
use serde::Serialize;

use crate::cells::{TextCells, f64_at, is_numeric};
use crate::error::DataError;
use crate::ingest::Source;

/// Rule ids of diff findings.
pub mod rules {
    /// A column was added, removed or changed type.
    pub const SCHEMA: &str = "DATA-DRIFT-SCHEMA";
    /// Rows were added, removed or modified (by key).
    pub const ROWS: &str = "DATA-DRIFT-ROWS";
    /// A row kept its key but changed its label.
    pub const RELABEL: &str = "DATA-DRIFT-RELABEL";
    /// A column's distribution shifted.
    pub const SHIFT: &str = "DATA-DRIFT-SHIFT";
}

/// How to diff.
#[derive(Clone, Debug)]
pub struct DiffOptions {
    /// Key column matching rows of the two versions.
    pub key: Option<String>,
    /// Label column (relabels are reported).
    pub label: Option<String>,
    /// Most rows of the old version held for a key-based diff (default 5 M).
    pub max_rows: u64,
    /// Examples kept per kind of change (default 10).
    pub examples: usize,
    /// PSI above which a shift is MEDIUM (default 0.1).
    pub psi_medium: f64,
    /// PSI above which a shift is HIGH (default 0.25).
    pub psi_high: f64,
}

impl Default for DiffOptions {
    fn default() -> Self {
        Self {
            key: None,
            label: None,
            max_rows: 5_000_000,
            examples: 10,
            psi_medium: 0.1,
            psi_high: 0.25,
        }
    }
}

/// A modified row: its key and the columns whose values changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RowChange {
    pub key: String,
    pub columns: Vec<String>,
}

/// A label change of a row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Relabel {
    pub key: String,
    pub old: String,
    pub new: String,
}

/// Key-based row changes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RowDiff {
    pub added: u64,
    pub removed: u64,
    pub modified: u64,
    pub unchanged: u64,
    /// Keys seen more than once in a version (later rows ignored).
    pub duplicate_keys: u64,
    pub added_examples: Vec<String>,
    pub removed_examples: Vec<String>,
    pub modified_examples: Vec<RowChange>,
    pub relabels: u64,
    pub relabel_examples: Vec<Relabel>,
}

/// Distribution shift of one column.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ColumnShift {
    pub column: String,
    /// Population stability index on the old version's bins.
    pub psi: f64,
    /// Kolmogorov–Smirnov statistic (numeric columns).
    pub ks: Option<f64>,
    /// Jensen–Shannon divergence (base 2, in [0, 1]) on the same bins.
    pub js: f64,
    /// Largest absolute change of a category's frequency (categorical columns).
    pub linf: Option<f64>,
    /// `None` below the medium threshold.
    pub severity: Option<Severity>,
}

/// The difference between two versions of a dataset.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Diff {
    pub old_rows: u64,
    pub new_rows: u64,
    pub added_columns: Vec<String>,
    pub removed_columns: Vec<String>,
    /// (column, old type, new type).
    pub retyped_columns: Vec<(String, String, String)>,
    pub rows: Option<RowDiff>,
    pub shifts: Vec<ColumnShift>,
}

enum Sketch {
    Num(TDigest),
    Cat(FrequentValues),
}

struct Side {
    rows: u64,
    sketches: Vec<Sketch>,
}

struct OldRow {
    hashes: Box<[u64]>,
    label: Option<String>,
    matched: bool,
}

fn sketch_side(
    src: &Source,
    cols: &[(String, bool)],
    mut per_row: impl FnMut(&arrow_array::RecordBatch, usize) -> Result<(), DataError>,
) -> Result<Side, DataError> {
    let s = src.as_strings();
    let schema = s.schema().clone();
    let idx: Vec<Option<usize>> = cols.iter().map(|(c, _)| schema.index_of(c).ok()).collect();
    let mut sketches: Vec<Sketch> = cols
        .iter()
        .map(|(_, num)| {
            if *num {
                Sketch::Num(TDigest::new(200.0))
            } else {
                Sketch::Cat(FrequentValues::new(1000))
            }
        })
        .collect();
    let mut rows = 0;
    let mut text = String::new();
    for b in s.batches() {
        let b = b?;
        let n = b.batch.num_rows();
        rows += n as u64;
        for (sk, i) in sketches.iter_mut().zip(&idx) {
            let Some(i) = *i else { continue };
            let a = b.batch.column(i);
            match sk {
                Sketch::Num(t) => (0..n).filter_map(|r| f64_at(a, r)).for_each(|v| t.add(v)),
                Sketch::Cat(f) => {
                    let cells = TextCells::new(a);
                    for r in 0..n {
                        if cells.write(r, &mut text) {
                            f.add(&text);
                        }
                    }
                }
            }
        }
        for r in 0..n {
            per_row(&b.batch, r)?;
        }
    }
    Ok(Side { rows, sketches })
}

const EPS: f64 = 1e-4;

fn psi_js(p: &[f64], q: &[f64]) -> (f64, f64) {
    let mut psi = 0.0;
    let mut js = 0.0;
    for (&a, &b) in p.iter().zip(q) {
        let (a1, b1) = (a.max(EPS), b.max(EPS));
        psi += (b1 - a1) * (b1 / a1).ln();
        let m = f64::midpoint(a, b);
        if a > 0.0 {
            js += 0.5 * a * (a / m).log2();
        }
        if b > 0.0 {
            js += 0.5 * b * (b / m).log2();
        }
    }
    (psi, js.clamp(0.0, 1.0))
}

fn shift_num(old: &TDigest, new: &TDigest) -> Option<(f64, f64, f64)> {
    old.quantile(0.5)?;
    new.quantile(0.5)?;
    let mut edges: Vec<f64> = (1..10)
        .filter_map(|k| old.quantile(f64::from(k) / 10.0))
        .collect();
    edges.dedup();
    let bins = |t: &TDigest| -> Vec<f64> {
        let mut out = Vec::with_capacity(edges.len() + 1);
        let mut lo = 0.0;
        for &e in &edges {
            let r = t.rank(e);
            out.push((r - lo).max(0.0));
            lo = r;
        }
        out.push((1.0 - lo).max(0.0));
        out
    };
    let (psi, js) = psi_js(&bins(old), &bins(new));
    let mut ks: f64 = 0.0;
    for k in 0..=100 {
        let q = f64::from(k) / 100.0;
        for x in [old.quantile(q), new.quantile(q)].into_iter().flatten() {
            ks = ks.max((old.rank(x) - new.rank(x)).abs());
        }
    }
    Some((psi, ks, js))
}

fn shift_cat(old: &FrequentValues, new: &FrequentValues) -> Option<(f64, f64, f64)> {
    let (to, tn) = (old.total() as f64, new.total() as f64);
    if to == 0.0 || tn == 0.0 {
        return None;
    }
    let mut keys: Vec<&String> = old.counts.keys().chain(new.counts.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut p = Vec::with_capacity(keys.len() + 1);
    let mut q = Vec::with_capacity(keys.len() + 1);
    let mut linf: f64 = 0.0;
    for k in keys {
        let a = old.counts.get(k).copied().unwrap_or(0) as f64 / to;
        let b = new.counts.get(k).copied().unwrap_or(0) as f64 / tn;
        linf = linf.max((a - b).abs());
        p.push(a);
        q.push(b);
    }
    p.push(old.other as f64 / to);
    q.push(new.other as f64 / tn);
    let (psi, js) = psi_js(&p, &q);
    Some((psi, linf, js))
}

fn hash_cells(
    batch: &arrow_array::RecordBatch,
    idx: &[Option<usize>],
    r: usize,
    text: &mut String,
) -> Box<[u64]> {
    idx.iter()
        .map(|i| {
            i.map_or(0, |i| {
                let a = batch.column(i);
                if TextCells::new(a).write(r, text) {
                    hash64(text.as_bytes())
                } else {
                    0x6e75_6c6c
                }
            })
        })
        .collect()
}

/// Compares two versions of a dataset.
pub fn diff(old: &Source, new: &Source, opts: &DiffOptions) -> Result<Diff, DataError> {
    let (os, ns) = (old.typed_schema().clone(), new.typed_schema().clone());
    let mut d = Diff::default();
    for f in ns.fields() {
        match os.field_with_name(f.name()) {
            Err(_) => d.added_columns.push(f.name().clone()),
            Ok(of) => {
                let (a, b) = (of.data_type(), f.data_type());
                let same = a == b || (is_numeric(a) && is_numeric(b)) || (is_text(a) && is_text(b));
                if !same {
                    d.retyped_columns
                        .push((f.name().clone(), a.to_string(), b.to_string()));
                }
            }
        }
    }
    for f in os.fields() {
        if ns.field_with_name(f.name()).is_err() {
            d.removed_columns.push(f.name().clone());
        }
    }
    // Shared columns, numeric when numeric in the old version.
    let shared: Vec<(String, bool)> = os
        .fields()
        .iter()
        .filter(|f| ns.field_with_name(f.name()).is_ok())
        .map(|f| (f.name().clone(), is_numeric(f.data_type())))
        .collect();
    for k in [&opts.key, &opts.label].into_iter().flatten() {
        for (s, name) in [(&os, old.display_name()), (&ns, new.display_name())] {
            if s.index_of(k).is_err() {
                return Err(DataError::Schema {
                    file: name,
                    message: format!("no column `{k}`"),
                });
            }
        }
    }
    let compare: Vec<String> = shared
        .iter()
        .map(|(c, _)| c.clone())
        .filter(|c| Some(c) != opts.key.as_ref() && Some(c) != opts.label.as_ref())
        .collect();
    let mut old_rows: HashMap<String, OldRow> = HashMap::new();
    let mut rd = RowDiff::default();
    let mut text = String::new();
    let old_side = {
        let ostr = old.as_strings();
        let sch = ostr.schema().clone();
        let key_i = opts.key.as_ref().and_then(|k| sch.index_of(k).ok());
        let label_i = opts.label.as_ref().and_then(|k| sch.index_of(k).ok());
        let idx: Vec<Option<usize>> = compare.iter().map(|c| sch.index_of(c).ok()).collect();
        let name = old.display_name();
        sketch_side(old, &shared, |batch, r| {
            let Some(ki) = key_i else { return Ok(()) };
            if old_rows.len() as u64 >= opts.max_rows {
                return Err(DataError::Limit {
                    file: name.clone(),
                    message: format!(
                        "more than {} rows for a key-based diff\nhint: raise the row cap or diff without a key",
                        opts.max_rows
                    ),
                });
            }
            let key = TextCells::new(batch.column(ki)).get(r).unwrap_or_default();
            let label = label_i.and_then(|li| TextCells::new(batch.column(li)).get(r));
            let hashes = hash_cells(batch, &idx, r, &mut text);
            match old_rows.entry(key) {
                std::collections::hash_map::Entry::Occupied(_) => rd.duplicate_keys += 1,
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(OldRow {
                        hashes,
                        label,
                        matched: false,
                    });
                }
            }
            Ok(())
        })?
    };
    let mut seen_new: std::collections::HashSet<u64> = std::collections::HashSet::new();
    let new_side = {
        let nstr = new.as_strings();
        let sch = nstr.schema().clone();
        let key_i = opts.key.as_ref().and_then(|k| sch.index_of(k).ok());
        let label_i = opts.label.as_ref().and_then(|k| sch.index_of(k).ok());
        let idx: Vec<Option<usize>> = compare.iter().map(|c| sch.index_of(c).ok()).collect();
        sketch_side(new, &shared, |batch, r| {
            let Some(ki) = key_i else { return Ok(()) };
            let key = TextCells::new(batch.column(ki)).get(r).unwrap_or_default();
            if !seen_new.insert(hash64(key.as_bytes())) {
                rd.duplicate_keys += 1;
                return Ok(());
            }
            match old_rows.get_mut(&key) {
                None => {
                    rd.added += 1;
                    if rd.added_examples.len() < opts.examples {
                        rd.added_examples.push(shorten(&key, 120));
                    }
                }
                Some(o) => {
                    o.matched = true;
                    let hashes = hash_cells(batch, &idx, r, &mut text);
                    let changed: Vec<String> = compare
                        .iter()
                        .zip(hashes.iter().zip(o.hashes.iter()))
                        .filter(|(_, (a, b))| a != b)
                        .map(|(c, _)| c.clone())
                        .collect();
                    let label = label_i.and_then(|li| TextCells::new(batch.column(li)).get(r));
                    let relabel = opts.label.is_some() && label != o.label;
                    if relabel {
                        rd.relabels += 1;
                        if rd.relabel_examples.len() < opts.examples {
                            rd.relabel_examples.push(Relabel {
                                key: shorten(&key, 120),
                                old: o.label.clone().unwrap_or_default(),
                                new: label.unwrap_or_default(),
                            });
                        }
                    }
                    if changed.is_empty() && !relabel {
                        rd.unchanged += 1;
                    } else {
                        rd.modified += 1;
                        if rd.modified_examples.len() < opts.examples {
                            let mut columns = changed;
                            if relabel {
                                columns.extend(opts.label.clone());
                            }
                            rd.modified_examples.push(RowChange {
                                key: shorten(&key, 120),
                                columns,
                            });
                        }
                    }
                }
            }
            Ok(())
        })?
    };
    if opts.key.is_some() {
        let mut removed: Vec<&String> = old_rows
            .iter()
            .filter(|(_, o)| !o.matched)
            .map(|(k, _)| k)
            .collect();
        rd.removed = removed.len() as u64;
        removed.sort();
        rd.removed_examples = removed
            .into_iter()
            .take(opts.examples)
            .map(|k| shorten(k, 120))
            .collect();
        d.rows = Some(rd);
    }
    d.old_rows = old_side.rows;
    d.new_rows = new_side.rows;
    for ((name, _), (a, b)) in shared
        .iter()
        .zip(old_side.sketches.iter().zip(&new_side.sketches))
    {
        if Some(name) == opts.key.as_ref() {
            continue;
        }
        let (psi, ks, js, linf) = match (a, b) {
            (Sketch::Num(a), Sketch::Num(b)) => match shift_num(a, b) {
                Some((psi, ks, js)) => (psi, Some(ks), js, None),
                None => continue,
            },
            (Sketch::Cat(a), Sketch::Cat(b)) => match shift_cat(a, b) {
                Some((psi, linf, js)) => (psi, None, js, Some(linf)),
                None => continue,
            },
            _ => continue,
        };
        let severity = if psi > opts.psi_high {
            Some(Severity::High)
        } else if psi > opts.psi_medium {
            Some(Severity::Medium)
        } else {
            None
        };
        d.shifts.push(ColumnShift {
            column: name.clone(),
            psi,
            ks,
            js,
            linf,
            severity,
        });
    }
    Ok(d)
}

fn is_text(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

impl Diff {
    /// Findings for a report; `path` names the new version.
    #[must_use]
    pub fn findings(&self, path: &str) -> Vec<Finding> {
        let col = |c: &str| Location {
            column: Some(c.to_owned()),
            ..Location::file(path)
        };
        let mut out = Vec::new();
        for c in &self.added_columns {
            out.push(Finding::new(
                rules::SCHEMA,
                Severity::Medium,
                col(c),
                format!("column `{c}` was added"),
            ));
        }
        for c in &self.removed_columns {
            out.push(Finding::new(
                rules::SCHEMA,
                Severity::High,
                col(c),
                format!("column `{c}` was removed"),
            ));
        }
        for (c, a, b) in &self.retyped_columns {
            out.push(
                Finding::new(
                    rules::SCHEMA,
                    Severity::High,
                    col(c),
                    format!("column `{c}` changed type"),
                )
                .with_evidence(format!("{a} -> {b}")),
            );
        }
        if let Some(r) = &self.rows {
            if r.added + r.removed + r.modified > 0 {
                let sev = if r.modified > 0 || r.removed > 0 {
                    Severity::Medium
                } else {
                    Severity::Low
                };
                let mut ev = Vec::new();
                ev.extend(r.added_examples.iter().take(3).map(|k| format!("+{k}")));
                ev.extend(r.removed_examples.iter().take(3).map(|k| format!("-{k}")));
                ev.extend(
                    r.modified_examples
                        .iter()
                        .take(3)
                        .map(|m| format!("~{} ({})", m.key, m.columns.join(","))),
                );
                out.push(
                    Finding::new(
                        rules::ROWS,
                        sev,
                        Location::file(path),
                        format!(
                            "{} rows added, {} removed, {} modified",
                            r.added, r.removed, r.modified
                        ),
                    )
                    .with_evidence(ev.join(" ")),
                );
            }
            for rl in &r.relabel_examples {
                out.push(
                    Finding::new(
                        rules::RELABEL,
                        Severity::High,
                        Location {
                            row_id: Some(rl.key.clone()),
                            ..Location::file(path)
                        },
                        "row kept its key but changed its label",
                    )
                    .with_evidence(format!("{} -> {}", rl.old, rl.new)),
                );
            }
            if r.relabels as usize > r.relabel_examples.len() {
                out.push(Finding::new(
                    rules::RELABEL,
                    Severity::High,
                    Location::file(path),
                    format!("{} rows changed their label in total", r.relabels),
                ));
            }
        }
        for s in &self.shifts {
            if let Some(sev) = s.severity {
                let mut ev = format!("psi={:.3} js={:.3}", s.psi, s.js);
                if let Some(ks) = s.ks {
                    ev.push_str(&format!(" ks={ks:.3}"));
                }
                if let Some(l) = s.linf {
                    ev.push_str(&format!(" linf={l:.3}"));
                }
                out.push(
                    Finding::new(
                        rules::SHIFT,
                        sev,
                        col(&s.column),
                        format!("distribution of `{}` shifted", s.column),
                    )
                    .with_evidence(ev),
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::{Format, IngestOptions};

    fn src(text: String) -> Source {
        Source::from_bytes(
            "t.csv",
            text.into_bytes(),
            Format::Csv,
            &IngestOptions::default(),
        )
        .unwrap()
    }

    #[test]
    fn key_diff_schema_relabel_and_shift() {
        let mut a = String::from("id,x,c,label,gone\n");
        let mut b = String::from("id,x,c,label,new\n");
        for i in 0..1000 {
            a.push_str(&format!(
                "{i},{},{},{},1\n",
                i % 100,
                if i % 2 == 0 { "p" } else { "q" },
                i % 2
            ));
            if i == 5 {
                continue; // removed
            }
            let label = if i == 7 { 9 } else { i % 2 };
            let x = if i == 8 { 1000 } else { i % 100 + 50 };
            b.push_str(&format!("{i},{x},p,{label},1\n"));
        }
        b.push_str("5000,1,p,0,1\n");
        let d = diff(
            &src(a),
            &src(b),
            &DiffOptions {
                key: Some("id".into()),
                label: Some("label".into()),
                ..DiffOptions::default()
            },
        )
        .unwrap();
        assert_eq!(d.added_columns, vec!["new"]);
        assert_eq!(d.removed_columns, vec!["gone"]);
        let r = d.rows.as_ref().unwrap();
        assert_eq!((r.added, r.removed), (1, 1));
        assert_eq!(r.relabels, 1);
        assert_eq!(
            r.relabel_examples[0],
            Relabel {
                key: "7".into(),
                old: "1".into(),
                new: "9".into()
            }
        );
        let x = d.shifts.iter().find(|s| s.column == "x").unwrap();
        assert_eq!(x.severity, Some(Severity::High), "{x:?}");
        let c = d.shifts.iter().find(|s| s.column == "c").unwrap();
        assert!((c.linf.unwrap() - 0.5).abs() < 0.01 && c.severity == Some(Severity::High));
        let f = d.findings("b.csv");
        for id in [rules::SCHEMA, rules::ROWS, rules::RELABEL, rules::SHIFT] {
            assert!(f.iter().any(|f| f.rule == id), "{id}");
        }
        assert_eq!(
            f.iter()
                .filter(|f| f.rule == rules::SHIFT && f.location.column.as_deref() == Some("x"))
                .count(),
            1
        );
    }

    #[test]
    fn same_data_has_no_shift() {
        let mut a = String::from("x\n");
        for i in 0..500 {
            a.push_str(&format!("{}\n", i % 37));
        }
        let d = diff(&src(a.clone()), &src(a), &DiffOptions::default()).unwrap();
        assert!(
            d.shifts
                .iter()
                .all(|s| s.severity.is_none() && s.psi < 0.01)
        );
        assert!(d.findings("a").is_empty());
    }
}
