//! `mlsecops accept | attack | augment`: model acceptance with adversarial
//! robustness, single attacks, and adversarial examples for training.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use mlsecops_data::{ExtractOptions, extract};
use mlsecops_model::{LoadOptions, Model};
use mlsecops_robust::accept::{
    AcceptPolicy, AcceptReport, Baseline, CurvePoint, Robustness, gate, worst_slice,
};
use mlsecops_robust::suite::{AttackKind, Budget, Target, WithLayout, run, run_suite};
use mlsecops_robust::{AttackReport, Norm, ThreatModel, eval};
use serde_json::{Value, json};

use crate::ExitStatus;
use crate::commands::data::InputArgs;

/// Report formats of `accept` and `attack`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Table,
    Json,
    Html,
}

/// Which rows and columns feed the model.
#[derive(Debug, clap::Args)]
pub struct DataArgs {
    /// Held-out data (CSV, Parquet or JSON Lines).
    #[arg(long)]
    pub data: PathBuf,
    /// Label column. Integer labels are class indices; other labels map to
    /// classes in sorted order (as scikit-learn orders them).
    #[arg(long)]
    pub label: String,
    /// Feature columns in the model's input order (default: every column
    /// but the label, the id and, if needed, the slice columns).
    #[arg(long, value_delimiter = ',')]
    pub features: Vec<String>,
    /// Column that is neither feature nor label.
    #[arg(long)]
    pub id: Option<String>,
    /// Data contract (from `data profile`): attacks keep each feature in its
    /// range, integer columns integral, and do not touch string/categorical
    /// or date columns.
    #[arg(long)]
    pub contract: Option<PathBuf>,
    /// Feature columns attacks must not change (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub immutable: Vec<String>,
    #[command(flatten)]
    pub input: InputArgs,
}

/// The per-feature rules of `args` for the model's features, if any.
fn domain_of(
    args: &DataArgs,
    names: &[String],
) -> anyhow::Result<Option<std::sync::Arc<mlsecops_robust::Domain>>> {
    if args.contract.is_none() && args.immutable.is_empty() {
        return Ok(None);
    }
    let n = names.len();
    let mut dom = mlsecops_robust::Domain {
        lo: vec![f32::NEG_INFINITY; n],
        hi: vec![f32::INFINITY; n],
        immutable: vec![false; n],
        integer: vec![false; n],
    };
    for c in &args.immutable {
        let j = names
            .iter()
            .position(|f| f == c)
            .with_context(|| format!("--immutable {c}: not a feature column"))?;
        dom.immutable[j] = true;
    }
    if let Some(path) = &args.contract {
        use mlsecops_data::contract::Kind;
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let contract = mlsecops_data::Contract::from_toml(&text)
            .with_context(|| format!("reading the contract {}", path.display()))?;
        for (j, name) in names.iter().enumerate() {
            let Some(col) = contract.columns.iter().find(|c| &c.name == name) else {
                continue;
            };
            match col.kind {
                Kind::Integer => dom.integer[j] = true,
                Kind::Boolean => {
                    dom.integer[j] = true;
                    dom.lo[j] = 0.0;
                    dom.hi[j] = 1.0;
                }
                Kind::Float => {}
                Kind::String | Kind::Date | Kind::Timestamp | Kind::Other => {
                    dom.immutable[j] = true;
                }
            }
            if let Some(v) = col.min {
                dom.lo[j] = dom.lo[j].max(v as f32);
            }
            if let Some(v) = col.max {
                dom.hi[j] = dom.hi[j].min(v as f32);
            }
        }
    }
    Ok(Some(std::sync::Arc::new(dom)))
}

#[derive(Debug, clap::Args)]
pub struct AcceptArgs {
    /// The candidate model (ONNX).
    pub model: PathBuf,
    #[command(flatten)]
    pub data: DataArgs,
    /// Columns whose values define slices (per-slice metrics, worst slice).
    #[arg(long, value_delimiter = ',')]
    pub slices: Vec<String>,
    /// Policy file: its `[accept]` table (default: ./mlsecops.toml when present).
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// The model to compare with: a file, a registry reference
    /// (NAME@vN, NAME@TAG, digest), or `approved` for the newest approved
    /// version of the candidate's registry name.
    #[arg(long)]
    pub baseline: Option<String>,
    /// Approval stage `--baseline approved` looks at (any stage when unset).
    #[arg(long)]
    pub stage: Option<String>,
    /// Measure no robustness (faster; a robust-accuracy threshold then fails).
    #[arg(long)]
    pub no_robustness: bool,
    /// Override the policy's ε.
    #[arg(long)]
    pub eps: Option<f32>,
    /// Override the policy's attacks (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub attacks: Vec<String>,
    /// Override the number of rows attacked (0 = all).
    #[arg(long)]
    pub samples: Option<usize>,
    #[arg(long, short, value_enum, default_value = "table")]
    pub format: ReportFormat,
    /// Write the report to FILE instead of stdout.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Also write the HTML report (confusion matrix, ε curve, slices) to FILE.
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// Attach the report to the model's registry entry.
    #[arg(long)]
    pub attach: bool,
}

