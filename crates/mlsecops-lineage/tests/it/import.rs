//! Integration tests of the lineage imports: the sample pipeline in
//! `tests/data/pipeline/` (written by `tests/data/generate.py`) read as
//! OpenLineage events and as a DVC project, plus property tests that the
//! readers never panic and that the YAML reader round-trips what it reads.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use mlsecops_lineage::ArtifactKind;
use mlsecops_lineage::import::{
    DatasetRef, Expected, ImportedRun, parse_dvc_file, parse_dvc_lock, parse_run_events, yaml,
};
use proptest::prelude::*;
use serde_json::{Value, json};

fn pipeline() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pipeline")
}

fn sample(rel: &str) -> String {
    std::fs::read_to_string(pipeline().join(rel)).unwrap()
}

fn names(refs: &[DatasetRef]) -> Vec<&str> {
    refs.iter().map(|r| r.name.as_str()).collect()
}

/// (input, output) name pairs, leaving out code inputs.
fn edges(runs: &[ImportedRun]) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for run in runs {
        for i in run.inputs.iter().filter(|i| i.kind != ArtifactKind::Code) {
            for o in &run.outputs {
                out.insert((i.name.clone(), o.name.clone()));
            }
        }
    }
    out
}

#[test]
fn openlineage_pipeline() {
    let import = parse_run_events(&sample("openlineage.jsonl")).unwrap();
    let run_names: Vec<_> = import
        .runs
        .iter()
        .map(|r| r.name.as_deref().unwrap())
        .collect();
    assert_eq!(
        run_names,
        [
            "mlsecops-demo/clean",
            "mlsecops-demo/train_a",
            "mlsecops-demo/train_b",
            "mlsecops-demo/finetune"
        ]
    );
    assert_eq!(import.skipped.len(), 1);
    assert_eq!(import.skipped[0].line, 7);
    assert_eq!(
        import.skipped[0].run_id.as_deref(),
        Some("01930f6e-0000-7000-8000-0000000000c1")
    );

    let train_a = &import.runs[1];
    assert_eq!(train_a.source, "openlineage");
    assert_eq!(
        train_a.external_id.as_deref(),
        Some("01930f6e-0000-7000-8000-0000000000a1")
    );
    assert_eq!(
        train_a.code_commit.as_deref(),
        Some("4b825dc642cb6eb9a060e54bf8d69288fbee4904")
    );
    assert_eq!(
        train_a.event_time.as_deref(),
        Some("2025-01-15T09:14:30.000Z")
    );
    assert_eq!(
        train_a.parameters,
        json!({"hyperparameters": {"lr": 0.001, "epochs": 10}})
    );
    assert_eq!(train_a.environment["processing_engine"]["name"], "python");
    assert_eq!(names(&train_a.inputs), ["data/clean.csv"]);
    assert_eq!(names(&train_a.outputs), ["models/a.pt"]);
    assert_eq!(train_a.outputs[0].kind, ArtifactKind::Model);
    assert_eq!(train_a.outputs[0].expected, None);

    let finetune = &import.runs[3];
    assert_eq!(names(&finetune.inputs), ["models/a.pt", "data/clean.csv"]);
    let kinds: Vec<_> = finetune.inputs.iter().map(|i| i.kind).collect();
    assert_eq!(kinds, [ArtifactKind::Model, ArtifactKind::Dataset]);
    assert_eq!(names(&finetune.outputs), ["models/ft.pt"]);
    for r in import
        .runs
        .iter()
        .flat_map(|r| r.inputs.iter().chain(&r.outputs))
    {
        assert_eq!(r.namespace, "file");
    }
    // A START without outputs and a COMPLETE with them merge into one run.
    assert_eq!(names(&import.runs[0].outputs), ["data/clean.csv"]);
    assert!(import.runs[0].inputs[0].facets["schema"]["fields"].is_array());
}

#[test]
fn dvc_lock_pipeline() {
    let runs = parse_dvc_lock(&sample("dvc.lock")).unwrap();
    let stage_names: Vec<_> = runs.iter().map(|r| r.name.as_deref().unwrap()).collect();
    assert_eq!(stage_names, ["clean", "train_a", "train_b", "finetune"]);
    for r in &runs {
        assert_eq!(r.source, "dvc");
        assert_eq!(r.external_id, r.name);
    }
    let finetune = &runs[3];
    assert_eq!(
        finetune.parameters,
        json!({
            "params.yaml": {"finetune.epochs": 2, "finetune.lr": 0.0001},
            "cmd": "python src/finetune.py --base models/a.pt --data data/clean.csv --out models/ft.pt --epochs 2"
        })
    );
    assert_eq!(
        names(&finetune.inputs),
        ["data/clean.csv", "models/a.pt", "src/finetune.py"]
    );
    let kinds: Vec<_> = finetune.inputs.iter().map(|i| i.kind).collect();
    assert_eq!(
        kinds,
        [
            ArtifactKind::Dataset,
            ArtifactKind::Model,
            ArtifactKind::Code
        ]
    );
    assert_eq!(finetune.outputs[0].name, "models/ft.pt");
    assert_eq!(finetune.outputs[0].facets, json!({"hash": "md5"}));

    // Every recorded size matches the committed file.
    for r in runs.iter().flat_map(|r| r.inputs.iter().chain(&r.outputs)) {
        let e = r.expected.as_ref().unwrap();
        assert!(!e.is_dir);
        assert_eq!(e.md5.as_ref().map(String::len), Some(32), "{}", r.name);
        let len = std::fs::metadata(pipeline().join(&r.name)).unwrap().len();
        assert_eq!(e.size, Some(len), "{}", r.name);
    }
}

