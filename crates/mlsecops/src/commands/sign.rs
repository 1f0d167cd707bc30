//! `mlsecops sign`, `verify` and `attest`: OpenSSF model-signing compatible
//! signatures and in-toto attestations.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use mlsecops_sign::attest::{self, Dependency, Policy, TrainingRun};
use mlsecops_sign::bundle::{Bundle, Identity, TrustedCertificates, TrustedRoot, VerificationTime};
use mlsecops_sign::hashing::{HashOptions, hash_model, manifest_from_digests, model_name};
use mlsecops_sign::keys::{SigningKey, VerifyingKey};
use mlsecops_sign::manifest::{
    DEFAULT_IGNORE_PATHS, DEFAULT_SHARD_SIZE, HashType, Method, Serialization,
};
use mlsecops_sign::model::{
    ModelError, VerifyOptions, check_model, manifest_of, sign_manifest, verify_model,
    with_signature_ignored,
};
use serde_json::{Value, json};

use crate::ExitStatus;

/// Largest signature, key, digest list or policy file read.
const MAX_INPUT_BYTES: u64 = 64 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum MethodArg {
    Files,
    Shards,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum HashArg {
    Sha256,
    Blake2,
    Blake3,
}

/// Command-line flags are booleans by nature.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// Model directory (or single file) to sign.
    pub model: PathBuf,
    /// Private key (PEM: ECDSA P-256/P-384/P-521 as the reference, or Ed25519).
    #[arg(long, required_unless_present = "sigstore")]
    pub key: Option<PathBuf>,
    /// Keyless signing with Sigstore: an ephemeral key certified by Fulcio
    /// for your OIDC identity, the signature logged in Rekor. The identity
    /// token comes from --identity-token-file, $SIGSTORE_ID_TOKEN, or the
    /// GitHub Actions environment (`id-token: write`).
    #[arg(long, conflicts_with_all = ["key", "certificate_chain"])]
    pub sigstore: bool,
    /// Sigstore: file holding the OIDC identity token (audience `sigstore`).
    #[arg(long, value_name = "FILE", requires = "sigstore")]
    pub identity_token_file: Option<PathBuf>,
    /// Sigstore: use the staging instance instead of the public-good one.
    #[arg(long, requires = "sigstore")]
    pub staging: bool,
    /// Sigstore: Fulcio base URL (a private instance).
    #[arg(long, value_name = "URL", requires = "sigstore")]
    pub fulcio_url: Option<String>,
    /// Sigstore: Rekor base URL (a private instance).
    #[arg(long, value_name = "URL", requires = "sigstore")]
    pub rekor_url: Option<String>,
    /// Sigstore: verify the new signature against this `trusted_root.json`
    /// before writing it (log key, inclusion proof, checkpoint, CA chain).
    #[arg(long, value_name = "JSON", requires = "sigstore")]
    pub sigstore_trusted_root: Option<PathBuf>,
    /// Where to write the signature (a Sigstore bundle, JSON).
    #[arg(long, short, default_value = "model.sig")]
    pub output: PathBuf,
    /// One digest per file, or per shard of each file.
    #[arg(long, value_enum, default_value = "files")]
    pub method: MethodArg,
    #[arg(long = "hash", value_enum, default_value = "sha256")]
    pub hash: HashArg,
    /// Shard size in bytes for --method shards.
    #[arg(long, default_value_t = DEFAULT_SHARD_SIZE)]
    pub shard_size: u64,
    /// Paths (relative to the model) left out of the signature; repeatable.
    #[arg(long = "ignore-path", value_name = "PATH")]
    pub ignore_paths: Vec<String>,
    /// Sign git files (.git, .gitattributes, .github, .gitignore) too.
    #[arg(long)]
    pub no_ignore_git_paths: bool,
    /// Follow symbolic links instead of refusing them.
    #[arg(long)]
    pub allow_symlinks: bool,
    /// Reuse digests of unchanged files from this cache (size, times and
    /// inode must match) and update it: fast re-signing.
    #[arg(long, value_name = "FILE")]
    pub cache: Option<PathBuf>,
    /// Sign precomputed digests instead of hashing: lines `HEXDIGEST  NAME`
    /// (sha256sum format; NAME is `path` or, for shards, `path:start:end`).
    #[arg(long, value_name = "FILE")]
    pub digests: Option<PathBuf>,
    /// Hashing threads (default: all cores).
    #[arg(long, default_value_t = 0)]
    pub jobs: usize,
    /// Also attach the signature to the model's registry entry (the model
    /// must be registered with `mlsecops registry add model`).
    #[arg(long)]
    pub attach: bool,
    /// Sign with a certificate: PEM chain, signing certificate first (its
    /// key must be --key), then intermediates; verifiers check the chain.
    #[arg(long, value_name = "PEM")]
    pub certificate_chain: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Model directory (or single file) to verify.
    pub model: PathBuf,
    /// The signature (Sigstore bundle) to verify against.
    #[arg(long, default_value = "model.sig")]
    pub signature: PathBuf,
    /// Public key (PEM) of a key-based signature.
    #[arg(long, required_unless_present_any = ["root_certs", "sigstore_trusted_root"])]
    pub key: Option<PathBuf>,
    /// Certificate-based signature: trusted root certificate(s), PEM; the
    /// chain is checked at the signing certificate's issuance time.
    #[arg(long, value_name = "PEM", conflicts_with = "key")]
    pub root_certs: Option<PathBuf>,
    /// Keyless Sigstore signature, verified offline: a Sigstore
    /// `trusted_root.json` (Fulcio CAs, Rekor keys) plus the expected
    /// --identity and --issuer.
    #[arg(long, value_name = "JSON", conflicts_with_all = ["key", "root_certs"], requires_all = ["identity", "issuer"])]
    pub sigstore_trusted_root: Option<PathBuf>,
    /// Sigstore: the signer's identity (e-mail or workflow URI), exact.
    #[arg(long)]
    pub identity: Option<String>,
    /// Sigstore: the OIDC issuer, exact.
    #[arg(long)]
    pub issuer: Option<String>,
    /// Accept files on disk that the signature does not list.
    #[arg(long)]
    pub ignore_unsigned_files: bool,
    /// Also require attestations (TOML: [[require]] predicate_type, keys).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Attestations to check the policy against (default: MODEL.intoto.jsonl).
    #[arg(long, value_name = "FILE")]
    pub attestations: Option<PathBuf>,
    #[arg(long, default_value_t = 0)]
    pub jobs: usize,
    /// Print the verified manifest as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum AttestType {
    /// SLSA Provenance v1 of the training run.
    Provenance,
    /// A `mlsecops scan` JSON report (--report).
    Scan,
    /// A `mlsecops data check` JSON report (--report).
    DataCheck,
    /// An acceptance report (--report).
    Acceptance,
    /// A CycloneDX ML-BOM (--report, e.g. from `mlsecops export cyclonedx`).
    Cyclonedx,
}

