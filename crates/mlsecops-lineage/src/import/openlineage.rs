//! OpenLineage run events (JSON Lines, one JSON object, or a JSON array of
//! events) read into [`ImportedRun`]s.
//!
//! - Events that share a `runId` merge into one run, in order of first
//!   appearance; inputs and outputs are unions keyed by `namespace` + `name`,
//!   their facets merged (a later facet replaces an earlier one of the same
//!   name; a facet `{"_deleted": true}` removes it).
//! - A run with a FAIL or ABORT event and no COMPLETE event is not imported:
//!   it is listed in [`OpenLineageImport::skipped`] with the reason. So are
//!   DatasetEvents and JobEvents (static lineage, no run). Runs seen only as
//!   START / RUNNING / OTHER are imported (they have not failed). An absent
//!   or unknown `eventType` counts as OTHER.
//! - `name` is `job.namespace/job.name`; `external_id` the `runId`;
//!   `event_time` the COMPLETE event's `eventTime` (else the last one seen).
//! - `code_commit` is the `version` of the `sourceCodeLocation` job facet.
//! - `environment` holds the event `producer` and the `processing_engine`
//!   and `environment-properties` run facets and the `sourceCodeLocation`
//!   job facet; `parameters` every other run facet (`nominalTime`, `parent`,
//!   `spark_properties`, custom facets, …).
//! - Facets lose their `_producer` / `_schemaURL` bookkeeping; a facet whose
//!   JSON exceeds [`MAX_FACET_BYTES`] (a Spark logical plan, a big column
//!   lineage) is left out.
//! - A dataset is a model if its `mlsecops_artifact` facet (the one our
//!   OpenLineage export writes) says so (an object with a `kind` string, or
//!   a bare string; any [`ArtifactKind`] name works), or its
//!   `datasetType` facet's `datasetType` is `MODEL` (any case); otherwise
//!   [`kind_from_name`] decides. OpenLineage carries no checksums, so
//!   `expected` is always `None`.
//!
//! Required per the spec (an error naming the line and field if absent or
//! mistyped): `eventTime`, `run.runId`, `job.namespace`, `job.name`, and
//! `namespace` / `name` of every dataset.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{DatasetRef, FieldPath, ImportError, ImportedRun, kind_from_name};
use crate::model::ArtifactKind;

/// Largest input accepted, in bytes.
pub const MAX_OPENLINEAGE_BYTES: usize = 64 * 1024 * 1024;
/// Facets larger than this (serialized) are left out of the import.
pub const MAX_FACET_BYTES: usize = 16 * 1024;

/// Run facets that describe where the run happened rather than how it was
/// configured; they go to [`ImportedRun::environment`].
const ENVIRONMENT_RUN_FACETS: [&str; 2] = ["processing_engine", "environment-properties"];

/// The runs read from a batch of OpenLineage events.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OpenLineageImport {
    /// One per `runId`, in order of first appearance.
    pub runs: Vec<ImportedRun>,
    /// Runs and events not imported, in line order.
    pub skipped: Vec<SkippedRun>,
}

/// A run (or run-less event) left out of an import, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedRun {
    /// Line of the run's first event.
    pub line: usize,
    /// `None` for DatasetEvents and JobEvents.
    pub run_id: Option<String>,
    pub reason: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EventType {
    Start,
    Running,
    Complete,
    Abort,
    Fail,
    Other,
}

impl EventType {
    fn parse(s: &str) -> Self {
        match s.to_ascii_uppercase().as_str() {
            "START" => Self::Start,
            "RUNNING" => Self::Running,
            "COMPLETE" => Self::Complete,
            "ABORT" => Self::Abort,
            "FAIL" => Self::Fail,
            _ => Self::Other,
        }
    }
}

