//! Integration tests of `mlsecops-registry` (one test binary per crate):
//! the store conformance suite on SQLite and PostgreSQL, and the blob store
//! on a directory and on S3.
#![allow(clippy::unwrap_used, clippy::disallowed_methods, clippy::print_stdout)]

mod blobs;
mod conformance;
