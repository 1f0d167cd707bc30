//! Incremental hash cache: a JSON file mapping each file's relative path and
//! stamp (size, mtime and ctime in nanoseconds, inode, device) to its
//! digests, for one model root and one hash setting.
//!
//! Why reuse is safe: a digest is reused only when every part of the stamp
//! is unchanged. Writing a file changes its mtime and ctime; `touch -d` can
//! forge an mtime but not a ctime, and replacing a file changes its inode.
//! The remaining hole is timestamp granularity: a file written twice within
//! one clock tick keeps its stamp. So files modified (mtime or ctime) less
//! than [`SETTLE`] before the cache is written are not recorded and are
//! hashed again next time; 2 s covers the coarsest common granularity
//! (FAT). The cache is trusted local state: whoever can write it can make
//! hashing report any digest, so keep it where only the user can write, and
//! do not use one when verifying a model received from someone else.
//!
//! The file is replaced atomically (temporary file, fsync, rename). A cache
//! that is missing, unreadable, for another root or setting, or malformed is
//! ignored: it only ever saves work.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::HashError;
use super::walk::Stamp;

/// Files modified this recently before the cache is written are left out.
pub(crate) const SETTLE: Duration = Duration::from_secs(2);

/// Largest cache file read.
const MAX_CACHE_BYTES: u64 = 1 << 30;

const FORMAT: &str = "mlsecops-oms-hash-cache/1";

#[derive(Serialize, Deserialize)]
struct CacheFile {
    format: String,
    root: String,
    settings: String,
    files: BTreeMap<String, Entry>,
}

#[derive(Serialize, Deserialize, Clone)]
pub(crate) struct Entry {
    size: u64,
    mtime_ns: i64,
    ctime_ns: i64,
    ino: u64,
    dev: u64,
    /// Lowercase hex digests: one per file, or one per shard.
    digests: Vec<String>,
}

/// A loaded cache for one root and setting.
pub(crate) struct Cache {
    root: String,
    settings: String,
    old: BTreeMap<String, Entry>,
    new: BTreeMap<String, Entry>,
}

impl Cache {
    /// Loads `path` if it matches `root` and `settings`; otherwise starts
    /// empty.
    pub(crate) fn load(path: &Path, root: &str, settings: &str) -> Cache {
        let old = read(path)
            .filter(|c| c.format == FORMAT && c.root == root && c.settings == settings)
            .map(|c| c.files)
            .unwrap_or_default();
        Cache {
            root: root.to_owned(),
            settings: settings.to_owned(),
            old,
            new: BTreeMap::new(),
        }
    }

    /// The cached digests of `rel` if its stamp is unchanged and there are
    /// `count` digests of `len` bytes each.
    pub(crate) fn get(
        &self,
        rel: &str,
        stamp: &Stamp,
        count: usize,
        len: usize,
    ) -> Option<Vec<Vec<u8>>> {
        let e = self.old.get(rel)?;
        if e.stamp() != *stamp || e.digests.len() != count {
            return None;
        }
        e.digests
            .iter()
            .map(|h| unhex(h).filter(|d| d.len() == len))
            .collect()
    }

    /// Records the digests of `rel` for the next run.
    pub(crate) fn put(&mut self, rel: &str, stamp: &Stamp, digests: &[Vec<u8>]) {
        let e = Entry {
            size: stamp.size,
            mtime_ns: stamp.mtime_ns,
            ctime_ns: stamp.ctime_ns,
            ino: stamp.ino,
            dev: stamp.dev,
            digests: digests.iter().map(|d| crate::manifest::hex(d)).collect(),
        };
        self.new.insert(rel.to_owned(), e);
    }

    /// Writes the recorded entries to `path` atomically, leaving out files
    /// modified less than [`SETTLE`] before now.
    pub(crate) fn save(self, path: &Path) -> Result<(), HashError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let cutoff = i64::try_from(now.saturating_sub(SETTLE).as_nanos()).unwrap_or(i64::MAX);
        let files = self
            .new
            .into_iter()
            .filter(|(_, e)| e.mtime_ns.max(e.ctime_ns) < cutoff)
            .collect();
        let file = CacheFile {
            format: FORMAT.to_owned(),
            root: self.root,
            settings: self.settings,
            files,
        };
        let io = |p: &Path| {
            let p = p.to_path_buf();
            move |source| HashError::Io { path: p, source }
        };
        let tmp = temp_path(path);
        let result = (|| {
            let f = File::create(&tmp).map_err(io(&tmp))?;
            let mut w = BufWriter::new(f);
            serde_json::to_writer(&mut w, &file).map_err(|e| HashError::Io {
                path: tmp.clone(),
                source: e.into(),
            })?;
            w.flush().map_err(io(&tmp))?;
            w.get_ref().sync_all().map_err(io(&tmp))?;
            fs::rename(&tmp, path).map_err(io(path))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }
}

impl Entry {
    fn stamp(&self) -> Stamp {
        Stamp {
            size: self.size,
            mtime_ns: self.mtime_ns,
            ctime_ns: self.ctime_ns,
            ino: self.ino,
            dev: self.dev,
        }
    }
}

fn read(path: &Path) -> Option<CacheFile> {
    let f = File::open(path).ok()?;
    serde_json::from_reader(BufReader::new(f.take(MAX_CACHE_BYTES))).ok()
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(std::ffi::OsStr::to_os_string)
        .unwrap_or_default();
    name.push(format!(".tmp.{}", std::process::id()));
    path.with_file_name(name)
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}
