//! The registry: a content-addressed record of datasets, models and the
//! runs between them, with lineage in both directions.
//!
//! - [`store`]: metadata behind the [`Store`] trait — SQLite (embedded
//!   default, WAL) or PostgreSQL (team mode), each with its own migrations.
//! - [`blob`]: content-addressed bytes over `object_store` — a local
//!   directory by default, any S3-compatible server in team mode.
//! - [`content`]: the digest of a file or a directory tree.
//!
//! Every write also commits an event; the binary mirrors events into the
//! tamper-evident ledger.

pub mod blob;
pub mod content;
pub mod store;

pub use mlsecops_lineage as lineage;
pub use store::{Actor, Backend, OpenOptions, SqlStore, Store, Written};

/// Registry errors. Each names what it was about.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot connect to the {backend} database: {source}")]
    Connect {
        backend: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("schema migration: {0}")]
    Migration(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{reference:?} is ambiguous; it matches {}", candidates.join(", "))]
    Ambiguous {
        reference: String,
        candidates: Vec<String>,
    },
    #[error("{0}")]
    Conflict(String),
    #[error("{digest} is revoked: {reason}")]
    Revoked { digest: String, reason: String },
    #[error("invalid {what} {value:?}: {hint}")]
    Invalid {
        what: &'static str,
        value: String,
        hint: &'static str,
    },
    #[error("corrupt registry data: {0}")]
    Corrupt(String),
    #[error("blob store: {0}")]
    Blob(#[from] object_store::Error),
    #[error("blob {digest} is corrupt: its content hashes to {actual}")]
    BlobCorrupt { digest: String, actual: String },
    #[error("ledger verification failed: {0}")]
    LedgerTampered(mlsecops_ledger::VerifyError),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}
