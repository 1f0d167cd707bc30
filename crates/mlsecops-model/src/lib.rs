//! Loads and runs ONNX models on CPU with [tract](https://github.com/sonos/tract)
//! (pure Rust: nothing downloaded, nothing linked at run time).
//!
//! * **Loading is bounded and explicit.** The model is read from bytes (at
//!   most [`LoadOptions::max_bytes`]); models that reference external data
//!   files are refused (a model must not make us read arbitrary paths).
//!   Every node's operator is checked against tract's registry *before*
//!   the graph is built, so an unsupported operator is an error naming the
//!   operator, its domain and the node ([`ModelError::UnsupportedOp`]).
//!   tract panics on a few exotic tensor types; loading runs under
//!   `catch_unwind` and turns that into an error too.
//! * **Signature.** Inputs and outputs with names, element types and shapes
//!   (symbolic dimensions by name) for `accept`, `attack` and the gateway's
//!   input validation.
//! * **Batched inference.** [`Model::predict_proba`] takes rows of `f32`
//!   (one sample = the product of the input's non-batch dimensions) and runs
//!   them in chunks of [`LoadOptions::batch`] rows through one optimized
//!   plan whose batch dimension stays symbolic.
//!
//! Classifier outputs: the output named `probabilities` (what skl2onnx
//! writes with `zipmap` off), else the first 2-D float output. Outputs that
//! are not needed are pruned before optimization, so a `label` branch of
//! unsupported operators does not stop a model from loading.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;
use tract_onnx::pb;

mod grad;
use tract_onnx::prelude::*;

/// Why a model could not be loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The file is larger than the configured cap.
    #[error("{file}: {size} bytes exceeds the model size cap of {cap} bytes")]
    TooLarge { file: String, size: u64, cap: u64 },
    /// Not a parseable ONNX protobuf.
    #[error("{file}: not a valid ONNX model: {message}")]
    Parse { file: String, message: String },
    /// An operator tract does not implement.
    #[error(
        "{file}: unsupported operator {domain}/{op} (node {node:?}){hint}",
        hint = unsupported_hint(op)
    )]
    UnsupportedOp {
        file: String,
        op: String,
        domain: String,
        node: String,
    },
    /// The model refers to tensor data stored in other files.
    #[error("{file}: tensor {tensor:?} uses external data files, which are refused")]
    ExternalData { file: String, tensor: String },
    /// The graph has no usable input or output.
    #[error("{file}: {message}")]
    Signature { file: String, message: String },
    /// tract could not build or run the graph.
    #[error("{file}: {message}")]
    Runtime { file: String, message: String },
    /// Caller input does not fit the model.
    #[error("{file}: {message}")]
    Input { file: String, message: String },
    /// The model has no input gradient (white-box attacks do not apply).
    #[error("{file}: not differentiable: {reason}")]
    NotDifferentiable { file: String, reason: String },
}

fn unsupported_hint(op: &str) -> &'static str {
    match op {
        "ZipMap" => "; re-export with skl2onnx option {'zipmap': False}",
        _ => "",
    }
}

/// Element type and shape of one graph input or output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TensorInfo {
    pub name: String,
    /// ONNX element type name (`float`, `int64`, …).
    pub dtype: String,
    /// Dimensions: a number, or a symbolic name such as `N` (or `?`).
    pub shape: Vec<Dim>,
}

/// One dimension of a declared shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Dim {
    Fixed(u64),
    Symbol(String),
}

/// The model's inputs and outputs as the file declares them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Signature {
    pub inputs: Vec<TensorInfo>,
    pub outputs: Vec<TensorInfo>,
    /// `domain/op` of every node, sorted, without repeats.
    pub ops: Vec<String>,
    pub producer: String,
    pub opset: i64,
}

/// Settings for [`Model::load`].
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Largest model file accepted (default 2 GiB, protobuf's own limit).
    pub max_bytes: u64,
    /// Rows per inference call (default 256).
    pub batch: usize,
    /// Output to read probabilities from (default: `probabilities`, else the
    /// first 2-D float output).
    pub output: Option<String>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            max_bytes: 2 << 30,
            batch: 256,
            output: None,
        }
    }
}

