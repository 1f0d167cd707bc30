//! The data guard: reads tabular data through Arrow (CSV, Parquet, JSON
//! Lines, directories of them) in bounded record batches, enforces a
//! contract, runs the global integrity and poisoning analyses of
//! `mlsecops-stats`, and reports `Finding`s with row and column.
#![forbid(unsafe_code)]
