//! `mlsecops registry …`, `lineage`, `revoke` and `export`: the
//! content-addressed registry with lineage. Every write is mirrored into
//! the tamper-evident ledger before the command returns.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use mlsecops_registry::blob::BlobStore;
use mlsecops_registry::content::{Content, digest_path};
use mlsecops_registry::lineage::{
    Artifact, ArtifactKind, BlastRadius, Direction, Graph, ListFilter, NewArtifact, NewRun,
    Relation,
};
use mlsecops_registry::store::rfc3339_ms;
use mlsecops_registry::{Actor, OpenOptions, SqlStore, Store};
use serde_json::{Value, json};

use crate::ExitStatus;
use crate::home::{Home, LEDGER_KEY};

/// Output format of registry commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum KindArg {
    Dataset,
    Model,
    Code,
    Other,
}

impl From<KindArg> for ArtifactKind {
    fn from(k: KindArg) -> Self {
        match k {
            KindArg::Dataset => Self::Dataset,
            KindArg::Model => Self::Model,
            KindArg::Code => Self::Code,
            KindArg::Other => Self::Other,
        }
    }
}

#[derive(Debug, clap::Subcommand)]
pub enum RegistryCommand {
    /// Register a dataset, model or code version (file or directory) by its content digest.
    Add(AddArgs),
    /// List registered artifacts.
    List {
        #[arg(long, value_enum)]
        kind: Option<KindArg>,
        #[arg(long)]
        name: Option<String>,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Show one artifact: versions, tags, lineage edges, attachments, approvals, deployments.
    Show {
        /// Digest, digest prefix, NAME, NAME@vN, NAME@TAG, or a path to hash.
        reference: String,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Point NAME@TAG at an artifact (e.g. `registry tag credit-risk@v3 champion`).
    Tag {
        reference: String,
        tag: String,
        /// Tag under another name than the artifact's own.
        #[arg(long)]
        name: Option<String>,
    },
    /// Record an approval (or `--reject`) of an artifact for a stage.
    Approve {
        reference: String,
        #[arg(long)]
        stage: String,
        #[arg(long)]
        reject: bool,
        #[arg(long)]
        comment: Option<String>,
    },
    /// Record that an artifact was deployed to an environment (refused when revoked).
    Deploy {
        reference: String,
        #[arg(long = "env")]
        environment: String,
    },
    /// Copy an artifact's stored bytes out of the blob store (verified).
    Get {
        reference: String,
        /// Destination file or directory.
        #[arg(long, short)]
        output: PathBuf,
    },
    /// Import lineage from OpenLineage run events or DVC files.
    #[command(subcommand)]
    Import(crate::commands::import::ImportCommand),
}

#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// What the path holds.
    #[arg(value_enum)]
    pub kind: KindArg,
    /// File or directory to register.
    pub path: PathBuf,
    /// Human name (versions are numbered per name).
    #[arg(long)]
    pub name: String,
    /// What it was made from (digest, NAME@vN, NAME@TAG, or path); repeatable.
    #[arg(long = "from", value_name = "REF")]
    pub from: Vec<String>,
    /// A dataset it was evaluated on (recorded as `tested_on`); repeatable.
    #[arg(long = "tested-on", value_name = "REF")]
    pub tested_on: Vec<String>,
    /// Relation to every --from input (inferred from kinds by default).
    #[arg(long, value_parser = parse_relation)]
    pub relation: Option<Relation>,
    /// Name of the run that produced it.
    #[arg(long)]
    pub run: Option<String>,
    /// Code commit of the run.
    #[arg(long)]
    pub commit: Option<String>,
    /// Run parameter KEY=VALUE; repeatable.
    #[arg(long = "param", value_name = "KEY=VALUE")]
    pub params: Vec<String>,
    /// Metadata KEY=VALUE (e.g. model card fields: license, description); repeatable.
    #[arg(long = "meta", value_name = "KEY=VALUE")]
    pub meta: Vec<String>,
    /// Record the digest only; do not copy the bytes into the blob store.
    #[arg(long)]
    pub no_blob: bool,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
}

fn parse_relation(s: &str) -> Result<Relation, String> {
    Relation::parse(s).ok_or_else(|| {
        format!(
            "unknown relation `{s}`; one of: {}",
            Relation::ALL.map(Relation::as_str).join(", ")
        )
    })
}

#[derive(Debug, clap::Args)]
pub struct LineageArgs {
    /// Digest, digest prefix, NAME, NAME@vN, NAME@TAG, or a path to hash.
    pub reference: String,
    /// Only what it was made from.
    #[arg(long, conflicts_with = "down")]
    pub up: bool,
    /// Only what was made from it.
    #[arg(long)]
    pub down: bool,
    #[arg(long, value_enum, default_value = "table")]
    pub format: LineageFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LineageFormat {
    Table,
    Json,
    Dot,
    Openlineage,
}

#[derive(Debug, clap::Args)]
pub struct RevokeArgs {
    /// Digest, NAME@vN, NAME@TAG, or a path to hash.
    pub reference: String,
    /// Why (recorded in the registry and the ledger).
    #[arg(long)]
    pub reason: String,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    #[arg(value_enum)]
    pub standard: ExportStandard,
    /// The model or dataset the document describes (with its upstream lineage).
    pub reference: String,
    /// Write to a file instead of stdout.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportStandard {
    /// CycloneDX 1.6 ML-BOM (JSON).
    Cyclonedx,
    /// SPDX 3.0.1 AI and Dataset profiles (JSON-LD).
    Spdx,
}

/// An open registry: store, blobs, home, actor, and the async runtime.
pub struct Registry {
    pub home: Home,
    pub store: SqlStore,
    pub blobs: BlobStore,
    pub actor: Actor,
    pub rt: tokio::runtime::Runtime,
}

impl Registry {
    /// Opens the home's registry (creating the database on first use).
    pub fn open() -> anyhow::Result<Self> {
        let home = Home::resolve();
        home.require()?;
        Self::open_at(home)
    }

