//! Integration tests of `mlsecops-ledger` (one test binary per crate).
#![allow(clippy::unwrap_used, clippy::disallowed_methods, clippy::print_stdout)]

mod crash;
mod tiles;
