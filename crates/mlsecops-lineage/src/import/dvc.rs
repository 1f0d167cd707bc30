//! DVC files read into [`ImportedRun`]s: `.dvc` pointer files (what `dvc
//! add`, `dvc import` and `dvc import-url` write) and `dvc.lock` (schema
//! `2.0`, and the 1.x layout with stages at the top level).
//!
//! Each `outs` / `deps` entry becomes a [`DatasetRef`]:
//! - `namespace` is `file` for a local path, the repository URL for a
//!   `dvc import` dependency (`repo: {url, rev, rev_lock}`), and
//!   `scheme://authority` for a URL (`s3://bucket/key` → `s3://bucket` +
//!   `key`; `ds://name` → `ds` + `name`);
//! - `name` is the path as written; in a `.dvc` file with a `wdir`, local
//!   paths are joined onto it lexically (`dvc.lock` paths are relative to the
//!   stage's `wdir`, which only `dvc.yaml` knows, and stay as written);
//! - `expected` carries `md5` (as written: a directory's ends in `.dir`,
//!   which sets `is_dir`, as do `nfiles` and a `files` list), `size` and
//!   `nfiles`; it is `None` when none of them is present (e.g. an import-url
//!   dependency that only has an `etag`);
//! - `facets` keeps every other field as written (`hash`, `etag`,
//!   `checksum`, `cloud`, `repo`, `desc`, `type`, `labels`, `meta`, …). An
//!   entry with an `md5` but no `hash` field is DVC 2.x's `md5-dos2unix`
//!   (equal to the plain md5 except for text files with CRLF line endings);
//!   the facets then say `"hash": "md5-dos2unix"` so a verifier can tell.
//!   DVC 3 writes `hash: md5`;
//! - `kind` is [`ArtifactKind::Model`] if the entry's `type` annotation is
//!   `model`, else [`kind_from_name`] of the path.
//!
//! Database dependencies (`db:` without a `path`) name no file and are left
//! out.

use serde_json::{Map, Value};

use super::yaml::{self, Entry, Node, NodeValue};
use super::{DatasetRef, Expected, FieldPath, ImportError, ImportedRun, kind_from_name};
use crate::model::ArtifactKind;

/// Reads a `.dvc` pointer file: outputs are its `outs`, inputs its `deps`
/// (only `dvc import` / `import-url` files have them); `name` is the first
/// output's name; `parameters` the other top-level fields (`md5`,
/// `frozen`, `wdir`, `desc`, `meta`, …).
pub fn parse_dvc_file(text: &str) -> Result<ImportedRun, ImportError> {
    let root_node = yaml::parse_document(text)?;
    let root = FieldPath::ROOT;
    let top = as_map(&root_node, &root)?;
    let wdir = opt_str(find(top, "wdir"), &root)?;
    let Some(outs) = find(top, "outs") else {
        return Err(root.key("outs").error(root_node.line, "missing"));
    };
    let outs_path = root.key("outs");
    let outputs = refs(&outs.value, &outs_path, wdir)?;
    if outputs.is_empty() {
        return Err(outs_path.error(outs.line, "expected at least one output"));
    }
    let inputs = match find(top, "deps") {
        Some(deps) => refs(&deps.value, &root.key("deps"), wdir)?,
        None => Vec::new(),
    };
    let mut parameters = Map::new();
    for e in top.iter().filter(|e| e.key != "outs" && e.key != "deps") {
        parameters.insert(e.key.clone(), e.value.to_json());
    }
    Ok(ImportedRun {
        source: "dvc".into(),
        external_id: None,
        name: outputs.first().map(|o| o.name.clone()),
        code_commit: None,
        parameters: Value::Object(parameters),
        environment: Value::Object(Map::new()),
        event_time: None,
        inputs,
        outputs,
    })
}

