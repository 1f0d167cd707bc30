//! Input gradients of ONNX classifiers, for white-box attacks.
//!
//! tract runs models but does not differentiate them, so this module
//! interprets the part of the graph between the input and the probability
//! output a second time, in plain `f32` loops, keeping every intermediate
//! value, and then walks the nodes backwards (reverse-mode automatic
//! differentiation) to get `∂(−log p[y]) / ∂x` for every input value.
//!
//! Operators with a gradient here: `Identity`, `Cast` (to float),
//! `Dropout` (inference), `Constant`, `Gemm`, `MatMul` (N-D × 2-D), `Add`,
//! `Sub`, `Mul`, `Div` (NumPy broadcasting), `Relu`, `LeakyRelu`,
//! `Sigmoid`, `Tanh`, `Clip`, `Softmax`, `LogSoftmax`, `Flatten`,
//! `Reshape` (constant shape), `Conv` (2-D, one group), `MaxPool`,
//! `AveragePool` (2-D), `GlobalAveragePool`, `BatchNormalization`
//! (inference) and, from ONNX-ML, `LinearClassifier` (post-transform none,
//! softmax or logistic) and `Normalizer`. Anything else on the path to the
//! output (tree ensembles above all) makes the model non-differentiable,
//! with the operator named; black-box attacks still apply.
//!
//! The forward pass here must agree with tract: the tests compare both on
//! the fixtures, and the gradients with central finite differences.

use std::collections::{HashMap, HashSet};

use tract_onnx::pb;

/// Largest intermediate tensor, in values (1 GiB of `f32`).
const MAX_VALUES: usize = 1 << 28;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct T {
    shape: Vec<usize>,
    data: Vec<f32>,
}

impl T {
    fn new(shape: Vec<usize>, data: Vec<f32>) -> Self {
        Self { shape, data }
    }
    fn zeros(shape: &[usize]) -> Result<Self, String> {
        let n = checked_len(shape)?;
        Ok(Self::new(shape.to_vec(), vec![0.0; n]))
    }
    fn map(&self, f: impl Fn(f32) -> f32) -> Self {
        Self::new(
            self.shape.clone(),
            self.data.iter().map(|&v| f(v)).collect(),
        )
    }
}

