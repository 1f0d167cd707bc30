//! Builds a [`Manifest`] from a model on disk, byte-compatible with
//! model-signing 1.x (`model_signing.hashing.Config().hash(path)`), in
//! parallel on all cores.
//!
//! What is hashed, as in the reference (checked against model-signing 1.1.1
//! by the golden tests in `tests/it/manifest.rs`):
//!
//! - a directory model: every regular file below it, hidden files included,
//!   named by its path relative to the model with `/` separators; a
//!   single-file model: that file, named `.`;
//! - files mode: one digest per file, an empty file included; shards mode:
//!   one digest per `shard_size` bytes (the last shard shorter), and an empty
//!   file yields no resource at all;
//! - shards with BLAKE3 fall back to files with BLAKE3 (the reference's
//!   `use_shard_serialization` does the same and records `files`);
//! - symbolic links are an error unless `allow_symlinks`; then a link to a
//!   file is hashed as its target's content under the link's name, a link to
//!   a directory is skipped (never descended into), and a broken link is an
//!   error; special files (FIFOs, sockets, devices) are always an error.
//!
//! # Ignore paths
//!
//! [`Serialization::ignore_paths`] are paths relative to the model root. A
//! file is left out when its path, or the path of one of its parent
//! directories, equals an entry exactly: the reference's component-prefix
//! match (`Path.is_relative_to`). Entries are normalized as `pathlib` does
//! (`./a//b/` is `a/b`) and recorded that way, de-duplicated and sorted.
//! [`DEFAULT_IGNORE_PATHS`](crate::manifest::DEFAULT_IGNORE_PATHS) (git
//! files) come from [`Serialization::new`]; the signature file is the
//! caller's to add (see [`relative_ignore_path`]).
//!
//! Policy, so an ignore list cannot hide a file it does not name:
//! - matching is exact on whole components and case-sensitive, compared
//!   with the names the directory listing returns; no case folding and no
//!   Unicode normalization, so `A` never hides `a` and a composed `é` never
//!   hides a decomposed one, even on a case- or normalization-insensitive
//!   file system;
//! - entries that are absolute, contain a `..` component, contain NUL, or
//!   name the model root itself (``, `.`) are refused with an error (the
//!   reference silently drops the first and records-but-does-not-apply
//!   `a/../b`);
//! - an ignored directory is not even listed, so a symlink or special file
//!   inside it is not an error (model-signing after 1.1.1 does the same).
//!
//! # Speed
//!
//! Files, shards and 16 MiB BLAKE3 subtrees of large files are hashed on
//! `jobs` scoped threads that take work from an atomic index (no rayon);
//! large ranges are memory-mapped 64 MiB at a time, small ones read into
//! one reused buffer per thread, so memory is flat in the model size. The
//! mapping is the crate's one `unsafe` function (`hashing/engine.rs`, see
//! its SAFETY note): a file truncated by another process while mapped can
//! end the process with SIGBUS, as in `mlsecops-scan`.
//!
//! # Cache
//!
//! With [`HashOptions::cache`], a JSON file maps each file's relative path
//! and stamp (size, mtime and ctime in nanoseconds, inode, device) to its
//! digests, for one model root and one setting (method, hash, shard size).
//! A digest is reused only when the whole stamp is unchanged: writing a file
//! changes its mtime and ctime, `touch -d` can forge an mtime but not a
//! ctime, and replacing a file changes its inode. The remaining hole is
//! timestamp granularity (a file rewritten within one clock tick keeps its
//! stamp), so files modified less than 2 s before the cache is written are
//! not recorded and are hashed again next time. The file is replaced
//! atomically (temporary file, fsync, rename); a missing, foreign or corrupt
//! cache is ignored. The cache is trusted state: whoever can write it
//! decides the digests, so keep it private and do not use one to verify a
//! model received from elsewhere.
//!
//! # Differences from the reference, all refusals
//! - file names that are not UTF-8 are an error (a manifest records text);
//! - an unreadable directory is an error (the reference's `glob` silently
//!   skips it, leaving its files out of the manifest);
//! - in shards mode a file name containing `:` is an error: the reference
//!   writes `a:b:0:5`, which its own verifier cannot parse;
//! - a file whose size, times or inode change while it is hashed is an
//!   error ([`HashError::Changed`]) instead of a digest of a torn read;
//! - more than [`MAX_RESOURCES`] resources is an error.