#[derive(Debug, clap::Args)]
pub struct AttackArgs {
    /// The model (ONNX).
    pub model: PathBuf,
    #[command(flatten)]
    pub data: DataArgs,
    /// Attack: fgsm, pgd, square, hsj, boundary, simba, nes, or `auto`
    /// (every applicable one, in order).
    #[arg(long, default_value = "auto")]
    pub attack: String,
    #[command(flatten)]
    pub threat: ThreatArgs,
    /// Attack the first N rows (0 = all).
    #[arg(long, default_value_t = 0)]
    pub limit: usize,
    /// Random restarts (PGD).
    #[arg(long, default_value_t = 0)]
    pub restarts: u32,
    /// Iterations (HopSkipJump; default 64).
    #[arg(long)]
    pub iterations: Option<u32>,
    /// Probes per gradient estimate at most (HopSkipJump; default 10000).
    #[arg(long)]
    pub max_eval: Option<u32>,
    /// Lay the features out as an image C,H,W for attacks that use image
    /// structure (Square's windows); default: the model's input shape.
    #[arg(long, value_delimiter = ',')]
    pub layout: Vec<usize>,
    #[arg(long, short, value_enum, default_value = "table")]
    pub format: ReportFormat,
    /// Write the successful adversarial examples (features + true label) as CSV.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct AugmentArgs {
    /// The model the examples are made against (ONNX).
    pub model: PathBuf,
    #[command(flatten)]
    pub data: DataArgs,
    /// Attacks, in order; each sample keeps the first example that flips it,
    /// else the last attack's hardest point.
    #[arg(long, value_delimiter = ',', default_value = "pgd,square")]
    pub attacks: Vec<String>,
    #[command(flatten)]
    pub threat: ThreatArgs,
    /// Keep only examples that changed the model's decision.
    #[arg(long)]
    pub only_successful: bool,
    /// The new dataset (CSV: the feature columns and the label).
    #[arg(long, short)]
    pub output: PathBuf,
    /// Register the new dataset under NAME, with lineage to the model and data.
    #[arg(long)]
    pub register: Option<String>,
    /// Also write feature-squeezing calibration data for the gateway's
    /// adversarial-input detector (JSON).
    #[arg(long)]
    pub squeeze_calibration: Option<PathBuf>,
}

/// The threat model and budgets `attack` and `augment` share.
#[derive(Debug, clap::Args)]
pub struct ThreatArgs {
    /// `linf` or `l2`.
    #[arg(long, default_value = "linf")]
    pub norm: String,
    #[arg(long, default_value_t = 0.1)]
    pub eps: f32,
    /// Valid input range LO,HI (default: the data's min and max).
    #[arg(long, value_delimiter = ',')]
    pub bounds: Vec<f32>,
    /// Model queries per sample (black-box attacks).
    #[arg(long, default_value_t = 1000)]
    pub max_queries: u64,
    /// Gradient steps (PGD).
    #[arg(long, default_value_t = 40)]
    pub steps: u32,
    /// Step size (PGD; default ε/4).
    #[arg(long)]
    pub step_size: Option<f32>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

impl ThreatArgs {
    fn threat(&self, rows: &Rows, data: &DataArgs) -> anyhow::Result<ThreatModel> {
        threat_from(&self.norm, self.eps, &self.bounds, rows, data)
    }