fn checked_len(shape: &[usize]) -> Result<usize, String> {
    shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .filter(|&n| n <= MAX_VALUES)
        .ok_or_else(|| format!("a tensor of shape {shape:?} exceeds {MAX_VALUES} values"))
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Post {
    None,
    Softmax,
    Logistic,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum NormKind {
    Max,
    L1,
    L2,
}

#[derive(Debug, Clone, PartialEq)]
enum Op {
    Identity,
    Gemm {
        alpha: f32,
        beta: f32,
        ta: bool,
        tb: bool,
    },
    MatMul,
    Add,
    Sub,
    Mul,
    Div,
    Relu,
    LeakyRelu(f32),
    Sigmoid,
    Tanh,
    Clip(f32, f32),
    /// Softmax over `len` values at stride `inner`, from the axis.
    Softmax {
        axis: i64,
        legacy: bool,
        log: bool,
    },
    Flatten(i64),
    Reshape(Vec<i64>),
    Conv {
        pads: [usize; 4],
        strides: [usize; 2],
        dil: [usize; 2],
        auto_pad: String,
    },
    Pool {
        max: bool,
        k: [usize; 2],
        pads: [usize; 4],
        strides: [usize; 2],
        count_pad: bool,
        auto_pad: String,
    },
    GlobalAvgPool,
    BatchNorm(f32),
    Linear {
        coef: T,
        intercept: Vec<f32>,
        post: Post,
    },
    Normalizer(NormKind),
    /// Forward only: tree ensembles have no gradient.
    Trees(Box<Trees>),
}

/// One node of a flattened tree ensemble.
#[derive(Debug, Clone, PartialEq)]
struct TreeNode {
    feature: u32,
    value: f32,
    /// 0 LEAF, 1 LEQ, 2 LT, 3 GTE, 4 GT, 5 EQ, 6 NEQ.
    mode: u8,
    yes: u32,
    no: u32,
    missing_yes: bool,
    /// Range of this leaf's `(class, weight)` entries.
    leaf: (u32, u32),
}

/// ONNX-ML `TreeEnsembleClassifier`, evaluated natively (tract's
/// implementation costs about 2 ms per row on the random-forest fixture,
/// this one microseconds).
#[derive(Debug, Clone, PartialEq)]
struct Trees {
    roots: Vec<u32>,
    nodes: Vec<TreeNode>,
    weights: Vec<(u32, f32)>,
    base: Vec<f32>,
    classes: usize,
    features: usize,
    post: Post,
}

impl Trees {
    fn parse(n: &pb::NodeProto) -> Result<Self, String> {
        let ints = |name: &str| attr_ints(n, name).unwrap_or(&[]);
        let floats = |name: &str| attr(n, name).map_or(&[][..], |a| a.floats.as_slice());
        let tree = ints("nodes_treeids");
        let id = ints("nodes_nodeids");
        let feat = ints("nodes_featureids");
        let yes = ints("nodes_truenodeids");
        let no = ints("nodes_falsenodeids");
        let miss = ints("nodes_missing_value_tracks_true");
        let vals = floats("nodes_values");
        let modes: Vec<&[u8]> = attr(n, "nodes_modes")
            .map_or_else(Vec::new, |a| a.strings.iter().map(Vec::as_slice).collect());
        let count = tree.len();
        if [
            id.len(),
            feat.len(),
            yes.len(),
            no.len(),
            vals.len(),
            modes.len(),
        ]
        .iter()
        .any(|&l| l != count)
            || (!miss.is_empty() && miss.len() != count)
        {
            return Err("node attribute lists differ in length".into());
        }
        let classes = attr_ints(n, "classlabels_int64s")
            .map(<[i64]>::len)
            .filter(|&c| c > 0)
            .or_else(|| attr(n, "classlabels_strings").map(|a| a.strings.len()))
            .unwrap_or(0);
        if classes < 2 {
            return Err("fewer than two class labels".into());
        }
        let index: HashMap<(i64, i64), u32> = tree
            .iter()
            .zip(id)
            .enumerate()
            .map(|(i, (&t, &v))| Ok(((t, v), u32::try_from(i).map_err(|e| e.to_string())?)))
            .collect::<Result<_, String>>()?;
        let c_tree = ints("class_treeids");
        let c_node = ints("class_nodeids");
        let c_id = ints("class_ids");
        let c_w = floats("class_weights");
        if [c_node.len(), c_id.len(), c_w.len()]
            .iter()
            .any(|&l| l != c_tree.len())
        {
            return Err("class attribute lists differ in length".into());
        }
        let mut per_leaf: Vec<Vec<(u32, f32)>> = vec![Vec::new(); count];
        let mut used = vec![false; classes];
        for i in 0..c_tree.len() {
            let leaf = *index.get(&(c_tree[i], c_node[i])).ok_or_else(|| {
                format!(
                    "class weight for a missing node {}/{}",
                    c_tree[i], c_node[i]
                )
            })?;
            let c = usize::try_from(c_id[i])
                .ok()
                .filter(|&c| c < classes)
                .ok_or_else(|| format!("class id {} out of range", c_id[i]))?;
            used[c] = true;
            per_leaf[leaf as usize].push((c as u32, c_w[i]));
        }
        if used.iter().filter(|&&u| u).count() < 2 {
            // The binary one-score form has its own output rules.
            return Err("single-score (binary) ensembles are left to tract".into());
        }
        let mut nodes = Vec::with_capacity(count);
        let mut weights = Vec::new();
        let mut features = 0usize;
        for i in 0..count {
            let mode = match modes[i] {
                b"LEAF" => 0,
                b"BRANCH_LEQ" => 1,
                b"BRANCH_LT" => 2,
                b"BRANCH_GTE" => 3,
                b"BRANCH_GT" => 4,
                b"BRANCH_EQ" => 5,
                b"BRANCH_NEQ" => 6,
                m => return Err(format!("node mode {}", String::from_utf8_lossy(m))),
            };
            let child = |c: i64| -> Result<u32, String> {
                if mode == 0 {
                    return Ok(0);
                }
                index
                    .get(&(tree[i], c))
                    .copied()
                    .ok_or_else(|| format!("node {}/{} points at missing node {c}", tree[i], id[i]))
            };
            let f = u32::try_from(feat[i]).map_err(|_| format!("feature id {}", feat[i]))?;
            if mode != 0 {
                features = features.max(f as usize + 1);
            }
            let start = u32::try_from(weights.len()).map_err(|e| e.to_string())?;
            weights.extend_from_slice(&per_leaf[i]);
            nodes.push(TreeNode {
                feature: f,
                value: vals[i],
                mode,
                yes: child(yes[i])?,
                no: child(no[i])?,
                missing_yes: miss.get(i).is_some_and(|&m| m != 0),
                leaf: (
                    start,
                    u32::try_from(per_leaf[i].len()).map_err(|e| e.to_string())?,
                ),
            });
        }
        let mut trees: Vec<i64> = tree.to_vec();
        trees.sort_unstable();
        trees.dedup();
        let roots = trees
            .iter()
            .map(|&t| {
                index
                    .get(&(t, 0))
                    .copied()
                    .ok_or_else(|| format!("tree {t} has no node 0"))
            })
            .collect::<Result<_, _>>()?;
        let mut base: Vec<f32> = floats("base_values").to_vec();
        if base.is_empty() {
            base = vec![0.0; classes];
        } else if base.len() != classes {
            return Err(format!("{} base values for {classes} classes", base.len()));
        }
        let post = match attr_s(n, "post_transform").as_str() {
            "" | "NONE" => Post::None,
            "SOFTMAX" => Post::Softmax,
            "LOGISTIC" => Post::Logistic,
            o => return Err(format!("post_transform {o} is not supported")),
        };
        Ok(Self {
            roots,
            nodes,
            weights,
            base,
            classes,
            features,
            post,
        })
    }

    // BRANCH_EQ / BRANCH_NEQ are exact comparisons in the ONNX-ML spec.
    #[allow(clippy::float_cmp)]
    fn eval(&self, x: &T) -> Result<T, String> {
        let (rows, f) = matrix(x)?;
        if f < self.features {
            return Err(format!(
                "{f} features; the trees read feature {}",
                self.features - 1
            ));
        }
        let k = self.classes;
        let mut out = T::zeros(&[rows, k])?;
        let mut acc = vec![0.0f64; k];
        for r in 0..rows {
            let row = &x.data[r * f..(r + 1) * f];
            acc.iter_mut()
                .zip(&self.base)
                .for_each(|(a, &b)| *a = f64::from(b));
            for &root in &self.roots {
                let mut i = root as usize;
                let mut steps = 0;
                loop {
                    let n = &self.nodes[i];
                    if n.mode == 0 {
                        let (s, l) = (n.leaf.0 as usize, n.leaf.1 as usize);
                        for &(c, w) in &self.weights[s..s + l] {
                            acc[c as usize] += f64::from(w);
                        }
                        break;
                    }
                    steps += 1;
                    if steps > self.nodes.len() {
                        return Err("a tree has a cycle".into());
                    }
                    let v = row[n.feature as usize];
                    let go = if v.is_nan() && n.missing_yes {
                        true
                    } else {
                        match n.mode {
                            1 => v <= n.value,
                            2 => v < n.value,
                            3 => v >= n.value,
                            4 => v > n.value,
                            5 => v == n.value,
                            _ => v != n.value,
                        }
                    };
                    i = if go { n.yes } else { n.no } as usize;
                }
            }
            let o = &mut out.data[r * k..(r + 1) * k];
            for (d, &a) in o.iter_mut().zip(&acc) {
                *d = a as f32;
            }
        }
        Ok(match self.post {
            Post::None => out,
            Post::Softmax => softmax(&out, 1, false, false)?,
            Post::Logistic => out.map(sigmoid),
        })
    }
}

#[derive(Debug, Clone)]
struct Node {
    op: Op,
    inputs: Vec<String>,
    /// The one output this module computes.
    output: String,
    name: String,
}

/// The differentiable part of a classifier graph.
#[derive(Debug, Clone)]
pub(crate) struct GradGraph {
    input: String,
    sample_shape: Vec<usize>,
    consts: HashMap<String, T>,
    nodes: Vec<Node>,
    output: String,
    /// Why the graph has no gradient (a node that only runs forward).
    no_grad: Option<String>,
}

fn attr<'a>(n: &'a pb::NodeProto, name: &str) -> Option<&'a pb::AttributeProto> {
    n.attribute.iter().find(|a| a.name == name)
}
fn attr_i(n: &pb::NodeProto, name: &str, default: i64) -> i64 {
    attr(n, name).map_or(default, |a| a.i)
}
fn attr_f(n: &pb::NodeProto, name: &str, default: f32) -> f32 {
    attr(n, name).map_or(default, |a| a.f)
}
fn attr_s(n: &pb::NodeProto, name: &str) -> String {
    attr(n, name).map_or_else(String::new, |a| String::from_utf8_lossy(&a.s).into_owned())
}
fn attr_ints<'a>(n: &'a pb::NodeProto, name: &str) -> Option<&'a [i64]> {
    attr(n, name).map(|a| a.ints.as_slice())
}
fn usize_pair(v: Option<&[i64]>, default: usize) -> Result<[usize; 2], String> {
    match v {
        None => Ok([default, default]),
        Some([a, b]) if *a >= 0 && *b >= 0 => Ok([*a as usize, *b as usize]),
        Some(o) => Err(format!("expected two non-negative values, got {o:?}")),
    }
}
fn pads4(v: Option<&[i64]>) -> Result<[usize; 4], String> {
    match v {
        None => Ok([0; 4]),
        Some([a, b, c, d]) if [a, b, c, d].iter().all(|x| **x >= 0) => {
            Ok([*a as usize, *b as usize, *c as usize, *d as usize])
        }
        Some(o) => Err(format!("expected four non-negative pads, got {o:?}")),
    }
}

/// Float or int64 values of a tensor proto.
fn tensor_values(t: &pb::TensorProto) -> Result<(Vec<usize>, Vec<f64>), String> {
    use pb::tensor_proto::DataType;
    let shape: Vec<usize> = t
        .dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("tensor {:?}: dimension {d}", t.name)))
        .collect::<Result<_, _>>()?;
    let n = checked_len(&shape)?;
    let raw = &t.raw_data;
    let vals: Vec<f64> = match DataType::try_from(t.data_type) {
        Ok(DataType::Float) => {
            if raw.is_empty() {
                t.float_data.iter().map(|&v| f64::from(v)).collect()
            } else {
                raw.chunks_exact(4)
                    .map(|c| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                    .collect()
            }
        }
        Ok(DataType::Double) => {
            if raw.is_empty() {
                t.double_data.clone()
            } else {
                raw.chunks_exact(8)
                    .map(|c| {
                        let mut b = [0u8; 8];
                        b.copy_from_slice(c);
                        f64::from_le_bytes(b)
                    })
                    .collect()
            }
        }
        Ok(DataType::Int64) => {
            if raw.is_empty() {
                t.int64_data.iter().map(|&v| v as f64).collect()
            } else {
                raw.chunks_exact(8)
                    .map(|c| {
                        let mut b = [0u8; 8];
                        b.copy_from_slice(c);
                        i64::from_le_bytes(b) as f64
                    })
                    .collect()
            }
        }
        _ => {
            return Err(format!(
                "tensor {:?} has element type {}, not float or int64",
                t.name, t.data_type
            ));
        }
    };
    if vals.len() != n {
        return Err(format!(
            "tensor {:?} has {} values for shape {shape:?}",
            t.name,
            vals.len()
        ));
    }
    Ok((shape, vals))
}

fn to_t(shape: Vec<usize>, v: &[f64]) -> T {
    T::new(shape, v.iter().map(|&x| x as f32).collect())
}