/// Reads OpenLineage run events; see the module docs for the mapping.
pub fn parse_run_events(text: &str) -> Result<OpenLineageImport, ImportError> {
    if text.len() > MAX_OPENLINEAGE_BYTES {
        return Err(ImportError::TooLarge {
            size: text.len(),
            limit: MAX_OPENLINEAGE_BYTES,
        });
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut b = Builder::default();
    for_each_event(text, |line, value| b.event(line, value))?;
    Ok(b.finish())
}

// ---- splitting the input into events -------------------------------------

fn json_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Counts lines incrementally as offsets move forward.
struct LineCounter<'a> {
    b: &'a [u8],
    at: usize,
    line: usize,
    line_start: usize,
}

impl LineCounter<'_> {
    /// (1-based line, 0-based column) of `offset`, which must not be before
    /// the previous call's.
    fn locate(&mut self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.b.len());
        while self.at < offset {
            if self.b[self.at] == b'\n' {
                self.line += 1;
                self.line_start = self.at + 1;
            }
            self.at += 1;
        }
        (self.line, offset - self.line_start)
    }
}

fn json_error(e: &serde_json::Error, base_line: usize, base_col: usize) -> ImportError {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let msg = full.strip_suffix(&suffix).unwrap_or(&full);
    let line = base_line + e.line().saturating_sub(1);
    let col = if e.line() <= 1 {
        base_col + e.column()
    } else {
        e.column()
    };
    ImportError::Syntax {
        line: line.max(1),
        message: format!("invalid JSON at column {col}: {msg}"),
    }
}

fn for_each_event(
    text: &str,
    mut f: impl FnMut(usize, Value) -> Result<(), ImportError>,
) -> Result<(), ImportError> {
    let b = text.as_bytes();
    let mut lines = LineCounter {
        b,
        at: 0,
        line: 1,
        line_start: 0,
    };
    let Some(first) = b.iter().position(|&c| !json_ws(c)) else {
        return Ok(());
    };
    if b[first] == b'[' {
        for (start, end) in array_elements(
            b,
            first,
            &mut LineCounter {
                b,
                at: 0,
                line: 1,
                line_start: 0,
            },
        )? {
            let (line, col) = lines.locate(start);
            let v: Value =
                serde_json::from_str(&text[start..end]).map_err(|e| json_error(&e, line, col))?;
            f(line, v)?;
        }
        return Ok(());
    }
    // JSON Lines, one object, or several concatenated objects.
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    loop {
        let off = stream.byte_offset();
        let start = off + b[off..].iter().take_while(|&&c| json_ws(c)).count();
        let (line, _) = lines.locate(start);
        match stream.next() {
            None => return Ok(()),
            Some(Ok(v)) => f(line, v)?,
            Some(Err(e)) => return Err(json_error(&e, 1, 0)),
        }
    }
}

/// Byte ranges of the elements of the JSON array opening at `open`; the
/// elements themselves are parsed later (this only tracks strings and
/// bracket depth, so it runs in linear time without recursion).
fn array_elements(
    b: &[u8],
    open: usize,
    lines: &mut LineCounter<'_>,
) -> Result<Vec<(usize, usize)>, ImportError> {
    let err = |lines: &mut LineCounter<'_>, at: usize, message: &str| ImportError::Syntax {
        line: lines.locate(at).0,
        message: message.to_owned(),
    };
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut in_str = false;
    let mut escaped = false;
    let mut elem: Option<usize> = None;
    let mut last_end = open + 1;
    let mut i = open + 1;
    while i < b.len() {
        let c = b[i];
        if in_str {
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_str = false;
                last_end = i + 1;
            }
            i += 1;
            continue;
        }
        match c {
            b'"' => {
                in_str = true;
                elem.get_or_insert(i);
            }
            b'[' | b'{' => {
                depth += 1;
                elem.get_or_insert(i);
            }
            b']' | b'}' if depth > 0 => {
                depth -= 1;
                last_end = i + 1;
            }
            b']' if depth == 0 => {
                if let Some(s) = elem.take() {
                    out.push((s, last_end));
                } else if !out.is_empty() {
                    return Err(err(
                        lines,
                        i,
                        "invalid JSON: trailing comma in the event array",
                    ));
                }
                if let Some(j) = b[i + 1..].iter().position(|&c| !json_ws(c)) {
                    return Err(err(
                        lines,
                        i + 1 + j,
                        "invalid JSON: content after the event array",
                    ));
                }
                return Ok(out);
            }
            b'}' => return Err(err(lines, i, "invalid JSON: unbalanced `}`")),
            b',' if depth == 0 => {
                let Some(s) = elem.take() else {
                    return Err(err(
                        lines,
                        i,
                        "invalid JSON: empty element in the event array",
                    ));
                };
                out.push((s, last_end));
            }
            c if json_ws(c) => {}
            _ => {
                elem.get_or_insert(i);
                last_end = i + 1;
            }
        }
        i += 1;
    }
    Err(err(lines, open, "invalid JSON: unterminated event array"))
}

