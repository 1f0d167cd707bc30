//! Label-issue precision, recall and F1 on the committed acceptance cases
//! (`crates/mlsecops-data/tests/cases/label-*`): each case directory holds a
//! `data.csv` (`id`, feature columns, `label`) and a `truth.json` whose
//! `positives` are the ids of the rows whose label was flipped. Also prints
//! the candidate learners' cross-validated scores and the wall time.
//!
//! Run: `cargo run --release -p mlsecops-stats --example label_cases -- [case dir ...]`
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use mlsecops_stats::Matrix;
use mlsecops_stats::label::{LabelOptions, find_label_issues_cv};
use mlsecops_stats::learn::SelectOptions;

/// Features, labels and ids of a case CSV (first column `id`, last `label`).
fn load(path: &str) -> (Matrix, Vec<u32>, Vec<u64>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut rows = Vec::new();
    let mut labels = Vec::new();
    let mut ids = Vec::new();
    for line in text.lines().skip(1) {
        let mut v: Vec<f64> = line.split(',').map(|s| s.trim().parse().unwrap()).collect();
        labels.push(v.pop().unwrap() as u32);
        ids.push(v.remove(0) as u64);
        rows.push(v);
    }
    (Matrix::from_rows(&rows).unwrap(), labels, ids)
}

/// The `positives` id list of a `truth.json`, read without a JSON parser.
fn positives(path: &str) -> Vec<u64> {
    let text = std::fs::read_to_string(path).unwrap();
    let start = text.find("\"positives\"").expect("positives");
    let open = start + text[start..].find('[').expect("[");
    let close = open + text[open..].find(']').expect("]");
    text[open + 1..close]
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

fn main() {
    let mut dirs: Vec<String> = std::env::args().skip(1).collect();
    if dirs.is_empty() {
        let base = concat!(env!("CARGO_MANIFEST_DIR"), "/../mlsecops-data/tests/cases");
        dirs = ["label-random-10", "label-targeted"]
            .iter()
            .map(|c| format!("{base}/{c}"))
            .collect();
    }
    for dir in &dirs {
        let (x, labels, ids) = load(&format!("{dir}/data.csv"));
        let pos = positives(&format!("{dir}/truth.json"));
        let truth: Vec<bool> = ids.iter().map(|id| pos.contains(id)).collect();
        let k = labels.iter().max().map_or(1, |&m| m as usize + 1);
        let t = Instant::now();
        let mut sel = SelectOptions::default();
        // Optional overrides for experiments: RFF_GAMMA, RFF_C, RFF_D,
        // RFF_ITER and
        // RFF_OFF (skip the kernel model, as above `rff_max_cells`).
        if std::env::var("RFF_OFF").is_ok() {
            sel.rff_max_cells = 0;
        }
        let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<f64>().ok());
        if let Some(g) = env("RFF_GAMMA") {
            sel.rff.gamma_scale = g;
        }
        if let Some(c) = env("RFF_C") {
            sel.rff.c = c;
        }
        if let Some(it) = env("RFF_ITER") {
            sel.rff.max_iter = it as usize;
        }
        if let Some(d) = env("RFF_D") {
            sel.rff.components = d as usize;
        }
        let rep = find_label_issues_cv(&x, &labels, k, &sel, &LabelOptions::default()).unwrap();
        let secs = t.elapsed().as_secs_f64();
        let tp = rep
            .is_issue
            .iter()
            .zip(&truth)
            .filter(|(a, b)| **a && **b)
            .count() as f64;
        let fl = rep.is_issue.iter().filter(|v| **v).count() as f64;
        let tr = truth.iter().filter(|v| **v).count() as f64;
        let p = if fl > 0.0 { tp / fl } else { 0.0 };
        let r = if tr > 0.0 { tp / tr } else { 0.0 };
        let f = if p + r > 0.0 {
            2.0 * p * r / (p + r)
        } else {
            0.0
        };
        let name = dir.rsplit('/').next().unwrap_or(dir);
        println!(
            "{name}: flipped {tr} flagged {fl} P {p:.3} R {r:.3} F1 {f:.3} model {} {secs:.2}s",
            rep.model.unwrap_or("-")
        );
        for m in &rep.models {
            println!(
                "    {:14} log-loss {:.4} accuracy {:.4}",
                m.model, m.log_loss, m.accuracy
            );
        }
    }
}
