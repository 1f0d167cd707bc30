//! Redaction styles and the evidence helper.

use mlsecops_sensitive::{Config, Detector, Kind, Style, redact, redact_all, redact_text};

const GH: &str = "ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5";

#[test]
fn redact_all_keeps_the_scanner_format() {
    let d = Detector::new();
    let r = redact_all(&d, &format!("use {GH} now"));
    assert_eq!(r, "use [REDACTED:github-token] now");
    assert!(!redact(GH.as_bytes()).contains("kL1m"));
}

#[test]
fn styles() {
    let d = Detector::with_config(Config::all());
    let text = format!(
        "From jane@example.org, card 4111-1111-1111-1234 wait 4111-1111-1111-1111, tel +44 20 7946 0958, key {GH}."
    );
    let (mask, found) = redact_text(&d, &text, Style::Mask);
    assert_eq!(
        mask,
        "From [EMAIL], card 4111-1111-1111-1234 wait [CREDIT-CARD], tel [PHONE], key [GITHUB-TOKEN]."
    );
    assert_eq!(
        found.iter().map(|m| m.kind).collect::<Vec<_>>(),
        [
            Kind::Email,
            Kind::CreditCard,
            Kind::Phone,
            Kind::GithubToken
        ]
    );
    let (partial, _) = redact_text(&d, &text, Style::Partial);
    assert_eq!(
        partial,
        "From [EMAIL:…@example.org], card 4111-1111-1111-1234 wait [CREDIT-CARD:…1111], tel [PHONE:…58], key [GITHUB-TOKEN]."
    );
    let (hashed, _) = redact_text(&d, "a jane@example.org b jane@example.org", Style::Hash);
    let parts: Vec<&str> = hashed.split(' ').collect();
    assert_eq!(parts[1], parts[3], "equal values hash equally");
    assert!(parts[1].starts_with("[EMAIL:") && parts[1].len() == "[EMAIL:12345678]".len());
    let (keyed, _) = redact_text(&d, "a jane@example.org", Style::KeyedHash([7; 32]));
    assert_ne!(
        keyed.split(' ').nth(1),
        Some(parts[1]),
        "the key changes the digest"
    );
    assert_eq!(format!("{:?}", Style::KeyedHash([7; 32])), "KeyedHash(..)");
}

#[test]
fn redaction_removes_every_match() {
    let d = Detector::with_config(Config::all());
    let text = format!(
        "postgres://app:S3cr3t-P4ss@db.internal:5432/app\nSSN 536-22-5487, IBAN DE89 3704 0044 0532 0130 00, {GH}"
    );
    for style in [Style::Mask, Style::Partial, Style::Hash] {
        let (out, found) = redact_text(&d, &text, style);
        assert_eq!(found.len(), 4, "{out}");
        for m in &found {
            assert!(!out.contains(&text[m.start..m.end]), "{style:?}: {out}");
        }
        assert!(!out.contains("S3cr3t"));
    }
}

#[test]
fn evidence_is_a_short_prefix() {
    for s in ["4111111111111111", "AKIAIOSFODNN7EXAMPLE", "x", ""] {
        let r = redact(s.as_bytes());
        let shown = r.split('…').next().unwrap();
        assert!(shown.len() <= 6 && shown.len() <= s.len() / 4, "{r}");
    }
}
