//! Numerical core shared by the data guard (and later robustness and
//! monitoring): mergeable column sketches, a dense matrix, small learners
//! with K-fold out-of-sample probabilities, neighbour search, clustering,
//! and the detectors built on them (confident learning, spectral signatures,
//! outliers, duplicates, trigger patterns). No I/O and no heavy dependencies:
//! every algorithm here is deterministic for a given seed.
#![forbid(unsafe_code)]

pub mod matrix;
pub mod rng;

pub mod sketch;

pub mod dup;
pub mod neighbors;
pub mod outlier;

pub mod backdoor;
pub mod label;
pub mod learn;

pub use matrix::Matrix;
pub use rng::Rng;