mod cache;
mod engine;
mod walk;

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};

use crate::manifest::{
    HashType, MAX_IGNORE_PATHS, MAX_NAME_LEN, MAX_SHARD_SIZE, Manifest, ManifestError, Method,
    Serialization,
};
use engine::{Job, JobKind, Output};

/// Most resources one manifest may hold (2^24, a predicate of about 2 GiB).
pub const MAX_RESOURCES: u64 = 1 << 24;

/// Options of [`hash_model`] that do not change the result.
#[derive(Clone, Copy, Debug, Default)]
pub struct HashOptions<'a> {
    /// Worker threads; 0 means one per available core.
    pub jobs: usize,
    /// Incremental cache file (see "Cache" in the module docs); `None`
    /// hashes everything.
    pub cache: Option<&'a Path>,
}

/// Why a model could not be hashed. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Reading the model or the cache failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A symbolic link was found and `allow_symlinks` is off.
    #[error("{}: is a symbolic link\nhint: allow symbolic links to hash the files they point to", path.display())]
    Symlink {
        /// The link.
        path: PathBuf,
    },
    /// Neither a regular file nor a directory: a FIFO, socket, device, or a
    /// broken symbolic link.
    #[error("{}: not a regular file or directory (a special file or a broken symbolic link)", path.display())]
    Special {
        /// The entry.
        path: PathBuf,
    },
    /// A file name is not valid UTF-8.
    #[error("{}: file name is not valid UTF-8, which a manifest cannot record", path.display())]
    NonUtf8Path {
        /// The entry.
        path: PathBuf,
    },
    /// A file name contains `:`, which shard resource names cannot carry.
    #[error("{}: file name contains `:`, which shard resource names cannot represent\nhint: use file serialization", path.display())]
    ColonInShardedName {
        /// The file.
        path: PathBuf,
    },
    /// The file changed (size, times, inode, or ended early) while it was
    /// hashed.
    #[error("{}: file changed while it was being hashed (at byte {offset})", path.display())]
    Changed {
        /// The file.
        path: PathBuf,
        /// Where the change was seen (0 when found by re-reading its
        /// metadata after hashing).
        offset: u64,
    },
    /// An ignore path is refused by the policy in the module docs.
    #[error("invalid ignore path `{entry}`: {reason}")]
    IgnorePath {
        /// The entry as given.
        entry: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// The shard size is 0 or above 2^53.
    #[error("invalid shard size {0}: expected 1 to 2^53 bytes")]
    ShardSize(u64),
    /// The manifest would have more than [`MAX_RESOURCES`] resources.
    #[error(
        "the model has {0} resources, more than the limit of {MAX_RESOURCES}\nhint: use a larger shard size"
    )]
    TooManyResources(u64),
    /// The digests do not form a valid manifest.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
}

/// Hashes the model at `model_path` (a directory or a single file) into a
/// manifest as model-signing would build it for `serialization`.
///
/// The returned manifest's serialization is `serialization` with ignore
/// paths normalized, de-duplicated and sorted (and shards with BLAKE3
/// turned into files, as in the reference); its resources are sorted in the
/// reference's order.
///
/// With `options.cache`, digests of files whose stamp (size, mtime, ctime,
/// inode, device) is unchanged since the cache was written are reused and
/// the cache is rewritten atomically afterwards; see "Cache" in the module
/// docs for why that is safe.
pub fn hash_model(
    model_path: &Path,
    serialization: &Serialization,
    options: &HashOptions<'_>,
) -> Result<Manifest, HashError> {
    hash_model_with(
        model_path,
        serialization,
        options,
        engine::BLAKE3_SUBTREE,
        None,
    )
}

