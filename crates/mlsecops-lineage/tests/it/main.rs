//! Integration tests of `mlsecops-lineage` (one test binary per crate).
#![allow(clippy::unwrap_used, clippy::disallowed_methods, clippy::print_stdout)]

mod export_schema;
mod import;
