//! Golden tests against OpenSSF model-signing: every case of
//! `tests/data/oms/cases.json` (written by `generate.py` with the reference
//! implementation) is materialized, hashed, and compared with the statement
//! the reference produced: predicate values and JSON types, subject name and
//! subject digest.

use std::path::{Path, PathBuf};

use mlsecops_sign::hashing::{HashOptions, hash_model};
use mlsecops_sign::manifest::{
    DEFAULT_IGNORE_PATHS, HashType, Manifest, Method, PREDICATE_TYPE, Serialization,
};
use serde_json::Value;

pub(crate) fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/oms")
}

pub(crate) fn cases() -> Vec<Value> {
    let text = std::fs::read_to_string(data_dir().join("cases.json")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    doc["cases"].as_array().unwrap().clone()
}

/// Creates a case's tree (files from hex, directories, symlinks) under `root`.
pub(crate) fn materialize(tree: &Value, root: &Path) {
    for (path, spec) in tree.as_object().unwrap() {
        let p = root.join(path);
        if spec.get("dir").is_some() {
            std::fs::create_dir_all(&p).unwrap();
            continue;
        }
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        if let Some(target) = spec["symlink"].as_str() {
            #[cfg(unix)]
            std::os::unix::fs::symlink(target, &p).unwrap();
            #[cfg(not(unix))]
            let _ = target;
        } else {
            std::fs::write(&p, unhex(spec["hex"].as_str().unwrap())).unwrap();
        }
    }
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The serialization a case's reference configuration corresponds to.
pub(crate) fn serialization(config: &Value) -> Serialization {
    let hash: HashType = config["hash"].as_str().unwrap().parse().unwrap();
    let method = match config["method"].as_str().unwrap() {
        "files" => Method::Files,
        _ => Method::Shards {
            shard_size: config["shard_size"].as_u64().unwrap_or(1_000_000_000),
        },
    };
    let mut s = Serialization::new(method, hash);
    if !config["ignore_git_paths"].as_bool().unwrap() {
        s.ignore_paths.clear();
    }
    s.ignore_paths.extend(
        config["ignore_paths"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().to_owned()),
    );
    s.allow_symlinks = config["allow_symlinks"].as_bool().unwrap();
    s
}

#[test]
fn golden_cases_match_model_signing() {
    let cases = cases();
    assert!(cases.len() >= 15);
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        if cfg!(not(unix)) && name.starts_with("symlinks") {
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        materialize(&case["tree"], dir.path());
        let model = dir.path().join(case["model"].as_str().unwrap());
        let ser = serialization(&case["config"]);
        let statement = &case["statement"];
        let subject = &statement["subject"][0];
        let mut last = None;
        for jobs in [1, 3] {
            let m = hash_model(&model, &ser, &HashOptions { jobs, cache: None }).unwrap();
            assert_eq!(
                m.to_predicate(),
                statement["predicate"],
                "{name} (jobs {jobs})"
            );
            assert_eq!(m.model_name, subject["name"].as_str().unwrap(), "{name}");
            assert_eq!(
                m.root_digest_hex(),
                subject["digest"]["sha256"].as_str().unwrap(),
                "{name}"
            );
            last = Some(m);
        }
        let ours = last.unwrap();
        assert_eq!(statement["predicateType"], PREDICATE_TYPE);
        let parsed = Manifest::from_predicate(
            PREDICATE_TYPE,
            &statement["predicate"],
            subject["name"].as_str().unwrap(),
        )
        .unwrap();
        assert_eq!(parsed, ours, "{name}: parsing the reference's predicate");
        assert!(parsed.diff(&ours).is_empty());
    }
}

#[test]
fn numbers_are_written_like_the_reference() {
    for case in cases() {
        let statement = &case["statement"];
        let Some(size) = statement["predicate"]["serialization"].get("shard_size") else {
            continue;
        };
        let ours = Manifest::from_predicate(PREDICATE_TYPE, &statement["predicate"], "m").unwrap();
        let text =
            serde_json::to_string(&ours.to_predicate()["serialization"]["shard_size"]).unwrap();
        // Python's json writes 8.0 and 1000000000.0; so does serde_json.
        assert_eq!(text, serde_json::to_string(size).unwrap());
        assert!(text.ends_with(".0"), "{text}");
    }
}

#[test]
fn diff_names_added_removed_and_changed_files() {
    let case = cases()
        .into_iter()
        .find(|c| c["name"] == "files-sha256")
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    materialize(&case["tree"], dir.path());
    let model = dir.path().join("model");
    let ser = serialization(&case["config"]);
    let signed =
        Manifest::from_predicate(PREDICATE_TYPE, &case["statement"]["predicate"], "model").unwrap();
    std::fs::write(model.join("a/b/c.txt"), b"C").unwrap();
    std::fs::remove_file(model.join("odd.bin")).unwrap();
    std::fs::write(model.join("sub/new.bin"), b"new").unwrap();
    // Ignored paths stay ignored.
    std::fs::write(model.join(".git/HEAD"), b"ref").unwrap();
    let now = hash_model(&model, &ser, &HashOptions::default()).unwrap();
    let d = signed.diff(&now);
    assert_eq!(d.added, ["sub/new.bin"]);
    assert_eq!(d.removed, ["odd.bin"]);
    assert_eq!(d.changed, ["a/b/c.txt"]);
}

#[test]
fn cache_gives_identical_manifests() {
    for case in cases()
        .iter()
        .filter(|c| c["name"] == "files-blake2" || c["name"] == "shards-sha256-8")
    {
        let dir = tempfile::tempdir().unwrap();
        materialize(&case["tree"], dir.path());
        let model = dir.path().join("model");
        let cache = dir.path().join("hash-cache.json");
        let ser = serialization(&case["config"]);
        let opts = HashOptions {
            jobs: 2,
            cache: Some(&cache),
        };
        let a = hash_model(&model, &ser, &opts).unwrap();
        let b = hash_model(&model, &ser, &opts).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_predicate(), case["statement"]["predicate"]);
        assert!(cache.exists());
    }
}

#[test]
fn default_ignores_are_the_references() {
    let case = cases()
        .into_iter()
        .find(|c| c["name"] == "files-sha256")
        .unwrap();
    let recorded: Vec<&str> = case["statement"]["predicate"]["serialization"]["ignore_paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(recorded, DEFAULT_IGNORE_PATHS);
}

/// With `MLSECOPS_TEST_PYTHON` pointing at a Python that has
/// `model-signing` installed, checks that cases.json is what the reference
/// produces today.
#[test]
fn golden_file_is_fresh() {
    let Ok(python) = std::env::var("MLSECOPS_TEST_PYTHON") else {
        assert!(
            std::env::var("MLSECOPS_REQUIRE_SERVICES").as_deref() != Ok("1"),
            "MLSECOPS_TEST_PYTHON is required (MLSECOPS_REQUIRE_SERVICES=1)"
        );
        println!(
            "SKIP golden_file_is_fresh: set MLSECOPS_TEST_PYTHON to a python with model-signing installed"
        );
        return;
    };
    let status = std::process::Command::new(python)
        .arg(data_dir().join("generate.py"))
        .arg("--check")
        .status()
        .unwrap();
    assert!(
        status.success(),
        "tests/data/oms/cases.json is stale: rerun generate.py"
    );
}

fn leaves(v: &Value, at: &str, out: &mut Vec<String>) {
    out.push(at.to_owned());
    match v {
        Value::Object(m) => m
            .iter()
            .for_each(|(k, c)| leaves(c, &format!("{at}/{k}"), out)),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, c)| leaves(c, &format!("{at}/{i}"), out)),
        _ => {}
    }
}

