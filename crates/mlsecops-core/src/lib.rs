//! Shared nouns of mlsecops: every guard speaks in these types.
//!
//! Architecture invariant: this crate has no async and no I/O. It only names
//! things (digests, severities, findings, reports, rule documentation) so that
//! every guard, renderer and store agrees on them.

mod digest;
mod finding;
mod report;
mod rule;

pub use digest::{Digest, DigestError, Sha256Hasher};
pub use finding::{Finding, Location, Severity, SeverityParseError, Suppression, shorten};
pub use report::{FileError, Report, Summary, Target, ToolInfo};
pub use rule::RuleDoc;
