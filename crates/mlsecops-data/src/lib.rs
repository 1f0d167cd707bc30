//! The data guard: reads tabular data through Arrow (CSV, Parquet, JSON
//! Lines, directories of them) in bounded record batches, enforces a
//! contract, runs the global integrity and poisoning analyses of
//! `mlsecops-stats`, and reports `Finding`s with row and column.
#![forbid(unsafe_code)]

mod cells;
pub mod columns;
pub mod contract;
pub mod diff;
pub mod error;
pub mod ingest;
pub mod quarantine;

pub mod analyze;
pub mod report;

pub use columns::{ExtractOptions, Extracted, extract, load_embeddings};
pub use contract::{CheckOptions, CheckOutcome, Contract, ProfileOptions, check_contract, profile};
pub use diff::{Diff, DiffOptions, diff};
pub use error::DataError;
pub use ingest::{Batch, Format, IngestOptions, Source};
pub use quarantine::write_split;
pub mod rules;