type Plan = Arc<TypedRunnableModel>;

/// Calls with at most this many rows use the native interpreter when it
/// supports the graph.
const NATIVE_ROWS: usize = 4;

/// A loaded classifier: one float input, one probability output.
pub struct Model {
    file: String,
    signature: Signature,
    output_name: String,
    /// Input dimensions after the batch dimension.
    sample_shape: Vec<usize>,
    classes: usize,
    batch: usize,
    plan: Plan,
    /// The graph's differentiable interpretation, or why there is none.
    grad: Result<grad::GradGraph, String>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("file", &self.file)
            .field("signature", &self.signature)
            .field("output", &self.output_name)
            .field("sample_shape", &self.sample_shape)
            .field("classes", &self.classes)
            .finish_non_exhaustive()
    }
}

fn dtype_name(t: i32) -> String {
    match pb::tensor_proto::DataType::try_from(t) {
        Ok(d) => d.as_str_name().to_lowercase(),
        Err(_) => format!("type{t}"),
    }
}

fn tensor_info(v: &pb::ValueInfoProto) -> TensorInfo {
    let mut dtype = String::from("?");
    let mut shape = Vec::new();
    if let Some(pb::type_proto::Value::TensorType(t)) =
        v.r#type.as_ref().and_then(|t| t.value.as_ref())
    {
        dtype = dtype_name(t.elem_type);
        if let Some(s) = &t.shape {
            for d in &s.dim {
                shape.push(match &d.value {
                    Some(pb::tensor_shape_proto::dimension::Value::DimValue(n)) if *n >= 0 => {
                        Dim::Fixed(*n as u64)
                    }
                    Some(pb::tensor_shape_proto::dimension::Value::DimParam(p)) => {
                        Dim::Symbol(p.clone())
                    }
                    _ => Dim::Symbol("?".into()),
                });
            }
        }
    }
    TensorInfo {
        name: v.name.clone(),
        dtype,
        shape,
    }
}

/// Windowed operators (convolutions, pooling) must give their per-axis
/// attributes consistent lengths: tract indexes them by the kernel's rank
/// and panicked on a mismatch (found by the fuzzer).
fn window_attributes(file: &str, n: &pb::NodeProto) -> Result<(), ModelError> {
    const WINDOWED: [&str; 7] = [
        "Conv",
        "ConvTranspose",
        "ConvInteger",
        "QLinearConv",
        "MaxPool",
        "AveragePool",
        "LpPool",
    ];
    if !WINDOWED.contains(&n.op_type.as_str()) {
        return Ok(());
    }
    let len = |name: &str| {
        n.attribute
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.ints.len())
    };
    let bad = |message: String| ModelError::Parse {
        file: file.into(),
        message: format!("node {:?} ({}): {message}", n.name, n.op_type),
    };
    let kernel = len("kernel_shape");
    if kernel == Some(0) {
        return Err(bad("empty kernel_shape".into()));
    }
    let rank = kernel
        .or_else(|| len("strides"))
        .or_else(|| len("dilations"));
    if let Some(k) = rank {
        for a in ["strides", "dilations", "output_padding"] {
            if let Some(l) = len(a).filter(|&l| l != k) {
                return Err(bad(format!("{a} has {l} values for a {k}-D kernel")));
            }
        }
        if let Some(l) = len("pads").filter(|&l| l != 2 * k) {
            return Err(bad(format!("pads has {l} values for a {k}-D kernel")));
        }
    }
    for a in &n.attribute {
        if ["kernel_shape", "strides", "dilations"].contains(&a.name.as_str())
            && a.ints.iter().any(|&v| v < 1)
        {
            return Err(bad(format!(
                "{} must be positive, not {:?}",
                a.name, a.ints
            )));
        }
        if a.name == "pads" && a.ints.iter().any(|&v| v < 0) {
            return Err(bad(format!("pads must not be negative, not {:?}", a.ints)));
        }
    }
    Ok(())
}

