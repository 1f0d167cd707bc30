//! `mlsecops audit log|prove|verify`: read and prove the tamper-evident
//! ledger in the home directory.

use std::io::Write;

use mlsecops_ledger::{Log, VerifyError, verify, verify_inclusion};
use serde_json::json;

use crate::ExitStatus;
use crate::home::{Home, LEDGER_KEY};

#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Print ledger entries, one JSON object per line.
    Log {
        /// First entry index.
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// Most entries to print.
        #[arg(long, default_value_t = 100)]
        limit: u64,
    },
    /// Print an RFC 9162 inclusion proof of entry INDEX in the latest checkpoint.
    Prove { index: u64 },
    /// Recompute the whole ledger and check every checkpoint; exit 1 on tampering.
    Verify,
}

fn hex(b: &[u8]) -> String {
    use std::fmt::Write as _;
    b.iter()
        .fold(String::with_capacity(2 * b.len()), |mut s, x| {
            let _ = write!(s, "{x:02x}");
            s
        })
}

/// Checks an inclusion proof against the checkpoint and prints it as JSON.
fn print_proof(
    out: &mut impl Write,
    index: u64,
    cp: &mlsecops_ledger::Checkpoint,
    leaf: &mlsecops_ledger::Hash,
    proof: &[mlsecops_ledger::Hash],
) -> anyhow::Result<()> {
    verify_inclusion(index, cp.size, leaf, proof, &cp.root)?;
    let doc = json!({
        "index": index,
        "tree_size": cp.size,
        "leaf_hash": hex(leaf),
        "root_hash": hex(&cp.root),
        "origin": cp.origin,
        "inclusion_proof": proof.iter().map(|h| hex(h)).collect::<Vec<_>>(),
    });
    writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
    Ok(())
}

/// Team mode: the ledger lives in the registry database.
fn run_db(cmd: &AuditCommand, home: Home) -> anyhow::Result<ExitStatus> {
    let reg = crate::commands::registry::Registry::open_at(home)?;
    let store = &reg.store;
    let mut out = std::io::stdout().lock();
    let verifier = reg.home.verifier(LEDGER_KEY)?;
    match cmd {
        AuditCommand::Log { from, limit } => {
            let mut next = *from;
            let end = from.saturating_add(*limit);
            while next < end {
                let page = reg.rt.block_on(store.ledger_read(
                    next,
                    u32::try_from(end - next).unwrap_or(u32::MAX).min(10_000),
                ))?;
                let Some(last) = page.last().map(|e| e.index) else {
                    break;
                };
                for e in page {
                    let value: serde_json::Value =
                        serde_json::from_str(&e.body).unwrap_or_else(|_| json!(e.body));
                    writeln!(
                        out,
                        "{}",
                        json!({"index": e.index, "leaf_hash": hex(&e.leaf_hash), "entry": value})
                    )?;
                }
                next = last + 1;
            }
        }
        AuditCommand::Prove { index } => {
            let report = reg.rt.block_on(store.verify_ledger(&verifier))?;
            let Some(cp) = report.latest_checkpoint else {
                anyhow::bail!(
                    "the team ledger has no checkpoint yet\nhint: a member holding the team ledger key signs one on their next write"
                );
            };
            let tree = reg.rt.block_on(store.ledger_tree(cp.size))?;
            let leaf = tree.leaf(*index).ok_or_else(|| {
                anyhow::anyhow!(
                    "no entry {index} in the latest checkpoint (size {})",
                    cp.size
                )
            })?;
            let proof = tree.inclusion_proof(*index, cp.size)?;
            print_proof(&mut out, *index, &cp, &leaf, &proof)?;
        }
        AuditCommand::Verify => match reg.rt.block_on(store.verify_ledger(&verifier)) {
            Ok(r) => {
                writeln!(
                    out,
                    "ledger verified: {} entries, root {}, {} checkpoint(s) (registry database)",
                    r.size,
                    hex(&r.root),
                    r.checkpoints
                )?;
            }
            Err(mlsecops_registry::Error::LedgerTampered(
                e @ (VerifyError::Tampered { .. }
                | VerifyError::BadCheckpoint { .. }
                | VerifyError::CheckpointRollback { .. }),
            )) => {
                writeln!(out, "ledger verification FAILED: {e}")?;
                return Ok(ExitStatus::Failure);
            }
            Err(e) => return Err(e.into()),
        },
    }
    Ok(ExitStatus::Success)
}

pub fn run(cmd: &AuditCommand) -> anyhow::Result<ExitStatus> {
    let home = Home::resolve();
    home.require()?;
    if home.team_mode() {
        return run_db(cmd, home);
    }
    let mut out = std::io::stdout().lock();
    match cmd {
        AuditCommand::Log { from, limit } => {
            let mut log = Log::open(home.ledger_dir())?;
            for i in *from..log.size().min(from.saturating_add(*limit)) {
                let e = log.entry(i)?;
                let value: serde_json::Value = serde_json::from_slice(&e)
                    .unwrap_or_else(|_| json!(String::from_utf8_lossy(&e)));
                let leaf = log.leaf_hash(i).map(|h| hex(&h)).unwrap_or_default();
                writeln!(
                    out,
                    "{}",
                    json!({"index": i, "leaf_hash": leaf, "entry": value})
                )?;
            }
        }
        AuditCommand::Prove { index } => {
            let log = Log::open(home.ledger_dir())?;
            let report = verify(home.ledger_dir(), &home.verifier(LEDGER_KEY)?)?;
            let Some(cp) = report.latest_checkpoint else {
                anyhow::bail!(
                    "the ledger has no checkpoint yet\nhint: `mlsecops scan --record` signs one after recording"
                );
            };
            let leaf = log.leaf_hash(*index).ok_or_else(|| {
                anyhow::anyhow!("no entry {index} (the ledger has {})", log.size())
            })?;
            let proof = log.prove_inclusion(*index, cp.size)?;
            print_proof(&mut out, *index, &cp, &leaf, &proof)?;
        }
        AuditCommand::Verify => match verify(home.ledger_dir(), &home.verifier(LEDGER_KEY)?) {
            Ok(r) => {
                writeln!(
                    out,
                    "ledger verified: {} entries, root {}, {} checkpoint(s)",
                    r.size,
                    hex(&r.root),
                    r.checkpoints
                )?;
                if r.unacknowledged_entries > 0 || r.torn_tail_bytes > 0 {
                    writeln!(
                        out,
                        "note: {} unacknowledged entries and {} bytes of an interrupted write will be discarded",
                        r.unacknowledged_entries, r.torn_tail_bytes
                    )?;
                }
            }
            Err(
                e @ (VerifyError::Tampered { .. }
                | VerifyError::BadCheckpoint { .. }
                | VerifyError::CheckpointRollback { .. }),
            ) => {
                writeln!(out, "ledger verification FAILED: {e}")?;
                return Ok(ExitStatus::Failure);
            }
            Err(e) => return Err(e.into()),
        },
    }
    Ok(ExitStatus::Success)
}
