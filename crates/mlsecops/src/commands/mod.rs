//! One module per subcommand: argument struct + `run`.

pub mod audit;
pub mod keys;
pub mod rule;
pub mod scan;