/// Rejects operators tract does not register and tensors with external
/// data, before tract builds anything.
fn precheck(
    file: &str,
    proto: &pb::ModelProto,
    register: &HashMap<String, impl Sized>,
) -> Result<Vec<String>, ModelError> {
    let Some(graph) = proto.graph.as_ref() else {
        return Err(ModelError::Parse {
            file: file.into(),
            message: "the model has no graph".into(),
        });
    };
    // Every name the top-level graph uses must be defined: tract indexes
    // its map of outlets by name without checking (found by the fuzzer).
    let mut defined: std::collections::HashSet<&str> = graph
        .input
        .iter()
        .map(|v| v.name.as_str())
        .chain(graph.initializer.iter().map(|t| t.name.as_str()))
        .chain(
            graph
                .sparse_initializer
                .iter()
                .filter_map(|t| t.values.as_ref().map(|v| v.name.as_str())),
        )
        .collect();
    defined.extend(
        graph
            .node
            .iter()
            .flat_map(|n| n.output.iter().map(String::as_str)),
    );
    let undefined = |name: &str| !name.is_empty() && !defined.contains(name);
    if let Some(o) = graph.output.iter().find(|o| undefined(&o.name)) {
        return Err(ModelError::Parse {
            file: file.into(),
            message: format!("graph output {:?} is produced by no node or input", o.name),
        });
    }
    for n in &graph.node {
        window_attributes(file, n)?;
        if let Some(i) = n.input.iter().find(|i| undefined(i)) {
            return Err(ModelError::Parse {
                file: file.into(),
                message: format!(
                    "node {:?} ({}) reads {i:?}, which no node, input or initializer defines",
                    n.name, n.op_type
                ),
            });
        }
    }
    let mut ops = Vec::new();
    let mut stack = vec![graph];
    while let Some(g) = stack.pop() {
        for t in &g.initializer {
            if t.data_location == Some(pb::tensor_proto::DataLocation::External as i32)
                || !t.external_data.is_empty()
            {
                return Err(ModelError::ExternalData {
                    file: file.into(),
                    tensor: t.name.clone(),
                });
            }
        }
        for n in &g.node {
            let domain = if n.domain.is_empty() {
                "ai.onnx"
            } else {
                n.domain.as_str()
            };
            if !register.contains_key(&n.op_type) {
                return Err(ModelError::UnsupportedOp {
                    file: file.into(),
                    op: n.op_type.clone(),
                    domain: domain.into(),
                    node: n.name.clone(),
                });
            }
            ops.push(format!("{domain}/{}", n.op_type));
            for a in &n.attribute {
                if let Some(sub) = &a.g {
                    stack.push(sub);
                }
                stack.extend(a.graphs.iter());
            }
        }
    }
    ops.sort();
    ops.dedup();
    Ok(ops)
}

impl Model {
    /// Loads a model file.
    pub fn load_path(path: &std::path::Path, opts: &LoadOptions) -> Result<Self, ModelError> {
        let file = path.display().to_string();
        let err = |e: std::io::Error| ModelError::Parse {
            file: file.clone(),
            message: e.to_string(),
        };
        let f = std::fs::File::open(path).map_err(err)?;
        let size = f.metadata().map_err(err)?.len();
        if size > opts.max_bytes {
            return Err(ModelError::TooLarge {
                file,
                size,
                cap: opts.max_bytes,
            });
        }
        // Read at most one byte past the cap: a file that grew since the
        // size check is still refused.
        let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        std::io::copy(
            &mut std::io::Read::take(f, opts.max_bytes.saturating_add(1)),
            &mut bytes,
        )
        .map_err(err)?;
        Self::load(&file, &bytes, opts)
    }

    /// Loads a model from bytes; `file` names it in errors.
    pub fn load(file: &str, bytes: &[u8], opts: &LoadOptions) -> Result<Self, ModelError> {
        if bytes.len() as u64 > opts.max_bytes {
            return Err(ModelError::TooLarge {
                file: file.into(),
                size: bytes.len() as u64,
                cap: opts.max_bytes,
            });
        }
        // tract has a few `unimplemented!` paths for exotic tensor types.
        let run = std::panic::catch_unwind(|| Self::load_inner(file, bytes, opts));
        run.unwrap_or_else(|p| {
            let message = p
                .downcast_ref::<&str>()
                .map(ToString::to_string)
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown".into());
            Err(ModelError::Runtime {
                file: file.into(),
                message: format!("the ONNX loader failed on this model: {message}"),
            })
        })
    }