// ---- reading one event ---------------------------------------------------

fn take_str(
    obj: &mut Map<String, Value>,
    key: &str,
    path: &FieldPath<'_>,
    line: usize,
) -> Result<Option<String>, ImportError> {
    match obj.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(path.key(key).error(line, "expected a string")),
    }
}

fn take_req_str(
    obj: &mut Map<String, Value>,
    key: &str,
    path: &FieldPath<'_>,
    line: usize,
) -> Result<String, ImportError> {
    match take_str(obj, key, path, line)? {
        Some(s) if !s.is_empty() => Ok(s),
        Some(_) => Err(path.key(key).error(line, "expected a non-empty string")),
        None => Err(path.key(key).error(line, "missing")),
    }
}

fn take_obj(
    obj: &mut Map<String, Value>,
    key: &str,
    path: &FieldPath<'_>,
    line: usize,
) -> Result<Option<Map<String, Value>>, ImportError> {
    match obj.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(_) => Err(path.key(key).error(line, "expected an object")),
    }
}

struct DatasetIn {
    namespace: String,
    name: String,
    facets: Map<String, Value>,
}

fn take_datasets(
    obj: &mut Map<String, Value>,
    key: &str,
    extra_facets: &str,
    line: usize,
) -> Result<Vec<DatasetIn>, ImportError> {
    let root = FieldPath::ROOT;
    let path = root.key(key);
    let items = match obj.remove(key) {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(path.error(line, "expected an array")),
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let p = path.index(i);
        let Value::Object(mut d) = item else {
            return Err(p.error(line, "expected an object"));
        };
        let namespace = take_req_str(&mut d, "namespace", &p, line)?;
        let name = take_req_str(&mut d, "name", &p, line)?;
        let mut facets = Map::new();
        for fk in ["facets", extra_facets] {
            if let Some(m) = take_obj(&mut d, fk, &p, line)? {
                // Deletion markers stay until merged into the run.
                facets.extend(m);
            }
        }
        out.push(DatasetIn {
            namespace,
            name,
            facets,
        });
    }
    Ok(out)
}

/// Merges facets: later ones replace earlier ones, `{"_deleted": true}`
/// removes.
fn merge_facets(into: &mut Map<String, Value>, from: Map<String, Value>) {
    for (k, v) in from {
        if v.get("_deleted") == Some(&Value::Bool(true)) {
            into.remove(&k);
        } else {
            into.insert(k, v);
        }
    }
}

// ---- merging events into runs -------------------------------------------

#[derive(Default)]
struct Datasets {
    list: Vec<(String, String, Map<String, Value>)>,
    index: HashMap<(String, String), usize>,
}

impl Datasets {
    fn add(&mut self, d: DatasetIn) {
        let key = (d.namespace, d.name);
        if let Some(&i) = self.index.get(&key) {
            merge_facets(&mut self.list[i].2, d.facets);
        } else {
            let mut facets = Map::new();
            merge_facets(&mut facets, d.facets);
            self.list.push((key.0.clone(), key.1.clone(), facets));
            self.index.insert(key, self.list.len() - 1);
        }
    }

