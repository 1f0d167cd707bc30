//! One module per subcommand: argument struct + `run`.

pub mod rule;
pub mod scan;