    fn load_inner(file: &str, bytes: &[u8], opts: &LoadOptions) -> Result<Self, ModelError> {
        let onnx = tract_onnx::onnx();
        let proto = onnx
            .proto_model_for_read(&mut &bytes[..])
            .map_err(|e| ModelError::Parse {
                file: file.into(),
                message: format!("{e:#}"),
            })?;
        let ops = precheck(file, &proto, &onnx.op_register.0)?;
        let graph = proto.graph.as_ref().ok_or_else(|| ModelError::Parse {
            file: file.into(),
            message: "the model has no graph".into(),
        })?;
        let initializers: std::collections::HashSet<&str> =
            graph.initializer.iter().map(|t| t.name.as_str()).collect();
        let inputs: Vec<TensorInfo> = graph
            .input
            .iter()
            .filter(|v| !initializers.contains(v.name.as_str()))
            .map(tensor_info)
            .collect();
        let outputs: Vec<TensorInfo> = graph.output.iter().map(tensor_info).collect();
        let opset = proto
            .opset_import
            .iter()
            .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
            .map_or(0, |o| o.version);
        let signature = Signature {
            inputs,
            outputs,
            ops,
            producer: format!("{} {}", proto.producer_name, proto.producer_version)
                .trim()
                .to_owned(),
            opset,
        };
        let rt = |message: String| ModelError::Runtime {
            file: file.into(),
            message,
        };
        let sig_err = |message: String| ModelError::Signature {
            file: file.into(),
            message,
        };
        let [input] = signature.inputs.as_slice() else {
            return Err(sig_err(format!(
                "{} inputs; a classifier with one input is expected",
                signature.inputs.len()
            )));
        };
        if input.dtype != "float" {
            return Err(sig_err(format!(
                "input {:?} is {}; a float input is expected",
                input.name, input.dtype
            )));
        }
        if input.shape.len() < 2 {
            return Err(sig_err(format!(
                "input {:?} has {} dimension(s); [batch, …] is expected",
                input.name,
                input.shape.len()
            )));
        }
        let mut sample_shape = Vec::new();
        for d in &input.shape[1..] {
            match d {
                Dim::Fixed(n) if *n > 0 => sample_shape.push(*n as usize),
                _ => {
                    return Err(sig_err(format!(
                        "input {:?}: only the first (batch) dimension may be symbolic",
                        input.name
                    )));
                }
            }
        }
        let output = match &opts.output {
            Some(o) => signature
                .outputs
                .iter()
                .find(|t| &t.name == o)
                .ok_or_else(|| sig_err(format!("no output named {o:?}")))?,
            None => signature
                .outputs
                .iter()
                .find(|t| t.name == "probabilities")
                .or_else(|| {
                    signature
                        .outputs
                        .iter()
                        .find(|t| t.dtype == "float" && t.shape.len() == 2)
                })
                .ok_or_else(|| sig_err("no 2-D float output (class probabilities)".into()))?,
        };
        let output_name = output.name.clone();
        let grad = grad::GradGraph::build(&proto, &input.name, &sample_shape, &output_name);
        let mut model = onnx
            .model_for_proto_model(&proto)
            .map_err(|e| rt(format!("{e:#}")))?;
        model
            .select_outputs_by_name([output_name.as_str()])
            .map_err(|e| rt(format!("{e:#}")))?;
        let batch_sym = model.symbols.sym("N");
        let mut shape: TVec<TDim> = tvec![batch_sym.into()];
        shape.extend(sample_shape.iter().map(|&d| TDim::from(d)));
        let model = model
            .with_input_fact(0, f32::fact(shape).into())
            .map_err(|e| rt(format!("{e:#}")))?;
        let typed = model.into_typed().map_err(|e| rt(format!("{e:#}")))?;
        let out_fact = typed
            .output_fact(0)
            .map_err(|e| rt(format!("{e:#}")))?
            .clone();
        let classes = out_fact
            .shape
            .iter()
            .last()
            .and_then(|d| d.to_i64().ok())
            .and_then(|d| usize::try_from(d).ok())
            .ok_or_else(|| {
                sig_err(format!(
                    "output {output_name:?} has no fixed number of classes ({:?})",
                    out_fact.shape
                ))
            })?;
        // One plan for every batch size: the batch stays a symbol, bound
        // from the input's shape on each run.
        let plan = typed
            .into_optimized()
            .map_err(|e| rt(format!("{e:#}")))?
            .into_runnable()
            .map_err(|e| rt(format!("{e:#}")))?;
        Ok(Self {
            file: file.into(),
            signature,
            output_name,
            sample_shape,
            classes,
            batch: opts.batch.max(1),
            plan,
            grad,
        })
    }

