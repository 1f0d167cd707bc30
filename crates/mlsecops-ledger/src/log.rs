//! The file-backed append-only log and its offline verifier.
//!
//! A log directory holds:
//! - `entries`: records of `u32` little-endian length + entry bytes;
//! - `hashes`: the 32-byte RFC 6962 leaf hash of each entry, in order;
//! - `checkpoints`: records (same framing) each holding one signed checkpoint
//!   note;
//! - `lock`: taken exclusively (`flock`) by every writer.
//!
//! Crash safety: an append writes and `fsync`s the entries, then writes and
//! `fsync`s the hashes, and only then returns. So on disk the hashes never run
//! ahead of the entries, and every acknowledged entry has its hash. The
//! number of complete hashes is the log size; anything past it (a partial
//! record, complete records without hashes, a partial hash) is the residue
//! of an unacknowledged append and is truncated on open. A log whose entries
//! file holds *fewer* complete records than it has hashes lost acknowledged
//! data: [`Log::open`] refuses it (it would rather keep the evidence) and
//! [`verify`] pinpoints it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::merkle::{Hash, MerkleTree, ProofError, leaf_hash};
use crate::note::{Checkpoint, NoteError, Signer, Verifier};

/// Largest entry accepted by [`Log::append_batch`] and read back by [`verify`].
pub const MAX_ENTRY_BYTES: usize = 16 * 1024 * 1024;
/// Largest checkpoint record (a signed note is far smaller).
const MAX_CHECKPOINT_BYTES: usize = crate::note::MAX_NOTE_BYTES;

const ENTRIES: &str = "entries";
const HASHES: &str = "hashes";
const CHECKPOINTS: &str = "checkpoints";
const LOCK: &str = "lock";

/// Errors of the log.
#[derive(Debug, Error)]
pub enum LogError {
    /// A filesystem operation failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// The files contradict each other in a way no crash can cause; run
    /// [`verify`] to locate the damage. The log is left untouched.
    #[error("log is damaged: {0}")]
    Corrupt(String),
    /// An entry exceeds [`MAX_ENTRY_BYTES`].
    #[error("entry of {len} bytes exceeds the limit of {max} bytes")]
    EntryTooLarge { len: usize, max: usize },
    /// No entry at this index.
    #[error("no entry at index {0}")]
    NoSuchEntry(u64),
    /// A proof could not be produced.
    #[error(transparent)]
    Proof(#[from] ProofError),
    /// A checkpoint could not be signed.
    #[error(transparent)]
    Note(#[from] NoteError),
}

/// What kind of tampering [`verify`] found at an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tamper {
    /// The entry record cannot be read (length past the end of the file or
    /// over [`MAX_ENTRY_BYTES`]): entries were truncated or altered here.
    MalformedEntry,
    /// The entry's bytes do not hash to its stored leaf hash: it was
    /// altered, removed, reordered or replaced.
    HashMismatch,
    /// The entries file ends here although more hashes are stored: entries
    /// from this index on were removed.
    MissingEntries,
    /// A signed checkpoint of `checkpoint_size` entries does not match the
    /// recomputed tree; entries and hashes were rewritten together. The first
    /// altered entry lies at or after the reported index (the size of the
    /// last checkpoint that still matches) and before `checkpoint_size`.
    CheckpointMismatch { checkpoint_size: u64 },
    /// A signed checkpoint covers `checkpoint_size` entries but the log holds
    /// fewer: entries from the reported index on were removed.
    CheckpointBeyondLog { checkpoint_size: u64 },
}

impl std::fmt::Display for Tamper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::MalformedEntry => f.write_str("entry record is malformed or truncated"),
            Self::HashMismatch => f.write_str("entry does not match its stored leaf hash"),
            Self::MissingEntries => {
                f.write_str("entries removed (fewer entries than stored hashes)")
            }
            Self::CheckpointMismatch { checkpoint_size } => write!(
                f,
                "signed checkpoint of size {checkpoint_size} does not match; an entry before {checkpoint_size} was altered"
            ),
            Self::CheckpointBeyondLog { checkpoint_size } => {
                write!(
                    f,
                    "signed checkpoint of size {checkpoint_size} covers entries that are gone"
                )
            }
        }
    }
}

/// Why [`verify`] rejected a log.
#[derive(Debug, Error)]
pub enum VerifyError {
    /// A filesystem operation failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// The first bad entry and what is wrong with it.
    #[error("entry {index}: {kind}")]
    Tampered { index: u64, kind: Tamper },
    /// A stored checkpoint is malformed or its signature does not verify.
    #[error("checkpoint record {record}: {source}")]
    BadCheckpoint { record: usize, source: NoteError },
    /// A stored checkpoint is smaller than an earlier one.
    #[error("checkpoint record {record} rolls the log back from {previous} to {size} entries")]
    CheckpointRollback {
        record: usize,
        previous: u64,
        size: u64,
    },
}

