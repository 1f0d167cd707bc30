//! One module per subcommand: argument struct + `run`.

pub mod accept;
pub mod audit;
pub mod data;
pub mod import;
pub mod keys;
pub mod registry;
pub mod rule;
pub mod scan;
pub mod sign;