    /// The file name given at load time.
    #[must_use]
    pub fn file(&self) -> &str {
        &self.file
    }

    /// Inputs, outputs and operators as declared.
    #[must_use]
    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    /// Values per sample (product of the non-batch input dimensions).
    #[must_use]
    pub fn features(&self) -> usize {
        self.sample_shape.iter().product()
    }

    /// Input dimensions after the batch dimension.
    #[must_use]
    pub fn sample_shape(&self) -> &[usize] {
        &self.sample_shape
    }

    /// Number of classes (width of the probability output).
    #[must_use]
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Name of the output read as class probabilities.
    #[must_use]
    pub fn output_name(&self) -> &str {
        &self.output_name
    }

    /// Class probabilities for `x` (`rows × features()` values, row-major):
    /// `rows × classes()` values.
    pub fn predict_proba(&self, x: &[f32]) -> Result<Vec<f32>, ModelError> {
        let d = self.features();
        if d == 0 || !x.len().is_multiple_of(d) {
            return Err(ModelError::Input {
                file: self.file.clone(),
                message: format!("{} values are not whole rows of {d} features", x.len()),
            });
        }
        let rows = x.len() / d;
        // Tree ensembles always run natively; other graphs we interpret run
        // natively for a few rows, where tract's per-call setup (tens of
        // microseconds) would cost more than the arithmetic.
        let small = rows <= NATIVE_ROWS && self.grad.is_ok();
        if let (true, Ok(g)) = (self.native() || small, &self.grad) {
            let out = g.proba(x, rows).map_err(|message| ModelError::Runtime {
                file: self.file.clone(),
                message,
            })?;
            if out.len() != rows * self.classes {
                return Err(ModelError::Runtime {
                    file: self.file.clone(),
                    message: format!(
                        "{} values for {rows} rows × {} classes",
                        out.len(),
                        self.classes
                    ),
                });
            }
            return Ok(out);
        }
        self.predict_proba_tract(x)
    }