#[derive(Debug, clap::Args)]
pub struct AttestArgs {
    /// The model the attestation is about.
    pub model: PathBuf,
    #[arg(long = "type", value_enum)]
    pub kind: AttestType,
    /// Private key (PEM) that signs the attestation.
    #[arg(long)]
    pub key: PathBuf,
    /// The model's signature: the attestation names the same root digest
    /// (the model is checked against it first). Without it the root digest
    /// is computed with the default settings (files, sha256).
    #[arg(long)]
    pub signature: Option<PathBuf>,
    /// The JSON report or BOM to attest (scan, data-check, acceptance, cyclonedx).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Provenance: a training dataset as NAME=sha256:HEX (or a file to hash); repeatable.
    #[arg(long = "dataset", value_name = "NAME=DIGEST|PATH")]
    pub datasets: Vec<String>,
    /// Provenance: the base model as NAME=sha256:HEX or a file/dir to hash.
    #[arg(long)]
    pub base_model: Option<String>,
    /// Provenance: the code repository URI.
    #[arg(long)]
    pub repo: Option<String>,
    /// Provenance: the code commit.
    #[arg(long)]
    pub commit: Option<String>,
    /// Provenance: a hyperparameter KEY=VALUE; repeatable.
    #[arg(long = "param", value_name = "KEY=VALUE")]
    pub params: Vec<String>,
    /// Provenance: who ran the training (builder id URI).
    #[arg(long, default_value = "https://mlsecops.dev/builders/local")]
    pub builder: String,
    /// Where to append the envelope (default: MODEL.intoto.jsonl).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Also attach the attestation to the model's registry entry (the model
    /// must be registered with `mlsecops registry add model`).
    #[arg(long)]
    pub attach: bool,
}