    pub fn open_at(home: Home) -> anyhow::Result<Self> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        let url = home.database_url();
        let store = rt
            .block_on(SqlStore::open(&url, &OpenOptions::default()))
            .with_context(|| format!("opening the registry database {}", redact_url(&url)))?;
        let blobs = BlobStore::open(&home.blob_url())
            .with_context(|| format!("opening the blob store {}", home.blob_url()))?;
        Ok(Self {
            home,
            store,
            blobs,
            actor: Actor(Home::actor()),
            rt,
        })
    }

    /// Resolves a reference; an existing path is hashed first.
    pub fn resolve(&self, reference: &str) -> anyhow::Result<Artifact> {
        let p = Path::new(reference);
        if !mlsecops_registry::store::is_digest(reference) && p.exists() {
            let c = digest_path(p)?;
            return self
                .rt
                .block_on(self.store.artifact(&c.digest))?
                .with_context(|| {
                    format!(
                        "{reference} ({}) is not registered\nhint: `mlsecops registry add dataset|model {reference} --name NAME`",
                        c.digest
                    )
                });
        }
        Ok(self.rt.block_on(self.store.resolve(reference))?)
    }

    /// Mirrors every event not yet in the ledger into it, then signs a
    /// checkpoint. Safe against crashes (an event appended but not marked
    /// is found in the ledger's tail and not appended twice) and against
    /// concurrent processes (one mirror at a time, under a lock file).
    pub fn mirror(&self) -> anyhow::Result<usize> {
        if self.store.ledger_in_db() {
            // Team mode: events entered the ledger in their own transaction.
            self.sign_db_checkpoint()?;
            return Ok(0);
        }
        let dir = self.home.ledger_dir();
        let lock_path = dir.join("mirror.lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .with_context(|| format!("opening {}", lock_path.display()))?;
        lock.lock()
            .with_context(|| format!("locking {}", lock_path.display()))?;
        let mut log = mlsecops_ledger::Log::open(&dir)?;
        let mut total = 0;
        loop {
            let pending = self.rt.block_on(self.store.pending_events(1000))?;
            if pending.is_empty() {
                break;
            }
            // Look for events already appended by an interrupted mirror.
            let size = log.size();
            let tail_start = size.saturating_sub(pending.len() as u64 + 64);
            let tail: Vec<(u64, mlsecops_ledger::Hash)> = (tail_start..size)
                .filter_map(|i| log.leaf_hash(i).map(|h| (i, h)))
                .collect();
            let mut to_append = Vec::new();
            let mut marks = Vec::new();
            for e in &pending {
                let h = mlsecops_ledger::leaf_hash(e.body.as_bytes());
                if let Some((i, _)) = tail.iter().find(|(_, t)| *t == h) {
                    marks.push((e.seq, *i));
                } else {
                    to_append.push(e);
                }
            }
            let batch: Vec<&[u8]> = to_append.iter().map(|e| e.body.as_bytes()).collect();
            let (first, _) = log.append_batch(&batch)?;
            for (k, e) in to_append.iter().enumerate() {
                marks.push((e.seq, first + k as u64));
            }
            for (seq, index) in marks {
                self.rt.block_on(self.store.mark_ledgered(seq, index))?;
            }
            total += pending.len();
        }
        if total > 0 {
            let signer = self.home.signer(LEDGER_KEY)?;
            log.checkpoint(&self.home.origin()?, &signer)?;
        }
        drop(lock);
        Ok(total)
    }
}

impl Registry {
    /// Team mode: signs a checkpoint of the in-database ledger when this
    /// home holds the team's ledger key and the log grew since the last
    /// one. Members without the key append entries; key holders (or the
    /// server) sign.
    pub fn sign_db_checkpoint(&self) -> anyhow::Result<Option<String>> {
        let key = self.home.keys_dir().join(format!("{LEDGER_KEY}.key"));
        if !key.exists() {
            return Ok(None);
        }
        let signer = self.home.signer(LEDGER_KEY)?;
        let hint = self.rt.block_on(self.store.ledger_key_hint())?;
        if hint.as_deref() != Some(signer.verifier().to_key_string().as_str()) {
            return Ok(None);
        }
        let size = self.rt.block_on(self.store.ledger_size())?;
        let last = self.rt.block_on(self.store.ledger_checkpoints())?;
        let last_size = last
            .last()
            .and_then(|n| {
                mlsecops_ledger::Checkpoint::open(n.as_bytes(), &[signer.verifier()]).ok()
            })
            .map_or(0, |(cp, _)| cp.size);
        if size == last_size && !last.is_empty() {
            return Ok(None);
        }
        Ok(Some(self.rt.block_on(
            self.store.ledger_checkpoint(signer.name(), &signer),
        )?))
    }
}

/// Hides the password of a database URL in messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Left-aligned columns separated by two spaces.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut s = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut l = String::new();
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            l.push_str(c);
            if i + 1 < cells.len() {
                l.push_str(&" ".repeat(w - c.chars().count() + 2));
            }
        }
        s.push_str(l.trim_end());
        s.push('\n');
    };
    line(header.to_vec());
    for r in rows {
        line(r.iter().map(String::as_str).collect());
    }
    s
}