    fn finish(self) -> Vec<DatasetRef> {
        self.list
            .into_iter()
            .map(|(namespace, name, facets)| {
                let kind = kind_of(&name, &facets);
                DatasetRef {
                    namespace,
                    name,
                    kind,
                    expected: None,
                    facets: Value::Object(clean_facets(facets)),
                }
            })
            .collect()
    }
}

fn kind_of(name: &str, facets: &Map<String, Value>) -> ArtifactKind {
    if let Some(k) = facets.get("mlsecops_artifact") {
        let declared = match k {
            Value::String(s) => Some(s.as_str()),
            Value::Object(o) => o.get("kind").and_then(Value::as_str),
            _ => None,
        };
        if let Some(kind) = declared.and_then(|s| ArtifactKind::parse(&s.to_ascii_lowercase())) {
            return kind;
        }
    }
    let typed_model = facets
        .get("datasetType")
        .and_then(|f| f.get("datasetType"))
        .and_then(Value::as_str)
        .is_some_and(|t| t.eq_ignore_ascii_case("model"));
    if typed_model {
        ArtifactKind::Model
    } else {
        kind_from_name(name)
    }
}

/// An `io::Write` sink that fails once more than `limit` bytes arrive.
struct Limited {
    n: usize,
    limit: usize,
}