impl GradGraph {
    /// Builds the differentiable path from `input` to `output`, or says
    /// which operator has no gradient.
    pub(crate) fn build(
        proto: &pb::ModelProto,
        input: &str,
        sample_shape: &[usize],
        output: &str,
    ) -> Result<Self, String> {
        let graph = proto.graph.as_ref().ok_or("the model has no graph")?;
        let opset = proto
            .opset_import
            .iter()
            .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
            .map_or(13, |o| o.version);
        let mut consts: HashMap<String, T> = HashMap::new();
        let mut ints: HashMap<String, Vec<i64>> = HashMap::new();
        for t in &graph.initializer {
            // Tensors of other types (class labels, say) are off the
            // differentiable path; one that is needed shows up as missing.
            let Ok((shape, v)) = tensor_values(t) else {
                continue;
            };
            if t.data_type == pb::tensor_proto::DataType::Int64 as i32 {
                ints.insert(t.name.clone(), v.iter().map(|&x| x as i64).collect());
            }
            consts.insert(t.name.clone(), to_t(shape, &v));
        }
        // Walk back from the output to the nodes it needs.
        let producer: HashMap<&str, usize> = graph
            .node
            .iter()
            .enumerate()
            .flat_map(|(i, n)| n.output.iter().map(move |o| (o.as_str(), i)))
            .collect();
        let mut needed = HashSet::new();
        let mut stack = vec![output];
        while let Some(v) = stack.pop() {
            if let Some(&i) = producer.get(v)
                && needed.insert(i)
            {
                stack.extend(graph.node[i].input.iter().map(String::as_str));
            }
        }
        let mut nodes = Vec::new();
        let mut no_grad = None;
        for (i, n) in graph.node.iter().enumerate() {
            if !needed.contains(&i) {
                continue;
            }
            let what = || format!("node {:?} ({})", n.name, n.op_type);
            if n.op_type == "Constant" {
                let t = attr(n, "value")
                    .and_then(|a| a.t.as_ref())
                    .ok_or_else(|| format!("{}: only tensor constants are supported", what()))?;
                let (shape, v) = tensor_values(t)?;
                if let Some(o) = n.output.first() {
                    if t.data_type == pb::tensor_proto::DataType::Int64 as i32 {
                        ints.insert(o.clone(), v.iter().map(|&x| x as i64).collect());
                    }
                    consts.insert(o.clone(), to_t(shape, &v));
                }
                continue;
            }
            let op = parse_op(n, opset, &ints, &consts).map_err(|e| format!("{}: {e}", what()))?;
            let two_outputs = matches!(op, Op::Linear { .. } | Op::Trees(_));
            let out_index = usize::from(two_outputs);
            let out = n
                .output
                .get(out_index)
                .ok_or_else(|| format!("{}: missing output {out_index}", what()))?;
            if two_outputs
                && n.output
                    .first()
                    .is_some_and(|l| needed_uses(graph, &needed, l))
            {
                return Err(format!("{}: its label output has no gradient", what()));
            }
            if matches!(op, Op::Trees(_)) && no_grad.is_none() {
                no_grad = Some(format!(
                    "{}: operator {} has no gradient (tree ensembles need a black-box attack)",
                    what(),
                    n.op_type
                ));
            }
            nodes.push(Node {
                op,
                inputs: n.input.clone(),
                output: out.clone(),
                name: n.name.clone(),
            });
        }
        Ok(Self {
            input: input.to_owned(),
            sample_shape: sample_shape.to_vec(),
            consts,
            nodes,
            output: output.to_owned(),
            no_grad,
        })
    }

    /// `Ok` when every node on the path has a gradient, else why not.
    pub(crate) fn differentiable(&self) -> Result<(), String> {
        self.no_grad.clone().map_or(Ok(()), Err)
    }

    /// The path contains a tree ensemble (evaluated natively).
    pub(crate) fn has_trees(&self) -> bool {
        self.nodes.iter().any(|n| matches!(n.op, Op::Trees(_)))
    }

    /// Forward pass only: the probabilities of `rows` samples.
    pub(crate) fn proba(&self, x: &[f32], rows: usize) -> Result<Vec<f32>, String> {
        let mut shape = vec![rows];
        shape.extend_from_slice(&self.sample_shape);
        let (mut values, _) = self.forward(T::new(shape, x.to_vec()))?;
        values
            .remove(&self.output)
            .map(|t| t.data)
            .ok_or_else(|| format!("output {:?} was not computed", self.output))
    }

    /// Probabilities for `rows` samples, and `∂(−Σ log p[y]) / ∂x`.
    pub(crate) fn loss_gradient(
        &self,
        x: &[f32],
        rows: usize,
        labels: &[usize],
    ) -> Result<(Vec<f32>, Vec<f32>), String> {
        self.differentiable()?;
        let mut shape = vec![rows];
        shape.extend_from_slice(&self.sample_shape);
        let (values, variable) = self.forward(T::new(shape, x.to_vec()))?;
        let out = values
            .get(&self.output)
            .ok_or_else(|| format!("output {:?} was not computed", self.output))?;
        let classes = out.shape.last().copied().unwrap_or(0);
        if out.shape.len() != 2 || out.shape[0] != rows || labels.len() != rows {
            return Err(format!(
                "output {:?} has shape {:?} for {rows} rows",
                self.output, out.shape
            ));
        }
        // Seed: ∂(−log p[y]) / ∂p.
        let mut seed = T::zeros(&out.shape)?;
        for (r, &y) in labels.iter().enumerate() {
            if y >= classes {
                return Err(format!("label {y} is out of range for {classes} classes"));
            }
            seed.data[r * classes + y] = -1.0 / out.data[r * classes + y].max(1e-30);
        }
        let mut grads: HashMap<&str, T> = HashMap::new();
        grads.insert(self.output.as_str(), seed);
        for node in self.nodes.iter().rev() {
            let Some(g) = grads.remove(node.output.as_str()) else {
                continue;
            };
            let ins: Vec<&T> = node
                .inputs
                .iter()
                .map(|n| self.value(&values, n))
                .collect::<Result<_, _>>()?;
            let want: Vec<bool> = node
                .inputs
                .iter()
                .map(|n| variable.contains(n.as_str()))
                .collect();
            let out = self.value(&values, &node.output)?;
            let gin = backward(&node.op, &ins, out, &g, &want)
                .map_err(|e| format!("node {:?}: {e}", node.name))?;
            for ((name, gi), w) in node.inputs.iter().zip(gin).zip(&want) {
                let (Some(gi), true) = (gi, *w) else { continue };
                match grads.get_mut(name.as_str()) {
                    Some(acc) => acc.data.iter_mut().zip(&gi.data).for_each(|(a, b)| *a += b),
                    None => {
                        grads.insert(name.as_str(), gi);
                    }
                }
            }
        }
        let gx = grads
            .remove(self.input.as_str())
            .map_or_else(|| vec![0.0; x.len()], |t| t.data);
        Ok((out.data.clone(), gx))
    }

    fn value<'a>(&'a self, values: &'a HashMap<String, T>, name: &str) -> Result<&'a T, String> {
        values
            .get(name)
            .or_else(|| self.consts.get(name))
            .ok_or_else(|| format!("value {name:?} is not available"))
    }

    fn forward(&self, x: T) -> Result<(HashMap<String, T>, HashSet<String>), String> {
        let mut values = HashMap::new();
        let mut variable = HashSet::new();
        values.insert(self.input.clone(), x);
        variable.insert(self.input.clone());
        for node in &self.nodes {
            let ins: Vec<&T> = node
                .inputs
                .iter()
                .filter(|n| !n.is_empty())
                .map(|n| self.value(&values, n))
                .collect::<Result<_, _>>()?;
            let out = forward(&node.op, &ins).map_err(|e| format!("node {:?}: {e}", node.name))?;
            if node.inputs.iter().any(|n| variable.contains(n)) {
                variable.insert(node.output.clone());
            }
            values.insert(node.output.clone(), out);
        }
        Ok((values, variable))
    }
}

fn needed_uses(graph: &pb::GraphProto, needed: &HashSet<usize>, name: &str) -> bool {
    graph
        .node
        .iter()
        .enumerate()
        .any(|(i, n)| needed.contains(&i) && n.input.iter().any(|x| x == name))
}