    fn budget(&self) -> Budget {
        Budget {
            max_queries: self.max_queries,
            steps: self.steps,
            step_size: self.step_size,
            seed: self.seed,
            ..Budget::default()
        }
    }
}

/// Rows ready for the model.
struct Rows {
    x: Vec<f32>,
    labels: Vec<usize>,
    /// Label text per class index.
    classes: Vec<String>,
    /// Label text as written, per row.
    label_text: Vec<String>,
    feature_names: Vec<String>,
    slices: Vec<(String, Vec<Option<String>>)>,
    source: String,
}

fn load_model(path: &Path) -> anyhow::Result<Model> {
    Ok(Model::load_path(path, &LoadOptions::default())?)
}

/// Reads `args.data` and maps it onto `model`'s input and classes.
fn load_rows(args: &DataArgs, model: &Model, slices: &[String]) -> anyhow::Result<Rows> {
    let source = args.input.open(&args.data)?;
    let schema = source.schema().clone();
    let all: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .filter(|n| *n != args.label && Some(n) != args.id.as_ref())
        .collect();
    let want = model.features();
    let features = if !args.features.is_empty() {
        args.features.clone()
    } else if all.len() == want {
        all
    } else {
        let without: Vec<String> = all
            .iter()
            .filter(|c| !slices.contains(c))
            .cloned()
            .collect();
        if without.len() != want {
            bail!(
                "{}: {} candidate feature column(s) for a model with {want} input value(s); \
                 name them in model order with --features",
                source.display_name(),
                all.len()
            );
        }
        without
    };
    let ex = extract(
        &source,
        &ExtractOptions {
            features: features.clone(),
            label: Some(args.label.clone()),
            text: slices.to_vec(),
            max_one_hot: 0,
            ..ExtractOptions::default()
        },
    )?;
    if ex.features.cols() != want {
        bail!(
            "{}: {} feature value(s) per row, the model takes {want}",
            source.display_name(),
            ex.features.cols()
        );
    }
    let (label_idx, names) = ex.labels.context("the label column was not read")?;
    // Integer labels are class indices; others follow sorted order.
    let as_int: Option<Vec<usize>> = names
        .iter()
        .map(|n| n.trim().parse::<usize>().ok())
        .collect();
    let k = model.classes();
    let (index_of, classes): (Vec<usize>, Vec<String>) = if let Some(ints) = as_int {
        if let Some(bad) = ints.iter().find(|&&c| c >= k) {
            bail!("label {bad} is out of range for a model with {k} classes");
        }
        (ints, (0..k).map(|c| c.to_string()).collect())
    } else {
        if names.len() > k {
            bail!("{} label values for a model with {k} classes", names.len());
        }
        let mut cls = names.clone();
        cls.extend((names.len()..k).map(|c| format!("class{c}")));
        ((0..names.len()).collect(), cls)
    };
    let mut x = Vec::with_capacity(ex.rows * want);
    let mut labels = Vec::with_capacity(ex.rows);
    let mut label_text = Vec::with_capacity(ex.rows);
    for (r, l) in label_idx.iter().enumerate().take(ex.rows) {
        let Some(l) = *l else {
            bail!("{}: row {} has no label", source.display_name(), r + 1);
        };
        let row = ex.features.row(r);
        if let Some(j) = row.iter().position(|v| !v.is_finite()) {
            bail!(
                "{}: row {} column {:?} is empty or not a number",
                source.display_name(),
                r + 1,
                ex.feature_names.get(j).map_or("?", String::as_str)
            );
        }
        x.extend(row.iter().map(|&v| v as f32));
        labels.push(index_of[l]);
        label_text.push(names[l].clone());
    }
    let slices = slices
        .iter()
        .map(|c| (c.clone(), ex.texts.get(c).cloned().unwrap_or_default()))
        .collect();
    Ok(Rows {
        x,
        labels,
        classes,
        label_text,
        feature_names: ex.feature_names,
        slices,
        source: source.display_name(),
    })
}

fn target(model: &Model) -> (Option<String>, bool) {
    match model.gradient_support() {
        Ok(()) => (None, true),
        Err(e) => (Some(e), false),
    }
}

/// Prints `label done/total` on stderr while `f` runs (terminals only).
fn with_progress<T>(label: &str, quiet: bool, f: impl FnOnce() -> T) -> T {
    if quiet || !std::io::stderr().is_terminal() {
        return f();
    }
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let (done, total) = mlsecops_robust::PROGRESS.get();
                eprint!("\r{label}: {done}/{total}   ");
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
            eprint!("\r{:width$}\r", "", width = label.len() + 24);
        });
        let out = f();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        out
    })
}

fn bounds_of(given: &[f32], x: &[f32]) -> anyhow::Result<(f32, f32)> {
    match given {
        [] => {}
        [lo, hi] => return Ok((*lo, *hi)),
        other => bail!("--bounds takes LO,HI (two values), got {other:?}"),
    }
    let lo = x.iter().copied().fold(f32::INFINITY, f32::min);
    let hi = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    Ok(if lo.is_finite() && hi.is_finite() {
        (lo, hi)
    } else {
        (0.0, 1.0)
    })
}

fn write_out(path: Option<&Path>, bytes: &[u8]) -> anyhow::Result<()> {
    match path {
        Some(p) => crate::commands::sign::write_atomic(p, bytes),
        None => Ok(std::io::stdout().lock().write_all(bytes)?),
    }
}

fn model_json(model: &Model, path: &Path) -> anyhow::Result<Value> {
    let content = mlsecops_registry::content::digest_path(path)?;
    Ok(json!({
        "file": path.display().to_string(),
        "digest": content.digest,
        "inputs": model.signature().inputs,
        "output": model.output_name(),
        "classes": model.classes(),
        "ops": model.signature().ops,
        "producer": model.signature().producer,
        "opset": model.signature().opset,
        "differentiable": model.gradient_support().is_ok(),
    }))
}