/// What [`verify`] established about an intact log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Number of acknowledged entries (stored leaf hashes).
    pub size: u64,
    /// Tree head recomputed from the entries.
    pub root: Hash,
    /// Number of stored checkpoints, all verified against `root`'s tree.
    pub checkpoints: usize,
    /// The latest stored checkpoint, if any.
    pub latest_checkpoint: Option<Checkpoint>,
    /// Complete entries past the last stored hash (an unacknowledged append).
    pub unacknowledged_entries: u64,
    /// Bytes of partial records or hashes at the ends of the files (the
    /// residue of an append or checkpoint interrupted by a crash).
    pub torn_tail_bytes: u64,
}

/// An open log directory. One process may hold several; writers in all
/// processes serialise on the directory's lock file.
pub struct Log {
    dir: PathBuf,
    entries: File,
    hashes: File,
    checkpoints: File,
    lock: File,
    tree: MerkleTree,
    /// Start offset of each entry record in `entries`.
    offsets: Vec<u64>,
    entries_end: u64,
    checkpoints_end: u64,
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log")
            .field("dir", &self.dir)
            .field("size", &self.tree.len())
            .finish_non_exhaustive()
    }
}

fn open_or_create(path: &Path) -> io::Result<(File, bool)> {
    match OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(f) => Ok((f, true)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            Ok((OpenOptions::new().read(true).write(true).open(path)?, false))
        }
        Err(e) => Err(e),
    }
}

/// Makes new directory entries durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// One framed record read from a file.
enum Record {
    /// A complete record: its payload (or `None` when only skipped).
    Full(Option<Vec<u8>>),
    /// The bytes from here on do not form a complete record.
    Torn,
    /// End of file exactly at a record boundary.
    End,
}

/// Reads (or, when `keep` is false, skips) the record at `*pos`, a position
/// the reader is at; `file_len` bounds it. Advances `*pos` past a full record.
fn next_record<R: Read + Seek>(
    r: &mut R,
    pos: &mut u64,
    file_len: u64,
    max: usize,
    keep: bool,
) -> io::Result<Record> {
    if *pos == file_len {
        return Ok(Record::End);
    }
    if file_len - *pos < 4 {
        return Ok(Record::Torn);
    }
    let mut len = [0u8; 4];
    r.read_exact(&mut len)?;
    let len = u64::from(u32::from_le_bytes(len));
    if len > max as u64 || file_len - *pos - 4 < len {
        r.seek(SeekFrom::Start(*pos))?;
        return Ok(Record::Torn);
    }
    let payload = if keep {
        let mut buf = vec![0u8; len as usize];
        r.read_exact(&mut buf)?;
        Some(buf)
    } else {
        r.seek(SeekFrom::Current(len as i64))?;
        None
    };
    *pos += 4 + len;
    Ok(Record::Full(payload))
}

fn frame(out: &mut Vec<u8>, payload: &[u8]) {
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(payload);
}

