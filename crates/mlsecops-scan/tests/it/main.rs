//! Integration tests of `mlsecops-scan` (one binary to keep link time down).
#![allow(clippy::unwrap_used, clippy::disallowed_methods, clippy::print_stdout)]

mod corpus;
mod evasions;
mod hostile;