/// Reads a `dvc.lock`: one run per stage, in file order, named by the stage
/// (`name` and `external_id`); `parameters` maps each params file to its
/// values, plus the stage's `cmd` under `"cmd"`.
pub fn parse_dvc_lock(text: &str) -> Result<Vec<ImportedRun>, ImportError> {
    let root_node = yaml::parse_document(text)?;
    let root = FieldPath::ROOT;
    let top = as_map(&root_node, &root)?;
    let stages_path = root.key("stages");
    let stages: &[Entry] = match find(top, "schema") {
        Some(schema) => {
            if schema.value.as_str() != Some("2.0") {
                return Err(root.key("schema").error(
                    schema.line,
                    format!(
                        "unsupported dvc.lock schema {} (expected \"2.0\")",
                        schema.value.to_json()
                    ),
                ));
            }
            match find(top, "stages") {
                None => &[],
                Some(s) if s.value.is_null() => &[],
                Some(s) => as_map(&s.value, &stages_path)?,
            }
        }
        // DVC 1.x: the stages are the top-level keys.
        None => top,
    };
    let base = if find(top, "schema").is_some() {
        stages_path
    } else {
        root
    };
    let mut runs = Vec::with_capacity(stages.len());
    for stage in stages {
        let path = base.key(&stage.key);
        let fields = as_map(&stage.value, &path)?;
        let Some(cmd) = find(fields, "cmd") else {
            return Err(path.key("cmd").error(stage.line, "missing"));
        };
        let cmd_ok = match &cmd.value.value {
            NodeValue::Scalar(Value::String(_)) => true,
            NodeValue::Seq(items) => items.iter().all(|i| i.as_str().is_some()),
            _ => false,
        };
        if !cmd_ok {
            return Err(path
                .key("cmd")
                .error(cmd.line, "expected a string or a list of strings"));
        }
        let mut parameters = Map::new();
        if let Some(params) = find(fields, "params")
            && !params.value.is_null()
        {
            let params_path = path.key("params");
            for file in as_map(&params.value, &params_path)? {
                parameters.insert(file.key.clone(), file.value.to_json());
            }
        }
        parameters.insert("cmd".into(), cmd.value.to_json());
        let inputs = match find(fields, "deps") {
            Some(d) => refs(&d.value, &path.key("deps"), None)?,
            None => Vec::new(),
        };
        let outputs = match find(fields, "outs") {
            Some(o) => refs(&o.value, &path.key("outs"), None)?,
            None => Vec::new(),
        };
        runs.push(ImportedRun {
            source: "dvc".into(),
            external_id: Some(stage.key.clone()),
            name: Some(stage.key.clone()),
            code_commit: None,
            parameters: Value::Object(parameters),
            environment: Value::Object(Map::new()),
            event_time: None,
            inputs,
            outputs,
        });
    }
    Ok(runs)
}

// ---- helpers over the YAML tree ------------------------------------------

fn find<'n>(entries: &'n [Entry], key: &str) -> Option<&'n Entry> {
    entries.iter().find(|e| e.key == key)
}

fn as_map<'n>(node: &'n Node, path: &FieldPath<'_>) -> Result<&'n [Entry], ImportError> {
    node.as_map()
        .ok_or_else(|| path.error(node.line, "expected a mapping"))
}

/// A string field; `null` and absence are `None`.
fn opt_str<'n>(
    entry: Option<&'n Entry>,
    path: &FieldPath<'_>,
) -> Result<Option<&'n str>, ImportError> {
    let Some(e) = entry else { return Ok(None) };
    if e.value.is_null() {
        return Ok(None);
    }
    e.value
        .as_str()
        .map(Some)
        .ok_or_else(|| path.key(&e.key).error(e.line, "expected a string"))
}

/// A non-negative integer field; `null` and absence are `None`.
fn opt_u64(entry: Option<&Entry>, path: &FieldPath<'_>) -> Result<Option<u64>, ImportError> {
    let Some(e) = entry else { return Ok(None) };
    match &e.value.value {
        NodeValue::Scalar(Value::Null) => Ok(None),
        NodeValue::Scalar(Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64()),
        _ => Err(path
            .key(&e.key)
            .error(e.line, "expected a non-negative integer")),
    }
}

/// The entries of an `outs` / `deps` list (`null` is an empty list).
fn refs(
    node: &Node,
    path: &FieldPath<'_>,
    wdir: Option<&str>,
) -> Result<Vec<DatasetRef>, ImportError> {
    if node.is_null() {
        return Ok(Vec::new());
    }
    let items = node
        .as_seq()
        .ok_or_else(|| path.error(node.line, "expected a list"))?;
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        if let Some(r) = data_ref(item, &path.index(i), wdir)? {
            out.push(r);
        }
    }
    Ok(out)
}

const CONSUMED: [&str; 4] = ["path", "md5", "size", "nfiles"];

