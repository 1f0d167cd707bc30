//! `mlsecops data check | profile | diff`: the data guard.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use mlsecops_core::{Report, Severity, ToolInfo};
use mlsecops_data::analyze::{AnalyzeOptions, Checks, FilterBy, analyze};
use mlsecops_data::contract::{Contract, ProfileOptions, profile};
use mlsecops_data::diff::{DiffOptions, diff};
use mlsecops_data::ingest::{Format, IngestOptions, Source};
use mlsecops_data::quarantine::write_split;
use serde_json::json;

use crate::ExitStatus;
use crate::render::{self, OutputFormat};

// Parsed once per process: the size difference between variants is moot.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, clap::Subcommand)]
pub enum DataCommand {
    /// Check a dataset: contract, secrets/PII, duplicates, outliers, label
    /// noise and backdoor poisoning; optionally split it into clean and
    /// rejected rows.
    Check(CheckArgs),
    /// Infer a contract (schema + statistics) from a trusted dataset.
    Profile(ProfileArgs),
    /// Compare two versions of a dataset: schema, rows, relabels, shifts.
    Diff(DiffArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    Csv,
    Parquet,
    Jsonl,
}

impl FormatArg {
    fn format(self) -> Format {
        match self {
            Self::Csv => Format::Csv,
            Self::Parquet => Format::Parquet,
            Self::Jsonl => Format::JsonLines,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CheckName {
    Secrets,
    Duplicates,
    Outliers,
    Labels,
    Backdoor,
}

/// Which rows confident learning flags (cleanlab's `filter_by`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LabelFilterArg {
    /// Rows flagged by either rule below (the most accurate on our test cases).
    Either,
    /// Per class, the rows least confident in their given label.
    PruneByClass,
    /// Per pair of classes, the rows with the largest margin (cleanlab's default).
    PruneByNoiseRate,
    /// Rows flagged by both rules (fewer, surer findings).
    Both,
}

impl LabelFilterArg {
    fn filter(self) -> FilterBy {
        match self {
            Self::PruneByClass => FilterBy::PruneByClass,
            Self::PruneByNoiseRate => FilterBy::PruneByNoiseRate,
            Self::Both => FilterBy::Both,
            Self::Either => FilterBy::Either,
        }
    }
}

/// Reading options shared by every data command.
#[derive(Debug, clap::Args)]
pub struct InputArgs {
    /// Input format (default: from the extension or the bytes).
    #[arg(long = "input-format", value_enum)]
    pub input_format: Option<FormatArg>,
    /// Longest CSV/JSONL record accepted, in bytes.
    #[arg(long, default_value_t = 16 << 20, value_name = "BYTES")]
    pub max_record_bytes: usize,
    /// Bytes of CSV/JSONL text read into one record batch. The streamed
    /// checks (contract, secrets) hold a few batches at a time, so this
    /// bounds their memory whatever the file size.
    #[arg(long, default_value_t = 256 << 20, value_name = "BYTES")]
    pub batch_bytes: usize,
}

impl InputArgs {
    pub(crate) fn open(&self, path: &Path) -> anyhow::Result<Source> {
        let opts = IngestOptions {
            format: self.input_format.map(FormatArg::format),
            max_record_bytes: self.max_record_bytes.min(self.batch_bytes.max(1)),
            max_batch_bytes: self.batch_bytes.max(1),
            ..IngestOptions::default()
        };
        Ok(Source::open(path, &opts)?)
    }
}

// Command-line flags are independent switches.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// CSV, Parquet or JSON Lines file, or a directory of them.
    pub data: PathBuf,
    /// Label column (enables the label-noise and backdoor checks).
    #[arg(long)]
    pub label: Option<String>,
    /// Column that names rows in findings (never used as a feature).
    #[arg(long)]
    pub id: Option<String>,
    /// Text columns to scan for secrets and PII (default: every string column).
    #[arg(long, num_args = 1..)]
    pub text: Vec<String>,
    /// Feature columns (default: every other column).
    #[arg(long, num_args = 1..)]
    pub features: Vec<String>,
    /// Contract to enforce per row (from `mlsecops data profile`).
    #[arg(long, value_name = "TOML")]
    pub contract: Option<PathBuf>,
    /// Out-of-sample class probabilities from your own model (Parquet or .npy).
    #[arg(long, value_name = "FILE")]
    pub probabilities: Option<PathBuf>,
    /// Embeddings for the backdoor, outlier and near-duplicate checks (Parquet or .npy).
    #[arg(long, value_name = "FILE")]
    pub embeddings: Option<PathBuf>,
    /// Skip these checks.
    #[arg(long, value_enum, num_args = 1.., value_name = "CHECK")]
    pub skip: Vec<CheckName>,
    /// Report format.
    #[arg(long, short, default_value = "table")]
    pub format: OutputFormat,
    /// Write the report to FILE instead of stdout.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Also write the HTML report (plots) to FILE.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Exit 1 when a finding is at or above this severity.
    #[arg(long, default_value = "high", env = "MLSECOPS_FAIL_ON")]
    pub fail_on: Severity,
    /// Write the rows no check flagged here (Parquet or CSV by extension).
    #[arg(long, value_name = "FILE", requires = "rejected_out")]
    pub quarantine_out: Option<PathBuf>,
    /// Write every flagged row here, with its reasons.
    #[arg(long, value_name = "FILE", requires = "quarantine_out")]
    pub rejected_out: Option<PathBuf>,
    /// Rows the global checks read at most.
    #[arg(long, default_value_t = 5_000_000)]
    pub max_rows: u64,
    /// Folds of the built-in trainer for label noise.
    #[arg(long, default_value_t = 5)]
    pub folds: usize,
    /// Which rows the label-noise check flags.
    #[arg(long, value_enum, default_value = "either")]
    pub label_filter: LabelFilterArg,
    /// Seed of every randomized step.
    #[arg(long, default_value_t = 0x6d6c_7365_636f_7073)]
    pub seed: u64,
    /// Attach the report to the dataset's registry entry.
    #[arg(long)]
    pub attach: bool,
    #[command(flatten)]
    pub input: InputArgs,
}

#[derive(Debug, clap::Args)]
pub struct ProfileArgs {
    /// The trusted dataset.
    pub data: PathBuf,
    /// Where to write the contract (TOML).
    #[arg(long, short, default_value = "contract.toml")]
    pub output: PathBuf,
    /// Label column (its classes and priors go into the contract).
    #[arg(long)]
    pub label: Option<String>,
    /// Id column (checked for uniqueness).
    #[arg(long)]
    pub id: Option<String>,
    /// Widen numeric ranges by this fraction of (max - min) on each side.
    #[arg(long, default_value_t = 0.0)]
    pub range_slack: f64,
    /// String columns with at most this many values get a category list.
    #[arg(long, default_value_t = 50)]
    pub max_categories: usize,
    #[command(flatten)]
    pub input: InputArgs,
}

#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The older version.
    pub old: PathBuf,
    /// The newer version.
    pub new: PathBuf,
    /// Key column matching rows across versions.
    #[arg(long)]
    pub key: Option<String>,
    /// Label column (relabels are reported).
    #[arg(long)]
    pub label: Option<String>,
    /// Report format.
    #[arg(long, short, default_value = "table")]
    pub format: OutputFormat,
    /// Write the report to FILE instead of stdout.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Exit 1 when a finding is at or above this severity.
    #[arg(long, default_value = "high", env = "MLSECOPS_FAIL_ON")]
    pub fail_on: Severity,
    #[command(flatten)]
    pub input: InputArgs,
}

pub fn run(cmd: &DataCommand, quiet: bool, color: bool) -> anyhow::Result<ExitStatus> {
    match cmd {
        DataCommand::Check(args) => check(args, quiet, color),
        DataCommand::Profile(args) => run_profile(args, quiet),
        DataCommand::Diff(args) => run_diff(args, quiet, color),
    }
}

fn tool() -> ToolInfo {
    ToolInfo {
        name: "mlsecops".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    }
}

fn emit(
    report: &Report,
    format: OutputFormat,
    output: Option<&Path>,
    color: bool,
) -> anyhow::Result<()> {
    let rendered = render::render(report, format, color && output.is_none())?;
    match output {
        Some(p) => crate::commands::sign::write_atomic(p, rendered.as_bytes())?,
        None => std::io::stdout().lock().write_all(rendered.as_bytes())?,
    }
    Ok(())
}

fn gate(report: &Report, fail_on: Severity, quiet: bool) -> ExitStatus {
    let failing = report.at_or_above(fail_on).count();
    if !quiet && failing > 0 {
        eprintln!("{failing} finding(s) at or above {fail_on} — failing");
    }
    if failing > 0 {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    }
}

fn check(args: &CheckArgs, quiet: bool, color: bool) -> anyhow::Result<ExitStatus> {
    let source = args.input.open(&args.data)?;
    let contract = match &args.contract {
        Some(p) => Some(
            Contract::from_toml(
                &std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?,
            )
            .with_context(|| format!("reading the contract {}", p.display()))?,
        ),
        None => None,
    };
    let skip = |c: CheckName| args.skip.contains(&c);
    let opts = AnalyzeOptions {
        label: args.label.clone(),
        id: args.id.clone(),
        text: args.text.clone(),
        features: args.features.clone(),
        contract,
        probabilities: args.probabilities.clone(),
        embeddings: args.embeddings.clone(),
        checks: Checks {
            sensitive: !skip(CheckName::Secrets),
            duplicates: !skip(CheckName::Duplicates),
            outliers: !skip(CheckName::Outliers),
            label: !skip(CheckName::Labels),
            backdoor: !skip(CheckName::Backdoor),
        },
        max_rows: args.max_rows,
        folds: args.folds,
        seed: args.seed,
        label_filter: args.label_filter.filter(),
        ..AnalyzeOptions::default()
    };
    let started = std::time::Instant::now();
    let analysis = analyze(&source, &opts, tool())?;
    let report = &analysis.report;
    emit(report, args.format, args.output.as_deref(), color)?;
    if let Some(path) = &args.html {
        let page = render::data_html::render(report, &analysis.insights);
        crate::commands::sign::write_atomic(path, page.as_bytes())?;
    }
    if let (Some(clean), Some(rejected)) = (&args.quarantine_out, &args.rejected_out) {
        let counts = write_split(&source, &analysis.rejected, clean, rejected)?;
        if !quiet {
            eprintln!(
                "wrote {} clean row(s) to {} and {} rejected row(s) with reasons to {}",
                counts.clean,
                clean.display(),
                counts.rejected,
                rejected.display()
            );
        }
    }
    if args.attach {
        let json = serde_json::to_vec(&json!({"report": report, "insights": analysis.insights}))?;
        crate::commands::sign::attach(
            &args.data,
            "data-check",
            json,
            &json!({"findings": report.summary.findings, "flagged_rows": analysis.insights.flagged_rows, "rows": analysis.insights.rows}),
        )?;
    }
    if !quiet {
        for s in &analysis.insights.skipped {
            eprintln!("note: not run: {s}");
        }
        eprintln!(
            "checked {} row(s) × {} column(s) in {:.2} s: {} row(s) flagged, {} finding(s)",
            analysis.insights.rows,
            analysis.insights.columns,
            started.elapsed().as_secs_f64(),
            analysis.insights.flagged_rows,
            report.summary.findings
        );
    }
    Ok(gate(report, args.fail_on, quiet))
}

fn run_profile(args: &ProfileArgs, quiet: bool) -> anyhow::Result<ExitStatus> {
    let source = args.input.open(&args.data)?;
    let contract = profile(
        &source,
        &ProfileOptions {
            id_column: args.id.clone(),
            label_column: args.label.clone(),
            max_categories: args.max_categories,
            range_slack: args.range_slack,
            ..ProfileOptions::default()
        },
    )?;
    let text = contract.to_toml()?;
    crate::commands::sign::write_atomic(&args.output, text.as_bytes())?;
    if !quiet {
        eprintln!(
            "wrote a contract for {} column(s) to {}; edit it, then `mlsecops data check DATA --contract {}`",
            contract.columns.len(),
            args.output.display(),
            args.output.display()
        );
    }
    Ok(ExitStatus::Success)
}

fn run_diff(args: &DiffArgs, quiet: bool, color: bool) -> anyhow::Result<ExitStatus> {
    let old = args.input.open(&args.old)?;
    let new = args.input.open(&args.new)?;
    if args.key.is_none() && !quiet {
        eprintln!("note: without --key only the schema and distributions are compared");
    }
    let d = diff(
        &old,
        &new,
        &DiffOptions {
            key: args.key.clone(),
            label: args.label.clone(),
            ..DiffOptions::default()
        },
    )?;
    let mut report = Report::new("data-diff", tool());
    report.targets.push(mlsecops_core::Target {
        path: new.display_name(),
        format: "data".into(),
        size: 0,
        digest: None,
        members: 2,
        scanned: true,
    });
    report.findings = d.findings(&new.display_name());
    report.finalize();
    emit(&report, args.format, args.output.as_deref(), color)?;
    if report.findings.is_empty() && !quiet {
        eprintln!("no differences found");
    }
    if d.rows.is_none() && args.key.is_some() {
        bail!("the key column was not usable for a row diff");
    }
    Ok(gate(&report, args.fail_on, quiet))
}