fn short(d: &str) -> &str {
    &d[..d.len().min("sha256:".len() + 12)]
}

fn parse_kv(items: &[String], what: &str) -> anyhow::Result<serde_json::Map<String, Value>> {
    let mut m = serde_json::Map::new();
    for it in items {
        let Some((k, v)) = it.split_once('=') else {
            bail!("{what} `{it}` must be KEY=VALUE");
        };
        // Numbers and booleans keep their type; everything else is a string.
        let value = serde_json::from_str::<Value>(v)
            .ok()
            .filter(|v| v.is_number() || v.is_boolean())
            .unwrap_or_else(|| json!(v));
        m.insert(k.to_owned(), value);
    }
    Ok(m)
}

fn status(a: &Artifact) -> String {
    a.revoked
        .as_ref()
        .map_or_else(|| "ok".to_owned(), |r| format!("REVOKED ({})", r.reason))
}

fn artifact_json(a: &Artifact) -> Value {
    let mut v = serde_json::to_value(a).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.insert("created".into(), json!(rfc3339_ms(a.created_at)));
        m.insert("ref".into(), json!(format!("{}@v{}", a.name, a.version)));
    }
    v
}

/// Registers `content` as an artifact, storing its bytes unless `no_blob`.
/// Directory artifacts also store their manifest.
pub fn register(
    reg: &Registry,
    content: &Content,
    kind: ArtifactKind,
    name: &str,
    source: Option<String>,
    metadata: Value,
    no_blob: bool,
) -> anyhow::Result<mlsecops_registry::Written<Artifact>> {
    if !no_blob {
        let files: Vec<(&Path, &str)> = content
            .paths
            .iter()
            .map(PathBuf::as_path)
            .zip(content.files.iter().map(|f| f.digest.as_str()))
            .collect();
        reg.rt
            .block_on(reg.blobs.put_files(&files))
            .with_context(|| format!("storing {} in {}", content.digest, reg.blobs.url()))?;
        if content.is_dir {
            let manifest = reg
                .rt
                .block_on(reg.blobs.put_bytes(content.manifest().into_bytes()))?;
            if manifest != content.digest {
                bail!(
                    "internal error: manifest digest {manifest} != {}",
                    content.digest
                );
            }
        }
    }
    let mut metadata = metadata;
    if let Value::Object(m) = &mut metadata {
        if content.is_dir {
            m.insert("layout".into(), json!("directory"));
        }
        if !no_blob {
            m.insert("stored".into(), json!(true));
        }
    }
    let new = NewArtifact {
        digest: content.digest.clone(),
        kind,
        name: name.to_owned(),
        size: content.size,
        files: content.files.len() as u64,
        media_type: content.is_dir.then(|| "inode/directory".to_owned()),
        source,
        metadata,
    };
    Ok(reg.rt.block_on(reg.store.put_artifact(&new, &reg.actor))?)
}

