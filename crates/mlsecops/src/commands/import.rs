//! `mlsecops registry import openlineage|dvc`: feed lineage recorded by
//! existing pipelines into the registry without rewriting them.
//!
//! Datasets are content-addressed, so each one an import names must be
//! resolved to bytes or to an artifact already registered:
//! 1. a local path (OpenLineage namespace `file`, or any DVC path) is hashed
//!    — and for DVC checked against the md5 the `.dvc`/`dvc.lock` file
//!    recorded, so a file that changed since DVC saw it is refused;
//! 2. otherwise an artifact registered under the dataset's name (latest
//!    version) is used;
//! 3. otherwise the import stops and lists what could not be resolved.

use std::io::Read as _;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use md5::Digest as _;
use mlsecops_registry::Store;
use mlsecops_registry::content::digest_path;
use mlsecops_registry::lineage::NewRun;
use mlsecops_registry::lineage::import::{
    DatasetRef, ImportedRun, parse_dvc_file, parse_dvc_lock, parse_run_events,
};
use serde_json::json;

use super::registry::{Format, Registry, register};
use crate::ExitStatus;

/// Largest import file read.
const MAX_IMPORT_BYTES: u64 = 64 << 20;

#[derive(Debug, clap::Subcommand)]
pub enum ImportCommand {
    /// OpenLineage run events: JSON Lines, a JSON array, or one event (`-` for stdin).
    Openlineage {
        file: PathBuf,
        /// Directory that relative `file` namespace dataset names are relative to.
        #[arg(long, default_value = ".")]
        root: PathBuf,
        /// Record the digests only; do not copy the bytes into the blob store.
        #[arg(long)]
        no_blob: bool,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// DVC `.dvc` pointer files and `dvc.lock` files (paths are relative to each file).
    Dvc {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[arg(long)]
        no_blob: bool,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
}

// `read_to_end` is bounded here by `take(MAX_IMPORT_BYTES + 1)`.
#[allow(clippy::disallowed_methods)]
fn read_bounded(path: &Path) -> anyhow::Result<String> {
    let mut buf = Vec::new();
    if path.as_os_str() == "-" {
        std::io::stdin()
            .take(MAX_IMPORT_BYTES + 1)
            .read_to_end(&mut buf)?;
    } else {
        std::fs::File::open(path)
            .with_context(|| format!("opening {}", path.display()))?
            .take(MAX_IMPORT_BYTES + 1)
            .read_to_end(&mut buf)
            .with_context(|| format!("reading {}", path.display()))?;
    }
    if buf.len() as u64 > MAX_IMPORT_BYTES {
        bail!("{} is larger than {MAX_IMPORT_BYTES} bytes", path.display());
    }
    String::from_utf8(buf).with_context(|| format!("{} is not UTF-8", path.display()))
}

fn md5_hex(path: &Path, dos2unix: bool) -> anyhow::Result<String> {
    let mut f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut h = md5::Md5::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut pending_cr = false;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        if dos2unix {
            // DVC 2 hashed text files with CRLF turned into LF.
            let mut chunk = Vec::with_capacity(n + 1);
            for &b in &buf[..n] {
                if pending_cr {
                    if b != b'\n' {
                        chunk.push(b'\r');
                    }
                    pending_cr = false;
                }
                if b == b'\r' {
                    pending_cr = true;
                } else {
                    chunk.push(b);
                }
            }
            h.update(&chunk);
        } else {
            h.update(&buf[..n]);
        }
    }
    if pending_cr {
        h.update(b"\r");
    }
    Ok(hex(&h.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// `./a/../b/c/` → `b/c`: a stable, readable name for a relative path.
fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." if parts.last().is_some_and(|l| *l != "..") => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    let joined = parts.join("/");
    if path.starts_with('/') {
        format!("/{joined}")
    } else {
        joined
    }
}

/// Resolves a referenced dataset to a registered artifact digest.
fn resolve(
    reg: &Registry,
    r: &DatasetRef,
    base: &Path,
    no_blob: bool,
    registered: &mut Vec<serde_json::Value>,
) -> anyhow::Result<Option<String>> {
    // Events exported by mlsecops carry the digest itself.
    if let Some(d) = r
        .facets
        .get("mlsecops_artifact")
        .and_then(|f| f.get("digest"))
        .and_then(serde_json::Value::as_str)
        && let Some(a) = reg.rt.block_on(reg.store.artifact(d))?
    {
        return Ok(Some(a.digest));
    }
    let local = r.namespace == "file" || r.namespace.starts_with("file://");
    if local {
        let p = if Path::new(&r.name).is_absolute() {
            PathBuf::from(&r.name)
        } else {
            base.join(&r.name)
        };
        if p.exists() {
            if let Some(exp) = &r.expected
                && let Some(md5) = exp.md5.as_deref().filter(|_| !exp.is_dir && p.is_file())
            {
                let plain = md5_hex(&p, false)?;
                if plain != md5 && md5_hex(&p, true)? != md5 {
                    bail!(
                        "{} does not match the md5 DVC recorded ({md5}, file hashes to {plain}): it changed since DVC saw it",
                        p.display()
                    );
                }
            }
            let c = digest_path(&p)?;
            if let Some(exp) = &r.expected
                && let Some(n) = exp.nfiles.filter(|_| exp.is_dir)
                && n != c.files.len() as u64
            {
                bail!(
                    "{} holds {} files but DVC recorded {n}: it changed since DVC saw it",
                    p.display(),
                    c.files.len()
                );
            }
            // Already registered (under any name): the content is what counts.
            if let Some(a) = reg.rt.block_on(reg.store.artifact(&c.digest))? {
                return Ok(Some(a.digest));
            }
            // Name it by its path relative to where the import runs.
            let name = normalize(&p.to_string_lossy());
            let w = register(
                reg,
                &c,
                r.kind,
                &name,
                Some(p.display().to_string()),
                json!({"imported_from": {"namespace": r.namespace, "name": r.name, "facets": r.facets}}),
                no_blob,
            )
            .with_context(|| format!("registering {}", p.display()))?;
            if w.created {
                registered.push(json!({"digest": w.value.digest, "name": w.value.name, "version": w.value.version, "kind": w.value.kind}));
            }
            return Ok(Some(w.value.digest));
        }
    }
    match reg.rt.block_on(reg.store.resolve(&r.name)) {
        Ok(a) => Ok(Some(a.digest)),
        Err(mlsecops_registry::Error::NotFound(_) | mlsecops_registry::Error::Invalid { .. }) => {
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

fn ingest(
    reg: &Registry,
    runs: &[(ImportedRun, PathBuf)],
    no_blob: bool,
    format: Format,
) -> anyhow::Result<ExitStatus> {
    let mut registered = Vec::new();
    let mut recorded = Vec::new();
    let mut unresolved = Vec::new();
    for (run, base) in runs {
        let mut inputs = Vec::new();
        let mut outputs = Vec::new();
        for (list, refs) in [(&mut inputs, &run.inputs), (&mut outputs, &run.outputs)] {
            for r in refs {
                match resolve(reg, r, base, no_blob, &mut registered)? {
                    Some(d) => list.push(d),
                    None => unresolved.push(format!("{} {}", r.namespace, r.name)),
                }
            }
        }
        // A pointer file without dependencies only registers its outputs.
        if outputs.is_empty() || inputs.is_empty() {
            continue;
        }
        let external_id = match run.source.as_str() {
            // A DVC stage runs many times: its identity is the stage plus
            // what it produced.
            "dvc" => {
                let mut sorted = outputs.clone();
                sorted.sort();
                let h = <sha2::Sha256 as sha2::Digest>::digest(sorted.join("\n").as_bytes());
                let hex = hex(&h[..8]);
                Some(format!(
                    "{}@{hex}",
                    run.external_id
                        .as_deref()
                        .or(run.name.as_deref())
                        .unwrap_or("stage")
                ))
            }
            _ => run.external_id.clone(),
        };
        let new = NewRun {
            name: run.name.clone(),
            source: run.source.clone(),
            external_id,
            code_commit: run.code_commit.clone(),
            parameters: run.parameters.clone(),
            environment: run.environment.clone(),
            inputs: inputs.into_iter().map(|d| (d, None)).collect(),
            outputs,
        };
        let w = reg.rt.block_on(reg.store.record_run(&new, &reg.actor))?;
        recorded.push(json!({"run": w.value.id, "name": w.value.name, "new": w.created}));
    }
    reg.mirror()?;
    if !unresolved.is_empty() {
        unresolved.sort();
        unresolved.dedup();
        bail!(
            "{} dataset(s) could not be resolved to content (runs using them were recorded without them):\n  {}\nhint: register them first (`mlsecops registry add dataset PATH --name NAME`, using the dataset's name), or import where the files are (--root)",
            unresolved.len(),
            unresolved.join("\n  ")
        );
    }
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json => writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&json!({"registered": registered, "runs": recorded}))?
        )?,
        Format::Table => {
            for a in &registered {
                writeln!(
                    out,
                    "{}  {} {}@v{}",
                    a["digest"].as_str().unwrap_or_default(),
                    a["kind"].as_str().unwrap_or_default(),
                    a["name"].as_str().unwrap_or_default(),
                    a["version"]
                )?;
            }
            eprintln!(
                "imported {} run(s) ({} new), registered {} artifact(s)",
                recorded.len(),
                recorded.iter().filter(|r| r["new"] == true).count(),
                registered.len()
            );
        }
    }
    Ok(ExitStatus::Success)
}

pub fn run(cmd: &ImportCommand) -> anyhow::Result<ExitStatus> {
    let reg = Registry::open()?;
    reg.mirror()?;
    match cmd {
        ImportCommand::Openlineage {
            file,
            root,
            no_blob,
            format,
        } => {
            let text = read_bounded(file)?;
            let parsed =
                parse_run_events(&text).with_context(|| format!("reading {}", file.display()))?;
            for s in &parsed.skipped {
                eprintln!(
                    "{}:{}: skipped {}: {}",
                    file.display(),
                    s.line,
                    s.run_id
                        .as_deref()
                        .map_or_else(|| "event".to_owned(), |id| format!("run {id}")),
                    s.reason
                );
            }
            let runs: Vec<_> = parsed.runs.into_iter().map(|r| (r, root.clone())).collect();
            ingest(&reg, &runs, *no_blob, *format)
        }
        ImportCommand::Dvc {
            files,
            no_blob,
            format,
        } => {
            let mut runs = Vec::new();
            for f in files {
                let text = read_bounded(f)?;
                let base = f
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
                let is_lock = f.file_name().is_some_and(|n| n == "dvc.lock");
                if is_lock {
                    for r in
                        parse_dvc_lock(&text).with_context(|| format!("reading {}", f.display()))?
                    {
                        runs.push((r, base.clone()));
                    }
                } else {
                    let r = parse_dvc_file(&text)
                        .with_context(|| format!("reading {}", f.display()))?;
                    runs.push((r, base));
                }
            }
            ingest(&reg, &runs, *no_blob, *format)
        }
    }
}