    /// [`Model::predict_proba`] through tract whatever the engine (for
    /// cross-checks).
    pub fn predict_proba_tract(&self, x: &[f32]) -> Result<Vec<f32>, ModelError> {
        let d = self.features();
        if d == 0 || !x.len().is_multiple_of(d) {
            return Err(ModelError::Input {
                file: self.file.clone(),
                message: format!("{} values are not whole rows of {d} features", x.len()),
            });
        }
        let rows = x.len() / d;
        let mut out = Vec::with_capacity(rows * self.classes);
        for chunk in x.chunks(self.batch * d) {
            let n = chunk.len() / d;
            let mut shape = vec![n];
            shape.extend_from_slice(&self.sample_shape);
            let rt = |e: TractError| ModelError::Runtime {
                file: self.file.clone(),
                message: format!("{e:#}"),
            };
            let t = Tensor::from_shape::<f32>(&shape, chunk).map_err(rt)?;
            // tract has panicking paths for shapes it did not expect; a
            // hostile model must give an error, never take the caller down.
            let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.plan.run(tvec!(t.into()))
            }))
            .map_err(|_| ModelError::Runtime {
                file: self.file.clone(),
                message: "the ONNX runtime failed on this model (internal panic)".into(),
            })?
            .map_err(rt)?;
            let o = res[0].cast_to::<f32>().map_err(rt)?;
            let view = o.try_as_plain_ram().map_err(rt)?;
            let vals = view.as_slice::<f32>().map_err(rt)?;
            if vals.len() != n * self.classes {
                return Err(ModelError::Runtime {
                    file: self.file.clone(),
                    message: format!(
                        "output {:?} has {} values for {n} rows × {} classes",
                        self.output_name,
                        vals.len(),
                        self.classes
                    ),
                });
            }
            out.extend_from_slice(vals);
        }
        Ok(out)
    }

    /// `Ok` when [`Model::loss_gradient`] is available, else why not
    /// (the operator without a gradient).
    pub fn gradient_support(&self) -> Result<(), String> {
        self.grad
            .as_ref()
            .map_err(Clone::clone)
            .and_then(grad::GradGraph::differentiable)
    }

    /// Which engine computes probabilities: `native` for graphs with tree
    /// ensembles (our evaluator), else `tract`.
    #[must_use]
    pub fn engine(&self) -> &'static str {
        if self.native() { "native" } else { "tract" }
    }

    fn native(&self) -> bool {
        self.grad.as_ref().is_ok_and(grad::GradGraph::has_trees)
    }

    /// Probabilities for `x` and the gradient of the cross-entropy loss
    /// `−log p[y]` of each row with respect to each input value.
    pub fn loss_gradient(
        &self,
        x: &[f32],
        labels: &[usize],
    ) -> Result<(Vec<f32>, Vec<f32>), ModelError> {
        self.gradient_support()
            .map_err(|reason| ModelError::NotDifferentiable {
                file: self.file.clone(),
                reason,
            })?;
        let Ok(g) = &self.grad else {
            return Err(ModelError::NotDifferentiable {
                file: self.file.clone(),
                reason: "no gradient graph".into(),
            });
        };
        let d = self.features();
        if d == 0 || x.len() != labels.len() * d {
            return Err(ModelError::Input {
                file: self.file.clone(),
                message: format!(
                    "{} values for {} labels of {d} features",
                    x.len(),
                    labels.len()
                ),
            });
        }
        g.loss_gradient(x, labels.len(), labels)
            .map_err(|message| ModelError::Runtime {
                file: self.file.clone(),
                message,
            })
    }

    /// Arg-max class per row.
    pub fn predict(&self, x: &[f32]) -> Result<Vec<usize>, ModelError> {
        let p = self.predict_proba(x)?;
        Ok(p.chunks(self.classes.max(1)).map(argmax).collect())
    }
}