fn add(reg: &Registry, args: &AddArgs, out: &mut impl Write) -> anyhow::Result<()> {
    // Resolve every input first: a bad reference must not leave a half-done
    // registration behind.
    let mut inputs = Vec::new();
    for r in &args.from {
        inputs.push((reg.resolve(r)?.digest, args.relation));
    }
    for r in &args.tested_on {
        inputs.push((reg.resolve(r)?.digest, Some(Relation::TestedOn)));
    }
    if inputs.is_empty() && (args.run.is_some() || args.commit.is_some() || !args.params.is_empty())
    {
        bail!("--run, --commit and --param describe how it was made: give its inputs with --from");
    }
    let params = parse_kv(&args.params, "--param")?;
    let content = digest_path(&args.path)?;
    let meta = parse_kv(&args.meta, "--meta")?;
    let source = std::path::absolute(&args.path).map_or_else(
        |_| args.path.display().to_string(),
        |p| p.display().to_string(),
    );
    let written = register(
        reg,
        &content,
        args.kind.into(),
        &args.name,
        Some(source),
        Value::Object(meta),
        args.no_blob,
    )?;
    let a = &written.value;
    let run = if inputs.is_empty() {
        None
    } else {
        let new_run = NewRun {
            name: args.run.clone(),
            source: "cli".into(),
            external_id: None,
            code_commit: args.commit.clone(),
            parameters: Value::Object(params),
            environment: json!({"tool": format!("mlsecops {}", env!("CARGO_PKG_VERSION"))}),
            inputs,
            outputs: vec![a.digest.clone()],
        };
        Some(
            reg.rt
                .block_on(reg.store.record_run(&new_run, &reg.actor))?,
        )
    };
    reg.mirror()?;
    match args.format {
        Format::Json => {
            let mut v = artifact_json(a);
            if let Value::Object(m) = &mut v {
                m.insert("created_now".into(), json!(written.created));
                if let Some(r) = &run {
                    m.insert("run".into(), serde_json::to_value(&r.value)?);
                }
            }
            writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        }
        Format::Table => {
            writeln!(out, "{}", a.digest)?;
            let verb = if written.created {
                "registered"
            } else {
                "already registered"
            };
            eprintln!(
                "{verb} {} {}@v{} ({} file(s), {} bytes){}",
                a.kind,
                a.name,
                a.version,
                a.files,
                a.size,
                run.map(|r| format!(", run {}", short(&r.value.id)))
                    .unwrap_or_default()
            );
        }
    }
    Ok(())
}