fn parse_op(
    n: &pb::NodeProto,
    opset: i64,
    ints: &HashMap<String, Vec<i64>>,
    consts: &HashMap<String, T>,
) -> Result<Op, String> {
    Ok(match n.op_type.as_str() {
        "Identity" | "Dropout" => Op::Identity,
        "Cast" => {
            if attr_i(n, "to", 1) != pb::tensor_proto::DataType::Float as i64 {
                return Err("a cast to a non-float type has no gradient".into());
            }
            Op::Identity
        }
        "Gemm" => Op::Gemm {
            alpha: attr_f(n, "alpha", 1.0),
            beta: attr_f(n, "beta", 1.0),
            ta: attr_i(n, "transA", 0) != 0,
            tb: attr_i(n, "transB", 0) != 0,
        },
        "MatMul" => Op::MatMul,
        "Add" | "Sum" if n.input.len() == 2 => Op::Add,
        "Sub" => Op::Sub,
        "Mul" => Op::Mul,
        "Div" => Op::Div,
        "Relu" => Op::Relu,
        "LeakyRelu" => Op::LeakyRelu(attr_f(n, "alpha", 0.01)),
        "Sigmoid" => Op::Sigmoid,
        "Tanh" => Op::Tanh,
        "Clip" => {
            let bound = |i: usize, attr_name: &str, d: f32| -> Result<f32, String> {
                match n.input.get(i).filter(|s| !s.is_empty()) {
                    Some(name) => consts
                        .get(name)
                        .and_then(|t| t.data.first().copied())
                        .ok_or_else(|| format!("Clip bound {name:?} is not a constant")),
                    None => Ok(attr_f(n, attr_name, d)),
                }
            };
            Op::Clip(
                bound(1, "min", f32::NEG_INFINITY)?,
                bound(2, "max", f32::INFINITY)?,
            )
        }
        "Softmax" | "LogSoftmax" => Op::Softmax {
            axis: attr_i(n, "axis", if opset >= 13 { -1 } else { 1 }),
            legacy: opset < 13,
            log: n.op_type == "LogSoftmax",
        },
        "Flatten" => Op::Flatten(attr_i(n, "axis", 1)),
        "Reshape" => {
            let s = n
                .input
                .get(1)
                .and_then(|s| ints.get(s))
                .ok_or("the target shape is not a constant")?;
            if attr_i(n, "allowzero", 0) != 0 {
                return Err("allowzero=1 is not supported".into());
            }
            Op::Reshape(s.clone())
        }
        "Conv" => {
            if attr_i(n, "group", 1) != 1 {
                return Err("grouped convolutions have no gradient here".into());
            }
            if attr_ints(n, "kernel_shape").is_some_and(|k| k.len() != 2) {
                return Err("only 2-D convolutions are supported".into());
            }
            Op::Conv {
                pads: pads4(attr_ints(n, "pads"))?,
                strides: usize_pair(attr_ints(n, "strides"), 1)?,
                dil: usize_pair(attr_ints(n, "dilations"), 1)?,
                auto_pad: attr_s(n, "auto_pad"),
            }
        }
        "MaxPool" | "AveragePool" => {
            if attr_i(n, "ceil_mode", 0) != 0 {
                return Err("ceil_mode=1 is not supported".into());
            }
            if attr_ints(n, "dilations").is_some_and(|d| d.iter().any(|&v| v != 1)) {
                return Err("dilated pooling is not supported".into());
            }
            if n.output.len() > 1 {
                return Err("pooling indices have no gradient".into());
            }
            Op::Pool {
                max: n.op_type == "MaxPool",
                k: usize_pair(
                    Some(attr_ints(n, "kernel_shape").ok_or("kernel_shape is required")?),
                    1,
                )?,
                pads: pads4(attr_ints(n, "pads"))?,
                strides: usize_pair(attr_ints(n, "strides"), 1)?,
                count_pad: attr_i(n, "count_include_pad", 0) != 0,
                auto_pad: attr_s(n, "auto_pad"),
            }
        }
        "GlobalAveragePool" => Op::GlobalAvgPool,
        "BatchNormalization" => Op::BatchNorm(attr_f(n, "epsilon", 1e-5)),
        "LinearClassifier" => {
            let coefs: Vec<f32> =
                attr(n, "coefficients").map_or_else(Vec::new, |a| a.floats.clone());
            let intercept: Vec<f32> =
                attr(n, "intercepts").map_or_else(Vec::new, |a| a.floats.clone());
            let classes = attr_ints(n, "classlabels_ints")
                .map(<[i64]>::len)
                .filter(|&c| c > 0)
                .or_else(|| attr(n, "classlabels_strings").map(|a| a.strings.len()))
                .unwrap_or(0);
            if classes < 2 || intercept.len() != classes || !coefs.len().is_multiple_of(classes) {
                return Err(format!(
                    "{} coefficients and {} intercepts for {classes} classes: only one \
                     coefficient row per class is supported",
                    coefs.len(),
                    intercept.len()
                ));
            }
            let post = match attr_s(n, "post_transform").as_str() {
                "" | "NONE" => Post::None,
                "SOFTMAX" => Post::Softmax,
                "LOGISTIC" => Post::Logistic,
                o => return Err(format!("post_transform {o} is not supported")),
            };
            let f = coefs.len() / classes;
            Op::Linear {
                coef: T::new(vec![classes, f], coefs),
                intercept,
                post,
            }
        }
        "TreeEnsembleClassifier" => Op::Trees(Box::new(Trees::parse(n)?)),
        "Normalizer" => Op::Normalizer(match attr_s(n, "norm").as_str() {
            "MAX" => NormKind::Max,
            "L1" => NormKind::L1,
            "L2" => NormKind::L2,
            o => return Err(format!("norm {o:?} is not supported")),
        }),
        other => {
            return Err(format!(
                "operator {other} has no gradient here (tree ensembles and other \
                 non-differentiable models need a black-box attack)"
            ));
        }
    })
}

fn get<'a>(ins: &[&'a T], i: usize) -> Result<&'a T, String> {
    ins.get(i)
        .copied()
        .ok_or_else(|| format!("missing input {i}"))
}

// ---------------------------------------------------------------- helpers

fn broadcast_shape(a: &[usize], b: &[usize]) -> Result<Vec<usize>, String> {
    let r = a.len().max(b.len());
    let mut out = vec![0; r];
    for i in 0..r {
        let da = if i + a.len() >= r {
            a[i + a.len() - r]
        } else {
            1
        };
        let db = if i + b.len() >= r {
            b[i + b.len() - r]
        } else {
            1
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return Err(format!("shapes {a:?} and {b:?} do not broadcast")),
        };
    }
    checked_len(&out)?;
    Ok(out)
}

/// Strides of `shape` aligned to `out` (0 where broadcast).
fn bstrides(shape: &[usize], out: &[usize]) -> Vec<usize> {
    let r = out.len();
    let mut st = vec![0; r];
    let mut acc = 1;
    for i in (0..shape.len()).rev() {
        let oi = i + r - shape.len();
        st[oi] = if shape[i] == 1 { 0 } else { acc };
        acc *= shape[i];
    }
    st
}

/// Calls `f(out_index, a_offset, b_offset)` over the broadcast output.
fn for_broadcast(a: &[usize], b: &[usize], out: &[usize], mut f: impl FnMut(usize, usize, usize)) {
    let sa = bstrides(a, out);
    let sb = bstrides(b, out);
    let n: usize = out.iter().product();
    let r = out.len();
    let mut idx = vec![0usize; r];
    let (mut oa, mut ob) = (0usize, 0usize);
    for o in 0..n {
        f(o, oa, ob);
        for d in (0..r).rev() {
            idx[d] += 1;
            oa += sa[d];
            ob += sb[d];
            if idx[d] < out[d] {
                break;
            }
            oa -= sa[d] * out[d];
            ob -= sb[d] * out[d];
            idx[d] = 0;
        }
    }
}