/// Index of the largest value (first on ties; NaN never wins).
#[must_use]
pub fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] || v[best].is_nan() && !x.is_nan() {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    fn tensor_input(name: &str, dims: &[i64]) -> pb::ValueInfoProto {
        use pb::tensor_shape_proto::{Dimension, dimension::Value};
        pb::ValueInfoProto {
            name: name.into(),
            r#type: Some(pb::TypeProto {
                value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                    elem_type: pb::tensor_proto::DataType::Float as i32,
                    shape: Some(pb::TensorShapeProto {
                        dim: dims
                            .iter()
                            .map(|&d| Dimension {
                                value: Some(if d < 0 {
                                    Value::DimParam("N".into())
                                } else {
                                    Value::DimValue(d)
                                }),
                                ..Dimension::default()
                            })
                            .collect(),
                    }),
                })),
                ..pb::TypeProto::default()
            }),
            ..pb::ValueInfoProto::default()
        }
    }

    /// `probabilities = Softmax(x · W)` with `W` either inline or in an
    /// external file.
    fn model(external: bool) -> Vec<u8> {
        let mut w = pb::TensorProto {
            name: "W".into(),
            dims: vec![3, 2],
            data_type: pb::tensor_proto::DataType::Float as i32,
            float_data: vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0],
            ..pb::TensorProto::default()
        };
        if external {
            w.float_data.clear();
            w.data_location = Some(pb::tensor_proto::DataLocation::External as i32);
            w.external_data = vec![pb::StringStringEntryProto {
                key: "location".into(),
                value: "../../etc/passwd".into(),
            }];
        }
        let node = |op: &str, i: &[&str], o: &str| pb::NodeProto {
            op_type: op.into(),
            input: i.iter().map(|s| (*s).to_owned()).collect(),
            output: vec![o.into()],
            name: format!("{op}_0"),
            ..pb::NodeProto::default()
        };
        pb::ModelProto {
            ir_version: 8,
            opset_import: vec![pb::OperatorSetIdProto {
                domain: String::new(),
                version: 13,
            }],
            graph: Some(pb::GraphProto {
                name: "g".into(),
                node: vec![
                    node("MatMul", &["x", "W"], "z"),
                    node("Softmax", &["z"], "probabilities"),
                ],
                initializer: vec![w],
                input: vec![tensor_input("x", &[-1, 3])],
                output: vec![tensor_input("probabilities", &[-1, 2])],
                ..pb::GraphProto::default()
            }),
            ..pb::ModelProto::default()
        }
        .encode_to_vec()
    }

    #[test]
    fn hand_built_model_runs() {
        let m = Model::load("m.onnx", &model(false), &LoadOptions::default()).unwrap();
        assert_eq!((m.features(), m.classes()), (3, 2));
        let p = m.predict_proba(&[1.0, 0.0, 0.0, 0.0, 0.0, 2.0]).unwrap();
        // Row 1: z = [1, 0]; row 2: z = [2, 2].
        let e = 1.0f32.exp();
        assert!((p[0] - e / (e + 1.0)).abs() < 1e-6);
        assert!((p[2] - 0.5).abs() < 1e-6 && (p[3] - 0.5).abs() < 1e-6);
        assert_eq!(m.predict(&[0.0, 0.0, 3.0]).unwrap(), vec![0]);
    }

    /// The fuzzer's find: a graph output (or node input) that nothing
    /// defines made tract panic while building the graph; it is now a
    /// parse error that names the missing value.
    #[test]
    fn undefined_names_are_errors_not_panics() {
        let mut proto = pb::ModelProto::decode(&model(false)[..]).unwrap();
        let g = proto.graph.as_mut().unwrap();
        g.output.push(tensor_input("laBel", &[-1]));
        let e = Model::load("m.onnx", &proto.encode_to_vec(), &LoadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"laBel\" is produced by no node"), "{e}");
        let mut proto = pb::ModelProto::decode(&model(false)[..]).unwrap();
        let g = proto.graph.as_mut().unwrap();
        g.node[1].input[0] = "nowhere".into();
        let e = Model::load("m.onnx", &proto.encode_to_vec(), &LoadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("reads \"nowhere\""), "{e}");
    }

    #[test]
    fn window_attributes_must_agree_in_rank() {
        let ints = |name: &str, v: &[i64]| pb::AttributeProto {
            name: name.into(),
            ints: v.to_vec(),
            ..pb::AttributeProto::default()
        };
        let node = |attrs: Vec<pb::AttributeProto>| pb::NodeProto {
            op_type: "MaxPool".into(),
            name: "pool".into(),
            attribute: attrs,
            ..pb::NodeProto::default()
        };
        let ok = node(vec![
            ints("kernel_shape", &[2, 2]),
            ints("strides", &[2, 2]),
            ints("pads", &[0; 4]),
        ]);
        assert!(window_attributes("m", &ok).is_ok());
        for (attrs, words) in [
            (
                vec![ints("kernel_shape", &[2, 2]), ints("strides", &[2])],
                "strides has 1 values",
            ),
            (
                vec![ints("kernel_shape", &[2, 2]), ints("pads", &[1, 1])],
                "pads has 2 values",
            ),
            (vec![ints("kernel_shape", &[0, 2])], "must be positive"),
            (vec![ints("kernel_shape", &[])], "empty kernel_shape"),
        ] {
            let e = window_attributes("m", &node(attrs))
                .unwrap_err()
                .to_string();
            assert!(e.contains(words) && e.contains("\"pool\" (MaxPool)"), "{e}");
        }
    }

    #[test]
    fn external_data_is_refused_before_any_file_is_touched() {
        let e = Model::load("m.onnx", &model(true), &LoadOptions::default()).unwrap_err();
        assert!(
            matches!(&e, ModelError::ExternalData { tensor, .. } if tensor == "W"),
            "{e}"
        );
    }

    #[test]
    fn argmax_ignores_nan() {
        assert_eq!(argmax(&[f32::NAN, 0.2, 0.7]), 2);
        assert_eq!(argmax(&[0.5, 0.5]), 0);
        assert_eq!(argmax(&[]), 0);
    }
}