fn list(
    reg: &Registry,
    filter: &ListFilter,
    format: Format,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let all = reg.rt.block_on(reg.store.list_artifacts(filter))?;
    match format {
        Format::Json => {
            let v: Vec<Value> = all.iter().map(artifact_json).collect();
            writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        }
        Format::Table => {
            let mut rows = Vec::new();
            for a in &all {
                rows.push(vec![
                    a.kind.to_string(),
                    a.name.clone(),
                    format!("v{}", a.version),
                    short(&a.digest).to_owned(),
                    a.size.to_string(),
                    rfc3339_ms(a.created_at),
                    status(a),
                ]);
            }
            write!(
                out,
                "{}",
                table(
                    &[
                        "KIND", "NAME", "VERSION", "DIGEST", "SIZE", "CREATED", "STATUS"
                    ],
                    &rows
                )
            )?;
        }
    }
    Ok(())
}

fn show(
    reg: &Registry,
    reference: &str,
    format: Format,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let a = reg.resolve(reference)?;
    let s = &reg.store;
    let tags = reg.rt.block_on(s.tags(&a.digest))?;
    let up = reg.rt.block_on(s.lineage(&a.digest, Direction::Up))?;
    let down = reg.rt.block_on(s.lineage(&a.digest, Direction::Down))?;
    let attachments = reg.rt.block_on(s.attachments(&a.digest))?;
    let approvals = reg.rt.block_on(s.approvals(&a.digest))?;
    let deployments = reg.rt.block_on(s.deployments(&a.digest))?;
    let parents: Vec<_> = up.edges.iter().filter(|e| e.child == a.digest).collect();
    let children: Vec<_> = down.edges.iter().filter(|e| e.parent == a.digest).collect();
    match format {
        Format::Json => {
            let mut v = artifact_json(&a);
            if let Value::Object(m) = &mut v {
                m.insert("tags".into(), serde_json::to_value(&tags)?);
                m.insert("parents".into(), serde_json::to_value(&parents)?);
                m.insert("children".into(), serde_json::to_value(&children)?);
                m.insert("attachments".into(), serde_json::to_value(&attachments)?);
                m.insert("approvals".into(), serde_json::to_value(&approvals)?);
                m.insert("deployments".into(), serde_json::to_value(&deployments)?);
            }
            writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        }
        Format::Table => {
            let name_of = |g: &Graph, d: &str| {
                g.node(d).map_or_else(
                    || short(d).to_owned(),
                    |n| format!("{}@v{}", n.name, n.version),
                )
            };
            writeln!(out, "{} {}@v{}", a.kind, a.name, a.version)?;
            writeln!(out, "  digest:   {}", a.digest)?;
            writeln!(out, "  size:     {} bytes in {} file(s)", a.size, a.files)?;
            writeln!(
                out,
                "  created:  {} by {}",
                rfc3339_ms(a.created_at),
                a.created_by
            )?;
            if let Some(src) = &a.source {
                writeln!(out, "  source:   {src}")?;
            }
            writeln!(out, "  status:   {}", status(&a))?;
            if let Some(r) = &a.revoked
                && r.cause != a.digest
            {
                writeln!(
                    out,
                    "            (because {} was revoked)",
                    name_of(&up, &r.cause)
                )?;
            }
            if !tags.is_empty() {
                let t: Vec<_> = tags
                    .iter()
                    .map(|t| format!("{}@{}", t.name, t.tag))
                    .collect();
                writeln!(out, "  tags:     {}", t.join(", "))?;
            }
            if a.metadata.as_object().is_some_and(|m| !m.is_empty()) {
                writeln!(out, "  metadata: {}", a.metadata)?;
            }
            for e in &parents {
                writeln!(
                    out,
                    "  made from {} ({})",
                    name_of(&up, &e.parent),
                    e.relation
                )?;
            }
            for e in &children {
                writeln!(
                    out,
                    "  used by   {} ({})",
                    name_of(&down, &e.child),
                    e.relation
                )?;
            }
            for x in &attachments {
                writeln!(
                    out,
                    "  attached  {} {} {}",
                    x.kind,
                    rfc3339_ms(x.created_at),
                    x.summary
                )?;
            }
            for x in &approvals {
                writeln!(
                    out,
                    "  {}  {} by {} at {}{}",
                    x.decision,
                    x.stage,
                    x.created_by,
                    rfc3339_ms(x.created_at),
                    x.comment
                        .as_ref()
                        .map(|c| format!(": {c}"))
                        .unwrap_or_default()
                )?;
            }
            for x in &deployments {
                writeln!(
                    out,
                    "  deployed  to {} by {} at {}",
                    x.environment,
                    x.created_by,
                    rfc3339_ms(x.created_at)
                )?;
            }
        }
    }
    Ok(())
}