#[test]
fn dvc_pointer_file() {
    let run = parse_dvc_file(&sample("data/raw.csv.dvc")).unwrap();
    assert_eq!(run.source, "dvc");
    assert_eq!(run.external_id, None);
    assert_eq!(run.name.as_deref(), Some("raw.csv"));
    assert!(run.inputs.is_empty());
    let out = &run.outputs[0];
    assert_eq!(
        (out.namespace.as_str(), out.name.as_str()),
        ("file", "raw.csv")
    );
    let lock = parse_dvc_lock(&sample("dvc.lock")).unwrap();
    let raw_in_lock = lock[0]
        .inputs
        .iter()
        .find(|i| i.name == "data/raw.csv")
        .unwrap();
    assert_eq!(out.expected, raw_in_lock.expected);
    assert_eq!(
        out.expected,
        Some(Expected {
            md5: Some("d52e147f432e49abc82a999016e4bcb2".into()),
            size: Some(78),
            is_dir: false,
            nfiles: None
        })
    );
}

#[test]
fn both_formats_tell_the_same_lineage() {
    let ol = parse_run_events(&sample("openlineage.jsonl")).unwrap();
    let dvc = parse_dvc_lock(&sample("dvc.lock")).unwrap();
    let expected: BTreeSet<(String, String)> = [
        ("data/raw.csv", "data/clean.csv"),
        ("data/clean.csv", "models/a.pt"),
        ("data/clean.csv", "models/b.pt"),
        ("data/clean.csv", "models/ft.pt"),
        ("models/a.pt", "models/ft.pt"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_owned(), b.to_owned()))
    .collect();
    assert_eq!(edges(&ol.runs), expected);
    assert_eq!(edges(&dvc), expected);
}

#[test]
fn snapshots() {
    insta::assert_json_snapshot!(
        "openlineage_pipeline",
        parse_run_events(&sample("openlineage.jsonl")).unwrap()
    );
    insta::assert_json_snapshot!(
        "dvc_lock_pipeline",
        parse_dvc_lock(&sample("dvc.lock")).unwrap()
    );
    insta::assert_json_snapshot!(
        "dvc_pointer_raw",
        parse_dvc_file(&sample("data/raw.csv.dvc")).unwrap()
    );
}

#[test]
fn yaml_reads_the_lock_file_like_a_full_parser() {
    // What PyYAML (and ruamel.yaml, which DVC uses) read from the sample.
    let v = yaml::parse(&sample("dvc.lock")).unwrap();
    assert_eq!(v["schema"], "2.0");
    assert_eq!(
        v["stages"]["clean"]["deps"][1],
        json!({"path": "src/clean.py", "hash": "md5", "md5": "61708a990f4a6d7ee0987fb4447d26dc", "size": 44})
    );
    assert_eq!(
        v["stages"]["clean"]["params"],
        json!({"params.yaml": {"clean.drop_na": true}})
    );
    assert_eq!(v["stages"].as_object().unwrap().len(), 4);
}

// ---- property tests ------------------------------------------------------

/// Applies `edits` (position, operation, character) to `text`.
fn mutate(text: &str, edits: &[(usize, u8, char)]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for &(pos, op, c) in edits {
        let at = if chars.is_empty() {
            0
        } else {
            pos % (chars.len() + 1)
        };
        match op % 4 {
            0 => chars.insert(at, c),
            1 if at < chars.len() => {
                chars.remove(at);
            }
            2 if at < chars.len() => chars[at] = c,
            3 if at < chars.len() => {
                // Duplicate a slice: repeats structure (keys, brackets).
                let end = (at + 1 + pos % 40).min(chars.len());
                let dup: Vec<char> = chars[at..end].to_vec();
                chars.splice(at..at, dup);
            }
            _ => chars.push(c),
        }
    }
    chars.into_iter().collect()
}

fn all_parsers(text: &str) {
    let _ = yaml::parse(text);
    let _ = parse_dvc_file(text);
    let _ = parse_dvc_lock(text);
    let _ = parse_run_events(text);
}

const SIGNIFICANT: &str = " \n\t:#-[]{},'\"|>&*!?%@`\\.0123456789aeflnrstux~+";