/// `c[m×n] += a[m×k] · b[k×n]` with optional transposes of the stored
/// matrices (`a` stored `k×m` when `ta`, `b` stored `n×k` when `tb`).
#[allow(clippy::too_many_arguments)]
fn gemm(
    c: &mut [f32],
    a: &[f32],
    b: &[f32],
    m: usize,
    k: usize,
    n: usize,
    ta: bool,
    tb: bool,
    alpha: f32,
) {
    for i in 0..m {
        for p in 0..k {
            let av = alpha * if ta { a[p * m + i] } else { a[i * k + p] };
            if av == 0.0 {
                continue;
            }
            let row = &mut c[i * n..(i + 1) * n];
            if tb {
                for (j, cv) in row.iter_mut().enumerate() {
                    *cv += av * b[j * k + p];
                }
            } else {
                for (cv, bv) in row.iter_mut().zip(&b[p * n..(p + 1) * n]) {
                    *cv += av * bv;
                }
            }
        }
    }
}

fn axis_index(axis: i64, rank: usize) -> Result<usize, String> {
    let r = i64::try_from(rank).map_err(|e| e.to_string())?;
    let a = if axis < 0 { axis + r } else { axis };
    if (0..=r).contains(&a) {
        Ok(a as usize)
    } else {
        Err(format!("axis {axis} out of range for rank {rank}"))
    }
}

/// `(outer, len, inner)` of the softmax along the axis.
fn softmax_layout(
    shape: &[usize],
    axis: i64,
    legacy: bool,
) -> Result<(usize, usize, usize), String> {
    let a = axis_index(axis, shape.len())?;
    if a >= shape.len() {
        return Err(format!("softmax axis {axis} for shape {shape:?}"));
    }
    let outer = shape[..a].iter().product();
    if legacy {
        Ok((outer, shape[a..].iter().product(), 1))
    } else {
        Ok((outer, shape[a], shape[a + 1..].iter().product()))
    }
}

fn softmax(x: &T, axis: i64, legacy: bool, log: bool) -> Result<T, String> {
    let (outer, len, inner) = softmax_layout(&x.shape, axis, legacy)?;
    let mut out = x.clone();
    for o in 0..outer {
        for i in 0..inner {
            let at = |j: usize| o * len * inner + j * inner + i;
            let m = (0..len)
                .map(|j| x.data[at(j)])
                .fold(f32::NEG_INFINITY, f32::max);
            let s: f32 = (0..len).map(|j| (x.data[at(j)] - m).exp()).sum();
            for j in 0..len {
                out.data[at(j)] = if log {
                    x.data[at(j)] - m - s.ln()
                } else {
                    (x.data[at(j)] - m).exp() / s
                };
            }
        }
    }
    Ok(out)
}

fn softmax_back(y: &T, g: &T, axis: i64, legacy: bool, log: bool) -> Result<T, String> {
    let (outer, len, inner) = softmax_layout(&y.shape, axis, legacy)?;
    let mut out = g.clone();
    for o in 0..outer {
        for i in 0..inner {
            let at = |j: usize| o * len * inner + j * inner + i;
            if log {
                let s: f32 = (0..len).map(|j| g.data[at(j)]).sum();
                for j in 0..len {
                    out.data[at(j)] = g.data[at(j)] - y.data[at(j)].exp() * s;
                }
            } else {
                let s: f32 = (0..len).map(|j| g.data[at(j)] * y.data[at(j)]).sum();
                for j in 0..len {
                    out.data[at(j)] = y.data[at(j)] * (g.data[at(j)] - s);
                }
            }
        }
    }
    Ok(out)
}

fn image(x: &T) -> Result<[usize; 4], String> {
    match x.shape.as_slice() {
        &[n, c, h, w] => Ok([n, c, h, w]),
        s => Err(format!("expected an N×C×H×W input, got {s:?}")),
    }
}

/// Pads (top, left, bottom, right) for `auto_pad`.
fn resolve_pads(
    auto: &str,
    pads: [usize; 4],
    hw: [usize; 2],
    k: [usize; 2],
    s: [usize; 2],
) -> Result<[usize; 4], String> {
    match auto {
        "" | "NOTSET" => Ok(pads),
        "VALID" => Ok([0; 4]),
        "SAME_UPPER" | "SAME_LOWER" => {
            let mut p = [0; 4];
            for d in 0..2 {
                let out = hw[d].div_ceil(s[d]);
                let total = ((out - 1) * s[d] + k[d]).saturating_sub(hw[d]);
                let (lo, hi) = if auto == "SAME_UPPER" {
                    (total / 2, total - total / 2)
                } else {
                    (total - total / 2, total / 2)
                };
                p[d] = lo;
                p[d + 2] = hi;
            }
            Ok(p)
        }
        o => Err(format!("auto_pad {o} is not supported")),
    }
}

fn out_dim(len: usize, lo: usize, hi: usize, eff_k: usize, s: usize) -> Result<usize, String> {
    let padded = len + lo + hi;
    if padded < eff_k || s == 0 {
        return Err(format!(
            "window {eff_k} (stride {s}) does not fit {padded} values"
        ));
    }
    Ok((padded - eff_k) / s + 1)
}

struct ConvGeom {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    m: usize,
    kh: usize,
    kw: usize,
    oh: usize,
    ow: usize,
    p: [usize; 4],
    s: [usize; 2],
    d: [usize; 2],
}

fn conv_geom(
    x: &T,
    wt: &T,
    pads: [usize; 4],
    s: [usize; 2],
    d: [usize; 2],
    auto: &str,
) -> Result<ConvGeom, String> {
    let [n, c, h, w] = image(x)?;
    let &[m, cw, kh, kw] = wt.shape.as_slice() else {
        return Err(format!(
            "weights of shape {:?}; M×C×kh×kw expected",
            wt.shape
        ));
    };
    if cw != c {
        return Err(format!("weights for {cw} channels, input has {c}"));
    }
    let eff = [d[0] * (kh - 1) + 1, d[1] * (kw - 1) + 1];
    let p = resolve_pads(auto, pads, [h, w], eff, s)?;
    let oh = out_dim(h, p[0], p[2], eff[0], s[0])?;
    let ow = out_dim(w, p[1], p[3], eff[1], s[1])?;
    checked_len(&[n, m, oh, ow])?;
    Ok(ConvGeom {
        n,
        c,
        h,
        w,
        m,
        kh,
        kw,
        oh,
        ow,
        p,
        s,
        d,
    })
}