pub fn run(cmd: &RegistryCommand) -> anyhow::Result<ExitStatus> {
    if let RegistryCommand::Import(c) = cmd {
        return crate::commands::import::run(c);
    }
    let reg = Registry::open()?;
    // Finish mirroring anything an interrupted command left behind.
    reg.mirror()?;
    let mut out = std::io::stdout().lock();
    match cmd {
        RegistryCommand::Add(args) => add(&reg, args, &mut out)?,
        RegistryCommand::List { kind, name, format } => {
            let filter = ListFilter {
                kind: kind.map(Into::into),
                name: name.clone(),
                limit: None,
            };
            list(&reg, &filter, *format, &mut out)?;
        }
        RegistryCommand::Show { reference, format } => show(&reg, reference, *format, &mut out)?,
        RegistryCommand::Tag {
            reference,
            tag,
            name,
        } => {
            let a = reg.resolve(reference)?;
            let name = name.as_deref().unwrap_or(&a.name);
            let prev = reg
                .rt
                .block_on(reg.store.set_tag(name, tag, &a.digest, &reg.actor))?;
            reg.mirror()?;
            writeln!(out, "{}", a.digest)?;
            match prev {
                Some(p) if p != a.digest => eprintln!(
                    "{name}@{tag} moved from {} to {}",
                    short(&p),
                    short(&a.digest)
                ),
                Some(_) => eprintln!("{name}@{tag} already points at {}", short(&a.digest)),
                None => eprintln!("{name}@{tag} -> {}", short(&a.digest)),
            }
        }
        RegistryCommand::Approve {
            reference,
            stage,
            reject,
            comment,
        } => {
            let a = reg.resolve(reference)?;
            let ap = reg.rt.block_on(reg.store.approve(
                &a.digest,
                stage,
                !reject,
                comment.as_deref(),
                &reg.actor,
            ))?;
            reg.mirror()?;
            writeln!(out, "{}", ap.id)?;
            eprintln!("{} {}@v{} for {stage}", ap.decision, a.name, a.version);
        }
        RegistryCommand::Deploy {
            reference,
            environment,
        } => {
            let a = reg.resolve(reference)?;
            let d = reg
                .rt
                .block_on(reg.store.deploy(&a.digest, environment, &reg.actor))?;
            reg.mirror()?;
            writeln!(out, "{}", d.id)?;
            eprintln!(
                "recorded deployment of {}@v{} to {environment}",
                a.name, a.version
            );
        }
        RegistryCommand::Get { reference, output } => {
            let a = reg.resolve(reference)?;
            get(&reg, &a, output)?;
            eprintln!("wrote {}@v{} to {}", a.name, a.version, output.display());
        }
        // Dispatched above, before the registry is opened twice.
        RegistryCommand::Import(_) => {}
    }
    Ok(ExitStatus::Success)
}