fn data_ref(
    node: &Node,
    path: &FieldPath<'_>,
    wdir: Option<&str>,
) -> Result<Option<DatasetRef>, ImportError> {
    let fields = as_map(node, path)?;
    let p = match find(fields, "path") {
        None if find(fields, "db").is_some() => return Ok(None),
        None => return Err(path.key("path").error(node.line, "missing")),
        Some(e) => match opt_str(Some(e), path)? {
            Some(s) if !s.is_empty() => s,
            _ => {
                return Err(path
                    .key("path")
                    .error(e.line, "expected a non-empty string"));
            }
        },
    };
    let md5 = opt_str(find(fields, "md5"), path)?;
    let size = opt_u64(find(fields, "size"), path)?;
    let nfiles = opt_u64(find(fields, "nfiles"), path)?;
    opt_str(find(fields, "hash"), path)?;
    let repo_url = match find(fields, "repo") {
        None => None,
        Some(repo) => {
            let repo_path = path.key("repo");
            let r = as_map(&repo.value, &repo_path)?;
            match opt_str(find(r, "url"), &repo_path)? {
                Some(u) if !u.is_empty() => Some(u),
                _ => return Err(repo_path.key("url").error(repo.line, "missing")),
            }
        }
    };
    let (namespace, name) = if let Some(url) = repo_url {
        (url.to_owned(), p.to_owned())
    } else if let Some(split) = split_url(p) {
        split
    } else {
        ("file".to_owned(), join_wdir(wdir, p))
    };
    let is_dir = md5.is_some_and(|m| m.ends_with(".dir"))
        || nfiles.is_some()
        || find(fields, "files").is_some();
    let expected =
        (md5.is_some() || size.is_some() || nfiles.is_some() || is_dir).then(|| Expected {
            md5: md5.map(str::to_owned),
            size,
            is_dir,
            nfiles,
        });
    let mut facets = Map::new();
    for e in fields
        .iter()
        .filter(|e| !CONSUMED.contains(&e.key.as_str()))
    {
        facets.insert(e.key.clone(), e.value.to_json());
    }
    if md5.is_some() && !facets.contains_key("hash") {
        facets.insert("hash".into(), Value::String("md5-dos2unix".into()));
    }
    let annotated_model = find(fields, "type")
        .and_then(|t| t.value.as_str())
        .is_some_and(|t| t.eq_ignore_ascii_case("model"));
    let kind = if annotated_model {
        ArtifactKind::Model
    } else {
        kind_from_name(p)
    };
    Ok(Some(DatasetRef {
        namespace,
        name,
        kind,
        expected,
        facets: Value::Object(facets),
    }))
}

/// `scheme://authority/path` → (`scheme://authority`, `path`);
/// `scheme://name` → (`scheme`, `name`); `None` for anything else.
fn split_url(p: &str) -> Option<(String, String)> {
    let (scheme, rest) = p.split_once("://")?;
    let valid = scheme.len() >= 2
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !valid {
        return None;
    }
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let path = path.trim_start_matches('/');
    if path.is_empty() {
        Some((scheme.to_owned(), authority.to_owned()))
    } else {
        Some((format!("{scheme}://{authority}"), path.to_owned()))
    }
}

