//! Lineage nouns (artifacts, runs, edges, graphs) and the ecosystem formats
//! that carry them: exports to CycloneDX 1.6 ML-BOM, SPDX 3.0 AI/Dataset,
//! OpenLineage run events and Graphviz DOT; imports from OpenLineage run
//! events and DVC pointer/lock files. Pure functions, no I/O beyond what a
//! caller hands in, so every parser can be fuzzed in isolation.

pub mod export;
pub mod import;
pub mod model;

pub use model::*;
