//! ONNX models and TensorFlow graphs (SavedModel, frozen GraphDef, Keras
//! metadata), walked with the wire reader: operators that run Python or
//! touch files, save/restore paths, external-data locations, custom domains.

use std::collections::{HashMap, HashSet};

use mlsecops_core::Severity;

use super::protobuf::{Field, fields, parses};
use crate::ctx::Ctx;

const MAX_GRAPH_DEPTH: usize = 16;

fn collect(buf: &[u8]) -> Option<Vec<Field<'_>>> {
    fields(buf).collect::<Result<Vec<_>, _>>().ok()
}

fn is_onnx(top: &[Field<'_>]) -> bool {
    let ok_types = top.iter().all(|f| match f.number {
        1 | 5 => f.varint().is_some(),
        2 | 3 | 4 | 6 | 7 | 8 | 14 | 20 | 25 | 26 => f.bytes().is_some(),
        _ => true,
    });
    ok_types
        && top
            .iter()
            .any(|f| f.number == 7 && f.bytes().is_some_and(parses))
        && top.iter().any(|f| f.number == 1 || f.number == 8)
}

fn is_saved_model(top: &[Field<'_>]) -> bool {
    !top.is_empty()
        && top.iter().all(|f| {
            matches!(
                (f.number, f.value),
                (1, super::protobuf::Wire::Varint(_)) | (2, super::protobuf::Wire::Bytes(_))
            )
        })
        && top.iter().any(|f| {
            f.number == 2
                && f.bytes()
                    .and_then(collect)
                    .is_some_and(|m| m.iter().any(|x| x.number == 2))
        })
}

fn is_graph_def(top: &[Field<'_>]) -> bool {
    !top.is_empty()
        && top.iter().all(|f| matches!(f.number, 1..=4))
        && top.iter().filter(|f| f.number == 1).all(|f| {
            f.bytes()
                .and_then(collect)
                .is_some_and(|n| n.iter().any(|x| x.number == 2 && x.bytes().is_some()))
        })
        && top.iter().any(|f| f.number == 1)
}

/// Scans `data` if it is an ONNX model or a TensorFlow protobuf. Returns
/// false when it is neither (nothing reported).
pub(crate) fn scan_if_protobuf(ctx: &mut Ctx<'_>, data: &[u8], name: &str) -> bool {
    let Some(top) = collect(data) else {
        return false;
    };
    let lower = name.to_ascii_lowercase();
    if lower.ends_with("keras_metadata.pb") {
        ctx.saw("keras-savedmodel-metadata");
        keras_metadata(ctx, &top);
        return true;
    }
    if is_onnx(&top) {
        ctx.saw("onnx");
        onnx_model(ctx, &top);
        return true;
    }
    if is_saved_model(&top) {
        ctx.saw("tf-savedmodel");
        for mg in top.iter().filter(|f| f.number == 2) {
            let Some(mg) = mg.bytes().and_then(collect) else {
                continue;
            };
            for gd in mg.iter().filter(|f| f.number == 2) {
                if let Some(b) = gd.bytes() {
                    tf_graph(ctx, b, gd.offset);
                }
            }
        }
        return true;
    }
    if is_graph_def(&top) {
        ctx.saw("tf-graphdef");
        tf_graph(ctx, data, 0);
        return true;
    }
    // Any other well-formed protobuf named like one (fingerprint.pb, …).
    lower.ends_with(".pb")
        || lower.ends_with(".onnx") && {
            ctx.report(
                "ONNX-MALFORMED",
                Severity::Medium,
                Some(0),
                format!("`{name}` is a protobuf but not an ONNX ModelProto"),
                None,
            );
            true
        }
}

// ---------------------------------------------------------------- ONNX

const STANDARD_DOMAINS: &[&str] = &[
    "",
    "ai.onnx",
    "ai.onnx.ml",
    "ai.onnx.training",
    "ai.onnx.preview.training",
    "com.microsoft",
    "com.microsoft.nchwc",
    "com.microsoft.experimental",
    "com.ms.internal.nhwc",
    "org.pytorch.aten",
];

struct OnnxWalk {
    local_domains: HashSet<String>,
    reported_domains: HashSet<String>,
}

fn onnx_model(ctx: &mut Ctx<'_>, top: &[Field<'_>]) {
    let mut w = OnnxWalk {
        local_domains: HashSet::new(),
        reported_domains: HashSet::new(),
    };
    // Model-local functions define their own domains.
    for f in top.iter().filter(|f| f.number == 25) {
        if let Some(func) = f.bytes().and_then(collect) {
            for d in func.iter().filter(|x| x.number == 10) {
                if let Some(s) = d.str() {
                    w.local_domains.insert(s);
                }
            }
        }
    }
    for f in top {
        match f.number {
            7 => {
                if let Some(g) = f.bytes() {
                    onnx_graph(ctx, &mut w, g, f.offset, 0);
                }
            }
            8 => {
                if let Some(op) = f.bytes().and_then(collect) {
                    let dom = op
                        .iter()
                        .find(|x| x.number == 1)
                        .and_then(Field::str)
                        .unwrap_or_default();
                    check_domain(ctx, &mut w, &dom, f.offset as u64, "opset import");
                }
            }
            14 => {
                if let Some(kv) = f.bytes().and_then(collect) {
                    let k = kv
                        .iter()
                        .find(|x| x.number == 1)
                        .and_then(Field::str)
                        .unwrap_or_default();
                    let v = kv
                        .iter()
                        .find(|x| x.number == 2)
                        .and_then(Field::str)
                        .unwrap_or_default();
                    super::secrets::scan_str(
                        ctx,
                        &v,
                        Some(f.offset as u64),
                        &format!("metadata_props.{k}"),
                    );
                }
            }
            20 => {
                if let Some(ti) = f.bytes().and_then(collect) {
                    for g in ti.iter().filter(|x| x.number == 1 || x.number == 3) {
                        if let Some(b) = g.bytes() {
                            onnx_graph(ctx, &mut w, b, g.offset, 1);
                        }
                    }
                }
            }
            25 => {
                if let Some(func) = f.bytes().and_then(collect) {
                    for n in func.iter().filter(|x| x.number == 7) {
                        if let Some(b) = n.bytes() {
                            onnx_node(ctx, &mut w, b, n.offset, 1);
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

fn check_domain(ctx: &mut Ctx<'_>, w: &mut OnnxWalk, dom: &str, offset: u64, what: &str) {
    if STANDARD_DOMAINS.contains(&dom)
        || w.local_domains.contains(dom)
        || w.reported_domains.contains(dom)
    {
        return;
    }
    w.reported_domains.insert(dom.to_owned());
    ctx.report(
        "ONNX-CUSTOM-DOMAIN",
        Severity::Medium,
        Some(offset),
        format!("{what} uses the non-standard operator domain `{dom}` (loading needs a custom operator library)"),
        Some(dom.to_owned()),
    );
}

fn onnx_graph(ctx: &mut Ctx<'_>, w: &mut OnnxWalk, g: &[u8], base: usize, depth: usize) {
    if depth > MAX_GRAPH_DEPTH {
        ctx.report(
            "SCAN-INCOMPLETE",
            Severity::Medium,
            Some(base as u64),
            "ONNX subgraphs nested too deeply",
            None,
        );
        return;
    }
    let Some(fs) = collect(g) else {
        ctx.report(
            "ONNX-MALFORMED",
            Severity::Medium,
            Some(base as u64),
            "graph is not a valid protobuf message",
            None,
        );
        return;
    };
    for f in fs {
        let Some(b) = f.bytes() else { continue };
        match f.number {
            1 => onnx_node(ctx, w, b, f.offset, depth),
            5 => onnx_tensor(ctx, b, f.offset),
            15 => {
                if let Some(st) = collect(b) {
                    for t in st.iter().filter(|x| x.number == 1 || x.number == 2) {
                        if let Some(tb) = t.bytes() {
                            onnx_tensor(ctx, tb, t.offset);
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

fn onnx_node(ctx: &mut Ctx<'_>, w: &mut OnnxWalk, n: &[u8], base: usize, depth: usize) {
    let Some(fs) = collect(n) else { return };
    let op = fs
        .iter()
        .find(|x| x.number == 4)
        .and_then(Field::str)
        .unwrap_or_default();
    let dom = fs
        .iter()
        .find(|x| x.number == 7)
        .and_then(Field::str)
        .unwrap_or_default();
    check_domain(ctx, w, &dom, base as u64, &format!("operator `{op}`"));
    for a in fs.iter().filter(|x| x.number == 5) {
        let Some(attr) = a.bytes().and_then(collect) else {
            continue;
        };
        for x in &attr {
            let Some(b) = x.bytes() else { continue };
            match x.number {
                5 | 10 => onnx_tensor(ctx, b, x.offset),
                6 | 11 => onnx_graph(ctx, w, b, x.offset, depth + 1),
                _ => {}
            }
        }
    }
}

fn onnx_tensor(ctx: &mut Ctx<'_>, t: &[u8], base: usize) {
    let Some(fs) = collect(t) else { return };
    let name = fs
        .iter()
        .find(|x| x.number == 8)
        .and_then(Field::str)
        .unwrap_or_default();
    for e in fs.iter().filter(|x| x.number == 13) {
        let Some(kv) = e.bytes().and_then(collect) else {
            continue;
        };
        let k = kv
            .iter()
            .find(|x| x.number == 1)
            .and_then(Field::str)
            .unwrap_or_default();
        if k != "location" {
            continue;
        }
        let v = kv
            .iter()
            .find(|x| x.number == 2)
            .and_then(Field::str)
            .unwrap_or_default();
        if super::zip::is_traversal(&v) || v.contains('\0') {
            ctx.report(
                "ONNX-EXTERNAL-DATA-TRAVERSAL",
                Severity::High,
                Some(base as u64),
                format!(
                    "tensor `{name}` loads external data from `{v}`, outside the model directory"
                ),
                Some(v),
            );
        }
    }
}

// ---------------------------------------------------------------- TensorFlow

const TF_CODE_OPS: &[&str] = &["PyFunc", "PyFuncStateless", "EagerPyFunc"];
const TF_FILE_OPS: &[&str] = &[
    "ReadFile",
    "WriteFile",
    "MatchingFiles",
    "MatchingFilesDataset",
    "TextLineDataset",
    "TextLineDatasetV2",
    "TFRecordDataset",
    "TFRecordDatasetV2",
    "FixedLengthRecordDataset",
    "FixedLengthRecordDatasetV2",
    "CSVDataset",
    "CSVDatasetV2",
    "ExperimentalCSVDataset",
    "SqlDataset",
    "ExperimentalSqlDataset",
    "LMDBDataset",
    "ExperimentalLMDBDataset",
    "WholeFileReader",
    "WholeFileReaderV2",
    "TextLineReader",
    "TextLineReaderV2",
    "TFRecordReader",
    "TFRecordReaderV2",
    "FixedLengthRecordReader",
    "FixedLengthRecordReaderV2",
    "LoadAndRemapMatrix",
    "InitializeTableFromTextFile",
    "InitializeTableFromTextFileV2",
    "CreateSummaryFileWriter",
    "SaveDataset",
    "SaveDatasetV2",
    "ExperimentalSaveDataset",
    "LoadDataset",
    "SnapshotDataset",
    "SnapshotDatasetV2",
    "DebugIdentity",
    "DebugIdentityV2",
    "DebugIdentityV3",
    "ImmutableConst",
    "DatasetToTFRecord",
    "ExperimentalDatasetToTFRecord",
    "FileSystemSetConfiguration",
];
const TF_SAVE_RESTORE_OPS: &[&str] = &[
    "Save",
    "SaveV2",
    "SaveSlices",
    "Restore",
    "RestoreV2",
    "RestoreSlice",
    "MergeV2Checkpoints",
];

struct Node {
    op: String,
    inputs: Vec<String>,
    const_str: Option<String>,
    output_stream: Option<String>,
    offset: usize,
}

fn tf_node(b: &[u8], offset: usize) -> Option<(String, Node)> {
    let fs = collect(b)?;
    let name = fs
        .iter()
        .find(|x| x.number == 1)
        .and_then(Field::str)
        .unwrap_or_default();
    let op = fs
        .iter()
        .find(|x| x.number == 2)
        .and_then(Field::str)
        .unwrap_or_default();
    let inputs = fs
        .iter()
        .filter(|x| x.number == 3)
        .filter_map(Field::str)
        .collect();
    let mut const_str = None;
    let mut output_stream = None;
    for a in fs.iter().filter(|x| x.number == 5) {
        let Some(entry) = a.bytes().and_then(collect) else {
            continue;
        };
        let key = entry
            .iter()
            .find(|x| x.number == 1)
            .and_then(Field::str)
            .unwrap_or_default();
        let Some(val) = entry
            .iter()
            .find(|x| x.number == 2)
            .and_then(super::protobuf::Field::bytes)
            .and_then(collect)
        else {
            continue;
        };
        if key == "value" {
            // AttrValue.tensor (8) -> TensorProto.string_val (8)
            if let Some(t) = val
                .iter()
                .find(|x| x.number == 8)
                .and_then(super::protobuf::Field::bytes)
                .and_then(collect)
            {
                const_str = t.iter().find(|x| x.number == 8).and_then(Field::str);
            }
        }
        if key == "output_stream" {
            output_stream = val.iter().find(|x| x.number == 2).and_then(Field::str);
        }
    }
    Some((
        name,
        Node {
            op,
            inputs,
            const_str,
            output_stream,
            offset,
        },
    ))
}

fn tf_nodes(ctx: &mut Ctx<'_>, nodes: &[(String, Node)], base: usize, scope: &str) {
    let by_name: HashMap<&str, &Node> = nodes.iter().map(|(n, x)| (n.as_str(), x)).collect();
    let input_const = |inp: &str| -> Option<String> {
        let n = inp.trim_start_matches('^');
        let n = n.split(':').next().unwrap_or(n);
        by_name
            .get(n)
            .filter(|x| x.op == "Const")
            .and_then(|x| x.const_str.clone())
    };
    let mut reported: HashSet<(String, &'static str)> = HashSet::new();
    for (name, n) in nodes {
        let at = Some((base + n.offset) as u64);
        if TF_CODE_OPS.contains(&n.op.as_str()) {
            if reported.insert((n.op.clone(), "code")) {
                ctx.report(
                    "TF-CODE-EXEC-OP",
                    Severity::Critical,
                    at,
                    format!(
                        "{scope}op `{}` (node `{name}`) calls back into Python",
                        n.op
                    ),
                    Some(n.op.clone()),
                );
            }
        } else if TF_FILE_OPS.contains(&n.op.as_str()) {
            let path = n.inputs.first().and_then(|i| input_const(i));
            let detail = path
                .as_deref()
                .map(|p| format!(" on `{p}`"))
                .unwrap_or_default();
            ctx.report(
                "TF-FILE-ACCESS-OP",
                Severity::High,
                at,
                format!(
                    "{scope}op `{}` (node `{name}`) accesses the file system{detail}",
                    n.op
                ),
                Some(n.op.clone()),
            );
        } else if TF_SAVE_RESTORE_OPS.contains(&n.op.as_str()) {
            if let Some(p) = n.inputs.first().and_then(|i| input_const(i))
                && (super::zip::is_traversal(&p) || p.contains("://"))
            {
                ctx.report("TF-SAVE-RESTORE-PATH", Severity::High, at, format!("{scope}op `{}` (node `{name}`) reads or writes checkpoint files at the fixed path `{p}`", n.op), Some(p));
            }
        } else if n.op == "PrintV2"
            && let Some(s) = &n.output_stream
            && s.starts_with("file://")
        {
            ctx.report(
                "TF-FILE-ACCESS-OP",
                Severity::High,
                at,
                format!("{scope}op `PrintV2` (node `{name}`) writes to `{s}`"),
                Some(s.clone()),
            );
        }
    }
}

fn tf_graph(ctx: &mut Ctx<'_>, g: &[u8], base: usize) {
    let Some(fs) = collect(g) else {
        ctx.report(
            "TF-MALFORMED",
            Severity::Medium,
            Some(base as u64),
            "GraphDef is not a valid protobuf message",
            None,
        );
        return;
    };
    let nodes: Vec<(String, Node)> = fs
        .iter()
        .filter(|f| f.number == 1)
        .filter_map(|f| tf_node(f.bytes()?, f.offset))
        .collect();
    tf_nodes(ctx, &nodes, base, "");
    for lib in fs.iter().filter(|f| f.number == 2) {
        let Some(lib_fs) = lib.bytes().and_then(collect) else {
            continue;
        };
        for func in lib_fs.iter().filter(|f| f.number == 1) {
            let Some(ff) = func.bytes().and_then(collect) else {
                continue;
            };
            let fname = ff
                .iter()
                .find(|x| x.number == 1)
                .and_then(super::protobuf::Field::bytes)
                .and_then(collect)
                .and_then(|sig| sig.iter().find(|x| x.number == 1).and_then(Field::str))
                .unwrap_or_default();
            let fnodes: Vec<(String, Node)> = ff
                .iter()
                .filter(|x| x.number == 3)
                .filter_map(|x| tf_node(x.bytes()?, x.offset))
                .collect();
            tf_nodes(ctx, &fnodes, base, &format!("function `{fname}`: "));
        }
    }
}

/// `keras_metadata.pb`: SavedMetadata { nodes: SavedObject { metadata: JSON } }.
fn keras_metadata(ctx: &mut Ctx<'_>, top: &[Field<'_>]) {
    for n in top.iter().filter(|f| f.number == 1) {
        let Some(obj) = n.bytes().and_then(collect) else {
            continue;
        };
        for m in obj.iter().filter(|x| x.number == 5) {
            let Some(b) = m.bytes() else { continue };
            super::jsondoc::scan_json_text(ctx, &String::from_utf8_lossy(b), Some(m.offset as u64));
        }
    }
}
