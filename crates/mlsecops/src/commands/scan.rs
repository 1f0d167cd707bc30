//! `mlsecops scan`: scan model files and gate on severity.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use mlsecops_core::Severity;
use mlsecops_scan::{Limits, ScanOptions, Scanner};

use crate::ExitStatus;
use crate::render::{self, OutputFormat};

// Command-line flags are independent switches, not a state machine.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    /// Files, directories (recursive) or globs to scan.
    #[arg(required = true)]
    pub paths: Vec<String>,
    /// Report format.
    #[arg(long, short, default_value = "table")]
    pub format: OutputFormat,
    /// Write the report to FILE instead of stdout.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Exit 1 when an unsuppressed finding is at or above this severity.
    #[arg(long, default_value = "high", env = "MLSECOPS_FAIL_ON")]
    pub fail_on: Severity,
    /// Exit 0 even when nothing scannable was found.
    #[arg(long)]
    pub allow_empty: bool,
    /// Ignore file (default: .mlsecopsignore.toml in the current directory, if present).
    #[arg(long)]
    pub ignore_file: Option<PathBuf>,
    /// Do not read any ignore file.
    #[arg(long)]
    pub no_ignore: bool,
    /// Compute each file's sha256 digest (reads every byte).
    #[arg(long)]
    pub digest: bool,
    /// Worker threads (default: one per core).
    #[arg(long, short, default_value_t = 0)]
    pub jobs: usize,
    /// Largest size one compressed stream may expand to, in bytes.
    #[arg(long, value_name = "BYTES")]
    pub max_decompressed: Option<u64>,
    /// Deepest nesting of archives/compressed streams.
    #[arg(long, value_name = "N")]
    pub max_depth: Option<usize>,
    /// Record the scan (file digests and summary) in the home's ledger and
    /// sign a checkpoint (needs `mlsecops init`).
    #[arg(long)]
    pub record: bool,
}

pub fn run(args: &ScanArgs, quiet: bool, color: bool) -> anyhow::Result<ExitStatus> {
    let mut limits = Limits::default();
    if let Some(m) = args.max_decompressed {
        limits.max_decompressed = m;
    }
    if let Some(d) = args.max_depth {
        limits.max_depth = d;
    }
    if args.record {
        crate::home::Home::resolve().require()?;
    }
    let scanner = Scanner::new(ScanOptions {
        limits,
        digest: args.digest || args.record,
        jobs: args.jobs,
    });
    let mut report = scanner.scan_paths(&args.paths);

    let missing: Vec<_> = report
        .errors
        .iter()
        .filter(|e| e.members.is_empty() && args.paths.contains(&e.path))
        .map(|e| format!("{}: {}", e.path, e.message))
        .collect();
    if !missing.is_empty() {
        for m in &missing {
            eprintln!("error: {m}");
        }
        return Ok(ExitStatus::Error);
    }

    if !args.no_ignore {
        let path = args
            .ignore_file
            .clone()
            .unwrap_or_else(|| PathBuf::from(".mlsecopsignore.toml"));
        if path.exists() || args.ignore_file.is_some() {
            let ignores = crate::ignore::IgnoreFile::load(&path)?;
            for w in ignores.apply(&mut report.findings) {
                eprintln!("warning: {w}");
            }
            report.finalize();
        }
    }

    let rendered = render::render(&report, args.format, color && args.output.is_none())?;
    match &args.output {
        Some(p) => {
            std::fs::write(p, rendered).with_context(|| format!("writing {}", p.display()))?;
        }
        None => std::io::stdout().lock().write_all(rendered.as_bytes())?,
    }

    if args.record {
        let (index, size) = record(&report)?;
        if !quiet {
            eprintln!("recorded in the ledger as entry {index} (ledger size {size})");
        }
    }

    if report.summary.scanned == 0 && !args.allow_empty {
        eprintln!(
            "error: no scannable model files found in {}",
            args.paths.join(", ")
        );
        eprintln!("hint: pass --allow-empty to accept this, or point at model files or folders");
        return Ok(ExitStatus::Error);
    }
    let failing = report.at_or_above(args.fail_on).count();
    if !quiet {
        if failing > 0 {
            eprintln!(
                "{failing} finding(s) at or above {} — failing",
                args.fail_on
            );
        } else if report.summary.findings == 0 {
            eprintln!(
                "no known-unsafe constructs found in {} file(s)",
                report.summary.scanned
            );
        }
    }
    Ok(if failing > 0 {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}

/// Appends one `scan` event to the home's ledger and signs a checkpoint.
fn record(report: &mlsecops_core::Report) -> anyhow::Result<(u64, u64)> {
    let home = crate::home::Home::resolve();
    let targets: Vec<serde_json::Value> = report
        .targets
        .iter()
        .map(|t| serde_json::json!({"path": t.path, "format": t.format, "size": t.size, "digest": t.digest}))
        .collect();
    let event = serde_json::json!({
        "kind": "scan",
        "time": crate::home::now_rfc3339(),
        "tool": format!("{} {}", report.tool.name, report.tool.version),
        "targets": targets,
        "summary": report.summary,
        "max_severity": report.max_severity(),
    });
    if home.team_mode() {
        let reg = crate::commands::registry::Registry::open_at(home)?;
        let (index, size) = reg
            .rt
            .block_on(reg.store.ledger_append(&[&serde_json::to_string(&event)?]))?;
        reg.sign_db_checkpoint()?;
        return Ok((index, size));
    }
    let mut log = mlsecops_ledger::Log::open(home.ledger_dir())?;
    let index = log.append(&serde_json::to_vec(&event)?)?;
    let signer = home.signer(crate::home::LEDGER_KEY)?;
    log.checkpoint(&home.origin()?, &signer)?;
    Ok((index, log.size()))
}