/// [`hash_model`] restricted to the files (relative paths, as resources
/// name them; `.` for a single-file model) in `only`: what verification
/// with "ignore unsigned files" hashes, as the reference does. Files not
/// in `only` are walked (so ignore rules and symlink checks still apply)
/// but never read.
pub fn hash_listed<S: std::hash::BuildHasher>(
    model_path: &Path,
    serialization: &Serialization,
    options: &HashOptions<'_>,
    only: &HashSet<String, S>,
) -> Result<Manifest, HashError> {
    let only: HashSet<String> = only.iter().cloned().collect();
    hash_model_with(
        model_path,
        serialization,
        options,
        engine::BLAKE3_SUBTREE,
        Some(&only),
    )
}

fn hash_model_with(
    model_path: &Path,
    serialization: &Serialization,
    options: &HashOptions<'_>,
    blake3_subtree: u64,
    only: Option<&HashSet<String>>,
) -> Result<Manifest, HashError> {
    let serialization = effective_serialization(serialization)?;
    let hash = serialization.hash_type;
    let ignore: HashSet<String> = serialization.ignore_paths.iter().cloned().collect();
    let mut files = walk::walk(model_path, &ignore, serialization.allow_symlinks)?;
    if let Some(only) = only {
        files.retain(|f| only.contains(&f.rel));
    }

    // How many digests each file yields.
    let mut counts = Vec::with_capacity(files.len());
    let mut total: u64 = 0;
    for f in &files {
        let n = match serialization.method {
            Method::Files => 1,
            Method::Shards { shard_size } => {
                if f.rel.contains(':') {
                    return Err(HashError::ColonInShardedName {
                        path: f.path.clone(),
                    });
                }
                f.stamp.size.div_ceil(shard_size)
            }
        };
        total = total.saturating_add(n);
        if total > MAX_RESOURCES {
            return Err(HashError::TooManyResources(total));
        }
        counts.push(n as usize);
    }

    let mut cache = options.cache.map(|p| {
        let root = std::fs::canonicalize(model_path).unwrap_or_else(|_| model_path.to_path_buf());
        let settings = format!(
            "{}:{}",
            serialization.method.name(),
            serialization.resource_algorithm()
        );
        cache::Cache::load(p, &root.to_string_lossy(), &settings)
    });

    // Digests per file: from the cache, or filled from job outputs.
    let mut digests: Vec<Option<Vec<Vec<u8>>>> = files
        .iter()
        .zip(&counts)
        .map(|(f, &n)| {
            cache
                .as_ref()
                .and_then(|c| c.get(&f.rel, &f.stamp, n, hash.digest_len()))
        })
        .collect();

    // Plan jobs for the rest. `layout[i]` = (first slot, slot count, merged).
    let mut jobs = Vec::new();
    let mut layout = vec![(0usize, 0usize, false); files.len()];
    let mut slots = 0usize;
    for (i, f) in files.iter().enumerate() {
        if digests[i].is_some() {
            continue;
        }
        let size = f.stamp.size;
        let first = slots;
        let mut push = |start: u64, end: u64, kind: JobKind| {
            jobs.push(Job {
                file: i,
                start,
                end,
                slot: slots,
                kind,
            });
            slots += 1;
        };
        let merged = match serialization.method {
            Method::Files if hash == HashType::Blake3 => {
                let ranges = engine::blake3_ranges(size, blake3_subtree);
                let merged = ranges.len() > 1;
                let kind = if merged {
                    JobKind::Blake3Subtree
                } else {
                    JobKind::Digest
                };
                for (s, e) in ranges {
                    push(s, e, kind);
                }
                merged
            }
            Method::Files => {
                push(0, size, JobKind::Digest);
                false
            }
            Method::Shards { shard_size } => {
                let mut start = 0;
                while start < size {
                    let end = start.saturating_add(shard_size).min(size);
                    push(start, end, JobKind::Digest);
                    start = end;
                }
                false
            }
        };
        layout[i] = (first, slots - first, merged);
    }
    // Longest jobs first, so one big file does not start last.
    jobs.sort_by_key(|j| std::cmp::Reverse(j.end - j.start));

    let threads = if options.jobs == 0 {
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
    } else {
        options.jobs
    };
    let outputs = engine::run(&files, &jobs, slots, hash, threads)?;

    for (i, f) in files.iter().enumerate() {
        if digests[i].is_some() {
            continue;
        }
        let (first, n, merged) = layout[i];
        let outs = &outputs[first..first + n];
        let d = if merged {
            let cvs: Vec<_> = outs
                .iter()
                .map(|o| if let Output::Cv(cv) = o { *cv } else { [0; 32] })
                .collect();
            vec![engine::blake3_merge(&cvs).to_vec()]
        } else {
            outs.iter()
                .map(|o| {
                    if let Output::Digest(d) = o {
                        d.clone()
                    } else {
                        Vec::new()
                    }
                })
                .collect()
        };
        if walk::restat(f)? != f.stamp {
            return Err(HashError::Changed {
                path: f.path.clone(),
                offset: 0,
            });
        }
        digests[i] = Some(d);
    }

    let mut list = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    for (f, d) in files.iter().zip(digests) {
        let d = d.unwrap_or_default();
        if let Some(c) = cache.as_mut() {
            c.put(&f.rel, &f.stamp, &d);
        }
        match serialization.method {
            Method::Files => list.extend(d.into_iter().map(|d| (f.rel.clone(), d))),
            Method::Shards { shard_size } => {
                for (k, d) in d.into_iter().enumerate() {
                    let start = k as u64 * shard_size;
                    let end = start.saturating_add(shard_size).min(f.stamp.size);
                    list.push((format!("{}:{start}:{end}", f.rel), d));
                }
            }
        }
    }
    if let (Some(c), Some(p)) = (cache, options.cache) {
        c.save(p)?;
    }
    Ok(Manifest::from_digests(
        &model_name(model_path),
        serialization,
        list,
    )?)
}

