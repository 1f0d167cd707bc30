//! Lists the files of a model the way model-signing does: every regular file
//! below the root (hidden ones included), relative POSIX names, ignore paths
//! matched on whole components, symlinks refused unless allowed.

use std::collections::HashSet;
use std::fs::{self, Metadata};
use std::path::{Path, PathBuf};

use super::HashError;

/// Identity of a file's content as the file system reports it: what the
/// cache keys on and what is re-checked after hashing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub(crate) size: u64,
    pub(crate) mtime_ns: i64,
    pub(crate) ctime_ns: i64,
    pub(crate) ino: u64,
    pub(crate) dev: u64,
}

impl Stamp {
    pub(crate) fn of(meta: &Metadata) -> Stamp {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let ns = |s: i64, n: i64| s.saturating_mul(1_000_000_000).saturating_add(n);
            Stamp {
                size: meta.len(),
                mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
                ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
                ino: meta.ino(),
                dev: meta.dev(),
            }
        }
        #[cfg(not(unix))]
        {
            let mtime_ns = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
            Stamp {
                size: meta.len(),
                mtime_ns,
                ctime_ns: 0,
                ino: 0,
                dev: 0,
            }
        }
    }
}

/// A file to hash.
#[derive(Debug)]
pub(crate) struct WalkedFile {
    /// Name in the manifest: relative POSIX path, `.` for a single-file model.
    pub(crate) rel: String,
    /// Path to open.
    pub(crate) path: PathBuf,
    /// Whether `path` itself is a symlink (then `stamp` is its target's).
    pub(crate) is_link: bool,
    pub(crate) stamp: Stamp,
}

/// Walks `root`. `ignore` holds normalized relative paths; an entry whose
/// relative path is in it is skipped, and so is everything below it (ignored
/// entries are not even inspected, as in model-signing after 1.1.1).
///
/// Symlinks, when allowed, are followed for files (hashed under the link's
/// name) and skipped for directories: the reference's `glob("**/*")` never
/// descends into a linked directory. A broken link, a FIFO, a socket or a
/// device is an error, as in the reference.
pub(crate) fn walk(
    root: &Path,
    ignore: &HashSet<String>,
    allow_symlinks: bool,
) -> Result<Vec<WalkedFile>, HashError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| HashError::Io { path, source }
    };
    let lmeta = fs::symlink_metadata(root).map_err(io(root))?;
    let root_is_link = lmeta.file_type().is_symlink();
    if root_is_link && !allow_symlinks {
        return Err(HashError::Symlink {
            path: root.to_path_buf(),
        });
    }
    let meta = if root_is_link {
        fs::metadata(root).map_err(|_| HashError::Special {
            path: root.to_path_buf(),
        })?
    } else {
        lmeta
    };
    if meta.is_file() {
        return Ok(vec![WalkedFile {
            rel: ".".into(),
            path: root.to_path_buf(),
            is_link: root_is_link,
            stamp: Stamp::of(&meta),
        }]);
    }
    if !meta.is_dir() {
        return Err(HashError::Special {
            path: root.to_path_buf(),
        });
    }

    let mut files = Vec::new();
    // (directory path, its relative name or "" for the root)
    let mut stack: Vec<(PathBuf, String)> = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, rel_dir)) = stack.pop() {
        for entry in fs::read_dir(&dir).map_err(io(&dir))? {
            let entry = entry.map_err(io(&dir))?;
            let path = entry.path();
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                return Err(HashError::NonUtf8Path { path });
            };
            let rel = if rel_dir.is_empty() {
                name.to_owned()
            } else {
                format!("{rel_dir}/{name}")
            };
            if ignore.contains(&rel) {
                continue;
            }
            let ft = entry.file_type().map_err(io(&path))?;
            if ft.is_symlink() {
                if !allow_symlinks {
                    return Err(HashError::Symlink { path });
                }
                // Follow: a broken link is neither a file nor a directory.
                let Ok(target) = fs::metadata(&path) else {
                    return Err(HashError::Special { path });
                };
                if target.is_file() {
                    files.push(WalkedFile {
                        rel,
                        path,
                        is_link: true,
                        stamp: Stamp::of(&target),
                    });
                } else if !target.is_dir() {
                    return Err(HashError::Special { path });
                }
                // A linked directory is neither listed nor descended into.
            } else if ft.is_dir() {
                stack.push((path, rel));
            } else if ft.is_file() {
                let meta = entry.metadata().map_err(io(&path))?;
                files.push(WalkedFile {
                    rel,
                    path,
                    is_link: false,
                    stamp: Stamp::of(&meta),
                });
            } else {
                return Err(HashError::Special { path });
            }
        }
    }
    Ok(files)
}

/// Re-reads a file's stamp after hashing; a difference means the content
/// may have changed while it was read.
pub(crate) fn restat(file: &WalkedFile) -> Result<Stamp, HashError> {
    let meta = if file.is_link {
        fs::metadata(&file.path)
    } else {
        fs::symlink_metadata(&file.path)
    };
    let meta = meta.map_err(|source| HashError::Io {
        path: file.path.clone(),
        source,
    })?;
    if !meta.is_file() {
        return Err(HashError::Changed {
            path: file.path.clone(),
            offset: 0,
        });
    }
    Ok(Stamp::of(&meta))
}
