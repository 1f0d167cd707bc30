//! Fuzz the secret/PII detector and redaction: any bytes through `find`
//! (all kinds, and the scanner's secret-only detector), and any UTF-8 through
//! `redact_text` in every style; spans must be in bounds, ordered, and on
//! character boundaries, and redaction must remove what was found.
#![no_main]
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use mlsecops_sensitive::{Config, Detector, Style, redact, redact_text};

static ALL: LazyLock<Detector> = LazyLock::new(|| Detector::with_config(Config::all()));
static SECRETS: LazyLock<Detector> = LazyLock::new(Detector::new);

fuzz_target!(|data: &[u8]| {
    for d in [&*ALL, &*SECRETS] {
        let mut last = 0;
        for m in d.find(data) {
            assert!(m.start < m.end && m.end <= data.len() && m.start >= last);
            last = m.end;
            let _ = redact(&data[m.start..m.end]);
        }
    }
    if let Ok(s) = std::str::from_utf8(data) {
        for style in [
            Style::Mask,
            Style::Partial,
            Style::Hash,
            Style::KeyedHash([7; 32]),
        ] {
            let (out, found) = redact_text(&ALL, s, style);
            for m in &found {
                assert!(s.is_char_boundary(m.start) && s.is_char_boundary(m.end));
                let v = &s[m.start..m.end];
                // A value spelled like a kind's label (`[GITHUB-TOKEN]`) may
                // legitimately appear in the output as another match's mask.
                let label_like = v
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b == b'-' || b == b'_');
                if s.matches(v).count() == 1 && !label_like {
                    assert!(!out.contains(v));
                }
            }
        }
    }
});