/// Copies an artifact's bytes out of the blob store, verifying every file
/// (and, for a directory, the manifest) against its digest.
fn get(reg: &Registry, a: &Artifact, output: &Path) -> anyhow::Result<()> {
    let layout_dir = a.metadata.get("layout").and_then(Value::as_str) == Some("directory");
    if !layout_dir {
        reg.rt
            .block_on(reg.blobs.get_to_file(&a.digest, output))
            .with_context(|| format!("fetching {}", a.digest))?;
        return Ok(());
    }
    let manifest = reg.rt.block_on(reg.blobs.get(&a.digest))?;
    let manifest = String::from_utf8(manifest).context("directory manifest is not UTF-8")?;
    for line in manifest.lines() {
        let (hex, rel) = line
            .split_once("  ")
            .with_context(|| format!("bad manifest line `{line}`"))?;
        if rel
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
            || rel.starts_with('/')
        {
            bail!("manifest of {} names an unsafe path `{rel}`", a.digest);
        }
        let dest = output.join(rel);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        reg.rt
            .block_on(reg.blobs.get_to_file(&format!("sha256:{hex}"), &dest))
            .with_context(|| format!("fetching {rel}"))?;
    }
    Ok(())
}

/// Renders a lineage graph as an indented tree from the root.
fn tree(g: &Graph, out: &mut impl Write) -> anyhow::Result<()> {
    fn line(
        g: &Graph,
        d: &str,
        rel: Option<Relation>,
        depth: usize,
        out: &mut impl Write,
    ) -> anyhow::Result<()> {
        let indent = "  ".repeat(depth);
        let label = g.node(d).map_or_else(
            || short(d).to_owned(),
            |n| {
                format!(
                    "{} {}@v{}  {}{}",
                    n.kind,
                    n.name,
                    n.version,
                    short(&n.digest),
                    n.revoked
                        .as_ref()
                        .map(|r| format!("  REVOKED: {}", r.reason))
                        .unwrap_or_default()
                )
            },
        );
        match rel {
            Some(r) => writeln!(out, "{indent}└─ {r} ─ {label}")?,
            None => writeln!(out, "{label}")?,
        }
        Ok(())
    }
    fn walk(
        g: &Graph,
        d: &str,
        up: bool,
        depth: usize,
        seen: &mut std::collections::HashSet<String>,
        out: &mut impl Write,
    ) -> anyhow::Result<()> {
        let next: Vec<_> = g
            .edges
            .iter()
            .filter(|e| if up { e.child == d } else { e.parent == d })
            .collect();
        for e in next {
            let other = if up { &e.parent } else { &e.child };
            line(g, other, Some(e.relation), depth, out)?;
            if seen.insert(other.clone()) {
                walk(g, other, up, depth + 1, seen, out)?;
            }
        }
        Ok(())
    }
    line(g, &g.root, None, 0, out)?;
    for (up, title) in [(true, "made from:"), (false, "used by:")] {
        let has = g.edges.iter().any(|e| {
            if up {
                e.child == g.root
            } else {
                e.parent == g.root
            }
        });
        if !has {
            continue;
        }
        writeln!(out, "{title}")?;
        let mut seen = std::collections::HashSet::from([g.root.clone()]);
        walk(g, &g.root, up, 1, &mut seen, out)?;
    }
    Ok(())
}

