//! The content digest of a registered path.
//!
//! A file's digest is the SHA-256 of its bytes (what `sha256sum` prints). A
//! directory's digest is the SHA-256 of its manifest: one line
//! `<hex>  <relative/path>\n` per regular file, sorted by path bytes — the
//! exact output of `sha256sum` over the sorted file list, so anyone can
//! recompute it without mlsecops:
//!
//! ```text
//! (cd DIR && find . -type f -printf '%P\n' | LC_ALL=C sort | xargs -d '\n' sha256sum) | sha256sum
//! ```
//!
//! `.git` directories are skipped; symlinks to files are followed (their
//! content is what a loader reads); symlinks to directories are refused so a
//! walk can neither loop nor escape the tree.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use mlsecops_lineage::FileEntry;
use sha2::{Digest as _, Sha256};

use crate::Error;

/// Most files in one directory artifact.
pub const MAX_FILES: usize = 1_000_000;
/// Deepest directory nesting walked.
pub const MAX_DEPTH: usize = 64;

/// The digest, size and files of a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Content {
    pub digest: String,
    pub size: u64,
    pub is_dir: bool,
    /// Every file with its own digest (one entry for a single file, whose
    /// path is the file name).
    pub files: Vec<FileEntry>,
    /// Absolute paths of `files`, in the same order.
    pub paths: Vec<PathBuf>,
}

impl Content {
    /// The directory manifest (`sha256sum` format) this digest covers.
    #[must_use]
    pub fn manifest(&self) -> String {
        let mut s = String::new();
        for f in &self.files {
            s.push_str(f.digest.trim_start_matches("sha256:"));
            s.push_str("  ");
            s.push_str(&f.path);
            s.push('\n');
        }
        s
    }
}

fn io_err(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        source,
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// SHA-256 of a file's bytes, streamed; returns (`sha256:` digest, size).
pub fn hash_file(path: &Path) -> Result<(String, u64), Error> {
    let mut f = std::fs::File::open(path).map_err(|e| io_err(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_err(path, e)),
        };
        h.update(&buf[..n]);
        size += n as u64;
    }
    Ok((format!("sha256:{}", hex(&h.finalize())), size))
}

/// Digest of a file or directory tree.
pub fn digest_path(path: &Path) -> Result<Content, Error> {
    let meta = std::fs::metadata(path).map_err(|e| io_err(path, e))?;
    if meta.is_file() {
        let (digest, size) = hash_file(path)?;
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        return Ok(Content {
            digest: digest.clone(),
            size,
            is_dir: false,
            files: vec![FileEntry {
                path: name,
                digest,
                size,
            }],
            paths: vec![path.to_path_buf()],
        });
    }
    if !meta.is_dir() {
        return Err(Error::Invalid {
            what: "path",
            value: path.display().to_string(),
            hint: "register a regular file or a directory",
        });
    }
    let mut found = Vec::new();
    walk(path, path, 0, &mut found)?;
    found.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut files = Vec::with_capacity(found.len());
    let mut paths = Vec::with_capacity(found.len());
    let mut total = 0u64;
    for (rel, abs) in found {
        let (digest, size) = hash_file(&abs)?;
        total = total.saturating_add(size);
        files.push(FileEntry {
            path: rel,
            digest,
            size,
        });
        paths.push(abs);
    }
    let mut c = Content {
        digest: String::new(),
        size: total,
        is_dir: true,
        files,
        paths,
    };
    c.digest = format!("sha256:{}", hex(&Sha256::digest(c.manifest().as_bytes())));
    Ok(c)
}

fn walk(
    root: &Path,
    dir: &Path,
    depth: usize,
    out: &mut Vec<(String, PathBuf)>,
) -> Result<(), Error> {
    if depth > MAX_DEPTH {
        return Err(Error::Invalid {
            what: "directory",
            value: dir.display().to_string(),
            hint: "nested deeper than 64 levels",
        });
    }
    let entries = std::fs::read_dir(dir).map_err(|e| io_err(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| io_err(dir, e))?;
        let p = entry.path();
        let name = entry.file_name();
        let ft = entry.file_type().map_err(|e| io_err(&p, e))?;
        if ft.is_dir() {
            if name == ".git" {
                continue;
            }
            walk(root, &p, depth + 1, out)?;
            continue;
        }
        let is_file = if ft.is_symlink() {
            let target = std::fs::metadata(&p).map_err(|e| io_err(&p, e))?;
            if target.is_dir() {
                return Err(Error::Invalid {
                    what: "symlink",
                    value: p.display().to_string(),
                    hint: "symlinks to directories are not followed; copy the directory in",
                });
            }
            target.is_file()
        } else {
            ft.is_file()
        };
        if !is_file {
            continue;
        }
        let rel = p.strip_prefix(root).map_err(|_| {
            Error::Corrupt(format!("{} is outside {}", p.display(), root.display()))
        })?;
        let rel = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        if rel.contains('\n') || rel.contains('\\') {
            return Err(Error::Invalid {
                what: "file name",
                value: rel,
                hint: "names with newlines or backslashes cannot be written in a sha256sum manifest",
            });
        }
        if out.len() >= MAX_FILES {
            return Err(Error::Invalid {
                what: "directory",
                value: root.display().to_string(),
                hint: "more than 1,000,000 files",
            });
        }
        out.push((rel, p));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_digest_is_sha256sum() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.txt");
        std::fs::write(&p, b"abc").unwrap();
        let c = digest_path(&p).unwrap();
        assert_eq!(
            c.digest,
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(c.size, 3);
        assert!(!c.is_dir);
    }

    #[test]
    fn directory_digest_is_sha256_of_sorted_manifest() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("sub")).unwrap();
        std::fs::create_dir_all(dir.path().join(".git")).unwrap();
        std::fs::write(dir.path().join("b.txt"), b"abc").unwrap();
        std::fs::write(dir.path().join("sub/a.txt"), b"").unwrap();
        std::fs::write(dir.path().join(".git/HEAD"), b"ref").unwrap();
        let c = digest_path(dir.path()).unwrap();
        let manifest = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  b.txt\n\
                        e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  sub/a.txt\n";
        assert_eq!(c.manifest(), manifest);
        assert_eq!(
            c.digest,
            format!("sha256:{}", hex(&Sha256::digest(manifest.as_bytes())))
        );
        assert_eq!(c.files.len(), 2);
        // Renaming a file changes the digest; so does changing content.
        std::fs::rename(dir.path().join("b.txt"), dir.path().join("c.txt")).unwrap();
        assert_ne!(digest_path(dir.path()).unwrap().digest, c.digest);
    }

    #[cfg(unix)]
    #[test]
    fn directory_symlinks_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("d")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("d"), dir.path().join("loop")).unwrap();
        let e = digest_path(dir.path()).unwrap_err();
        assert!(e.to_string().contains("symlink"), "{e}");
    }
}