impl ConvGeom {
    /// Calls `f(x_offset, w_offset, out_offset)` for every product term.
    fn each(&self, mut f: impl FnMut(usize, usize, usize)) {
        let g = self;
        for b in 0..g.n {
            for mo in 0..g.m {
                for oy in 0..g.oh {
                    for ox in 0..g.ow {
                        let o = ((b * g.m + mo) * g.oh + oy) * g.ow + ox;
                        for ci in 0..g.c {
                            for ky in 0..g.kh {
                                let iy = (oy * g.s[0] + ky * g.d[0]).wrapping_sub(g.p[0]);
                                if iy >= g.h {
                                    continue;
                                }
                                for kx in 0..g.kw {
                                    let ix = (ox * g.s[1] + kx * g.d[1]).wrapping_sub(g.p[1]);
                                    if ix >= g.w {
                                        continue;
                                    }
                                    let xi = ((b * g.c + ci) * g.h + iy) * g.w + ix;
                                    let wi = ((mo * g.c + ci) * g.kh + ky) * g.kw + kx;
                                    f(xi, wi, o);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

struct PoolGeom {
    nc: usize,
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
    k: [usize; 2],
    p: [usize; 4],
    s: [usize; 2],
}

fn pool_geom(
    x: &T,
    k: [usize; 2],
    pads: [usize; 4],
    s: [usize; 2],
    auto: &str,
) -> Result<PoolGeom, String> {
    let [n, c, h, w] = image(x)?;
    if k.contains(&0) {
        return Err("empty pooling window".into());
    }
    let p = resolve_pads(auto, pads, [h, w], k, s)?;
    let oh = out_dim(h, p[0], p[2], k[0], s[0])?;
    let ow = out_dim(w, p[1], p[3], k[1], s[1])?;
    Ok(PoolGeom {
        nc: n * c,
        h,
        w,
        oh,
        ow,
        k,
        p,
        s,
    })
}

impl PoolGeom {
    /// Input offsets inside window `(plane, oy, ox)`, and the window's
    /// size counting padding.
    fn window(&self, plane: usize, oy: usize, ox: usize, out: &mut Vec<usize>) -> usize {
        out.clear();
        for ky in 0..self.k[0] {
            let iy = (oy * self.s[0] + ky).wrapping_sub(self.p[0]);
            for kx in 0..self.k[1] {
                let ix = (ox * self.s[1] + kx).wrapping_sub(self.p[1]);
                if iy < self.h && ix < self.w {
                    out.push((plane * self.h + iy) * self.w + ix);
                }
            }
        }
        self.k[0] * self.k[1]
    }
}

fn out_shape_reshape(x: &[usize], target: &[i64]) -> Result<Vec<usize>, String> {
    let total: usize = x.iter().product();
    let mut out = Vec::with_capacity(target.len());
    let mut infer = None;
    for (i, &t) in target.iter().enumerate() {
        match t {
            0 => out.push(*x.get(i).ok_or("reshape copies a missing dimension")?),
            -1 if infer.is_none() => {
                infer = Some(i);
                out.push(1);
            }
            t if t > 0 => out.push(usize::try_from(t).map_err(|e| e.to_string())?),
            t => return Err(format!("bad reshape dimension {t}")),
        }
    }
    let known: usize = out.iter().product();
    if let Some(i) = infer {
        if known == 0 || !total.is_multiple_of(known) {
            return Err(format!("cannot reshape {x:?} to {target:?}"));
        }
        out[i] = total / known;
    }
    if out.iter().product::<usize>() != total {
        return Err(format!("cannot reshape {x:?} to {target:?}"));
    }
    Ok(out)
}

fn flatten_shape(x: &[usize], axis: i64) -> Result<Vec<usize>, String> {
    let a = axis_index(axis, x.len())?;
    Ok(vec![x[..a].iter().product(), x[a..].iter().product()])
}

fn sigmoid(v: f32) -> f32 {
    1.0 / (1.0 + (-v).exp())
}

/// Rows and width of a 2-D tensor.
fn matrix(x: &T) -> Result<(usize, usize), String> {
    match x.shape.as_slice() {
        &[r, c] => Ok((r, c)),
        s => Err(format!("expected a 2-D tensor, got {s:?}")),
    }
}

fn batchnorm_params<'a>(ins: &[&'a T], c: usize) -> Result<[&'a [f32]; 4], String> {
    let mut out = [&[][..]; 4];
    for (i, slot) in out.iter_mut().enumerate() {
        let t = get(ins, i + 1)?;
        if t.data.len() != c {
            return Err(format!(
                "batch-norm parameter {i} has {} values for {c} channels",
                t.data.len()
            ));
        }
        *slot = &t.data;
    }
    Ok(out)
}

// ---------------------------------------------------------------- forward

#[allow(clippy::too_many_lines)]
fn forward(op: &Op, ins: &[&T]) -> Result<T, String> {
    let x = get(ins, 0)?;
    Ok(match op {
        Op::Identity => x.clone(),
        Op::Relu => x.map(|v| v.max(0.0)),
        Op::LeakyRelu(a) => x.map(|v| if v >= 0.0 { v } else { a * v }),
        Op::Sigmoid => x.map(sigmoid),
        Op::Tanh => x.map(f32::tanh),
        Op::Clip(lo, hi) => x.map(|v| v.max(*lo).min(*hi)),
        Op::Softmax { axis, legacy, log } => softmax(x, *axis, *legacy, *log)?,
        Op::Flatten(axis) => T::new(flatten_shape(&x.shape, *axis)?, x.data.clone()),
        Op::Reshape(t) => T::new(out_shape_reshape(&x.shape, t)?, x.data.clone()),
        Op::Add | Op::Sub | Op::Mul | Op::Div => {
            let b = get(ins, 1)?;
            let shape = broadcast_shape(&x.shape, &b.shape)?;
            let mut out = T::zeros(&shape)?;
            for_broadcast(&x.shape, &b.shape, &shape, |o, i, j| {
                let (u, v) = (x.data[i], b.data[j]);
                out.data[o] = match op {
                    Op::Add => u + v,
                    Op::Sub => u - v,
                    Op::Mul => u * v,
                    _ => u / v,
                };
            });
            out
        }
        Op::MatMul => {
            let b = get(ins, 1)?;
            let (k, n) = matrix(b)?;
            let (&kk, lead) = x.shape.split_last().ok_or("MatMul of a scalar")?;
            if kk != k || lead.is_empty() {
                return Err(format!("MatMul of {:?} and {:?}", x.shape, b.shape));
            }
            let m: usize = lead.iter().product();
            let mut shape = lead.to_vec();
            shape.push(n);
            let mut out = T::zeros(&shape)?;
            gemm(&mut out.data, &x.data, &b.data, m, k, n, false, false, 1.0);
            out
        }
        Op::Gemm {
            alpha,
            beta,
            ta,
            tb,
        } => {
            let b = get(ins, 1)?;
            let (ar, ac) = matrix(x)?;
            let (br, bc) = matrix(b)?;
            let (m, k) = if *ta { (ac, ar) } else { (ar, ac) };
            let (k2, n) = if *tb { (bc, br) } else { (br, bc) };
            if k != k2 {
                return Err(format!("Gemm of {:?} and {:?}", x.shape, b.shape));
            }
            let mut out = T::zeros(&[m, n])?;
            if let Some(c) = ins.get(2) {
                let shape = broadcast_shape(&[m, n], &c.shape)?;
                if shape != [m, n] {
                    return Err(format!("Gemm bias {:?} for output [{m}, {n}]", c.shape));
                }
                for_broadcast(&[m, n], &c.shape, &shape, |o, _, j| {
                    out.data[o] = beta * c.data[j];
                });
            }
            gemm(&mut out.data, &x.data, &b.data, m, k, n, *ta, *tb, *alpha);
            out
        }
        Op::Conv {
            pads,
            strides,
            dil,
            auto_pad,
        } => {
            let wt = get(ins, 1)?;
            let g = conv_geom(x, wt, *pads, *strides, *dil, auto_pad)?;
            let mut out = T::zeros(&[g.n, g.m, g.oh, g.ow])?;
            if let Some(bias) = ins.get(2) {
                if bias.data.len() != g.m {
                    return Err(format!(
                        "bias of {} values for {} filters",
                        bias.data.len(),
                        g.m
                    ));
                }
                let plane = g.oh * g.ow;
                for (i, v) in out.data.iter_mut().enumerate() {
                    *v = bias.data[(i / plane) % g.m];
                }
            }
            g.each(|xi, wi, o| out.data[o] += x.data[xi] * wt.data[wi]);
            out
        }
        Op::Pool {
            max,
            k,
            pads,
            strides,
            count_pad,
            auto_pad,
        } => {
            let g = pool_geom(x, *k, *pads, *strides, auto_pad)?;
            let mut shape = x.shape.clone();
            shape[2] = g.oh;
            shape[3] = g.ow;
            let mut out = T::zeros(&shape)?;
            let mut win = Vec::new();
            for plane in 0..g.nc {
                for oy in 0..g.oh {
                    for ox in 0..g.ow {
                        let full = g.window(plane, oy, ox, &mut win);
                        let o = (plane * g.oh + oy) * g.ow + ox;
                        out.data[o] = if *max {
                            win.iter()
                                .map(|&i| x.data[i])
                                .fold(f32::NEG_INFINITY, f32::max)
                        } else {
                            let div = if *count_pad { full } else { win.len().max(1) };
                            win.iter().map(|&i| x.data[i]).sum::<f32>() / div as f32
                        };
                    }
                }
            }
            out
        }
        Op::GlobalAvgPool => {
            let [n, c, h, w] = image(x)?;
            let plane = (h * w).max(1);
            let mut out = T::zeros(&[n, c, 1, 1])?;
            for (i, v) in out.data.iter_mut().enumerate() {
                *v = x.data[i * plane..(i + 1) * plane].iter().sum::<f32>() / plane as f32;
            }
            out
        }
        Op::BatchNorm(eps) => {
            let c = *x.shape.get(1).ok_or("batch norm of a 1-D tensor")?;
            let [scale, bias, mean, var] = batchnorm_params(ins, c)?;
            let inner: usize = x.shape[2..].iter().product();
            let mut out = x.clone();
            for (i, v) in out.data.iter_mut().enumerate() {
                let ch = (i / inner.max(1)) % c;
                *v = (*v - mean[ch]) / (var[ch] + eps).sqrt() * scale[ch] + bias[ch];
            }
            out
        }
        Op::Linear {
            coef,
            intercept,
            post,
        } => {
            let (rows, f) = matrix(x)?;
            let (c, cf) = matrix(coef)?;
            if f != cf {
                return Err(format!("{f} features for coefficients of {cf}"));
            }
            let mut out = T::zeros(&[rows, c])?;
            for r in 0..rows {
                out.data[r * c..(r + 1) * c].copy_from_slice(intercept);
            }
            gemm(
                &mut out.data,
                &x.data,
                &coef.data,
                rows,
                f,
                c,
                false,
                true,
                1.0,
            );
            match post {
                Post::None => out,
                Post::Softmax => softmax(&out, 1, false, false)?,
                Post::Logistic => out.map(sigmoid),
            }
        }
        Op::Trees(t) => t.eval(x)?,
        Op::Normalizer(kind) => {
            let (rows, c) = matrix(x)?;
            let mut out = x.clone();
            for r in 0..rows {
                let row = &mut out.data[r * c..(r + 1) * c];
                let s = norm_of(*kind, row);
                if s > 0.0 {
                    for v in row.iter_mut() {
                        *v /= s;
                    }
                }
            }
            out
        }
    })
}

fn norm_of(kind: NormKind, row: &[f32]) -> f32 {
    match kind {
        NormKind::Max => row.iter().fold(0.0f32, |a, v| a.max(v.abs())),
        NormKind::L1 => row.iter().map(|v| v.abs()).sum(),
        NormKind::L2 => row.iter().map(|v| v * v).sum::<f32>().sqrt(),
    }
}

// ---------------------------------------------------------------- backward

/// Gradients for the inputs flagged in `want` (others `None`).
#[allow(clippy::too_many_lines)]
fn backward(op: &Op, ins: &[&T], y: &T, g: &T, want: &[bool]) -> Result<Vec<Option<T>>, String> {
    let x = get(ins, 0)?;
    let w = |i: usize| want.get(i).copied().unwrap_or(false);
    let mut res: Vec<Option<T>> = vec![None; ins.len()];
    let elementwise = |f: &dyn Fn(f32, f32, f32) -> f32| {
        T::new(
            x.shape.clone(),
            x.data
                .iter()
                .zip(&y.data)
                .zip(&g.data)
                .map(|((&xv, &yv), &gv)| f(xv, yv, gv))
                .collect(),
        )
    };
    let first = match op {
        Op::Trees(_) => return Err("tree ensembles have no gradient".into()),
        Op::Identity => Some(g.clone()),
        Op::Relu => Some(elementwise(&|xv, _, gv| if xv > 0.0 { gv } else { 0.0 })),
        Op::LeakyRelu(a) => Some(elementwise(&|xv, _, gv| {
            if xv >= 0.0 { gv } else { a * gv }
        })),
        Op::Sigmoid => Some(elementwise(&|_, yv, gv| gv * yv * (1.0 - yv))),
        Op::Tanh => Some(elementwise(&|_, yv, gv| gv * (1.0 - yv * yv))),
        Op::Clip(lo, hi) => Some(elementwise(&|xv, _, gv| {
            if xv >= *lo && xv <= *hi { gv } else { 0.0 }
        })),
        Op::Softmax { axis, legacy, log } => Some(softmax_back(y, g, *axis, *legacy, *log)?),
        Op::Flatten(_) | Op::Reshape(_) => Some(T::new(x.shape.clone(), g.data.clone())),
        Op::Add | Op::Sub | Op::Mul | Op::Div => {
            let b = get(ins, 1)?;
            let mut ga = T::zeros(&x.shape)?;
            let mut gb = T::zeros(&b.shape)?;
            for_broadcast(&x.shape, &b.shape, &y.shape, |o, i, j| {
                let (u, v, gv) = (x.data[i], b.data[j], g.data[o]);
                let (da, db) = match op {
                    Op::Add => (gv, gv),
                    Op::Sub => (gv, -gv),
                    Op::Mul => (gv * v, gv * u),
                    _ => (gv / v, -gv * u / (v * v)),
                };
                ga.data[i] += da;
                gb.data[j] += db;
            });
            res[1] = w(1).then_some(gb);
            Some(ga)
        }
        Op::MatMul => {
            let b = get(ins, 1)?;
            let (k, n) = matrix(b)?;
            let m = x.data.len() / k.max(1);
            let mut ga = T::zeros(&x.shape)?;
            // dA = dY · Bᵀ
            gemm(&mut ga.data, &g.data, &b.data, m, n, k, false, true, 1.0);
            if w(1) {
                // dB = Aᵀ · dY
                let mut gb = T::zeros(&b.shape)?;
                gemm(&mut gb.data, &x.data, &g.data, k, m, n, true, false, 1.0);
                res[1] = Some(gb);
            }
            Some(ga)
        }
        Op::Gemm { alpha, ta, tb, .. } => {
            if w(1) || w(2) {
                return Err("Gemm gradients with respect to weights are not supported".into());
            }
            let b = get(ins, 1)?;
            let (m, n) = matrix(y)?;
            let (br, bc) = matrix(b)?;
            let k = if *tb { bc } else { br };
            // Y = α·op(A)·op(B): d op(A) = α·dY·op(B)ᵀ (m×k).
            let mut gop = vec![0.0f32; m * k];
            gemm(&mut gop, &g.data, &b.data, m, n, k, false, !*tb, *alpha);
            let mut ga = T::zeros(&x.shape)?;
            if *ta {
                for i in 0..m {
                    for p in 0..k {
                        ga.data[p * m + i] = gop[i * k + p];
                    }
                }
            } else {
                ga.data = gop;
            }
            Some(ga)
        }
        Op::Conv {
            pads,
            strides,
            dil,
            auto_pad,
        } => {
            if w(1) || w(2) {
                return Err("Conv gradients with respect to weights are not supported".into());
            }
            let wt = get(ins, 1)?;
            let geom = conv_geom(x, wt, *pads, *strides, *dil, auto_pad)?;
            let mut gx = T::zeros(&x.shape)?;
            geom.each(|xi, wi, o| gx.data[xi] += g.data[o] * wt.data[wi]);
            Some(gx)
        }
        Op::Pool {
            max,
            k,
            pads,
            strides,
            count_pad,
            auto_pad,
        } => {
            let geom = pool_geom(x, *k, *pads, *strides, auto_pad)?;
            let mut gx = T::zeros(&x.shape)?;
            let mut win = Vec::new();
            for plane in 0..geom.nc {
                for oy in 0..geom.oh {
                    for ox in 0..geom.ow {
                        let full = geom.window(plane, oy, ox, &mut win);
                        let o = (plane * geom.oh + oy) * geom.ow + ox;
                        if *max {
                            // The first maximum takes the gradient.
                            if let Some(&i) = win
                                .iter()
                                .find(|&&i| x.data[i].to_bits() == y.data[o].to_bits())
                            {
                                gx.data[i] += g.data[o];
                            }
                        } else {
                            let div = if *count_pad { full } else { win.len().max(1) };
                            for &i in &win {
                                gx.data[i] += g.data[o] / div as f32;
                            }
                        }
                    }
                }
            }
            Some(gx)
        }
        Op::GlobalAvgPool => {
            let [_, _, h, wd] = image(x)?;
            let plane = (h * wd).max(1);
            let mut gx = T::zeros(&x.shape)?;
            for (i, v) in gx.data.iter_mut().enumerate() {
                *v = g.data[i / plane] / plane as f32;
            }
            Some(gx)
        }
        Op::BatchNorm(eps) => {
            if (1..5).any(w) {
                return Err("batch-norm parameters must be constants".into());
            }
            let c = x.shape[1];
            let [scale, _, _, var] = batchnorm_params(ins, c)?;
            let inner: usize = x.shape[2..].iter().product();
            let mut gx = g.clone();
            for (i, v) in gx.data.iter_mut().enumerate() {
                let ch = (i / inner.max(1)) % c;
                *v *= scale[ch] / (var[ch] + eps).sqrt();
            }
            Some(gx)
        }
        Op::Linear { coef, post, .. } => {
            let (rows, c) = matrix(y)?;
            let (_, f) = matrix(coef)?;
            let gz = match post {
                Post::None => g.clone(),
                Post::Softmax => softmax_back(y, g, 1, false, false)?,
                Post::Logistic => T::new(
                    y.shape.clone(),
                    y.data
                        .iter()
                        .zip(&g.data)
                        .map(|(&p, &gv)| gv * p * (1.0 - p))
                        .collect(),
                ),
            };
            let mut gx = T::zeros(&[rows, f])?;
            gemm(
                &mut gx.data,
                &gz.data,
                &coef.data,
                rows,
                c,
                f,
                false,
                false,
                1.0,
            );
            Some(gx)
        }
        Op::Normalizer(kind) => {
            let (rows, c) = matrix(x)?;
            let mut gx = T::zeros(&x.shape)?;
            for r in 0..rows {
                let xr = &x.data[r * c..(r + 1) * c];
                let gr = &g.data[r * c..(r + 1) * c];
                let s = norm_of(*kind, xr);
                if s <= 0.0 {
                    gx.data[r * c..(r + 1) * c].copy_from_slice(gr);
                    continue;
                }
                // y = x / s(x): dx = g/s − (Σ g·x / s²) · ∂s/∂x
                let gx_dot: f32 = gr.iter().zip(xr).map(|(a, b)| a * b).sum::<f32>() / (s * s);
                let out = &mut gx.data[r * c..(r + 1) * c];
                let argmax = xr
                    .iter()
                    .enumerate()
                    .fold((0, 0.0f32), |(bi, bv), (i, v)| {
                        if v.abs() > bv { (i, v.abs()) } else { (bi, bv) }
                    })
                    .0;
                for j in 0..c {
                    let ds = match kind {
                        NormKind::L1 => xr[j].signum(),
                        NormKind::L2 => xr[j] / s,
                        NormKind::Max => {
                            if j == argmax {
                                xr[j].signum()
                            } else {
                                0.0
                            }
                        }
                    };
                    out[j] = gr[j] / s - gx_dot * ds;
                }
            }
            Some(gx)
        }
    };
    res[0] = if w(0) { first } else { None };
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(shape: &[usize], data: &[f32]) -> T {
        T::new(shape.to_vec(), data.to_vec())
    }

    /// Central finite differences of `Σ out·r` against `backward`.
    fn check(op: &Op, ins: &[T], probe: &[f32]) {
        let refs: Vec<&T> = ins.iter().collect();
        let y = forward(op, &refs).unwrap();
        let g = T::new(y.shape.clone(), probe[..y.data.len()].to_vec());
        let mut want = vec![false; ins.len()];
        want[0] = true;
        let grads = backward(op, &refs, &y, &g, &want).unwrap();
        let gx = grads[0].as_ref().unwrap();
        let h = 1e-3f32;
        for i in 0..ins[0].data.len() {
            let mut plus = ins.to_vec();
            plus[0].data[i] += h;
            let mut minus = ins.to_vec();
            minus[0].data[i] -= h;
            let f = |v: &[T]| -> f32 {
                let r: Vec<&T> = v.iter().collect();
                forward(op, &r)
                    .unwrap()
                    .data
                    .iter()
                    .zip(&g.data)
                    .map(|(a, b)| a * b)
                    .sum()
            };
            let num = (f(&plus) - f(&minus)) / (2.0 * h);
            assert!(
                (num - gx.data[i]).abs() < 2e-2 * (1.0 + num.abs()),
                "{op:?} input {i}: numeric {num}, analytic {}",
                gx.data[i]
            );
        }
    }

    fn ramp(n: usize, k: f32) -> Vec<f32> {
        (0..n)
            .map(|i| ((i as f32 * k).sin() * 0.9) + 0.05)
            .collect()
    }

    #[test]
    fn every_operator_matches_finite_differences() {
        let probe = ramp(512, 0.77);
        let x = t(&[2, 3], &ramp(6, 1.3));
        check(&Op::Relu, std::slice::from_ref(&x), &probe);
        check(&Op::Sigmoid, std::slice::from_ref(&x), &probe);
        check(&Op::Tanh, std::slice::from_ref(&x), &probe);
        check(&Op::LeakyRelu(0.1), std::slice::from_ref(&x), &probe);
        for (axis, legacy, log) in [
            (1, false, false),
            (-1, false, true),
            (1, true, false),
            (0, false, false),
        ] {
            check(
                &Op::Softmax { axis, legacy, log },
                std::slice::from_ref(&x),
                &probe,
            );
        }
        let b = t(&[3], &[0.5, -0.7, 1.1]);
        for op in [Op::Add, Op::Sub, Op::Mul, Op::Div] {
            check(&op, &[x.clone(), b.clone()], &probe);
        }
        let wm = t(&[3, 4], &ramp(12, 0.4));
        check(&Op::MatMul, &[x.clone(), wm.clone()], &probe);
        let wt = t(&[4, 3], &ramp(12, 0.9));
        check(
            &Op::Gemm {
                alpha: 0.7,
                beta: 0.3,
                ta: false,
                tb: true,
            },
            &[x.clone(), wt, t(&[4], &[1.0, 2.0, 3.0, 4.0])],
            &probe,
        );
        check(
            &Op::Gemm {
                alpha: 1.0,
                beta: 1.0,
                ta: true,
                tb: false,
            },
            &[t(&[3, 2], &ramp(6, 1.3)), wm],
            &probe,
        );
        let img = t(&[1, 2, 5, 5], &ramp(50, 0.61));
        let k = t(&[3, 2, 3, 3], &ramp(54, 0.33));
        check(
            &Op::Conv {
                pads: [1, 0, 1, 2],
                strides: [2, 1],
                dil: [1, 1],
                auto_pad: String::new(),
            },
            &[img.clone(), k, t(&[3], &[0.1, 0.2, 0.3])],
            &probe,
        );
        check(
            &Op::Pool {
                max: true,
                k: [2, 2],
                pads: [0; 4],
                strides: [2, 2],
                count_pad: false,
                auto_pad: String::new(),
            },
            std::slice::from_ref(&img),
            &probe,
        );
        check(
            &Op::Pool {
                max: false,
                k: [3, 3],
                pads: [1; 4],
                strides: [1, 1],
                count_pad: false,
                auto_pad: String::new(),
            },
            std::slice::from_ref(&img),
            &probe,
        );
        check(&Op::GlobalAvgPool, &[img], &probe);
        let pos = t(&[2, 3], &[0.2, 0.5, 0.3, 0.1, 0.6, 0.9]);
        for kind in [NormKind::L1, NormKind::L2] {
            check(&Op::Normalizer(kind), std::slice::from_ref(&pos), &probe);
        }
        for post in [Post::None, Post::Softmax, Post::Logistic] {
            check(
                &Op::Linear {
                    coef: t(&[4, 3], &ramp(12, 0.5)),
                    intercept: vec![0.1, -0.2, 0.3, 0.0],
                    post,
                },
                std::slice::from_ref(&x),
                &probe,
            );
        }
    }

    #[test]
    fn reshape_and_broadcast_shapes() {
        assert_eq!(out_shape_reshape(&[2, 3, 4], &[0, -1]).unwrap(), [2, 12]);
        assert!(out_shape_reshape(&[2, 3], &[4, -1]).is_err());
        assert_eq!(broadcast_shape(&[2, 1, 3], &[4, 1]).unwrap(), [2, 4, 3]);
        assert!(broadcast_shape(&[2, 3], &[4]).is_err());
        assert!(broadcast_shape(&[1 << 20], &[1 << 10, 1]).is_err());
    }
}