/// Builds a manifest from a precomputed list of `(resource name, digest)`
/// pairs, e.g. digests computed by another tool, for signing. Names follow
/// [`Resource::name`](crate::manifest::Resource::name); see
/// [`Manifest::from_digests`] for the checks.
pub fn manifest_from_digests<I>(
    model_name: &str,
    serialization: &Serialization,
    digests: I,
) -> Result<Manifest, HashError>
where
    I: IntoIterator<Item = (String, Vec<u8>)>,
{
    let serialization = effective_serialization(serialization)?;
    Ok(Manifest::from_digests(model_name, serialization, digests)?)
}

/// The model name the reference records: the final component of
/// `model_path`, or of its resolved form when it has none (`.`, `..`).
#[must_use]
pub fn model_name(model_path: &Path) -> String {
    if let Some(n) = model_path.file_name() {
        return n.to_string_lossy().into_owned();
    }
    std::fs::canonicalize(model_path)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default()
}

/// Normalizes one ignore path under the policy in the module docs: `/`
/// separated, relative to the model root, `.` and empty components dropped;
/// refused when absolute, containing `..` or NUL, or naming the root.
pub fn normalize_ignore_path(entry: &str) -> Result<String, HashError> {
    let bad = |reason| HashError::IgnorePath {
        entry: entry.chars().take(200).collect(),
        reason,
    };
    if entry.len() > MAX_NAME_LEN {
        return Err(bad("longer than 4096 bytes"));
    }
    if entry.contains('\0') {
        return Err(bad("contains NUL"));
    }
    if entry.starts_with('/') {
        return Err(bad(
            "absolute paths are not allowed: give a path relative to the model",
        ));
    }
    let parts: Vec<&str> = entry
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    if parts.contains(&"..") {
        return Err(bad("`..` components are not allowed"));
    }
    if parts.is_empty() {
        return Err(bad("it would ignore the whole model"));
    }
    Ok(parts.join("/"))
}

/// The ignore entry for `path` (e.g. the signature file) if it lies inside
/// the model directory, as the reference's CLI computes it: both are
/// resolved (symlinks, `..`, relative to the current directory), and
/// `path` need not exist yet. `Ok(None)` when it is outside the model.
pub fn relative_ignore_path(model_path: &Path, path: &Path) -> Result<Option<String>, HashError> {
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| HashError::Io { path: p, source }
    };
    let root = std::fs::canonicalize(model_path).map_err(io(model_path))?;
    let resolved = resolve_lenient(path).map_err(io(path))?;
    let Ok(rel) = resolved.strip_prefix(&root) else {
        return Ok(None);
    };
    let mut parts = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(s) => match s.to_str() {
                Some(s) => parts.push(s),
                None => {
                    return Err(HashError::NonUtf8Path {
                        path: path.to_path_buf(),
                    });
                }
            },
            _ => return Ok(None),
        }
    }
    if parts.is_empty() {
        return Ok(None);
    }
    Ok(Some(parts.join("/")))
}

