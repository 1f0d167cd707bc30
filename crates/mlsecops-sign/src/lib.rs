//! Model signing compatible with OpenSSF model-signing v1.0 ("OMS"): a
//! manifest of every file's digest ([`manifest`], [`hashing`]) wrapped in an
//! in-toto Statement ([`statement`]), signed as a DSSE envelope ([`dsse`])
//! inside a Sigstore bundle ([`bundle`]) with key material from [`keys`];
//! [`model`] runs the whole chain both ways, and [`attest`] signs in-toto
//! attestations (SLSA provenance, guard reports, ML-BOMs) about a model.

pub mod attest;
pub mod bundle;
pub mod dsse;
pub mod hashing;
pub mod keyless;
pub mod keys;
pub mod manifest;
pub mod model;
pub mod statement;