impl std::io::Write for Limited {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.n += buf.len();
        if self.n > self.limit {
            Err(std::io::Error::other("facet too large"))
        } else {
            Ok(buf.len())
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn fits(v: &Value, limit: usize) -> bool {
    serde_json::to_writer(&mut Limited { n: 0, limit }, v).is_ok()
}

/// Drops facet bookkeeping and oversized facets.
fn clean_facets(m: Map<String, Value>) -> Map<String, Value> {
    m.into_iter()
        .filter_map(|(k, mut v)| {
            if let Value::Object(o) = &mut v {
                o.remove("_producer");
                o.remove("_schemaURL");
            }
            fits(&v, MAX_FACET_BYTES).then_some((k, v))
        })
        .collect()
}

struct RunAcc {
    line: usize,
    run_id: String,
    name: String,
    code_commit: Option<String>,
    run_facets: Map<String, Value>,
    environment: Map<String, Value>,
    complete_time: Option<String>,
    last_time: Option<String>,
    complete: bool,
    failure: Option<EventType>,
    inputs: Datasets,
    outputs: Datasets,
}

#[derive(Default)]
struct Builder {
    runs: Vec<RunAcc>,
    index: HashMap<String, usize>,
    skipped: Vec<SkippedRun>,
}

impl Builder {
    fn event(&mut self, line: usize, value: Value) -> Result<(), ImportError> {
        let root = FieldPath::ROOT;
        let Value::Object(mut obj) = value else {
            return Err(ImportError::Syntax {
                line,
                message: "expected a JSON object (an OpenLineage run event)".into(),
            });
        };
        if !obj.contains_key("run") {
            let reason = if obj.contains_key("dataset") {
                "dataset event (no run)"
            } else if obj.contains_key("job") {
                "job event (no run)"
            } else {
                return Err(root.key("run").error(line, "missing"));
            };
            self.skipped.push(SkippedRun {
                line,
                run_id: None,
                reason: reason.into(),
            });
            return Ok(());
        }
        let kind = match obj.remove("eventType") {
            None | Some(Value::Null) => EventType::Other,
            Some(Value::String(s)) => EventType::parse(&s),
            Some(_) => return Err(root.key("eventType").error(line, "expected a string")),
        };
        let time = take_req_str(&mut obj, "eventTime", &root, line)?;
        let run_path = root.key("run");
        let mut run = take_obj(&mut obj, "run", &root, line)?
            .ok_or_else(|| run_path.error(line, "missing"))?;
        let run_id = take_req_str(&mut run, "runId", &run_path, line)?;
        let run_facets = take_obj(&mut run, "facets", &run_path, line)?;
        let job_path = root.key("job");
        let mut job = take_obj(&mut obj, "job", &root, line)?
            .ok_or_else(|| job_path.error(line, "missing"))?;
        let namespace = take_req_str(&mut job, "namespace", &job_path, line)?;
        let job_name = take_req_str(&mut job, "name", &job_path, line)?;
        let job_facets = take_obj(&mut job, "facets", &job_path, line)?;
        let producer = take_str(&mut obj, "producer", &root, line)?;
        let inputs = take_datasets(&mut obj, "inputs", "inputFacets", line)?;
        let outputs = take_datasets(&mut obj, "outputs", "outputFacets", line)?;

        let i = if let Some(&i) = self.index.get(&run_id) {
            i
        } else {
            self.runs.push(RunAcc {
                line,
                run_id: run_id.clone(),
                name: format!("{namespace}/{job_name}"),
                code_commit: None,
                run_facets: Map::new(),
                environment: Map::new(),
                complete_time: None,
                last_time: None,
                complete: false,
                failure: None,
                inputs: Datasets::default(),
                outputs: Datasets::default(),
            });
            self.index.insert(run_id, self.runs.len() - 1);
            self.runs.len() - 1
        };
        let acc = &mut self.runs[i];
        match kind {
            EventType::Complete => {
                acc.complete = true;
                acc.complete_time = Some(time.clone());
            }
            EventType::Fail | EventType::Abort => acc.failure = Some(kind),
            EventType::Start | EventType::Running | EventType::Other => {}
        }
        acc.last_time = Some(time);
        if let Some(p) = producer {
            acc.environment
                .entry("producer")
                .or_insert(Value::String(p));
        }
        if let Some(facets) = run_facets {
            let (env, params): (Map<_, _>, Map<_, _>) = facets
                .into_iter()
                .partition(|(k, _)| ENVIRONMENT_RUN_FACETS.contains(&k.as_str()));
            merge_facets(&mut acc.environment, env);
            merge_facets(&mut acc.run_facets, params);
        }
        if let Some(mut facets) = job_facets
            && let Some(loc) = facets.remove("sourceCodeLocation")
        {
            if let Some(v) = loc.get("version").and_then(Value::as_str) {
                acc.code_commit = Some(v.to_owned());
            }
            let mut one = Map::new();
            one.insert("sourceCodeLocation".into(), loc);
            merge_facets(&mut acc.environment, one);
        }
        for d in inputs {
            acc.inputs.add(d);
        }
        for d in outputs {
            acc.outputs.add(d);
        }
        Ok(())
    }

    fn finish(self) -> OpenLineageImport {
        let mut out = OpenLineageImport {
            runs: Vec::with_capacity(self.runs.len()),
            skipped: self.skipped,
        };
        for acc in self.runs {
            if let (false, Some(failure)) = (acc.complete, acc.failure) {
                let state = if failure == EventType::Fail {
                    "FAIL"
                } else {
                    "ABORT"
                };
                out.skipped.push(SkippedRun {
                    line: acc.line,
                    run_id: Some(acc.run_id),
                    reason: format!("run ended with {state} and never completed"),
                });
                continue;
            }
            out.runs.push(ImportedRun {
                source: "openlineage".into(),
                external_id: Some(acc.run_id),
                name: Some(acc.name),
                code_commit: acc.code_commit,
                parameters: Value::Object(clean_facets(acc.run_facets)),
                environment: Value::Object(clean_facets(acc.environment)),
                event_time: acc.complete_time.or(acc.last_time),
                inputs: acc.inputs.finish(),
                outputs: acc.outputs.finish(),
            });
        }
        out.skipped.sort_by_key(|s| s.line);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(kind: &str, run: &str, job: &str, inputs: &Value, outputs: &Value) -> String {
        json!({
            "eventType": kind,
            "eventTime": format!("2025-01-01T00:00:0{}Z", u8::from(kind != "START")),
            "run": {"runId": run},
            "job": {"namespace": "ns", "name": job},
            "inputs": inputs,
            "outputs": outputs,
            "producer": "https://example.com/producer",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
        })
        .to_string()
    }

    fn ds(name: &str) -> Value {
        json!({"namespace": "file", "name": name})
    }

    #[test]
    fn merges_events_of_one_run() {
        let text = [
            event(
                "START",
                "r1",
                "train",
                &json!([ds("data/clean.csv")]),
                &json!([]),
            ),
            event(
                "COMPLETE",
                "r1",
                "train",
                &json!([ds("data/clean.csv"), ds("params.yaml")]),
                &json!([ds("models/a.pt")]),
            ),
        ]
        .join("\n");
        let got = parse_run_events(&text).unwrap();
        assert!(got.skipped.is_empty());
        assert_eq!(got.runs.len(), 1);
        let r = &got.runs[0];
        assert_eq!(r.external_id.as_deref(), Some("r1"));
        assert_eq!(r.name.as_deref(), Some("ns/train"));
        assert_eq!(r.event_time.as_deref(), Some("2025-01-01T00:00:01Z"));
        assert_eq!(r.inputs.len(), 2);
        assert_eq!(r.outputs[0].kind, ArtifactKind::Model);
        assert_eq!(
            r.environment,
            json!({"producer": "https://example.com/producer"})
        );
    }

    #[test]
    fn failed_runs_are_skipped() {
        let text = [
            event("START", "ok", "a", &json!([]), &json!([])),
            event("START", "bad", "b", &json!([]), &json!([])),
            event("FAIL", "bad", "b", &json!([]), &json!([])),
            event("COMPLETE", "ok", "a", &json!([]), &json!([])),
            json!({"eventTime": "t", "producer": "p", "dataset": {"namespace": "n", "name": "d"}})
                .to_string(),
        ]
        .join("\n");
        let got = parse_run_events(&text).unwrap();
        assert_eq!(got.runs.len(), 1);
        assert_eq!(
            got.skipped,
            vec![
                SkippedRun {
                    line: 2,
                    run_id: Some("bad".into()),
                    reason: "run ended with FAIL and never completed".into()
                },
                SkippedRun {
                    line: 5,
                    run_id: None,
                    reason: "dataset event (no run)".into()
                },
            ]
        );
    }

    #[test]
    fn facets_decide_kind_and_parameters() {
        let ev = json!({
            "eventType": "COMPLETE",
            "eventTime": "2025-01-01T00:00:00Z",
            "run": {"runId": "r", "facets": {
                "processing_engine": {"_producer": "p", "_schemaURL": "s", "name": "spark", "version": "3.5.0"},
                "nominalTime": {"nominalStartTime": "2025-01-01T00:00:00Z"},
                "spark.logicalPlan": {"plan": "x".repeat(MAX_FACET_BYTES)},
                "hyperparameters": {"lr": 0.01}
            }},
            "job": {"namespace": "ns", "name": "j", "facets": {
                "sourceCodeLocation": {"type": "git", "url": "https://git.example/repo", "version": "0123abcd"}
            }},
            "inputs": [{"namespace": "s3://b", "name": "base", "facets": {"datasetType": {"datasetType": "model"}}}],
            "outputs": [
                {"namespace": "s3://b", "name": "out", "facets": {"mlsecops_artifact": {"kind": "MODEL"}}},
                {"namespace": "s3://b", "name": "train.py", "outputFacets": {"outputStatistics": {"rowCount": 1}}}
            ]
        });
        let got = parse_run_events(&ev.to_string()).unwrap();
        let r = &got.runs[0];
        assert_eq!(r.code_commit.as_deref(), Some("0123abcd"));
        assert_eq!(
            r.parameters,
            json!({"nominalTime": {"nominalStartTime": "2025-01-01T00:00:00Z"}, "hyperparameters": {"lr": 0.01}})
        );
        assert_eq!(
            r.environment["processing_engine"],
            json!({"name": "spark", "version": "3.5.0"})
        );
        assert_eq!(
            r.environment["sourceCodeLocation"]["url"],
            "https://git.example/repo"
        );
        assert_eq!(r.inputs[0].kind, ArtifactKind::Model);
        assert_eq!(r.outputs[0].kind, ArtifactKind::Model);
        assert_eq!(r.outputs[1].kind, ArtifactKind::Code);
        assert_eq!(
            r.outputs[1].facets,
            json!({"outputStatistics": {"rowCount": 1}})
        );
    }

    #[test]
    fn accepts_arrays_and_single_objects() {
        let a = event("COMPLETE", "r1", "a", &json!([]), &json!([]));
        let b = event("COMPLETE", "r2", "b", &json!([]), &json!([]));
        let array = format!("[\n  {a},\n  {b}\n]\n");
        let got = parse_run_events(&array).unwrap();
        assert_eq!(got.runs.len(), 2);
        let pretty =
            serde_json::to_string_pretty(&serde_json::from_str::<Value>(&a).unwrap()).unwrap();
        assert_eq!(parse_run_events(&pretty).unwrap().runs.len(), 1);
        assert_eq!(parse_run_events("").unwrap(), OpenLineageImport::default());
        assert_eq!(
            parse_run_events(" [ ] ").unwrap(),
            OpenLineageImport::default()
        );
    }

    #[test]
    fn errors_name_line_and_field() {
        let good = event("START", "r1", "a", &json!([]), &json!([]));
        let bad = event(
            "COMPLETE",
            "r1",
            "a",
            &json!([]),
            &json!([ds("x"), {"namespace": "file", "name": 3}]),
        );
        let text = format!("{good}\n\n{bad}\n");
        assert_eq!(
            parse_run_events(&text).unwrap_err().to_string(),
            "line 3: outputs[1].name: expected a string"
        );
        let no_run_id =
            json!({"eventTime": "t", "run": {}, "job": {"namespace": "n", "name": "j"}})
                .to_string();
        assert_eq!(
            parse_run_events(&no_run_id).unwrap_err().to_string(),
            "line 1: run.runId: missing"
        );
        let array = format!("[\n{good},\n{{\"eventTime\": 1, \"run\": {{}}}}\n]");
        assert_eq!(
            parse_run_events(&array).unwrap_err().to_string(),
            "line 3: eventTime: expected a string"
        );
        let broken = format!("{good}\n{{\"eventType\": \n");
        let e = parse_run_events(&broken).unwrap_err();
        assert_eq!(e.line(), Some(3), "{e}");
        let broken_array = format!("[\n{good},\n  {{\"a\": tru}}\n]");
        assert_eq!(
            parse_run_events(&broken_array).unwrap_err().to_string(),
            "line 3: invalid JSON at column 12: expected ident"
        );
        assert_eq!(
            parse_run_events("[1,]").unwrap_err().to_string(),
            "line 1: invalid JSON: trailing comma in the event array"
        );
        assert_eq!(
            parse_run_events("[{}] x").unwrap_err().to_string(),
            "line 1: invalid JSON: content after the event array"
        );
        assert_eq!(
            parse_run_events("[\n{}").unwrap_err().to_string(),
            "line 1: invalid JSON: unterminated event array"
        );
        assert_eq!(
            parse_run_events("42").unwrap_err().to_string(),
            "line 1: expected a JSON object (an OpenLineage run event)"
        );
    }

    #[test]
    fn deleted_facets_are_removed() {
        let a = json!({"eventType": "START", "eventTime": "t1", "run": {"runId": "r"}, "job": {"namespace": "n", "name": "j"},
            "outputs": [{"namespace": "file", "name": "o", "facets": {"schema": {"fields": []}, "ownership": {"owners": []}}}]});
        let b = json!({"eventType": "COMPLETE", "eventTime": "t2", "run": {"runId": "r"}, "job": {"namespace": "n", "name": "j"},
            "outputs": [{"namespace": "file", "name": "o", "facets": {"schema": {"_deleted": true}}}]});
        let got = parse_run_events(&format!("{a}\n{b}")).unwrap();
        assert_eq!(
            got.runs[0].outputs[0].facets,
            json!({"ownership": {"owners": []}})
        );
    }
}