pub(crate) fn read_text(path: &Path, what: &str) -> anyhow::Result<String> {
    use std::io::Read as _;
    let mut s = String::new();
    std::fs::File::open(path)
        .with_context(|| format!("opening {what} {}", path.display()))?
        .take(MAX_INPUT_BYTES)
        .read_to_string(&mut s)
        .with_context(|| format!("reading {what} {}", path.display()))?;
    Ok(s)
}

fn signing_key(path: &Path) -> anyhow::Result<SigningKey> {
    SigningKey::from_pem(&read_text(path, "private key")?)
        .with_context(|| format!("{} is not a supported private key", path.display()))
}

fn verifying_key(path: &Path) -> anyhow::Result<VerifyingKey> {
    VerifyingKey::from_pem(&read_text(path, "public key")?)
        .with_context(|| format!("{} is not a supported public key", path.display()))
}

fn serialization(args: &SignArgs) -> Serialization {
    let method = match args.method {
        MethodArg::Files => Method::Files,
        MethodArg::Shards => Method::Shards {
            shard_size: args.shard_size,
        },
    };
    let hash = match args.hash {
        HashArg::Sha256 => HashType::Sha256,
        HashArg::Blake2 => HashType::Blake2,
        HashArg::Blake3 => HashType::Blake3,
    };
    let mut s = Serialization::new(method, hash);
    s.allow_symlinks = args.allow_symlinks;
    let mut ignore: Vec<String> = args.ignore_paths.clone();
    if !args.no_ignore_git_paths {
        ignore.extend(DEFAULT_IGNORE_PATHS.iter().map(|p| (*p).to_owned()));
    }
    s.ignore_paths = ignore;
    s
}

fn parse_digest_list(text: &str) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (hex, name) = line
            .split_once("  ")
            .or_else(|| line.split_once(' '))
            .with_context(|| format!("digest list line {}: expected `HEXDIGEST  NAME`", i + 1))?;
        let name = name.trim_start_matches('*');
        if hex.len() % 2 != 0 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!("digest list line {}: `{hex}` is not hex", i + 1);
        }
        let bytes = (0..hex.len())
            .step_by(2)
            .map(|k| u8::from_str_radix(&hex[k..k + 2], 16))
            .collect::<Result<Vec<u8>, _>>()
            .with_context(|| format!("digest list line {}", i + 1))?;
        out.push((name.to_owned(), bytes));
    }
    Ok(out)
}

/// Writes `bytes` to `path` atomically (temporary file, fsync, rename).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name()
            .map_or_else(|| "out".into(), |n| n.to_string_lossy()),
        std::process::id()
    ));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("writing {}", path.display()))
}

/// Who signed, for the ledger and the attachment.
fn signer_record(key: Option<&SigningKey>, bundle: &Bundle) -> Value {
    if let Some(key) = key {
        json!({"key_hint": key.verifying_key().hint()})
    } else {
        let (identity, issuer) = crate::sigstore::certificate_identity(bundle);
        json!({"sigstore_identity": identity, "sigstore_issuer": issuer})
    }
}

pub fn sign(args: &SignArgs) -> anyhow::Result<ExitStatus> {
    let key = args.key.as_deref().map(signing_key).transpose()?;
    let ser = with_signature_ignored(&args.model, &args.output, serialization(args))?;
    let started = std::time::Instant::now();
    let manifest = if let Some(list) = &args.digests {
        let digests = parse_digest_list(&read_text(list, "digest list")?)?;
        manifest_from_digests(&model_name(&args.model), &ser, digests)?
    } else {
        let opts = HashOptions {
            jobs: args.jobs,
            cache: args.cache.as_deref(),
        };
        hash_model(&args.model, &ser, &opts)?
    };
    let statement = mlsecops_sign::model::statement_for(&manifest).to_json_bytes();
    let bundle = match (&key, &args.certificate_chain) {
        (Some(key), None) => sign_manifest(&manifest, key),
        (Some(key), Some(chain)) => {
            let certs = TrustedCertificates::from_pem(&read_text(chain, "certificate chain")?)
                .with_context(|| format!("reading {}", chain.display()))?;
            Bundle::sign_statement_with_certificates(&statement, key, certs.certificates().to_vec())
                .with_context(|| {
                    format!("signing with the certificate chain in {}", chain.display())
                })?
        }
        (None, _) => crate::sigstore::sign(args, &statement)?,
    };
    write_atomic(&args.output, &bundle.to_json())?;
    let root_digest = format!("sha256:{}", manifest.root_digest_hex());
    let mut event = json!({
        "model": manifest.model_name,
        "root_digest": root_digest,
        "resources": manifest.resources.len(),
    });
    if let (Some(map), Value::Object(signer)) =
        (event.as_object_mut(), signer_record(key.as_ref(), &bundle))
    {
        map.extend(signer.clone());
    }
    record("sign", event.clone())?;
    if args.attach {
        attach(&args.model, "model-signature", bundle.to_json(), &event)?;
    }
    writeln!(std::io::stdout().lock(), "{root_digest}")?;
    eprintln!(
        "signed {} resource(s) of {} in {:.2} s -> {}",
        manifest.resources.len(),
        args.model.display(),
        started.elapsed().as_secs_f64(),
        args.output.display()
    );
    Ok(ExitStatus::Success)
}