fn hostile_value() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop::sample::select(vec![
            "",
            ".",
            "..",
            "/",
            "a:b:c:d",
            "f:0:0",
            "f:18446744073709551615:1",
            "x:1:2",
            "sha256",
            "blake2b",
            "blake3",
            "shards",
            "files",
            "00",
            "zz",
            "\u{0}",
            "a/../b",
        ])
        .prop_map(Value::from),
        Just(serde_json::json!([])),
        Just(serde_json::json!({})),
        Just(serde_json::json!([{"name": 1}])),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 512, ..proptest::prelude::ProptestConfig::default() })]

    /// Replacing any part of a reference predicate with a hostile value
    /// gives a manifest or an error, never a panic; a manifest that parses
    /// still serializes and hashes.
    #[test]
    fn hostile_predicates_never_panic(case in 0usize..64, leaf in 0usize..10_000, value in hostile_value()) {
        let cases = cases();
        let mut predicate = cases[case % cases.len()]["statement"]["predicate"].clone();
        let mut paths = Vec::new();
        leaves(&predicate, "", &mut paths);
        let at = &paths[leaf % paths.len()];
        if at.is_empty() {
            predicate = value;
        } else {
            *predicate.pointer_mut(at).unwrap() = value;
        }
        if let Ok(m) = Manifest::from_predicate(PREDICATE_TYPE, &predicate, "m") {
            let _ = m.root_digest();
            let again = Manifest::from_predicate(PREDICATE_TYPE, &m.to_predicate(), "m").unwrap();
            proptest::prop_assert_eq!(again, m);
        }
        let _ = Manifest::from_legacy_subjects(&predicate);
    }
}