impl Log {
    /// Opens the log in `dir`, creating the directory and files if needed,
    /// and truncates the residue of any append interrupted by a crash.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, LogError> {
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(&dir)?;
        let (lock, c0) = open_or_create(&dir.join(LOCK))?;
        let (entries, c1) = open_or_create(&dir.join(ENTRIES))?;
        let (hashes, c2) = open_or_create(&dir.join(HASHES))?;
        let (checkpoints, c3) = open_or_create(&dir.join(CHECKPOINTS))?;
        if c0 || c1 || c2 || c3 {
            sync_dir(&dir)?;
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                sync_dir(parent)?;
            }
        }
        let mut log = Self {
            dir,
            entries,
            hashes,
            checkpoints,
            lock,
            tree: MerkleTree::new(),
            offsets: Vec::new(),
            entries_end: 0,
            checkpoints_end: 0,
        };
        log.with_lock(Self::sync_locked)?;
        Ok(log)
    }

    /// Runs `f` holding the directory's exclusive lock.
    fn with_lock<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, LogError>,
    ) -> Result<T, LogError> {
        self.lock.lock()?;
        let result = f(self);
        let unlocked = self.lock.unlock();
        let value = result?;
        unlocked?;
        Ok(value)
    }

    /// Brings the in-memory state up to date with the files (appends by
    /// other processes) and truncates an interrupted append's residue.
    /// Must hold the lock.
    fn sync_locked(&mut self) -> Result<(), LogError> {
        let known = self.tree.len();
        let hashes_len = self.hashes.metadata()?.len();
        let stored = hashes_len / 32;
        if stored < known {
            return Err(LogError::Corrupt(format!(
                "hashes file holds {stored} hashes but {known} were acknowledged"
            )));
        }
        // New hashes, appended by another process or found at open.
        let mut new_hashes = Vec::with_capacity(usize::try_from(stored - known).unwrap_or(0));
        if stored > known {
            let mut r = BufReader::new(&self.hashes);
            r.seek(SeekFrom::Start(known * 32))?;
            let mut h = [0u8; 32];
            for _ in known..stored {
                r.read_exact(&mut h)?;
                new_hashes.push(h);
            }
        }
        // Their entry records must all be there.
        let entries_len = self.entries.metadata()?.len();
        let mut pos = self.entries_end;
        let mut new_offsets = Vec::with_capacity(new_hashes.len());
        {
            let mut r = BufReader::new(&self.entries);
            r.seek(SeekFrom::Start(pos))?;
            for i in known..stored {
                let start = pos;
                match next_record(&mut r, &mut pos, entries_len, MAX_ENTRY_BYTES, false)? {
                    Record::Full(_) => new_offsets.push(start),
                    Record::Torn | Record::End => {
                        return Err(LogError::Corrupt(format!(
                            "entry {i} is missing or truncated but its hash is stored"
                        )));
                    }
                }
            }
        }
        // Residue of an unacknowledged append: drop it, entries first so the
        // hashes never run ahead of the entries on disk.
        if entries_len > pos {
            self.entries.set_len(pos)?;
            self.entries.sync_data()?;
        }
        if hashes_len > stored * 32 {
            self.hashes.set_len(stored * 32)?;
            self.hashes.sync_data()?;
        }
        // Checkpoints: find the end of the last complete record.
        let cp_len = self.checkpoints.metadata()?.len();
        let mut cp_pos = self.checkpoints_end;
        {
            let mut r = BufReader::new(&self.checkpoints);
            r.seek(SeekFrom::Start(cp_pos))?;
            while let Record::Full(_) =
                next_record(&mut r, &mut cp_pos, cp_len, MAX_CHECKPOINT_BYTES, false)?
            {}
        }
        if cp_len > cp_pos {
            self.checkpoints.set_len(cp_pos)?;
            self.checkpoints.sync_data()?;
        }
        for h in new_hashes {
            self.tree.push(h);
        }
        self.offsets.extend(new_offsets);
        self.entries_end = pos;
        self.checkpoints_end = cp_pos;
        Ok(())
    }

    /// Picks up entries appended by other processes since the last call.
    pub fn refresh(&mut self) -> Result<(), LogError> {
        self.with_lock(Self::sync_locked)
    }

    /// The log directory.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Number of entries (as of the last open, append, checkpoint or refresh).
    #[must_use]
    pub fn size(&self) -> u64 {
        self.tree.len()
    }

    /// The current tree head.
    #[must_use]
    pub fn root(&self) -> Hash {
        self.tree.root()
    }

    /// The tree head at `size` entries.
    pub fn root_at(&self, size: u64) -> Result<Hash, LogError> {
        Ok(self.tree.root_at(size)?)
    }

    /// The stored leaf hash of entry `index`.
    #[must_use]
    pub fn leaf_hash(&self, index: u64) -> Option<Hash> {
        self.tree.leaf(index)
    }

    /// Appends entries atomically with respect to other writers and returns
    /// `(index of the first new entry, new size)`. Returns only after the
    /// entries and their hashes are durable.
    pub fn append_batch(&mut self, batch: &[&[u8]]) -> Result<(u64, u64), LogError> {
        if let Some(e) = batch.iter().find(|e| e.len() > MAX_ENTRY_BYTES) {
            return Err(LogError::EntryTooLarge {
                len: e.len(),
                max: MAX_ENTRY_BYTES,
            });
        }
        self.with_lock(|log| {
            log.sync_locked()?;
            let first = log.tree.len();
            if batch.is_empty() {
                return Ok((first, first));
            }
            let total: usize = batch.iter().map(|e| e.len() + 4).sum();
            let mut records = Vec::with_capacity(total);
            let mut hashes = Vec::with_capacity(batch.len() * 32);
            let mut leaves = Vec::with_capacity(batch.len());
            let mut offsets = Vec::with_capacity(batch.len());
            for e in batch {
                offsets.push(log.entries_end + records.len() as u64);
                frame(&mut records, e);
                let h = leaf_hash(e);
                hashes.extend_from_slice(&h);
                leaves.push(h);
            }
            let written = (|| -> io::Result<()> {
                log.entries.seek(SeekFrom::Start(log.entries_end))?;
                log.entries.write_all(&records)?;
                log.entries.sync_data()?;
                log.hashes.seek(SeekFrom::Start(first * 32))?;
                log.hashes.write_all(&hashes)?;
                log.hashes.sync_data()?;
                Ok(())
            })();
            if let Err(e) = written {
                // Best effort: leave no residue for the next append in this
                // process (open would truncate it anyway).
                let _ = log.hashes.set_len(first * 32);
                let _ = log.entries.set_len(log.entries_end);
                return Err(e.into());
            }
            for h in leaves {
                log.tree.push(h);
            }
            log.offsets.extend(offsets);
            log.entries_end += records.len() as u64;
            Ok((first, log.tree.len()))
        })
    }

    /// Appends one entry; returns its index.
    pub fn append(&mut self, entry: &[u8]) -> Result<u64, LogError> {
        Ok(self.append_batch(&[entry])?.0)
    }

    /// Reads entry `index` back from disk.
    pub fn entry(&mut self, index: u64) -> Result<Vec<u8>, LogError> {
        let start = *usize::try_from(index)
            .ok()
            .and_then(|i| self.offsets.get(i))
            .ok_or(LogError::NoSuchEntry(index))?;
        let mut pos = start;
        let mut r = BufReader::new(&self.entries);
        r.seek(SeekFrom::Start(start))?;
        match next_record(&mut r, &mut pos, self.entries_end, MAX_ENTRY_BYTES, true)? {
            Record::Full(Some(data)) => Ok(data),
            _ => Err(LogError::Corrupt(format!("entry {index} cannot be read"))),
        }
    }

    /// Signs a checkpoint of the current tree with `signer`, stores it in the
    /// `checkpoints` file and returns the signed note.
    pub fn checkpoint(&mut self, origin: &str, signer: &Signer) -> Result<String, LogError> {
        self.with_lock(|log| {
            log.sync_locked()?;
            let cp = Checkpoint {
                origin: origin.to_owned(),
                size: log.tree.len(),
                root: log.tree.root(),
                extensions: Vec::new(),
            };
            let note = cp.sign(&[signer])?;
            let mut record = Vec::with_capacity(note.len() + 4);
            frame(&mut record, note.as_bytes());
            log.checkpoints.seek(SeekFrom::Start(log.checkpoints_end))?;
            if let Err(e) = log
                .checkpoints
                .write_all(&record)
                .and_then(|()| log.checkpoints.sync_data())
            {
                let _ = log.checkpoints.set_len(log.checkpoints_end);
                return Err(e.into());
            }
            log.checkpoints_end += record.len() as u64;
            Ok(note)
        })
    }

    /// Inclusion proof of entry `index` in the tree of `size` entries.
    pub fn prove_inclusion(&self, index: u64, size: u64) -> Result<Vec<Hash>, LogError> {
        Ok(self.tree.inclusion_proof(index, size)?)
    }

    /// Consistency proof between the trees of `old` and `new` entries.
    pub fn prove_consistency(&self, old: u64, new: u64) -> Result<Vec<Hash>, LogError> {
        Ok(self.tree.consistency_proof(old, new)?)
    }
}