fn edit() -> impl Strategy<Value = (usize, u8, char)> {
    (
        any::<usize>(),
        any::<u8>(),
        prop::sample::select(SIGNIFICANT.chars().collect::<Vec<_>>()),
    )
}

/// Deterministic choices for the emitter below.
struct Coin(u64);

impl Coin {
    fn flip(&mut self) -> bool {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 & 1 == 1
    }
}

/// A YAML rendering of `v`: block or flow collections, plain or quoted
/// scalars, comments and blank lines, chosen by `coin`.
struct Emitter {
    out: String,
    coin: Coin,
}

fn plain_safe(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c))
        && !matches!(s, "null" | "true" | "false")
}

impl Emitter {
    fn scalar(&mut self, v: &Value) -> String {
        match v {
            Value::String(s) if plain_safe(s) && self.coin.flip() => s.clone(),
            Value::String(s) if !s.contains(['\'', '\n', '\r']) && self.coin.flip() => {
                format!("'{s}'")
            }
            // JSON is valid YAML flow style.
            _ => v.to_string(),
        }
    }

    fn end_line(&mut self) {
        if self.coin.flip() && self.coin.flip() {
            self.out.push_str("  # note");
        }
        self.out.push('\n');
        if self.coin.flip() && self.coin.flip() {
            self.out.push('\n');
        }
    }

    fn pad(&mut self, n: usize) {
        self.out.extend(std::iter::repeat_n(' ', n));
    }

    /// After `key:` or `-` (already written).
    fn value(&mut self, v: &Value, indent: usize, in_map: bool) {
        match v {
            Value::Array(a) if !a.is_empty() && self.coin.flip() => {
                self.end_line();
                let at = if in_map && self.coin.flip() {
                    indent
                } else {
                    indent + 2
                };
                self.seq(a, at);
            }
            Value::Object(m) if !m.is_empty() && self.coin.flip() => {
                if !in_map && self.coin.flip() {
                    self.out.push(' ');
                    self.map(m, indent + 2, true);
                } else {
                    self.end_line();
                    self.map(m, indent + 2, false);
                }
            }
            _ => {
                self.out.push(' ');
                let s = self.scalar(v);
                self.out.push_str(&s);
                self.end_line();
            }
        }
    }

    fn seq(&mut self, a: &[Value], indent: usize) {
        for item in a {
            self.pad(indent);
            self.out.push('-');
            self.value(item, indent, false);
        }
    }

    fn map(&mut self, m: &serde_json::Map<String, Value>, indent: usize, first_inline: bool) {
        for (i, (k, v)) in m.iter().enumerate() {
            if i > 0 || !first_inline {
                self.pad(indent);
            }
            let key = if plain_safe(k) && self.coin.flip() {
                k.clone()
            } else {
                Value::String(k.clone()).to_string()
            };
            self.out.push_str(&key);
            self.out.push(':');
            self.value(v, indent, true);
        }
    }

    fn document(v: &Value, seed: u64) -> String {
        let mut e = Emitter {
            out: String::new(),
            coin: Coin(seed | 1),
        };
        if e.coin.flip() {
            e.out.push_str("---\n");
        }
        match v {
            Value::Array(a) if !a.is_empty() => e.seq(a, 0),
            Value::Object(m) if !m.is_empty() => e.map(m, 0, false),
            _ => {
                let s = e.scalar(v);
                e.out.push_str(&s);
                e.out.push('\n');
            }
        }
        e.out
    }
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|i| json!(i)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        "\\PC{0,16}".prop_map(Value::String),
        "[a-z][a-z0-9_.-]{0,8}".prop_map(Value::String),
        "[ a-z:#'\"\\\\-]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 48, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map("[a-z][a-z0-9_.]{0,6}|\\PC{0,6}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn parsers_never_panic_on_any_text(text in "\\PC{0,300}") {
        all_parsers(&text);
    }

    #[test]
    fn parsers_never_panic_on_yaml_like_text(text in "[ \n\t:#\\-\\[\\]{},'\"|>&*!?%@`.0-9a-z~+\\\\]{0,400}") {
        all_parsers(&text);
    }

    #[test]
    fn parsers_never_panic_on_mutated_samples(
        which in 0usize..3,
        edits in prop::collection::vec(edit(), 1..12),
    ) {
        let name = ["dvc.lock", "data/raw.csv.dvc", "openlineage.jsonl"][which];
        all_parsers(&mutate(&sample(name), &edits));
    }

    #[test]
    fn yaml_round_trips(v in json_value(), seed in any::<u64>()) {
        let text = Emitter::document(&v, seed);
        match yaml::parse(&text) {
            Ok(parsed) => prop_assert_eq!(parsed, v, "yaml:\n{}", text),
            Err(e) => prop_assert!(false, "{e}\nyaml:\n{text}"),
        }
    }
}
