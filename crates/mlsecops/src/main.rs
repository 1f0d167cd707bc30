//! The `mlsecops` binary: parses arguments, calls a guard library, renders
//! its report and maps it to an exit status. No guard logic lives here.

mod commands;
mod home;
mod ignore;
mod render;
mod sigstore;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Process exit status, as documented in the README.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// Nothing at or above the gate.
    Success,
    /// The policy failed (findings at or above `--fail-on`).
    Failure,
    /// Usage, configuration or runtime error.
    Error,
}

impl From<ExitStatus> for ExitCode {
    fn from(s: ExitStatus) -> Self {
        ExitCode::from(match s {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::Error => 2,
        })
    }
}

/// Guard every link of the machine-learning production chain.
#[derive(Debug, Parser)]
#[command(name = "mlsecops", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Only print errors on stderr.
    #[arg(long, short, global = true)]
    quiet: bool,
    /// When to use colors: auto, always, never (NO_COLOR is honoured).
    #[arg(long, global = true, default_value = "auto", value_parser = ["auto", "always", "never"])]
    color: String,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Find code execution and file access hidden in model files.
    Scan(commands::scan::ScanArgs),
    /// Explain a rule (what, why, fix, references); without an id, list all rules.
    Rule(commands::rule::RuleArgs),
    /// Create the home directory (`.mlsecops/` or MLSECOPS_HOME) with its ledger and ledger key.
    Init(commands::keys::InitArgs),
    /// Manage signing keys in the home directory.
    #[command(subcommand)]
    Keys(commands::keys::KeysCommand),
    /// Read, prove and verify the tamper-evident ledger.
    #[command(subcommand)]
    Audit(commands::audit::AuditCommand),
    /// Register datasets, models and runs by content digest; tag, approve, deploy, import.
    #[command(subcommand)]
    Registry(commands::registry::RegistryCommand),
    /// What an artifact was made from (--up) and what was made from it (--down).
    Lineage(commands::registry::LineageArgs),
    /// Revoke an artifact and everything downstream of it; prints the blast radius.
    Revoke(commands::registry::RevokeArgs),
    /// Export an artifact and its upstream lineage as a CycloneDX ML-BOM or SPDX 3 document.
    Export(commands::registry::ExportArgs),
    /// Check, profile and diff datasets: contracts, secrets/PII, duplicates,
    /// outliers, label noise, backdoor poisoning.
    #[command(subcommand)]
    Data(commands::data::DataCommand),
    /// Sign a model (OpenSSF model-signing compatible Sigstore bundle).
    Sign(commands::sign::SignArgs),
    /// Verify a model against its signature (and, with --policy, its attestations).
    Verify(commands::sign::VerifyArgs),
    /// Add a signed in-toto attestation (SLSA provenance, reports, ML-BOM) next to a model.
    Attest(commands::sign::AttestArgs),
    /// Gate a model (ONNX): accuracy, slices, calibration, regression vs the
    /// approved version, robust accuracy under attack; exit 1 on a failed threshold.
    Accept(commands::accept::AcceptArgs),
    /// Attack a model (ONNX) under a stated threat model and report robust accuracy.
    Attack(commands::accept::AttackArgs),
    /// Write adversarial examples with their true labels as a new dataset
    /// (adversarial training), with lineage to the model and data.
    Augment(commands::accept::AugmentArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                ExitStatus::Error
            } else {
                ExitStatus::Success
            };
            let _ = e.print();
            return code.into();
        }
    };
    let level = if cli.quiet { "error" } else { "warn" };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MLSECOPS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level)),
        )
        .with_writer(std::io::stderr)
        .without_time()
        .init();
    let color = render::use_color(&cli.color);
    let result = match cli.command {
        Command::Scan(args) => commands::scan::run(&args, cli.quiet, color),
        Command::Rule(args) => commands::rule::run(&args),
        Command::Init(args) => commands::keys::init(&args),
        Command::Keys(cmd) => commands::keys::run(&cmd),
        Command::Audit(cmd) => commands::audit::run(&cmd),
        Command::Registry(cmd) => commands::registry::run(&cmd),
        Command::Lineage(args) => commands::registry::lineage(&args),
        Command::Revoke(args) => commands::registry::revoke(&args),
        Command::Export(args) => commands::registry::export(&args),
        Command::Data(cmd) => commands::data::run(&cmd, cli.quiet, color),
        Command::Sign(args) => commands::sign::sign(&args),
        Command::Verify(args) => commands::sign::verify(&args),
        Command::Attest(args) => commands::sign::attest(&args),
        Command::Accept(args) => commands::accept::accept(&args, cli.quiet),
        Command::Attack(args) => commands::accept::attack(&args, cli.quiet),
        Command::Augment(args) => commands::accept::augment(&args, cli.quiet),
    };
    match result {
        Ok(status) => status.into(),
        Err(e) => {
            // A closed pipe (`| head`) is the reader's choice, not an error.
            let broken_pipe = e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            });
            if broken_pipe {
                return ExitStatus::Success.into();
            }
            eprintln!("error: {e:#}");
            ExitStatus::Error.into()
        }
    }
}