/// Verifies the log in `dir` offline, reading every file from scratch:
/// recomputes each leaf hash from its entry, compares it with the stored
/// hash, recomputes the tree and checks every stored checkpoint's signature
/// (by `verifier`) and root. Reports the first bad entry.
///
/// Holds a shared lock while reading, so appends wait for it.
pub fn verify(dir: impl AsRef<Path>, verifier: &Verifier) -> Result<Report, VerifyError> {
    let dir = dir.as_ref();
    let lock = File::open(dir.join(LOCK)).ok();
    if let Some(l) = &lock {
        l.lock_shared()?;
    }
    let result = verify_locked(dir, verifier);
    if let Some(l) = &lock {
        l.unlock()?;
    }
    result
}

fn verify_locked(dir: &Path, verifier: &Verifier) -> Result<Report, VerifyError> {
    let mut torn = 0u64;

    // Stored leaf hashes.
    let hashes_file = File::open(dir.join(HASHES))?;
    let hashes_len = hashes_file.metadata()?.len();
    let stored_n = hashes_len / 32;
    torn += hashes_len % 32;
    let mut stored = Vec::with_capacity(usize::try_from(stored_n).unwrap_or(0));
    {
        let mut r = BufReader::new(hashes_file);
        let mut h = [0u8; 32];
        for _ in 0..stored_n {
            r.read_exact(&mut h)?;
            stored.push(h);
        }
    }

    // Entries, hashed as they are read; the first disagreement is recorded.
    let entries_file = File::open(dir.join(ENTRIES))?;
    let entries_len = entries_file.metadata()?.len();
    let mut r = BufReader::new(entries_file);
    let mut pos = 0u64;
    let mut tree = MerkleTree::new();
    let mut first_bad: Option<(u64, Tamper)> = None;
    let mut extra = 0u64;
    loop {
        let index = tree.len() + extra;
        match next_record(&mut r, &mut pos, entries_len, MAX_ENTRY_BYTES, true)? {
            Record::Full(data) => {
                let h = leaf_hash(&data.unwrap_or_default());
                match stored.get(index as usize) {
                    Some(s) => {
                        if *s != h && first_bad.is_none() {
                            first_bad = Some((index, Tamper::HashMismatch));
                        }
                        tree.push(h);
                    }
                    None => extra += 1,
                }
            }
            Record::End => break,
            Record::Torn => {
                if index < stored_n {
                    first_bad.get_or_insert((index, Tamper::MalformedEntry));
                } else {
                    torn += entries_len - pos;
                }
                break;
            }
        }
    }
    if tree.len() < stored_n {
        first_bad.get_or_insert((tree.len(), Tamper::MissingEntries));
    }

    // Checkpoints.
    let cp_file = File::open(dir.join(CHECKPOINTS))?;
    let cp_len = cp_file.metadata()?.len();
    let mut r = BufReader::new(cp_file);
    let mut pos = 0u64;
    let mut notes = Vec::new();
    loop {
        match next_record(&mut r, &mut pos, cp_len, MAX_CHECKPOINT_BYTES, true)? {
            Record::Full(data) => notes.push(data.unwrap_or_default()),
            Record::End => break,
            Record::Torn => {
                torn += cp_len - pos;
                break;
            }
        }
    }
    let mut report = check_checkpoints(&tree, first_bad, notes, verifier)?;
    report.unacknowledged_entries = extra;
    report.torn_tail_bytes = torn;
    Ok(report)
}