pub fn verify(args: &VerifyArgs) -> anyhow::Result<ExitStatus> {
    let bytes = read_text(&args.signature, "signature")?;
    let bundle = Bundle::parse(bytes.as_bytes())
        .with_context(|| format!("{} is not a model signature", args.signature.display()))?;
    let opts = VerifyOptions {
        hash: HashOptions {
            jobs: args.jobs,
            cache: None,
        },
        ignore_unsigned_files: args.ignore_unsigned_files,
        signature_path: Some(&args.signature),
    };
    let checked = if let Some(key) = &args.key {
        verify_model(&args.model, &bundle, &verifying_key(key)?, &opts)
    } else if let Some(roots) = &args.root_certs {
        let trusted = TrustedCertificates::from_pem(&read_text(roots, "root certificates")?)
            .with_context(|| format!("reading {}", roots.display()))?;
        bundle
            .verify_with_certificate_chain(&trusted, VerificationTime::LeafNotBefore)
            .map_err(ModelError::from)
            .and_then(|v| check_model(&args.model, v.statement, &opts))
    } else if let Some(root) = &args.sigstore_trusted_root {
        let trusted = TrustedRoot::from_json(read_text(root, "trusted root")?.as_bytes())
            .with_context(|| format!("reading {}", root.display()))?;
        let identity = Identity {
            identity: args.identity.clone().unwrap_or_default(),
            issuer: args.issuer.clone().unwrap_or_default(),
        };
        match bundle.verify_sigstore(&trusted, &identity) {
            Ok(v) => check_model(&args.model, v.verified.statement, &opts),
            Err(e) => {
                writeln!(std::io::stdout().lock(), "verification FAILED: {e}")?;
                return Ok(ExitStatus::Failure);
            }
        }
    } else {
        bail!("give --key, --root-certs or --sigstore-trusted-root");
    };
    let verified = match checked {
        Ok(v) => v,
        Err(e) => {
            writeln!(std::io::stdout().lock(), "verification FAILED: {e}")?;
            return Ok(ExitStatus::Failure);
        }
    };
    if let Some(policy_path) = &args.policy {
        let default_att = attestations_path(&args.model);
        let att_path = args.attestations.as_ref().unwrap_or(&default_att);
        if let Err(e) = check_attestations(policy_path, att_path, &verified.root_digest) {
            writeln!(std::io::stdout().lock(), "verification FAILED: {e:#}")?;
            return Ok(ExitStatus::Failure);
        }
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        let m = &verified.manifest;
        let doc = json!({
            "model": m.model_name,
            "root_digest": format!("sha256:{}", verified.root_digest),
            "serialization": m.serialization.to_json(),
            "resources": m.resources.iter().map(|r| json!({"name": r.name, "algorithm": r.algorithm, "digest": r.digest_hex()})).collect::<Vec<_>>(),
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
    } else {
        writeln!(
            out,
            "verified: {} resource(s) of {} match the signature (root sha256:{})",
            verified.manifest.resources.len(),
            args.model.display(),
            verified.root_digest
        )?;
    }
    Ok(ExitStatus::Success)
}

fn attestations_path(model: &Path) -> PathBuf {
    // `model/` and `model` both give `model.intoto.jsonl`.
    let mut s = model.components().as_path().as_os_str().to_owned();
    s.push(".intoto.jsonl");
    PathBuf::from(s)
}

fn check_attestations(policy_path: &Path, att_path: &Path, root: &str) -> anyhow::Result<()> {
    let policy: Policy = toml::from_str(&read_text(policy_path, "policy")?)
        .with_context(|| format!("reading policy {}", policy_path.display()))?;
    let base = policy_path.parent().unwrap_or(Path::new("."));
    let mut keys = Vec::new();
    let mut key_sets = Vec::new();
    for req in &policy.require {
        let mut set = Vec::new();
        for k in &req.keys {
            // One index per distinct key, however many requirements name it.
            let key = verifying_key(&base.join(k))?;
            let pem = key.to_pem();
            let index = keys
                .iter()
                .position(|known: &VerifyingKey| known.to_pem() == pem)
                .unwrap_or_else(|| {
                    keys.push(key);
                    keys.len() - 1
                });
            set.push(index);
        }
        key_sets.push(set);
    }
    let text = read_text(att_path, "attestations")?;
    let (atts, unverified) = attest::read_jsonl(&text, &keys)
        .with_context(|| format!("reading {}", att_path.display()))?;
    if !unverified.is_empty() {
        eprintln!(
            "note: {} attestation line(s) in {} are signed by keys the policy does not name",
            unverified.len(),
            att_path.display()
        );
    }
    for (uri, line) in attest::check_policy(&policy, &key_sets, &atts, root)? {
        eprintln!("policy: {uri} satisfied by {}:{line}", att_path.display());
    }
    Ok(())
}

fn parse_dependency(spec: &str, role: &str) -> anyhow::Result<Dependency> {
    if let Some((name, digest)) = spec.split_once('=') {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!("`{spec}`: expected NAME=sha256:<64 hex digits>");
        }
        return Ok(Dependency {
            name: name.to_owned(),
            digest: [("sha256".to_owned(), hex.to_ascii_lowercase())].into(),
            uri: None,
            role: Some(role.to_owned()),
        });
    }
    let p = Path::new(spec);
    let c = mlsecops_registry::content::digest_path(p)
        .with_context(|| format!("`{spec}` is neither NAME=DIGEST nor a readable path"))?;
    Ok(Dependency {
        name: model_name(p),
        digest: [(
            "sha256".to_owned(),
            c.digest.trim_start_matches("sha256:").to_owned(),
        )]
        .into(),
        uri: None,
        role: Some(role.to_owned()),
    })
}

pub fn attest(args: &AttestArgs) -> anyhow::Result<ExitStatus> {
    let key = signing_key(&args.key)?;
    // The subject: the root digest the model signature names, after
    // checking the model still matches it.
    let (name, root) = if let Some(sig) = &args.signature {
        let bundle = Bundle::parse(read_text(sig, "signature")?.as_bytes())
            .with_context(|| format!("{} is not a model signature", sig.display()))?;
        let statement = mlsecops_sign::statement::Statement::parse(&bundle.envelope.payload)
            .with_context(|| format!("{}: payload", sig.display()))?;
        manifest_of(&statement)?;
        let opts = VerifyOptions {
            signature_path: Some(sig),
            ..VerifyOptions::default()
        };
        let v = check_model(&args.model, statement, &opts)?;
        (v.manifest.model_name, v.root_digest)
    } else {
        let ser = Serialization::new(Method::Files, HashType::Sha256);
        let m = mlsecops_sign::hashing::hash_model(&args.model, &ser, &HashOptions::default())?;
        (m.model_name.clone(), m.root_digest_hex())
    };
    let report = |what: &str| -> anyhow::Result<Value> {
        let p = args
            .report
            .as_ref()
            .with_context(|| format!("--type {what} needs --report FILE"))?;
        serde_json::from_str(&read_text(p, "report")?)
            .with_context(|| format!("{} is not JSON", p.display()))
    };
    let statement = match args.kind {
        AttestType::Provenance => {
            let mut deps = Vec::new();
            for d in &args.datasets {
                deps.push(parse_dependency(d, "dataset")?);
            }
            if let Some(b) = &args.base_model {
                deps.push(parse_dependency(b, "base-model")?);
            }
            if let Some(c) = &args.commit {
                deps.push(Dependency {
                    name: args.repo.clone().unwrap_or_else(|| "source".to_owned()),
                    digest: [("gitCommit".to_owned(), c.clone())].into(),
                    uri: args.repo.as_ref().map(|r| format!("git+{r}@{c}")),
                    role: Some("code".to_owned()),
                });
            }
            let mut params = serde_json::Map::new();
            for kv in &args.params {
                let (k, v) = kv
                    .split_once('=')
                    .with_context(|| format!("--param `{kv}` must be KEY=VALUE"))?;
                let v = serde_json::from_str::<Value>(v)
                    .ok()
                    .filter(|x| x.is_number() || x.is_boolean())
                    .unwrap_or_else(|| json!(v));
                params.insert(k.to_owned(), v);
            }
            let run = TrainingRun {
                builder_id: args.builder.clone(),
                invocation_id: None,
                started_on: None,
                finished_on: Some(crate::home::now_rfc3339()),
                external_parameters: Value::Object(params),
                dependencies: deps,
            };
            attest::provenance(&name, &root, &run)
        }
        AttestType::Scan => attest::document(&name, &root, attest::SCAN_REPORT, report("scan")?),
        AttestType::DataCheck => attest::document(
            &name,
            &root,
            attest::DATA_CHECK_REPORT,
            report("data-check")?,
        ),
        AttestType::Acceptance => attest::document(
            &name,
            &root,
            attest::ACCEPTANCE_REPORT,
            report("acceptance")?,
        ),
        AttestType::Cyclonedx => {
            attest::document(&name, &root, attest::CYCLONEDX, report("cyclonedx")?)
        }
    };
    let envelope = attest::sign(&statement, &key);
    let out = args
        .output
        .clone()
        .unwrap_or_else(|| attestations_path(&args.model));
    let mut line = envelope.to_json();
    line.push(b'\n');
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&out)
        .with_context(|| format!("opening {}", out.display()))?;
    f.write_all(&line)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("appending to {}", out.display()))?;
    record(
        "attest",
        json!({
            "model": name,
            "root_digest": format!("sha256:{root}"),
            "predicate_type": statement.predicate_type,
            "key_hint": key.verifying_key().hint(),
        }),
    )?;
    if args.attach {
        attach(
            &args.model,
            "attestation",
            envelope.to_json(),
            &json!({"predicate_type": statement.predicate_type, "root_digest": format!("sha256:{root}"), "key_hint": key.verifying_key().hint()}),
        )?;
    }
    writeln!(std::io::stdout().lock(), "{}", statement.predicate_type)?;
    eprintln!(
        "appended a signed {} attestation to {}",
        statement.predicate_type,
        out.display()
    );
    Ok(ExitStatus::Success)
}