// ------------------------------------------------------------------ accept

fn read_policy(args: &AcceptArgs) -> anyhow::Result<(AcceptPolicy, Option<PathBuf>)> {
    let path = match &args.policy {
        Some(p) => Some(p.clone()),
        None => Some(PathBuf::from("mlsecops.toml")).filter(|p| p.is_file()),
    };
    let Some(path) = path else {
        return Ok((AcceptPolicy::default(), None));
    };
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let doc: toml::Table =
        toml::from_str(&text).with_context(|| format!("{}: not valid TOML", path.display()))?;
    let policy = match doc.get("accept") {
        Some(v) => v
            .clone()
            .try_into()
            .with_context(|| format!("{}: the [accept] table", path.display()))?,
        None => AcceptPolicy::default(),
    };
    Ok((policy, Some(path)))
}

/// The baseline model's bytes and a name for it.
fn baseline_model(args: &AcceptArgs, reference: &str) -> anyhow::Result<(Model, String)> {
    use mlsecops_registry::Store as _;
    let p = Path::new(reference);
    if p.is_file() {
        return Ok((load_model(p)?, p.display().to_string()));
    }
    let reg = crate::commands::registry::Registry::open()?;
    let artifact = if reference == "approved" {
        let content = mlsecops_registry::content::digest_path(&args.model)?;
        let me = reg
            .rt
            .block_on(reg.store.artifact(&content.digest))?
            .with_context(|| {
                format!(
                    "--baseline approved: {} is not registered, so it has no name to look up",
                    args.model.display()
                )
            })?;
        let versions = reg.rt.block_on(reg.store.list_artifacts(
            &mlsecops_registry::lineage::ListFilter {
                kind: None,
                name: Some(me.name.clone()),
                limit: None,
            },
        ))?;
        let mut found = None;
        let mut sorted = versions;
        sorted.sort_by_key(|a| std::cmp::Reverse(a.version));
        for a in sorted {
            if a.digest == me.digest || a.revoked.is_some() {
                continue;
            }
            let approvals = reg.rt.block_on(reg.store.approvals(&a.digest))?;
            // The latest decision for the stage counts.
            let mut relevant: Vec<_> = approvals
                .iter()
                .filter(|ap| args.stage.as_ref().is_none_or(|s| *s == ap.stage))
                .collect();
            relevant.sort_by_key(|ap| ap.created_at);
            if relevant.last().is_some_and(|ap| ap.decision == "approved") {
                found = Some(a);
                break;
            }
        }
        found.with_context(|| {
            format!(
                "no approved version of {} other than the candidate{}",
                me.name,
                args.stage
                    .as_ref()
                    .map(|s| format!(" for stage {s}"))
                    .unwrap_or_default()
            )
        })?
    } else {
        reg.resolve(reference)?
    };
    if artifact.files != 1 {
        bail!(
            "{}@v{} is a directory artifact; give the baseline model file instead",
            artifact.name,
            artifact.version
        );
    }
    let bytes = reg
        .rt
        .block_on(reg.blobs.get(&artifact.digest))
        .with_context(|| {
            format!(
                "fetching {}@v{} from the blob store",
                artifact.name, artifact.version
            )
        })?;
    let name = format!("{}@v{}", artifact.name, artifact.version);
    Ok((Model::load(&name, &bytes, &LoadOptions::default())?, name))
}

