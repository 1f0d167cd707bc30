//! Properties over arbitrary input: `find` never panics, spans are in
//! bounds (and character boundaries on UTF-8), results are ordered and
//! disjoint, and redaction removes what was found.

use std::sync::LazyLock;

use mlsecops_sensitive::{Config, Detector, Style, redact_text};
use proptest::prelude::*;

/// Built once: building the automaton is the slow part of a case.
static ALL: LazyLock<Detector> = LazyLock::new(|| Detector::with_config(Config::all()));
static SECRETS: LazyLock<Detector> = LazyLock::new(Detector::new);

const PLANTS: &[&str] = &[
    "ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5",
    "AKIAIOSFODNN7EXAMPL2",
    "jane.doe@example.org",
    "4111 1111 1111 1111",
    "DE89 3704 0044 0532 0130 00",
    "+44 20 7946 0958",
    "536-22-5487",
    "192.168.1.20",
    "postgres://app:S3cr3t-P4ss@db.internal:5432",
];

fn check_spans(d: &Detector, hay: &[u8]) -> Result<(), TestCaseError> {
    let found = d.find(hay);
    let mut last = 0;
    for m in &found {
        prop_assert!(m.start < m.end && m.end <= hay.len());
        prop_assert!(m.start >= last, "ordered and disjoint");
        last = m.end;
    }
    if let Ok(s) = std::str::from_utf8(hay) {
        for m in &found {
            prop_assert!(s.is_char_boundary(m.start) && s.is_char_boundary(m.end));
        }
    }
    Ok(())
}

/// Text made of pieces likely to trigger detectors.
fn tricky() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[0-9]{1,20}",
        "[ .\\-/()+:@=\"']{1,3}",
        "[A-Za-z_]{1,12}",
        Just("ghp_".to_owned()),
        Just("-----BEGIN PRIVATE KEY-----".to_owned()),
        Just("-----END".to_owned()),
        Just("eyJ".to_owned()),
        Just("password=".to_owned()),
        Just("://".to_owned()),
        Just("phone ".to_owned()),
        Just("::".to_owned()),
        Just("é".to_owned()),
        Just("身份证".to_owned()),
    ];
    proptest::collection::vec(piece, 0..64).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes(s in proptest::collection::vec(any::<u8>(), 0..1024)) {
        check_spans(&ALL, &s)?;
        check_spans(&SECRETS, &s)?;
    }

    #[test]
    fn arbitrary_utf8(s in "\\PC{0,512}") {
        check_spans(&ALL, s.as_bytes())?;
    }

    #[test]
    fn tricky_text(s in tricky()) {
        check_spans(&ALL, s.as_bytes())?;
        let (out, found) = redact_text(&ALL, &s, Style::Mask);
        for m in &found {
            let v = &s[m.start..m.end];
            if s.matches(v).count() == 1 {
                prop_assert!(!out.contains(v), "{v:?} left in {out:?}");
            }
        }
    }

    #[test]
    fn planted_values_are_redacted(
        pre in "[a-z ,.;]{0,40}",
        post in "[a-z ,.;]{0,40}",
        i in 0..PLANTS.len(),
        style in prop_oneof![Just(Style::Mask), Just(Style::Partial), Just(Style::Hash)],
    ) {
        let plant = PLANTS[i];
        let text = format!("{pre} {plant} {post}");
        let (out, found) = redact_text(&ALL, &text, style);
        prop_assert!(!found.is_empty(), "{text:?}");
        prop_assert!(!out.contains(plant), "{out:?}");
    }
}