/// Joins a relative path onto a `.dvc` file's `wdir`, lexically.
fn join_wdir(wdir: Option<&str>, p: &str) -> String {
    let Some(w) = wdir.filter(|w| !w.is_empty() && *w != ".") else {
        return p.to_owned();
    };
    if p.starts_with('/') {
        return p.to_owned();
    }
    let absolute = w.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in w.split('/').chain(p.split('/')) {
        match seg {
            "" | "." => {}
            ".." if parts.last().is_some_and(|l| *l != "..") => {
                parts.pop();
            }
            ".." if absolute => {}
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    if absolute {
        format!("/{joined}")
    } else {
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn add_pointer_file() {
        let run = parse_dvc_file("outs:\n- md5: 1a2b3c4d5e6f708192a3b4c5d6e7f809\n  size: 14445097\n  hash: md5\n  path: raw.csv\n").unwrap();
        assert_eq!(run.source, "dvc");
        assert_eq!(run.name.as_deref(), Some("raw.csv"));
        assert!(run.inputs.is_empty());
        let out = &run.outputs[0];
        assert_eq!(
            (out.namespace.as_str(), out.name.as_str()),
            ("file", "raw.csv")
        );
        assert_eq!(out.kind, ArtifactKind::Dataset);
        assert_eq!(
            out.expected,
            Some(Expected {
                md5: Some("1a2b3c4d5e6f708192a3b4c5d6e7f809".into()),
                size: Some(14_445_097),
                is_dir: false,
                nfiles: None
            })
        );
        assert_eq!(out.facets, json!({"hash": "md5"}));
    }

    #[test]
    fn legacy_directory_output() {
        let run = parse_dvc_file("outs:\n- md5: b8f4d5a78e55e88906d5f4aeaf43802e.dir\n  size: 100\n  nfiles: 3\n  path: images\n").unwrap();
        let e = run.outputs[0].expected.clone().unwrap();
        assert!(e.is_dir);
        assert_eq!(
            e.md5.as_deref(),
            Some("b8f4d5a78e55e88906d5f4aeaf43802e.dir")
        );
        assert_eq!(e.nfiles, Some(3));
        assert_eq!(run.outputs[0].facets, json!({"hash": "md5-dos2unix"}));
    }

    #[test]
    fn import_and_import_url() {
        let import = "md5: 4f2d7a2a4b6c1d9e8f7a6b5c4d3e2f10\nfrozen: true\ndeps:\n- path: get-started/data.xml\n  repo:\n    url: https://github.com/iterative/dataset-registry\n    rev_lock: f31f5c4cdae787b4bdeb97a717687d44667d9e62\nouts:\n- md5: a304afb96060aad90176268345e10355\n  size: 37891850\n  hash: md5\n  path: data.xml\n";
        let run = parse_dvc_file(import).unwrap();
        assert_eq!(run.inputs.len(), 1);
        let dep = &run.inputs[0];
        assert_eq!(
            dep.namespace,
            "https://github.com/iterative/dataset-registry"
        );
        assert_eq!(dep.name, "get-started/data.xml");
        assert_eq!(dep.expected, None);
        assert_eq!(
            dep.facets["repo"]["rev_lock"],
            "f31f5c4cdae787b4bdeb97a717687d44667d9e62"
        );
        assert_eq!(
            run.parameters,
            json!({"md5": "4f2d7a2a4b6c1d9e8f7a6b5c4d3e2f10", "frozen": true})
        );

        let url = "md5: 0f0e0d0c0b0a09080706050403020100\nfrozen: true\ndeps:\n- etag: '\"f432e270cd634c51296ecd2bc2f5e752-5\"'\n  size: 55140\n  path: s3://dvc-public/remote/get-started/data.xml\nouts:\n- md5: a304afb96060aad90176268345e10355\n  size: 55140\n  path: data.xml\n";
        let run = parse_dvc_file(url).unwrap();
        let dep = &run.inputs[0];
        assert_eq!(
            (dep.namespace.as_str(), dep.name.as_str()),
            ("s3://dvc-public", "remote/get-started/data.xml")
        );
        assert_eq!(
            dep.facets,
            json!({"etag": "\"f432e270cd634c51296ecd2bc2f5e752-5\""})
        );
        assert_eq!(dep.expected.as_ref().and_then(|e| e.size), Some(55140));
    }

    #[test]
    fn wdir_and_annotations() {
        let run = parse_dvc_file(
            "wdir: ../models\nouts:\n- path: ./bert\n  type: model\n  desc: base model\n",
        )
        .unwrap();
        let out = &run.outputs[0];
        assert_eq!(out.name, "../models/bert");
        assert_eq!(out.kind, ArtifactKind::Model);
        assert_eq!(out.expected, None);
        assert_eq!(run.name.as_deref(), Some("../models/bert"));
    }

    #[test]
    fn lock_file() {
        let lock = "schema: '2.0'\nstages:\n  prepare:\n    cmd: python src/prepare.py data/data.xml\n    deps:\n    - path: data/data.xml\n      hash: md5\n      md5: 22a1a2931c8370d3aeedd7183606fd7f\n      size: 14445097\n    - path: src/prepare.py\n      hash: md5\n      md5: f09ea0c15980b43010257ccb9f0055e2\n      size: 1576\n    params:\n      params.yaml:\n        prepare.seed: 20170428\n        prepare.split: 0.2\n    outs:\n    - path: data/prepared\n      hash: md5\n      md5: 153aad06d376b6595932470e459ef42a.dir\n      size: 8437363\n      nfiles: 2\n  evaluate:\n    cmd:\n    - python a.py\n    - python b.py\n";
        let runs = parse_dvc_lock(lock).unwrap();
        assert_eq!(runs.len(), 2);
        let r = &runs[0];
        assert_eq!(r.external_id.as_deref(), Some("prepare"));
        assert_eq!(
            r.parameters,
            json!({"params.yaml": {"prepare.seed": 20_170_428, "prepare.split": 0.2}, "cmd": "python src/prepare.py data/data.xml"})
        );
        assert_eq!(r.inputs[1].kind, ArtifactKind::Code);
        assert!(r.outputs[0].expected.as_ref().unwrap().is_dir);
        assert_eq!(
            runs[1].parameters,
            json!({"cmd": ["python a.py", "python b.py"]})
        );
        assert!(runs[1].inputs.is_empty());
    }

    #[test]
    fn legacy_lock_file() {
        let runs = parse_dvc_lock("train:\n  cmd: python train.py\n  deps:\n  - path: data\n    md5: abc.dir\n  outs:\n  - path: model.pkl\n    md5: def\n").unwrap();
        assert_eq!(runs[0].name.as_deref(), Some("train"));
        assert_eq!(runs[0].outputs[0].kind, ArtifactKind::Model);
    }

    #[test]
    fn errors_name_line_and_field() {
        let check = |text: &str, expected: &str| {
            let e = parse_dvc_lock(text).unwrap_err();
            assert_eq!(e.to_string(), expected, "{text}");
        };
        check(
            "schema: '3.0'\n",
            "line 1: schema: unsupported dvc.lock schema \"3.0\" (expected \"2.0\")",
        );
        check(
            "schema: '2.0'\nstages:\n  s:\n    cmd: x\n    outs:\n    - path: a\n    - md5: b\n",
            "line 7: stages.s.outs[1].path: missing",
        );
        check(
            "schema: '2.0'\nstages:\n  s:\n    cmd: x\n    deps:\n    - path: a\n      size: -1\n",
            "line 7: stages.s.deps[0].size: expected a non-negative integer",
        );
        check(
            "schema: '2.0'\nstages:\n  s:\n    deps: []\n",
            "line 3: stages.s.cmd: missing",
        );
        check(
            "schema: '2.0'\nstages:\n  s:\n    cmd: {a: 1}\n",
            "line 4: stages.s.cmd: expected a string or a list of strings",
        );
        check("- a\n", "line 1: (top level): expected a mapping");
        check(
            "schema: '2.0'\nstages:\n  s:\n    cmd: x\n    outs: 3\n",
            "line 5: stages.s.outs: expected a list",
        );
        let e = parse_dvc_file("md5: x\n").unwrap_err();
        assert_eq!(e.to_string(), "line 1: outs: missing");
        let e = parse_dvc_file("outs: []\n").unwrap_err();
        assert_eq!(e.to_string(), "line 1: outs: expected at least one output");
        let e = parse_dvc_file("outs:\n- path: a\n  md5: [1]\n").unwrap_err();
        assert_eq!(e.to_string(), "line 3: outs[0].md5: expected a string");
        let e = parse_dvc_file("").unwrap_err();
        assert_eq!(e.to_string(), "line 1: (top level): expected a mapping");
    }

    #[test]
    fn db_dependencies_are_left_out() {
        let runs = parse_dvc_lock("schema: '2.0'\nstages:\n  q:\n    cmd: x\n    deps:\n    - db:\n        connection: pg\n        query: select 1\n    outs:\n    - path: out.csv\n").unwrap();
        assert!(runs[0].inputs.is_empty());
    }

    #[test]
    fn urls_and_paths() {
        assert_eq!(
            split_url("s3://b/k/x.csv"),
            Some(("s3://b".into(), "k/x.csv".into()))
        );
        assert_eq!(
            split_url("ds://mydataset"),
            Some(("ds".into(), "mydataset".into()))
        );
        assert_eq!(
            split_url("https://h.example/a"),
            Some(("https://h.example".into(), "a".into()))
        );
        assert_eq!(split_url("data/x.csv"), None);
        assert_eq!(split_url("c://x"), None);
        assert_eq!(join_wdir(Some("a/b"), "../c"), "a/c");
        assert_eq!(join_wdir(Some(".."), "x"), "../x");
        assert_eq!(join_wdir(Some("/abs"), "../../x"), "/x");
        assert_eq!(join_wdir(None, "./x"), "./x");
        assert_eq!(join_wdir(Some("w"), "/abs/x"), "/abs/x");
    }
}
