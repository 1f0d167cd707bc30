//! Bytes of an input file: read into memory when small, memory-mapped when
//! large so tensor bytes that no check needs are never even paged in.
//!
//! This is the one module of the scanner allowed `unsafe`: `memmap2::Mmap`
//! is unsafe because another process could truncate the file while it is
//! mapped. The scanner only reads the mapping, and a concurrent truncation
//! can at worst end the process with SIGBUS, never corrupt memory safety of
//! the scan itself; the user controls the files they ask us to scan.

use std::fs::File;
use std::io::Read;
use std::ops::Deref;
use std::path::Path;

const MMAP_THRESHOLD: u64 = 1 << 20;

/// A file's bytes.
pub enum Source {
    Owned(Vec<u8>),
    Mapped(memmap2::Mmap),
}

impl Deref for Source {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Source::Owned(v) => v,
            Source::Mapped(m) => m,
        }
    }
}

impl Source {
    /// Opens `path`, whose size is `len`.
    pub fn open(path: &Path, len: u64) -> std::io::Result<Self> {
        let mut f = File::open(path)?;
        if len < MMAP_THRESHOLD {
            let mut v = vec![0u8; usize::try_from(len).unwrap_or(0)];
            f.read_exact(&mut v)?;
            return Ok(Source::Owned(v));
        }
        #[allow(unsafe_code)]
        // SAFETY: read-only private mapping of a regular file; see the module docs.
        let m = unsafe { memmap2::Mmap::map(&f)? };
        Ok(Source::Mapped(m))
    }
}