pub fn lineage(args: &LineageArgs) -> anyhow::Result<ExitStatus> {
    let reg = Registry::open()?;
    let a = reg.resolve(&args.reference)?;
    let direction = if args.up {
        Direction::Up
    } else if args.down {
        Direction::Down
    } else {
        Direction::Both
    };
    let g = reg.rt.block_on(reg.store.lineage(&a.digest, direction))?;
    let mut out = std::io::stdout().lock();
    match args.format {
        LineageFormat::Table => tree(&g, &mut out)?,
        LineageFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&g)?)?,
        LineageFormat::Dot => write!(out, "{}", mlsecops_registry::lineage::export::dot::dot(&g))?,
        LineageFormat::Openlineage => {
            for ev in
                mlsecops_registry::lineage::export::openlineage::openlineage(&g, &export_options())
            {
                writeln!(out, "{}", serde_json::to_string(&ev)?)?;
            }
        }
    }
    Ok(ExitStatus::Success)
}

fn export_options() -> mlsecops_registry::lineage::export::ExportOptions {
    mlsecops_registry::lineage::export::ExportOptions {
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        timestamp: std::env::var("SOURCE_DATE_EPOCH")
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
            .map_or_else(
                || rfc3339_ms(mlsecops_registry::store::now_ms()),
                |s| rfc3339_ms(s * 1000),
            ),
        namespace: std::env::var("MLSECOPS_NAMESPACE").unwrap_or_else(|_| "mlsecops".to_owned()),
    }
}

fn blast_table(b: &BlastRadius, out: &mut impl Write) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    for a in &b.revoked {
        rows.push(vec![
            "revoked".to_owned(),
            a.kind.to_string(),
            a.name.clone(),
            format!("v{}", a.version),
            short(&a.digest).to_owned(),
        ]);
    }
    for a in &b.already_revoked {
        rows.push(vec![
            "already revoked".to_owned(),
            a.kind.to_string(),
            a.name.clone(),
            format!("v{}", a.version),
            short(&a.digest).to_owned(),
        ]);
    }
    write!(
        out,
        "{}",
        table(&["", "KIND", "NAME", "VERSION", "DIGEST"], &rows)
    )?;
    for d in &b.deployments {
        let name = b
            .revoked
            .iter()
            .chain(&b.already_revoked)
            .find(|a| a.digest == d.subject)
            .map_or_else(
                || short(&d.subject).to_owned(),
                |a| format!("{}@v{}", a.name, a.version),
            );
        writeln!(
            out,
            "DEPLOYED: {name} in {} since {} — take it down",
            d.environment,
            rfc3339_ms(d.created_at)
        )?;
    }
    Ok(())
}

pub fn revoke(args: &RevokeArgs) -> anyhow::Result<ExitStatus> {
    let reg = Registry::open()?;
    reg.mirror()?;
    let a = reg.resolve(&args.reference)?;
    let b = reg
        .rt
        .block_on(reg.store.revoke(&a.digest, &args.reason, &reg.actor))?;
    reg.mirror()?;
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&b)?)?,
        Format::Table => blast_table(&b, &mut out)?,
    }
    let models = b
        .revoked
        .iter()
        .filter(|x| x.kind == ArtifactKind::Model)
        .count();
    eprintln!(
        "revoked {} artifact(s) ({models} model(s)); {} were already revoked; {} deployment(s) affected",
        b.revoked.len(),
        b.already_revoked.len(),
        b.deployments.len()
    );
    Ok(ExitStatus::Success)
}

pub fn export(args: &ExportArgs) -> anyhow::Result<ExitStatus> {
    let reg = Registry::open()?;
    let a = reg.resolve(&args.reference)?;
    let g = reg
        .rt
        .block_on(reg.store.lineage(&a.digest, Direction::Up))?;
    let opts = export_options();
    let doc = match args.standard {
        ExportStandard::Cyclonedx => {
            mlsecops_registry::lineage::export::cyclonedx::cyclonedx(&g, &a.digest, &opts)
        }
        ExportStandard::Spdx => {
            mlsecops_registry::lineage::export::spdx::spdx(&g, &a.digest, &opts)
        }
    };
    let text = serde_json::to_string_pretty(&doc)? + "\n";
    match &args.output {
        Some(p) => std::fs::write(p, text).with_context(|| format!("writing {}", p.display()))?,
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    Ok(ExitStatus::Success)
}
