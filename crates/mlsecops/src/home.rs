//! The mlsecops home directory (`.mlsecops/` or `MLSECOPS_HOME`): the
//! ledger, the keys, the registry database and the blobs live there.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use mlsecops_ledger::{Signer, Verifier};

/// Name of the ledger's signing key (also the checkpoint origin).
pub const LEDGER_KEY: &str = "ledger";

/// A resolved home directory.
#[derive(Debug, Clone)]
pub struct Home {
    pub root: PathBuf,
}

impl Home {
    /// `MLSECOPS_HOME`, else `.mlsecops` in the current directory.
    pub fn resolve() -> Self {
        let root = std::env::var_os("MLSECOPS_HOME")
            .map_or_else(|| PathBuf::from(".mlsecops"), PathBuf::from);
        Self { root }
    }

    pub fn ledger_dir(&self) -> PathBuf {
        self.root.join("ledger")
    }

    pub fn keys_dir(&self) -> PathBuf {
        self.root.join("keys")
    }

    /// The registry database: `MLSECOPS_DATABASE_URL` (team mode,
    /// `postgres://…`) or `registry.db` in the home (SQLite).
    pub fn database_url(&self) -> String {
        std::env::var("MLSECOPS_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| format!("sqlite://{}", self.root.join("registry.db").display()))
    }

    /// Team mode: the registry (and so the ledger) is in PostgreSQL.
    pub fn team_mode(&self) -> bool {
        let url = self.database_url();
        url.starts_with("postgres://") || url.starts_with("postgresql://")
    }

    /// The blob store: `MLSECOPS_BLOB_URL` (team mode, `s3://…`) or
    /// `blobs/` in the home.
    pub fn blob_url(&self) -> String {
        std::env::var("MLSECOPS_BLOB_URL")
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| self.root.join("blobs").display().to_string())
    }

    /// Who is acting: `MLSECOPS_ACTOR`, else the login name.
    pub fn actor() -> String {
        ["MLSECOPS_ACTOR", "USER", "LOGNAME", "USERNAME"]
            .iter()
            .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
            .unwrap_or_else(|| "unknown".to_owned())
    }

    /// Fails with a hint when `mlsecops init` has not run.
    pub fn require(&self) -> anyhow::Result<()> {
        if !self.ledger_dir().is_dir() {
            bail!(
                "no mlsecops home at {}\nhint: run `mlsecops init` (or set MLSECOPS_HOME)",
                self.root.display()
            );
        }
        Ok(())
    }

    /// The checkpoint origin of this home's ledger.
    pub fn origin(&self) -> anyhow::Result<String> {
        Ok(self.verifier(LEDGER_KEY)?.name().to_owned())
    }

    pub fn signer(&self, name: &str) -> anyhow::Result<Signer> {
        let p = self.keys_dir().join(format!("{name}.key"));
        let text =
            std::fs::read_to_string(&p).with_context(|| format!("reading key {}", p.display()))?;
        Signer::from_key_string(text.trim())
            .with_context(|| format!("invalid signer key in {}", p.display()))
    }

    pub fn verifier(&self, name: &str) -> anyhow::Result<Verifier> {
        let p = self.keys_dir().join(format!("{name}.pub"));
        let text =
            std::fs::read_to_string(&p).with_context(|| format!("reading key {}", p.display()))?;
        Verifier::from_key_string(text.trim())
            .with_context(|| format!("invalid verifier key in {}", p.display()))
    }
}

/// The current UTC time as RFC 3339 (`2026-11-22T01:02:03Z`).
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (y, m, d) = crate::ignore::civil_from_days((secs / 86_400) as i64);
    let t = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        t / 3600,
        t / 60 % 60,
        t % 60
    )
}

/// Writes a private key readable by its owner only (0600), never over an
/// existing file.
pub fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()?;
    Ok(())
}