/// Stores `doc` in the blob store and attaches it to the registry entry of
/// the model at `model` (found by its content digest).
pub(crate) fn attach(
    model: &Path,
    kind: &str,
    doc: Vec<u8>,
    summary: &Value,
) -> anyhow::Result<()> {
    use mlsecops_registry::Store as _;
    let reg = crate::commands::registry::Registry::open()?;
    let content = mlsecops_registry::content::digest_path(model)?;
    let Some(artifact) = reg.rt.block_on(reg.store.artifact(&content.digest))? else {
        bail!(
            "{} ({}) is not registered, so there is nothing to attach to\nhint: `mlsecops registry add model {} --name NAME` first",
            model.display(),
            content.digest,
            model.display()
        );
    };
    let blob = reg.rt.block_on(reg.blobs.put_bytes(doc))?;
    reg.rt.block_on(
        reg.store
            .attach(&artifact.digest, kind, Some(&blob), summary, &reg.actor),
    )?;
    reg.mirror()?;
    eprintln!(
        "attached the {kind} to {}@v{} ({})",
        artifact.name, artifact.version, blob
    );
    Ok(())
}

/// Records a signing event in the home's ledger when one is initialised.
fn record(kind: &str, mut body: Value) -> anyhow::Result<()> {
    let home = crate::home::Home::resolve();
    if home.require().is_err() {
        return Ok(());
    }
    if let Value::Object(m) = &mut body {
        m.insert("kind".into(), json!(kind));
        m.insert("time".into(), json!(crate::home::now_rfc3339()));
    }
    let text = serde_json::to_string(&body)?;
    if home.team_mode() {
        let reg = crate::commands::registry::Registry::open_at(home)?;
        reg.rt.block_on(reg.store.ledger_append(&[&text]))?;
        reg.sign_db_checkpoint()?;
        return Ok(());
    }
    let mut log = mlsecops_ledger::Log::open(home.ledger_dir())?;
    log.append(text.as_bytes())?;
    log.checkpoint(&home.origin()?, &home.signer(crate::home::LEDGER_KEY)?)?;
    Ok(())
}
