//! Tamper-evident audit ledger: an append-only transparency log in the style of
//! Certificate Transparency.
//!
//! - [`merkle`]: RFC 6962 / RFC 9162 hashing, tree heads, inclusion and
//!   consistency proofs and their verification.
//! - [`note`]: C2SP signed notes with Ed25519 keys and tlog checkpoints,
//!   interoperable with Go's `golang.org/x/mod/sumdb/note`.
//! - [`log`]: the file-backed log (`entries`, `hashes`, `checkpoints` files
//!   in one directory), crash-safe appends under an exclusive file lock, and
//!   [`verify`], which recomputes everything and names the first bad entry.
//!
//! - [`tiles`]: C2SP tlog-tiles, the log as static files a verifier can
//!   check with nothing but a file server.
//!
//! Library only: no CLI, no async, no network.

pub mod log;
pub mod merkle;
pub mod note;
pub mod tiles;

pub use log::{
    Log, LogError, MAX_ENTRY_BYTES, Report, Tamper, VerifyError, verify, verify_records,
};
pub use merkle::{
    Frontier, Hash, MerkleTree, ProofError, empty_root, leaf_hash, node_hash,
    root_from_leaf_hashes, verify_consistency, verify_inclusion,
};
pub use note::{Checkpoint, KeyError, Note, NoteError, Signature, Signer, Verifier};