pub fn accept(args: &AcceptArgs, quiet: bool) -> anyhow::Result<ExitStatus> {
    let started = Instant::now();
    let (mut policy, policy_path) = read_policy(args)?;
    if let Some(e) = args.eps {
        policy.robustness.eps = e;
    }
    if !args.attacks.is_empty() {
        policy.robustness.attacks.clone_from(&args.attacks);
    }
    if let Some(n) = args.samples {
        policy.robustness.samples = n;
    }
    if args.no_robustness {
        policy.robustness.skip = true;
    }
    let kinds = policy
        .robustness
        .attack_kinds()
        .map_err(anyhow::Error::msg)
        .context("the policy's robustness.attacks")?;
    let mut threat = policy
        .robustness
        .threat(policy.robustness.eps)
        .map_err(anyhow::Error::msg)?;
    let model = load_model(&args.model)?;
    let rows = load_rows(&args.data, &model, &args.slices)?;
    threat.domain = domain_of(&args.data, &rows.feature_names)?;
    let proba = model.predict_proba(&rows.x)?;
    let metrics = eval::metrics(&proba, &rows.labels, &rows.classes);
    let slices = eval::slices(&proba, &rows.labels, &rows.classes, &rows.slices);
    let worst = worst_slice(&slices, policy.min_slice_rows);
    let baseline = match &args.baseline {
        Some(r) => {
            let (base, name) = baseline_model(args, r)?;
            if base.features() != model.features() || base.classes() != model.classes() {
                bail!(
                    "the baseline {name} takes {} value(s) into {} classes, the candidate {} into {}",
                    base.features(),
                    base.classes(),
                    model.features(),
                    model.classes()
                );
            }
            let bp = base.predict_proba(&rows.x)?;
            let bm = eval::metrics(&bp, &rows.labels, &rows.classes);
            Some(Baseline {
                source: name,
                accuracy: bm.accuracy,
                robust_accuracy: None,
                accuracy_delta: metrics.accuracy - bm.accuracy,
            })
        }
        None => None,
    };
    let robustness = if policy.robustness.skip {
        None
    } else {
        let d = model.features();
        let n = match policy.robustness.samples {
            0 => rows.labels.len(),
            s => s.min(rows.labels.len()),
        };
        let (why, differentiable) = target(&model);
        let tgt = Target {
            oracle: &model,
            gradient: differentiable.then_some(&model as &dyn mlsecops_robust::Gradient),
            no_gradient: why.as_deref(),
        };
        let budget = policy.robustness.budget();
        let x = &rows.x[..n * d];
        let y = &rows.labels[..n];
        let suite = with_progress("robustness", quiet, || {
            run_suite(&kinds, tgt, x, y, &threat, &budget)
        })?;
        let mut curve = Vec::new();
        let mut eps_list = policy.robustness.eps_curve.clone();
        if !eps_list.is_empty() {
            eps_list.push(0.0);
            eps_list.push(threat.eps);
            eps_list.sort_by(f32::total_cmp);
            eps_list.dedup();
            for e in eps_list {
                let r = if (e - threat.eps).abs() < f32::EPSILON {
                    suite.robust_accuracy
                } else {
                    let t = ThreatModel {
                        eps: e,
                        ..threat.clone()
                    };
                    with_progress(&format!("ε = {e}"), quiet, || {
                        run_suite(&kinds, tgt, x, y, &t, &budget)
                    })?
                    .robust_accuracy
                };
                curve.push(CurvePoint {
                    eps: e,
                    robust_accuracy: r,
                });
            }
        }
        Some(Robustness { suite, curve })
    };
    let robust_accuracy = robustness.as_ref().map(|r| r.suite.robust_accuracy);
    let checks = gate(
        &policy,
        &metrics,
        worst.as_ref(),
        robust_accuracy,
        baseline.as_ref(),
    );
    let passed = checks.iter().all(|c| c.passed);
    let report = AcceptReport {
        kind: "acceptance",
        model: model_json(&model, &args.model)?,
        data: json!({
            "file": rows.source,
            "rows": rows.labels.len(),
            "label": args.data.label,
            "features": rows.feature_names.len(),
            "policy": policy_path.map(|p| p.display().to_string()),
        }),
        classes: rows.classes.clone(),
        accuracy: metrics.accuracy,
        precision_macro: metrics.precision_macro,
        recall_macro: metrics.recall_macro,
        f1_macro: metrics.f1_macro,
        ece: metrics.ece,
        robust_accuracy,
        metrics,
        slices,
        worst_slice: worst,
        robustness,
        baseline,
        policy,
        checks,
        verdict: if passed { "pass" } else { "fail" },
    };
    let json = serde_json::to_string_pretty(&report)?;
    match args.format {
        ReportFormat::Json => write_out(args.output.as_deref(), format!("{json}\n").as_bytes())?,
        ReportFormat::Table => write_out(args.output.as_deref(), table(&report).as_bytes())?,
        ReportFormat::Html => write_out(
            args.output.as_deref(),
            crate::render::accept_html::render(&report).as_bytes(),
        )?,
    }
    if let Some(p) = &args.html {
        crate::commands::sign::write_atomic(
            p,
            crate::render::accept_html::render(&report).as_bytes(),
        )?;
    }
    if args.attach {
        crate::commands::sign::attach(
            &args.model,
            "acceptance",
            json.clone().into_bytes(),
            &json!({
                "verdict": report.verdict,
                "accuracy": report.accuracy,
                "robust_accuracy": report.robust_accuracy,
                "worst_slice_accuracy": report.worst_slice.as_ref().map(|s| s.accuracy),
            }),
        )?;
    }
    if !quiet {
        for c in report.checks.iter().filter(|c| !c.passed) {
            eprintln!("FAIL {}: {}", c.name, c.reason);
        }
        if let Some(m) = report
            .robustness
            .as_ref()
            .and_then(|r| r.suite.gradient_masking.as_ref())
        {
            eprintln!("warning: {m}");
        }
        eprintln!(
            "{} in {:.1} s: accuracy {:.4}{}",
            if passed { "accepted" } else { "rejected" },
            started.elapsed().as_secs_f64(),
            report.accuracy,
            report
                .robust_accuracy
                .map(|r| format!(", robust accuracy {r:.4}"))
                .unwrap_or_default()
        );
    }
    Ok(if passed {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

fn pct(v: f64) -> String {
    format!("{:.2}%", v * 100.0)
}

fn table(r: &AcceptReport) -> String {
    let mut s = String::new();
    let file = r.model["file"].as_str().unwrap_or("?");
    let _ = std::fmt::Write::write_fmt(
        &mut s,
        format_args!(
            "model      {file}\ndata       {} ({} rows)\nverdict    {}\n\n",
            r.data["file"].as_str().unwrap_or("?"),
            r.metrics.rows,
            r.verdict.to_uppercase()
        ),
    );
    let mut line = |k: &str, v: String| {
        s.push_str(&format!("{k:<22} {v}\n"));
    };
    line("accuracy", pct(r.accuracy));
    line("precision (macro)", pct(r.precision_macro));
    line("recall (macro)", pct(r.recall_macro));
    line("F1 (macro)", pct(r.f1_macro));
    line("calibration error", format!("{:.4}", r.ece));
    if let Some(w) = &r.worst_slice {
        line(
            "worst slice",
            format!(
                "{}={} ({} rows): {}",
                w.column,
                w.value,
                w.rows,
                pct(w.accuracy)
            ),
        );
    }
    if let Some(b) = &r.baseline {
        line(
            "baseline",
            format!(
                "{} {} (Δ {:+.2} pts)",
                b.source,
                pct(b.accuracy),
                b.accuracy_delta * 100.0
            ),
        );
    }
    if let Some(rob) = &r.robustness {
        let t = &rob.suite.threat;
        line(
            "robust accuracy",
            format!(
                "{} ({} ε={} in [{}, {}], {} samples)",
                pct(rob.suite.robust_accuracy),
                t.norm,
                t.eps,
                t.lo,
                t.hi,
                rob.suite.samples
            ),
        );
        for a in &rob.suite.attacks {
            match &a.skipped {
                Some(why) => line(&format!("  {}", a.attack), format!("skipped: {why}")),
                None => line(
                    &format!("  {}", a.attack),
                    format!(
                        "flipped {}/{}, robust after {}, {:.0} queries/sample, {:.2} s",
                        a.flipped,
                        a.attacked,
                        pct(a.robust_accuracy_after),
                        a.mean_queries,
                        a.seconds
                    ),
                ),
            }
        }
        for p in &rob.curve {
            line(&format!("  at ε={}", p.eps), pct(p.robust_accuracy));
        }
        if let Some(m) = &rob.suite.gradient_masking {
            line("gradient masking", m.clone());
        }
    }
    if !r.checks.is_empty() {
        s.push_str("\nchecks\n");
        for c in &r.checks {
            s.push_str(&format!(
                "  {} {:<22} {:.4} (threshold {}){}\n",
                if c.passed { "pass" } else { "FAIL" },
                c.name,
                c.value,
                c.threshold,
                if c.reason.is_empty() {
                    String::new()
                } else {
                    format!(": {}", c.reason)
                }
            ));
        }
    }
    s
}

// ------------------------------------------------------------------ attack

fn threat_from(
    norm: &str,
    eps: f32,
    bounds: &[f32],
    rows: &Rows,
    data: &DataArgs,
) -> anyhow::Result<ThreatModel> {
    let norm: Norm = norm.parse().map_err(anyhow::Error::msg)?;
    let (lo, hi) = bounds_of(bounds, &rows.x)?;
    Ok(ThreatModel {
        norm,
        eps,
        lo,
        hi,
        domain: domain_of(data, &rows.feature_names)?,
    })
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// CSV of `rows` (feature values) with the label column.
fn write_csv(
    path: &Path,
    names: &[String],
    label: &str,
    rows: &[(Vec<f32>, String)],
) -> anyhow::Result<()> {
    let mut out = String::new();
    let header: Vec<String> = names
        .iter()
        .map(|n| csv_field(n))
        .chain([csv_field(label)])
        .collect();
    out.push_str(&header.join(","));
    out.push('\n');
    for (x, l) in rows {
        for v in x {
            out.push_str(&format!("{v},"));
        }
        out.push_str(&csv_field(l));
        out.push('\n');
    }
    crate::commands::sign::write_atomic(path, out.as_bytes())
}

pub fn attack(args: &AttackArgs, quiet: bool) -> anyhow::Result<ExitStatus> {
    let model = load_model(&args.model)?;
    let rows = load_rows(&args.data, &model, &[])?;
    let d = model.features();
    let n = match args.limit {
        0 => rows.labels.len(),
        l => l.min(rows.labels.len()),
    };
    let x = &rows.x[..n * d];
    let y = &rows.labels[..n];
    let threat = args.threat.threat(&rows, &args.data)?;
    let budget = Budget {
        restarts: args.restarts,
        iterations: args.iterations,
        max_eval: args.max_eval,
        ..args.threat.budget()
    };
    let (why, differentiable) = target(&model);
    if !args.layout.is_empty() && args.layout.iter().product::<usize>() != d {
        bail!(
            "--layout {:?} has {} values; the model takes {d}",
            args.layout,
            args.layout.iter().product::<usize>()
        );
    }
    let shaped = WithLayout {
        model: &model,
        shape: if args.layout.is_empty() {
            model.sample_shape().to_vec()
        } else {
            args.layout.clone()
        },
    };
    let tgt = Target {
        oracle: &shaped,
        gradient: differentiable.then_some(&shaped as &dyn mlsecops_robust::Gradient),
        no_gradient: why.as_deref(),
    };
    let started = Instant::now();
    let (summary, adversarial): (Value, Vec<(Vec<f32>, String)>) = if args.attack == "auto" {
        let kinds: Vec<AttackKind> = AttackKind::ALL.to_vec();
        let s = with_progress("auto", quiet, || {
            run_suite(&kinds, tgt, x, y, &threat, &budget)
        })?;
        let adv = s
            .adversarial
            .iter()
            .enumerate()
            .filter_map(|(i, a)| {
                a.as_ref()
                    .map(|(_, v)| (v.clone(), rows.label_text[i].clone()))
            })
            .collect();
        let attacked = s.clean_accuracy * s.samples as f64;
        let flipped = (s.clean_accuracy - s.robust_accuracy) * s.samples as f64;
        (
            json!({
                "attack": "auto",
                "clean_accuracy": s.clean_accuracy,
                "robust_accuracy": s.robust_accuracy,
                "success_rate": if attacked > 0.0 { flipped / attacked } else { 0.0 },
                "mean_queries": s.attacks.iter().map(|a| a.mean_queries).sum::<f64>(),
                "attacks": s.attacks,
                "gradient_masking": s.gradient_masking,
            }),
            adv,
        )
    } else {
        let kind: AttackKind = args.attack.parse().map_err(anyhow::Error::msg)?;
        let r: AttackReport = with_progress(kind.name(), quiet, || {
            run(kind, tgt, x, y, &threat, &budget)
        })?;
        let adv = r
            .samples
            .iter()
            .enumerate()
            .filter(|(_, s)| s.success)
            .map(|(i, s)| (s.adversarial.clone(), rows.label_text[i].clone()))
            .collect();
        (
            json!({
                "attack": r.attack,
                "clean_accuracy": r.clean_accuracy(),
                "robust_accuracy": r.robust_accuracy(),
                "success_rate": r.success_rate(),
                "mean_queries": r.mean_queries(),
                "mean_linf": mean(r.samples.iter().filter(|s| s.success).map(|s| f64::from(s.linf))),
                "mean_l2": mean(r.samples.iter().filter(|s| s.success).map(|s| f64::from(s.l2))),
            }),
            adv,
        )
    };
    let seconds = started.elapsed().as_secs_f64();
    let mut out = summary;
    if let Value::Object(m) = &mut out {
        m.insert("model".into(), json!(args.model.display().to_string()));
        m.insert("samples".into(), json!(n));
        m.insert("threat".into(), serde_json::to_value(&threat)?);
        m.insert("seconds".into(), json!(seconds));
        m.insert("seed".into(), json!(args.threat.seed));
    }
    if let Some(p) = &args.out {
        write_csv(p, &rows.feature_names, &args.data.label, &adversarial)?;
        if !quiet {
            eprintln!(
                "wrote {} adversarial example(s) to {}",
                adversarial.len(),
                p.display()
            );
        }
    }
    match args.format {
        ReportFormat::Json | ReportFormat::Html => {
            writeln!(
                std::io::stdout().lock(),
                "{}",
                serde_json::to_string_pretty(&out)?
            )?;
        }
        ReportFormat::Table => {
            let g = |k: &str| out[k].as_f64().unwrap_or(f64::NAN);
            writeln!(
                std::io::stdout().lock(),
                "{} on {} sample(s), {} ε={} in [{}, {}]\n  clean accuracy   {}\n  robust accuracy  {}\n  success rate     {}\n  queries/sample   {:.0}\n  seconds          {seconds:.2}",
                out["attack"].as_str().unwrap_or("?"),
                n,
                threat.norm,
                threat.eps,
                threat.lo,
                threat.hi,
                pct(g("clean_accuracy")),
                pct(g("robust_accuracy")),
                pct(g("success_rate")),
                g("mean_queries"),
            )?;
        }
    }
    Ok(ExitStatus::Success)
}

fn mean(it: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = it.fold((0.0, 0u64), |(s, n), v| (s + v, n + 1));
    if n == 0 { 0.0 } else { s / n as f64 }
}

// ------------------------------------------------------------------ augment

pub fn augment(args: &AugmentArgs, quiet: bool) -> anyhow::Result<ExitStatus> {
    let model = load_model(&args.model)?;
    let rows = load_rows(&args.data, &model, &[])?;
    let threat = args.threat.threat(&rows, &args.data)?;
    let kinds: Vec<AttackKind> = args
        .attacks
        .iter()
        .map(|a| a.parse())
        .collect::<Result<_, String>>()
        .map_err(anyhow::Error::msg)?;
    let budget = args.threat.budget();
    let (why, differentiable) = target(&model);
    let tgt = Target {
        oracle: &model,
        gradient: differentiable.then_some(&model as &dyn mlsecops_robust::Gradient),
        no_gradient: why.as_deref(),
    };
    for k in kinds.iter().filter(|k| k.white_box() && !differentiable) {
        if !quiet {
            eprintln!(
                "note: {k} skipped: {}",
                why.as_deref().unwrap_or("no gradients")
            );
        }
    }
    let made = with_progress("augment", quiet, || {
        mlsecops_robust::augment::generate(
            &kinds,
            tgt,
            &rows.x,
            &rows.labels,
            &threat,
            &budget,
            args.only_successful,
        )
    })?;
    let examples: Vec<(Vec<f32>, String)> = made
        .iter()
        .map(|e| (e.x.clone(), rows.label_text[e.row].clone()))
        .collect();
    let flipped = made.iter().filter(|e| e.flips).count();
    write_csv(
        &args.output,
        &rows.feature_names,
        &args.data.label,
        &examples,
    )?;
    if !quiet {
        eprintln!(
            "wrote {} adversarial example(s) ({flipped} flip the model) with their true labels to {}",
            examples.len(),
            args.output.display()
        );
    }
    if let Some(p) = &args.squeeze_calibration {
        let adv: Vec<f32> = made
            .iter()
            .filter(|e| e.flips)
            .flat_map(|e| e.x.iter().copied())
            .collect();
        let cal = mlsecops_robust::squeeze::calibrate(&model, &rows.x, &adv, threat.lo, threat.hi)?;
        crate::commands::sign::write_atomic(p, serde_json::to_string_pretty(&cal)?.as_bytes())?;
        if !quiet {
            eprintln!(
                "wrote feature-squeezing calibration to {}: threshold {:.4} (clean false-positive rate {:.1}%), detects {:.1}% of the adversarial examples",
                p.display(),
                cal.threshold,
                cal.clean_fpr * 100.0,
                cal.detection_rate * 100.0
            );
        }
    }
    if let Some(name) = &args.register {
        use mlsecops_registry::Store as _;
        let reg = crate::commands::registry::Registry::open()?;
        let model_digest = mlsecops_registry::content::digest_path(&args.model)?.digest;
        let data_digest = mlsecops_registry::content::digest_path(&args.data.data)?.digest;
        let mut inputs = Vec::new();
        for (digest, what, path) in [
            (&model_digest, "model", &args.model),
            (&data_digest, "dataset", &args.data.data),
        ] {
            if reg.rt.block_on(reg.store.artifact(digest))?.is_none() {
                bail!(
                    "the {what} {} is not registered; register it first so the lineage can point at it",
                    path.display()
                );
            }
        }
        inputs.push((
            model_digest,
            Some(mlsecops_registry::lineage::Relation::Uses),
        ));
        inputs.push((
            data_digest,
            Some(mlsecops_registry::lineage::Relation::DerivedFrom),
        ));
        let content = mlsecops_registry::content::digest_path(&args.output)?;
        let written = crate::commands::registry::register(
            &reg,
            &content,
            mlsecops_registry::lineage::ArtifactKind::Dataset,
            name,
            Some(args.output.display().to_string()),
            json!({"adversarial": {"attacks": args.attacks, "threat": threat, "examples": examples.len(), "flipped": flipped}}),
            false,
        )?;
        let run_rec = mlsecops_registry::lineage::NewRun {
            name: Some("augment".into()),
            source: "cli".into(),
            external_id: None,
            code_commit: None,
            parameters: json!({"attacks": args.attacks, "norm": threat.norm, "eps": threat.eps, "seed": args.threat.seed}),
            environment: json!({"tool": format!("mlsecops {}", env!("CARGO_PKG_VERSION"))}),
            inputs,
            outputs: vec![written.value.digest.clone()],
        };
        reg.rt
            .block_on(reg.store.record_run(&run_rec, &reg.actor))?;
        reg.mirror()?;
        if !quiet {
            eprintln!(
                "registered dataset {}@v{} made from {} against {}",
                written.value.name,
                written.value.version,
                args.data.data.display(),
                args.model.display()
            );
        }
    }
    Ok(ExitStatus::Success)
}