/// Verifies a log kept somewhere other than a directory (database rows,
/// object storage): `leaves` yields, in index order, the leaf hash
/// recomputed from each entry's bytes ([`leaf_hash`]) with the leaf hash
/// stored beside it; `checkpoints` the stored signed notes, oldest first.
/// Same checks and error reporting as [`verify`]; a caller that finds an
/// index missing reports [`Tamper::MissingEntries`] itself.
pub fn verify_records<E, C>(
    leaves: E,
    checkpoints: C,
    verifier: &Verifier,
) -> Result<Report, VerifyError>
where
    E: IntoIterator<Item = (Hash, Hash)>,
    C: IntoIterator<Item = Vec<u8>>,
{
    let mut tree = MerkleTree::new();
    let mut first_bad = None;
    for (h, stored) in leaves {
        if h != stored && first_bad.is_none() {
            first_bad = Some((tree.len(), Tamper::HashMismatch));
        }
        tree.push(h);
    }
    check_checkpoints(&tree, first_bad, checkpoints, verifier)
}

/// Checks every checkpoint's signature, order and root against the
/// recomputed `tree`, and decides which evidence of tampering to report.
fn check_checkpoints(
    tree: &MerkleTree,
    first_bad: Option<(u64, Tamper)>,
    notes: impl IntoIterator<Item = Vec<u8>>,
    verifier: &Verifier,
) -> Result<Report, VerifyError> {
    let mut checkpoints: Vec<Checkpoint> = Vec::new();
    for data in notes {
        let record = checkpoints.len();
        let (cp, _) = Checkpoint::open(&data, std::slice::from_ref(verifier))
            .map_err(|source| VerifyError::BadCheckpoint { record, source })?;
        if let Some(prev) = checkpoints.last().map(|c| c.size)
            && cp.size < prev
        {
            return Err(VerifyError::CheckpointRollback {
                record,
                previous: prev,
                size: cp.size,
            });
        }
        checkpoints.push(cp);
    }
    // The smallest checkpoint that disagrees with the recomputed tree, and
    // the largest matching size below it.
    let mut good_below = 0u64;
    let mut checkpoint_bad: Option<(u64, u64, Tamper)> = None;
    for cp in &checkpoints {
        if cp.size > tree.len() {
            checkpoint_bad = Some((
                tree.len(),
                cp.size,
                Tamper::CheckpointBeyondLog {
                    checkpoint_size: cp.size,
                },
            ));
            break;
        }
        let root = tree.root_at(cp.size).unwrap_or_default();
        if root != cp.root {
            checkpoint_bad = Some((
                good_below,
                cp.size,
                Tamper::CheckpointMismatch {
                    checkpoint_size: cp.size,
                },
            ));
            break;
        }
        good_below = cp.size;
    }

    // Entry-level evidence is exact; prefer it unless a checkpoint proves
    // that something before it was rewritten together with its hash.
    match (first_bad, checkpoint_bad) {
        (Some((i, kind)), Some((_, end, _))) if i < end => {
            Err(VerifyError::Tampered { index: i, kind })
        }
        (_, Some((index, _, kind))) | (Some((index, kind)), None) => {
            Err(VerifyError::Tampered { index, kind })
        }
        (None, None) => Ok(Report {
            size: tree.len(),
            root: tree.root(),
            checkpoints: checkpoints.len(),
            latest_checkpoint: checkpoints.pop(),
            unacknowledged_entries: 0,
            torn_tail_bytes: 0,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{verify_consistency, verify_inclusion};
    use proptest::prelude::*;

    const ORIGIN: &str = "example.com/audit";

    fn signer() -> Signer {
        Signer::generate(ORIGIN).unwrap()
    }

    /// Distinct entries whose last byte (0xff) never equals a record length
    /// byte (lengths stay below 255), so a deleted byte always shows up in
    /// the record that held it.
    fn entry(i: usize) -> Vec<u8> {
        let mut e = format!("event {i}: ").into_bytes();
        e.extend(std::iter::repeat_n(b'a' + (i % 26) as u8, i * 7 % 90));
        e.push(0xff);
        e
    }

    fn filled(n: usize) -> (tempfile::TempDir, Log, Signer) {
        let dir = tempfile::tempdir().unwrap();
        let mut log = Log::open(dir.path().join("log")).unwrap();
        let entries: Vec<Vec<u8>> = (0..n).map(entry).collect();
        let refs: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
        assert_eq!(log.append_batch(&refs).unwrap(), (0, n as u64));
        let s = signer();
        log.checkpoint(ORIGIN, &s).unwrap();
        (dir, log, s)
    }

    fn entries_path(log: &Log) -> PathBuf {
        log.dir().join(ENTRIES)
    }

    // The test reads back small files it wrote itself.
    #[allow(clippy::disallowed_methods)]
    fn read(p: &Path) -> Vec<u8> {
        let mut f = File::open(p).unwrap();
        let mut v = Vec::new();
        f.read_to_end(&mut v).unwrap();
        v
    }

    fn write(p: &Path, data: &[u8]) {
        fs::write(p, data).unwrap();
    }

    fn append_raw(p: &Path, data: &[u8]) {
        OpenOptions::new()
            .append(true)
            .open(p)
            .unwrap()
            .write_all(data)
            .unwrap();
    }

    fn tampered_at(r: Result<Report, VerifyError>) -> (u64, Tamper) {
        match r {
            Err(VerifyError::Tampered { index, kind }) => (index, kind),
            other => panic!("expected tampering, got {other:?}"),
        }
    }

    /// Index of the record containing byte `pos` of the entries file.
    fn record_at(log: &Log, pos: u64) -> u64 {
        log.offsets.partition_point(|&o| o <= pos) as u64 - 1
    }

    #[test]
    fn append_prove_checkpoint_verify_reopen() {
        let (dir, mut log, s) = filled(10);
        let path = dir.path().join("log");
        assert_eq!(log.append(b"eleven").unwrap(), 10);
        assert_eq!(log.append_batch(&[]).unwrap(), (11, 11));
        let note = log.checkpoint(ORIGIN, &s).unwrap();
        let (cp, _) = Checkpoint::open(note.as_bytes(), &[s.verifier()]).unwrap();
        assert_eq!((cp.size, cp.root), (11, log.root()));
        assert_eq!(log.entry(3).unwrap(), entry(3));
        assert_eq!(log.entry(10).unwrap(), b"eleven");
        assert!(log.entry(11).is_err());

        let old_root = log.root_at(10).unwrap();
        for i in 0..11 {
            let proof = log.prove_inclusion(i, 11).unwrap();
            verify_inclusion(i, 11, &log.leaf_hash(i).unwrap(), &proof, &log.root()).unwrap();
        }
        let proof = log.prove_consistency(10, 11).unwrap();
        verify_consistency(10, 11, &old_root, &log.root(), &proof).unwrap();
        assert!(log.prove_inclusion(11, 11).is_err());

        let report = verify(&path, &s.verifier()).unwrap();
        assert_eq!(report.size, 11);
        assert_eq!(report.root, log.root());
        assert_eq!(report.checkpoints, 2);
        assert_eq!(report.latest_checkpoint, Some(cp));
        assert_eq!(
            (report.unacknowledged_entries, report.torn_tail_bytes),
            (0, 0)
        );

        let root = log.root();
        drop(log);
        let mut log = Log::open(&path).unwrap();
        assert_eq!((log.size(), log.root()), (11, root));
        assert_eq!(log.entry(10).unwrap(), b"eleven");

        // A checkpoint by another key is rejected.
        let other = Signer::generate(ORIGIN).unwrap();
        log.checkpoint(ORIGIN, &other).unwrap();
        assert!(matches!(
            verify(&path, &s.verifier()),
            Err(VerifyError::BadCheckpoint {
                record: 2,
                source: NoteError::NoKnownSignature
            })
        ));
    }

    #[test]
    fn torn_tail_is_truncated_on_open_and_appends_continue() {
        let (dir, log, s) = filled(5);
        let path = dir.path().join("log");
        let root = log.root();
        drop(log);
        // A crash mid-append: a partial record and a partial hash.
        append_raw(&path.join(ENTRIES), &[100, 0, 0, 0, b'x', b'y', b'z']);
        append_raw(&path.join(HASHES), &[1; 20]);
        append_raw(&path.join(CHECKPOINTS), &[9, 9]);
        let report = verify(&path, &s.verifier()).unwrap();
        assert_eq!((report.size, report.torn_tail_bytes), (5, 7 + 20 + 2));

        let mut log = Log::open(&path).unwrap();
        assert_eq!((log.size(), log.root()), (5, root));
        assert_eq!(log.append(b"after the crash").unwrap(), 5);
        log.checkpoint(ORIGIN, &s).unwrap();
        let report = verify(&path, &s.verifier()).unwrap();
        assert_eq!(
            (report.size, report.torn_tail_bytes, report.checkpoints),
            (6, 0, 2)
        );
        assert_eq!(log.entry(5).unwrap(), b"after the crash");

        // A crash between the entries fsync and the hashes write: complete
        // records with no hashes are not acknowledged and are dropped.
        drop(log);
        append_raw(
            &path.join(ENTRIES),
            &[3, 0, 0, 0, b'a', b'b', b'c', 1, 0, 0, 0, b'd'],
        );
        let report = verify(&path, &s.verifier()).unwrap();
        assert_eq!((report.size, report.unacknowledged_entries), (6, 2));
        let mut log = Log::open(&path).unwrap();
        assert_eq!(log.size(), 6);
        assert_eq!(log.append(b"seven").unwrap(), 6);
        assert_eq!(
            verify(&path, &s.verifier()).unwrap().unacknowledged_entries,
            0
        );
    }

    #[test]
    fn lost_acknowledged_entries_are_refused_not_truncated() {
        let (dir, log, s) = filled(6);
        let path = dir.path().join("log");
        let data = read(&entries_path(&log));
        let cut = log.offsets[4] + 2;
        drop(log);
        write(&path.join(ENTRIES), &data[..cut as usize]);
        assert!(matches!(Log::open(&path), Err(LogError::Corrupt(_))));
        // The evidence is still there for verify.
        assert_eq!(read(&path.join(ENTRIES)).len() as u64, cut);
        assert_eq!(
            tampered_at(verify(&path, &s.verifier())),
            (4, Tamper::MalformedEntry)
        );
    }

    #[test]
    fn rewritten_entry_and_hash_is_caught_by_checkpoint() {
        let (dir, mut log, s) = filled(8);
        let path = dir.path().join("log");
        let more: Vec<Vec<u8>> = (8..20).map(entry).collect();
        let refs: Vec<&[u8]> = more.iter().map(Vec::as_slice).collect();
        log.append_batch(&refs).unwrap();
        log.checkpoint(ORIGIN, &s).unwrap();
        // Rewrite entry 12 and its stored hash consistently.
        let mut data = read(&entries_path(&log));
        let at = log.offsets[12] as usize + 4;
        data[at] ^= 0x20;
        write(&path.join(ENTRIES), &data);
        let mut hashes = read(&path.join(HASHES));
        let mut rec = entry(12);
        rec[0] ^= 0x20;
        hashes[12 * 32..13 * 32].copy_from_slice(&leaf_hash(&rec));
        write(&path.join(HASHES), &hashes);
        assert_eq!(
            tampered_at(verify(&path, &s.verifier())),
            (
                8,
                Tamper::CheckpointMismatch {
                    checkpoint_size: 20
                }
            )
        );
        // Truncating entries and hashes together (after the rewrite): the
        // checkpoint of 20 entries names the cut.
        let data = read(&entries_path(&log));
        write(&path.join(ENTRIES), &data[..log.offsets[15] as usize]);
        write(&path.join(HASHES), &hashes[..15 * 32]);
        assert_eq!(
            tampered_at(verify(&path, &s.verifier())),
            (
                15,
                Tamper::CheckpointBeyondLog {
                    checkpoint_size: 20
                }
            )
        );
        // The same cut of an otherwise intact log.
        let mut original = Vec::new();
        for i in 0..15 {
            frame(&mut original, &entry(i));
        }
        write(&path.join(ENTRIES), &original);
        let hashes: Vec<u8> = (0..15).flat_map(|i| leaf_hash(&entry(i))).collect();
        write(&path.join(HASHES), &hashes);
        assert_eq!(
            tampered_at(verify(&path, &s.verifier())),
            (
                15,
                Tamper::CheckpointBeyondLog {
                    checkpoint_size: 20
                }
            )
        );
    }

    #[test]
    fn concurrent_writers_serialise() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        Log::open(&path).unwrap();
        let threads: Vec<_> = (0..3)
            .map(|t| {
                let path = path.clone();
                std::thread::spawn(move || {
                    let mut log = Log::open(&path).unwrap();
                    for i in 0..20 {
                        let a = format!("writer {t} entry {i} a");
                        let b = format!("writer {t} entry {i} b");
                        let (first, size) =
                            log.append_batch(&[a.as_bytes(), b.as_bytes()]).unwrap();
                        assert_eq!(size, first + 2);
                        assert_eq!(log.entry(first).unwrap(), a.as_bytes());
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let mut log = Log::open(&path).unwrap();
        assert_eq!(log.size(), 120);
        // Batches stay contiguous.
        for i in (0..120).step_by(2) {
            let a = String::from_utf8(log.entry(i).unwrap()).unwrap();
            let b = String::from_utf8(log.entry(i + 1).unwrap()).unwrap();
            assert_eq!(a.trim_end_matches(" a"), b.trim_end_matches(" b"));
        }
        let s = signer();
        log.checkpoint(ORIGIN, &s).unwrap();
        assert_eq!(verify(&path, &s.verifier()).unwrap().size, 120);
    }

    #[derive(Debug, Clone)]
    enum Mutation {
        Flip { pos: u64, bit: u8 },
        DeleteByte { pos: u64 },
        DeleteRecord { index: usize },
        Swap { a: usize, b: usize },
        Truncate { len: u64 },
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        prop_oneof![
            (any::<u64>(), 0u8..8).prop_map(|(pos, bit)| Mutation::Flip { pos, bit }),
            any::<u64>().prop_map(|pos| Mutation::DeleteByte { pos }),
            any::<usize>().prop_map(|index| Mutation::DeleteRecord { index }),
            (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Swap { a, b }),
            any::<u64>().prop_map(|len| Mutation::Truncate { len }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        #[test]
        fn any_tampering_is_found_at_the_first_bad_entry(n in 1usize..40, m in mutation()) {
            let (dir, log, s) = filled(n);
            let path = dir.path().join("log");
            let data = read(&entries_path(&log));
            let total = data.len() as u64;
            let span = |i: usize| {
                let start = log.offsets[i] as usize;
                let end = log.offsets.get(i + 1).map_or(data.len(), |&o| o as usize);
                start..end
            };
            let (mutated, expected): (Vec<u8>, u64) = match m {
                Mutation::Flip { pos, bit } => {
                    let pos = pos % total;
                    let mut d = data.clone();
                    d[pos as usize] ^= 1 << bit;
                    (d, record_at(&log, pos))
                }
                Mutation::DeleteByte { pos } => {
                    let pos = pos % total;
                    let mut d = data.clone();
                    d.remove(pos as usize);
                    (d, record_at(&log, pos))
                }
                Mutation::DeleteRecord { index } => {
                    let i = index % n;
                    let mut d = data.clone();
                    d.drain(span(i));
                    (d, i as u64)
                }
                Mutation::Swap { a, b } => {
                    prop_assume!(n >= 2);
                    let (a, b) = (a % n, b % n);
                    prop_assume!(a != b);
                    let (a, b) = (a.min(b), a.max(b));
                    let mut d = data[..span(a).start].to_vec();
                    d.extend_from_slice(&data[span(b)]);
                    d.extend_from_slice(&data[span(a).end..span(b).start]);
                    d.extend_from_slice(&data[span(a)]);
                    d.extend_from_slice(&data[span(b).end..]);
                    (d, a as u64)
                }
                Mutation::Truncate { len } => {
                    let len = len % total;
                    (data[..len as usize].to_vec(), record_at(&log, len))
                }
            };
            write(&path.join(ENTRIES), &mutated);
            let (index, _) = tampered_at(verify(&path, &s.verifier()));
            prop_assert_eq!(index, expected);
        }
    }
}
