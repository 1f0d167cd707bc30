//! Integration tests of mlsecops-sensitive, one module per area: secrets,
//! PII, configuration, redaction, and properties over arbitrary input.
#![allow(clippy::unwrap_used)]

mod config;
mod pii;
mod props;
mod redact;
mod secrets;

use mlsecops_sensitive::{Config, Detector, Kind};

/// Asserts that `input` yields exactly `expected` (kind, matched text), in order.
#[track_caller]
pub fn check(config: Config, input: &str, expected: &[(Kind, &str)]) {
    let d = Detector::with_config(config);
    let got: Vec<(Kind, &str)> = d
        .find(input.as_bytes())
        .into_iter()
        .map(|m| (m.kind, &input[m.start..m.end]))
        .collect();
    assert_eq!(got, expected, "input: {input:?}");
}

/// Asserts that nothing of `config` is found in any of `inputs`.
#[track_caller]
pub fn clean(config: Config, inputs: &[&str]) {
    let d = Detector::with_config(config);
    for s in inputs {
        let got: Vec<(Kind, &str)> = d
            .find(s.as_bytes())
            .into_iter()
            .map(|m| (m.kind, &s[m.start..m.end]))
            .collect();
        assert!(got.is_empty(), "decoy {s:?} matched {got:?}");
    }
}
