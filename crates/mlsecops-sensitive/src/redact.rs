//! Redaction: short evidence strings for reports ([`redact`]), and rewriting
//! text with every detected value replaced ([`redact_all`],
//! [`redact_text`] with a [`Style`]) for the data guard and the gateway.

use sha2::{Digest, Sha256};

use crate::{Detector, Kind, Match};

/// How [`redact_text`] replaces a detected value.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// `[EMAIL]`, `[CREDIT-CARD]`, `[AWS-ACCESS-KEY]`: the kind's rule id.
    Mask,
    /// Keep a part that identifies without revealing: the last four digits
    /// of a card or IBAN (`[CREDIT-CARD:…1111]`), the last digits of a
    /// phone number, the domain of an email (`[EMAIL:…@example.com]`).
    /// Secrets and national ids are masked as with [`Style::Mask`].
    Partial,
    /// `[EMAIL:1a2b3c4d]`: the first 4 bytes of SHA-256 of the value, in
    /// hex, so equal values can be correlated. Not secret: a low-entropy
    /// value (a phone number, an SSN) can be recovered by hashing
    /// candidates; use [`Style::KeyedHash`] when that matters.
    Hash,
    /// Like [`Style::Hash`] with HMAC-SHA256 under a secret key.
    KeyedHash([u8; 32]),
}

impl std::fmt::Debug for Style {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Style::Mask => f.write_str("Mask"),
            Style::Partial => f.write_str("Partial"),
            Style::Hash => f.write_str("Hash"),
            // Never print the key.
            Style::KeyedHash(_) => f.write_str("KeyedHash(..)"),
        }
    }
}

/// Redacts a secret for display: at most a short prefix (a quarter of the
/// value, never more than 6 bytes, cut on a character boundary), then `…`
/// and the number of bytes hidden.
#[must_use]
pub fn redact(secret: &[u8]) -> String {
    let mut keep = (secret.len() / 4).min(6);
    // Do not cut a UTF-8 sequence: back off over continuation bytes.
    while keep > 0 && secret.get(keep).is_some_and(|&b| b & 0xC0 == 0x80) {
        keep -= 1;
    }
    format!(
        "{}…[{} chars redacted]",
        String::from_utf8_lossy(&secret[..keep]),
        secret.len() - keep
    )
}

/// Replaces every detected value in `text` with `[REDACTED:<slug>]`
/// (`[REDACTED:github-token]`).
#[must_use]
pub fn redact_all(detector: &Detector, text: &str) -> String {
    rewrite(detector, text, |m, _| {
        format!("[REDACTED:{}]", m.kind.slug())
    })
    .0
}

/// Replaces every detected value in `text` according to `style`; returns
/// the new text and the matches (spans into the original `text`).
#[must_use]
pub fn redact_text(detector: &Detector, text: &str, style: Style) -> (String, Vec<Match>) {
    rewrite(detector, text, |m, v| replacement(m.kind, v, style))
}

/// The replacement of one detected `value` of `kind` in `style`.
#[must_use]
pub fn replacement(kind: Kind, value: &str, style: Style) -> String {
    let id = kind.rule_id();
    match style {
        Style::Mask => format!("[{id}]"),
        Style::Partial => match partial(kind, value) {
            Some(p) => format!("[{id}:…{p}]"),
            None => format!("[{id}]"),
        },
        Style::Hash => format!("[{id}:{}]", hex4(&Sha256::digest(value.as_bytes()))),
        Style::KeyedHash(key) => format!("[{id}:{}]", hex4(&hmac_sha256(&key, value.as_bytes()))),
    }
}

fn rewrite(
    detector: &Detector,
    text: &str,
    f: impl Fn(&Match, &str) -> String,
) -> (String, Vec<Match>) {
    let found = detector.find(text.as_bytes());
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    let mut done = Vec::with_capacity(found.len());
    for m in found {
        // Spans are ASCII-bounded; checked anyway so slicing cannot panic.
        let (Some(before), Some(value)) = (text.get(last..m.start), text.get(m.start..m.end))
        else {
            continue;
        };
        out.push_str(before);
        out.push_str(&f(&m, value));
        last = m.end;
        done.push(m);
    }
    out.push_str(text.get(last..).unwrap_or_default());
    (out, done)
}

/// The part [`Style::Partial`] keeps, if any.
fn partial(kind: Kind, value: &str) -> Option<String> {
    let last_digits = |n: usize| {
        let d: Vec<char> = value.chars().filter(char::is_ascii_alphanumeric).collect();
        (d.len() > n * 2).then(|| d[d.len() - n..].iter().collect::<String>())
    };
    match kind {
        Kind::CreditCard | Kind::Iban => last_digits(4),
        Kind::Phone => last_digits(2),
        Kind::Email => value.find('@').map(|at| value[at..].to_owned()),
        _ => None,
    }
}

fn hex4(digest: &[u8]) -> String {
    use std::fmt::Write as _;
    digest
        .iter()
        .take(4)
        .fold(String::with_capacity(8), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// HMAC-SHA256 (RFC 2104) with a 32-byte key.
fn hmac_sha256(key: &[u8; 32], msg: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    k[..32].copy_from_slice(key);
    let inner = Sha256::new()
        .chain_update(k.map(|b| b ^ 0x36))
        .chain_update(msg)
        .finalize();
    Sha256::new()
        .chain_update(k.map(|b| b ^ 0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc4231_shape() {
        // RFC 4231 test case 2 uses a 4-byte key; pad ours the same way the
        // algorithm does (zero-padded to the block size).
        let mut key = [0u8; 32];
        key[..4].copy_from_slice(b"Jefe");
        let mac = hmac_sha256(&key, b"what do ya want for nothing?");
        assert_eq!(hex4(&mac), "5bdcc146");
    }

    #[test]
    fn short_prefix_only() {
        assert_eq!(redact(b"AKIAIOSFODNN7EXAMPLE"), "AKIAI…[15 chars redacted]");
        assert_eq!(redact(b"abc"), "…[3 chars redacted]");
        // Never cuts inside a UTF-8 sequence.
        assert!(redact("ééééééééééé".as_bytes()).starts_with("éé…"));
    }
}
