//! `mlsecops init` and `mlsecops keys generate|list`.

use std::io::Write;

use anyhow::{Context, bail};
use mlsecops_ledger::{Signer, Verifier};

use crate::ExitStatus;
use crate::home::{Home, LEDGER_KEY, write_private};

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Name (checkpoint origin) of the ledger key, e.g. `example.com/mlsecops`.
    #[arg(long, default_value = "mlsecops.local/ledger")]
    pub origin: String,
}

#[derive(Debug, clap::Subcommand)]
pub enum KeysCommand {
    /// Generate an Ed25519 signing key (private key stored with mode 0600).
    Generate {
        /// File name of the key inside the home's `keys/`.
        #[arg(long)]
        name: String,
        /// Key name as it appears in signed notes (defaults to NAME).
        #[arg(long)]
        key_name: Option<String>,
        /// `note` (Ed25519 signed-note key for ledgers), or a model-signing
        /// key written as PEM: `ecdsa-p256` (the reference's default),
        /// `ecdsa-p384`, `ecdsa-p521`, `ed25519`.
        #[arg(long, default_value = "note")]
        kind: String,
    },
    /// List keys (public material only).
    List,
}

fn generate(home: &Home, file: &str, key_name: &str) -> anyhow::Result<Verifier> {
    if file.is_empty() || file.contains(['/', '\\', '.']) {
        bail!("key file name `{file}` must be a plain name (no path separators or dots)");
    }
    std::fs::create_dir_all(home.keys_dir())
        .with_context(|| format!("creating {}", home.keys_dir().display()))?;
    let key = home.keys_dir().join(format!("{file}.key"));
    if key.exists() {
        bail!(
            "key {} already exists; keys are never overwritten",
            key.display()
        );
    }
    let signer =
        Signer::generate(key_name).with_context(|| format!("invalid key name `{key_name}`"))?;
    write_private(&key, &signer.to_private_key_string())?;
    let verifier = signer.verifier();
    std::fs::write(
        home.keys_dir().join(format!("{file}.pub")),
        format!("{}\n", verifier.to_key_string()),
    )?;
    Ok(verifier)
}

/// Writes a model-signing key pair: `keys/NAME.pem` (0600, never
/// overwritten) and `keys/NAME.pub.pem`; returns the public key's path.
fn generate_pem(
    home: &Home,
    file: &str,
    kind: mlsecops_sign::keys::KeyKind,
) -> anyhow::Result<std::path::PathBuf> {
    if file.is_empty() || file.contains(['/', '\\', '.']) {
        bail!("key file name `{file}` must be a plain name (no path separators or dots)");
    }
    std::fs::create_dir_all(home.keys_dir())
        .with_context(|| format!("creating {}", home.keys_dir().display()))?;
    let private = home.keys_dir().join(format!("{file}.pem"));
    if private.exists() {
        bail!(
            "key {} already exists; keys are never overwritten",
            private.display()
        );
    }
    let key = mlsecops_sign::keys::SigningKey::generate(kind)
        .map_err(|e| anyhow::anyhow!("generating a {kind} key: {e}"))?;
    write_private(&private, key.to_pem().trim_end())?;
    let public = home.keys_dir().join(format!("{file}.pub.pem"));
    std::fs::write(&public, key.verifying_key().to_pem())
        .with_context(|| format!("writing {}", public.display()))?;
    Ok(public)
}

