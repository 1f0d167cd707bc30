//! Integration tests of the `mlsecops` binary (one test binary per crate).
#![allow(clippy::unwrap_used, clippy::disallowed_methods, clippy::print_stdout)]

mod accept;
mod cli;
mod data;
mod formats;
mod keyless;
mod ledger;
mod registry;
mod sign;
mod support;