/// `Path.resolve(strict=False)`: canonicalizes the longest existing prefix
/// and appends the rest lexically.
fn resolve_lenient(path: &Path) -> std::io::Result<PathBuf> {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    };
    let mut existing = abs.clone();
    // Trailing components that do not exist yet, innermost first.
    let mut rest: Vec<Option<std::ffi::OsString>> = Vec::new();
    loop {
        if let Ok(mut out) = std::fs::canonicalize(&existing) {
            for part in rest.iter().rev() {
                match part {
                    None => {
                        out.pop();
                    }
                    Some(s) => out.push(s),
                }
            }
            return Ok(out);
        }
        let part = match existing.components().next_back() {
            Some(Component::ParentDir) => None,
            Some(Component::Normal(s)) => Some(s.to_os_string()),
            Some(Component::CurDir) => {
                existing.pop();
                continue;
            }
            _ => return Ok(abs),
        };
        rest.push(part);
        if !existing.pop() {
            return Ok(abs);
        }
    }
}

/// Validates and normalizes a serialization for hashing.
fn effective_serialization(s: &Serialization) -> Result<Serialization, HashError> {
    let method = match s.method {
        Method::Shards { shard_size } if shard_size == 0 || shard_size > MAX_SHARD_SIZE => {
            return Err(HashError::ShardSize(shard_size));
        }
        Method::Shards { .. } if s.hash_type == HashType::Blake3 => Method::Files,
        m => m,
    };
    if s.ignore_paths.len() > MAX_IGNORE_PATHS {
        return Err(HashError::IgnorePath {
            entry: String::new(),
            reason: "more than 4096 ignore paths",
        });
    }
    let mut ignore_paths = s
        .ignore_paths
        .iter()
        .map(|p| normalize_ignore_path(p))
        .collect::<Result<Vec<_>, _>>()?;
    ignore_paths.sort_by(|a, b| crate::manifest::compare_paths(a, b));
    ignore_paths.dedup();
    Ok(Serialization {
        method,
        hash_type: s.hash_type,
        allow_symlinks: s.allow_symlinks,
        ignore_paths,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn ser(method: Method, hash: HashType) -> Serialization {
        Serialization::new(method, hash)
    }

    #[test]
    fn ignore_normalization() {
        for (input, want) in [
            ("./a//b/", "a/b"),
            ("a", "a"),
            (".git/", ".git"),
            ("a/./b", "a/b"),
        ] {
            assert_eq!(normalize_ignore_path(input).unwrap(), want);
        }
        for bad in ["", ".", "./", "/", "/etc", "../x", "a/../b", "a/..", "a\0"] {
            assert!(normalize_ignore_path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn blake3_subtrees_in_a_model_match_whole_file_hash() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..50_000u32).map(|i| (i * 7 % 256) as u8).collect();
        for len in [0usize, 1, 1024, 1025, 4096, 4097, 12_288, 50_000] {
            fs::write(dir.path().join(format!("f{len}")), &data[..len]).unwrap();
        }
        let s = ser(Method::Files, HashType::Blake3);
        for jobs in [1, 3] {
            let m = hash_model_with(
                dir.path(),
                &s,
                &HashOptions { jobs, cache: None },
                4096,
                None,
            )
            .unwrap();
            for r in &m.resources {
                let len: usize = r.name[1..].parse().unwrap();
                assert_eq!(
                    r.digest,
                    blake3::hash(&data[..len]).as_bytes(),
                    "{}",
                    r.name
                );
            }
        }
    }

    #[test]
    fn mapped_and_read_ranges_give_the_same_digests() {
        use sha2::Digest as _;
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..(3 << 20) + 4321u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        fs::write(dir.path().join("big"), &data).unwrap();
        let opts = HashOptions {
            jobs: 2,
            cache: None,
        };
        let files = |h| {
            hash_model(dir.path(), &ser(Method::Files, h), &opts)
                .unwrap()
                .resources[0]
                .digest
                .clone()
        };
        assert_eq!(
            files(HashType::Sha256),
            sha2::Sha256::digest(&data).to_vec()
        );
        assert_eq!(
            files(HashType::Blake2),
            blake2b_simd::blake2b(&data).as_bytes()
        );
        assert_eq!(files(HashType::Blake3), blake3::hash(&data).as_bytes());
        // Mapped BLAKE3 subtrees of 1 MiB, merged.
        let m = hash_model_with(
            dir.path(),
            &ser(Method::Files, HashType::Blake3),
            &opts,
            1 << 20,
            None,
        )
        .unwrap();
        assert_eq!(m.resources[0].digest, blake3::hash(&data).as_bytes());
        // Shards at offsets that are not page-aligned, crossing windows.
        let shard = (1u64 << 20) + 4097;
        let m = hash_model(
            dir.path(),
            &ser(Method::Shards { shard_size: shard }, HashType::Sha256),
            &opts,
        )
        .unwrap();
        assert_eq!(m.resources.len(), 3);
        for (k, r) in m.resources.iter().enumerate() {
            let s = k * shard as usize;
            let e = (s + shard as usize).min(data.len());
            assert_eq!(r.name, format!("big:{s}:{e}"));
            assert_eq!(r.digest, sha2::Sha256::digest(&data[s..e]).to_vec());
        }
    }

    #[test]
    fn shards_blake3_fall_back_to_files() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("x"), b"abc").unwrap();
        let m = hash_model(
            dir.path(),
            &ser(Method::Shards { shard_size: 2 }, HashType::Blake3),
            &HashOptions::default(),
        )
        .unwrap();
        assert_eq!(m.serialization.method, Method::Files);
        assert_eq!(m.resources[0].name, "x");
    }

    #[test]
    fn shard_names_and_empty_files() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("big"), b"0123456789abcdefghij").unwrap();
        fs::write(dir.path().join("empty"), b"").unwrap();
        let m = hash_model(
            dir.path(),
            &ser(Method::Shards { shard_size: 8 }, HashType::Sha256),
            &HashOptions::default(),
        )
        .unwrap();
        let names: Vec<_> = m.resources.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["big:0:8", "big:8:16", "big:16:20"]);
        let f = hash_model(
            dir.path(),
            &ser(Method::Files, HashType::Sha256),
            &HashOptions::default(),
        )
        .unwrap();
        assert_eq!(
            f.resources[1].digest_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn colon_names_refused_in_shards_only() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a:b"), b"x").unwrap();
        assert!(
            hash_model(
                dir.path(),
                &ser(Method::Files, HashType::Sha256),
                &HashOptions::default()
            )
            .is_ok()
        );
        let e = hash_model(
            dir.path(),
            &ser(Method::Shards { shard_size: 8 }, HashType::Sha256),
            &HashOptions::default(),
        );
        assert!(matches!(e, Err(HashError::ColonInShardedName { .. })));
    }

    #[cfg(unix)]
    #[test]
    fn symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path().join("m");
        fs::create_dir_all(m.join("d")).unwrap();
        fs::create_dir(dir.path().join("t")).unwrap();
        fs::write(dir.path().join("t/f"), b"hi\n").unwrap();
        fs::write(m.join("d/y"), b"x\n").unwrap();
        std::os::unix::fs::symlink("../t", m.join("linkdir")).unwrap();
        std::os::unix::fs::symlink("../t/f", m.join("linkfile")).unwrap();
        let mut s = ser(Method::Files, HashType::Sha256);
        let e = hash_model(&m, &s, &HashOptions::default()).unwrap_err();
        assert!(matches!(e, HashError::Symlink { .. }), "{e}");
        s.allow_symlinks = true;
        let got = hash_model(&m, &s, &HashOptions::default()).unwrap();
        let names: Vec<_> = got.resources.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["d/y", "linkfile"]);
        std::os::unix::fs::symlink("nowhere", m.join("broken")).unwrap();
        assert!(matches!(
            hash_model(&m, &s, &HashOptions::default()),
            Err(HashError::Special { .. })
        ));
        // Ignored entries are not inspected.
        s.allow_symlinks = false;
        s.ignore_paths
            .extend(["linkdir".into(), "linkfile".into(), "broken".into()]);
        assert_eq!(
            hash_model(&m, &s, &HashOptions::default())
                .unwrap()
                .resources
                .len(),
            1
        );
    }

    #[cfg(unix)]
    #[test]
    fn special_files_are_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let sock = std::os::unix::net::UnixListener::bind(dir.path().join("sock")).unwrap();
        let e = hash_model(
            dir.path(),
            &Serialization::default(),
            &HashOptions::default(),
        )
        .unwrap_err();
        assert!(matches!(e, HashError::Special { .. }), "{e}");
        drop(sock);
    }

    #[test]
    fn cache_reuses_only_settled_unchanged_files() {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("m");
        fs::create_dir(&model).unwrap();
        fs::write(model.join("a"), b"one").unwrap();
        let cache_path = dir.path().join("cache.json");
        let opts = HashOptions {
            jobs: 2,
            cache: Some(&cache_path),
        };
        let s = Serialization::default();
        let first = hash_model(&model, &s, &opts).unwrap();
        // Just written: not settled, so not recorded.
        let raw = fs::read_to_string(&cache_path).unwrap();
        assert!(!raw.contains("\"a\""), "{raw}");
        // Poison a settled entry: a stamp match makes the cache authoritative,
        // which is why it must stay private.
        let mut v: serde_json::Value = serde_json::from_str(&raw).unwrap();
        let meta = fs::metadata(model.join("a")).unwrap();
        let stamp = walk::Stamp::of(&meta);
        v["files"]["a"] = serde_json::json!({
            "size": stamp.size, "mtime_ns": stamp.mtime_ns, "ctime_ns": stamp.ctime_ns,
            "ino": stamp.ino, "dev": stamp.dev, "digests": ["00".repeat(32)]
        });
        fs::write(&cache_path, v.to_string()).unwrap();
        let reused = hash_model(&model, &s, &opts).unwrap();
        assert_eq!(reused.resources[0].digest, vec![0; 32]);
        // Any content change changes the stamp and forces a rehash.
        fs::write(model.join("a"), b"two").unwrap();
        let changed = hash_model(&model, &s, &opts).unwrap();
        assert_ne!(changed.resources[0].digest, vec![0; 32]);
        assert_ne!(changed.resources[0].digest, first.resources[0].digest);
        // A different setting ignores the cache.
        fs::write(&cache_path, v.to_string()).unwrap();
        let other = hash_model(
            &model,
            &ser(
                Method::Shards {
                    shard_size: 1 << 20,
                },
                HashType::Sha256,
            ),
            &opts,
        )
        .unwrap();
        assert_ne!(other.resources[0].digest, vec![0; 32]);
        // A corrupt cache is ignored.
        fs::write(&cache_path, b"{not json").unwrap();
        assert_eq!(
            hash_model(&model, &s, &opts).unwrap().resources,
            changed.resources
        );
    }

    #[test]
    fn relative_ignore_path_inside_and_outside() {
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path().join("m");
        fs::create_dir_all(m.join("sub")).unwrap();
        assert_eq!(
            relative_ignore_path(&m, &m.join("model.sig"))
                .unwrap()
                .as_deref(),
            Some("model.sig")
        );
        assert_eq!(
            relative_ignore_path(&m, &m.join("sub/../x.sig"))
                .unwrap()
                .as_deref(),
            Some("x.sig")
        );
        assert_eq!(
            relative_ignore_path(&m, &dir.path().join("model.sig")).unwrap(),
            None
        );
        assert_eq!(relative_ignore_path(&m, &m).unwrap(), None);
    }

    #[test]
    fn model_names() {
        assert_eq!(model_name(Path::new("/x/model/")), "model");
        assert_eq!(model_name(Path::new("model.bin")), "model.bin");
        assert!(!model_name(Path::new(".")).is_empty());
    }
}
