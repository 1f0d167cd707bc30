//! Integration tests of mlsecops-sign, one module per area.
#![allow(clippy::unwrap_used, clippy::disallowed_methods, clippy::print_stdout)]

mod envelope;
mod hashing;
mod manifest;