pub fn init(args: &InitArgs) -> anyhow::Result<ExitStatus> {
    let home = Home::resolve();
    std::fs::create_dir_all(home.ledger_dir())
        .with_context(|| format!("creating {}", home.ledger_dir().display()))?;
    let log = mlsecops_ledger::Log::open(home.ledger_dir())?;
    let reg = crate::commands::registry::Registry::open_at(home.clone())?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "home: {}", home.root.display())?;
    let has_key = home.keys_dir().join(format!("{LEDGER_KEY}.key")).exists();
    let has_pub = home.keys_dir().join(format!("{LEDGER_KEY}.pub")).exists();
    if reg.store.ledger_in_db() {
        // Team mode: one ledger in the database, one team key. The first
        // member's key becomes the team key; later members trust its public
        // half (compare it out of band) and append without signing.
        let team = reg.rt.block_on(reg.store.ledger_key_hint())?;
        let verifier = match (&team, has_key || has_pub) {
            (None, _) => {
                let v = if has_key {
                    home.verifier(LEDGER_KEY)?
                } else {
                    generate(&home, LEDGER_KEY, &args.origin)?
                };
                reg.rt
                    .block_on(reg.store.set_ledger_key_hint(&v.to_key_string()))?;
                v
            }
            (Some(t), false) => {
                let v = Verifier::from_key_string(t)
                    .context("the team ledger key recorded in the database is invalid")?;
                std::fs::create_dir_all(home.keys_dir())?;
                std::fs::write(
                    home.keys_dir().join(format!("{LEDGER_KEY}.pub")),
                    format!("{t}\n"),
                )?;
                eprintln!(
                    "trusting the team ledger key recorded in the database; compare it with a team member out of band"
                );
                v
            }
            (Some(t), true) => {
                let v = home.verifier(LEDGER_KEY)?;
                if v.to_key_string() != *t {
                    eprintln!(
                        "warning: this home's ledger key differs from the team ledger key {t}; `audit verify` uses this home's key"
                    );
                }
                v
            }
        };
        let size = reg.rt.block_on(reg.store.ledger_size())?;
        writeln!(out, "ledger: in the registry database ({size} entries)")?;
        writeln!(out, "ledger key: {}", verifier.to_key_string())?;
    } else {
        let verifier = if has_key {
            home.verifier(LEDGER_KEY)?
        } else {
            generate(&home, LEDGER_KEY, &args.origin)?
        };
        writeln!(
            out,
            "ledger: {} ({} entries)",
            home.ledger_dir().display(),
            log.size()
        )?;
        writeln!(out, "ledger key: {}", verifier.to_key_string())?;
    }
    writeln!(
        out,
        "registry: {} ({})",
        crate::commands::registry::redact_url(&home.database_url()),
        mlsecops_registry::Store::backend(&reg.store).as_str()
    )?;
    writeln!(out, "blobs: {}", reg.blobs.url())?;
    Ok(ExitStatus::Success)
}

pub fn run(cmd: &KeysCommand) -> anyhow::Result<ExitStatus> {
    let home = Home::resolve();
    let mut out = std::io::stdout().lock();
    match cmd {
        KeysCommand::Generate {
            name,
            key_name,
            kind,
        } => {
            if kind == "note" {
                let v = generate(&home, name, key_name.as_deref().unwrap_or(name))?;
                writeln!(out, "{}", v.to_key_string())?;
            } else {
                let kind: mlsecops_sign::keys::KeyKind = kind
                    .parse()
                    .map_err(|e| anyhow::anyhow!("--kind {kind}: {e}"))?;
                let pub_path = generate_pem(&home, name, kind)?;
                writeln!(out, "{}", pub_path.display())?;
            }
        }
        KeysCommand::List => {
            let mut names: Vec<String> = std::fs::read_dir(home.keys_dir())
                .map(|rd| {
                    rd.filter_map(Result::ok)
                        .filter_map(|e| {
                            e.file_name()
                                .to_str()?
                                .strip_suffix(".pub")
                                .map(str::to_owned)
                        })
                        .collect()
                })
                .unwrap_or_default();
            names.sort();
            for n in names {
                let v = home.verifier(&n)?;
                let private = home.keys_dir().join(format!("{n}.key")).exists();
                writeln!(
                    out,
                    "{n:<16} {:08x}  {}{}",
                    v.key_id(),
                    v.name(),
                    if private {
                        "  (private key present)"
                    } else {
                        ""
                    }
                )?;
            }
            // Model-signing key pairs (PEM).
            let mut pems: Vec<String> = std::fs::read_dir(home.keys_dir())
                .map(|rd| {
                    rd.filter_map(Result::ok)
                        .filter_map(|e| {
                            e.file_name()
                                .to_str()?
                                .strip_suffix(".pub.pem")
                                .map(str::to_owned)
                        })
                        .collect()
                })
                .unwrap_or_default();
            pems.sort();
            for n in pems {
                let path = home.keys_dir().join(format!("{n}.pub.pem"));
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("reading {}", path.display()))?;
                let key = mlsecops_sign::keys::VerifyingKey::from_pem(&text)
                    .with_context(|| format!("{} is not a public key", path.display()))?;
                let private = home.keys_dir().join(format!("{n}.pem")).exists();
                writeln!(
                    out,
                    "{n:<16} {:<10} hint {}{}",
                    key.kind().to_string(),
                    &key.hint()[..16],
                    if private {
                        "  (private key present)"
                    } else {
                        ""
                    }
                )?;
            }
        }
    }
    Ok(ExitStatus::Success)
}
