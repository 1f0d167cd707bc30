//! Byte helpers shared by the detectors: character classes, bounded runs and
//! word boundaries. Everything works on `&[u8]` so arbitrary (non-UTF-8)
//! input is fine; spans only ever start and end next to ASCII bytes.

/// ASCII letter or digit.
pub(crate) fn is_alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

/// Identifier byte: ASCII letter, digit, `_` or `-`.
pub(crate) fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// Length of the run starting at `s` whose bytes satisfy `ok`.
pub(crate) fn run(h: &[u8], s: usize, ok: impl Fn(u8) -> bool) -> usize {
    h.get(s..)
        .map_or(0, |t| t.iter().take_while(|&&b| ok(b)).count())
}

/// Like [`run`], but stops after `max` bytes.
pub(crate) fn run_max(h: &[u8], s: usize, max: usize, ok: impl Fn(u8) -> bool) -> usize {
    h.get(s..)
        .map_or(0, |t| t.iter().take(max).take_while(|&&b| ok(b)).count())
}

/// The byte before `s` does not continue a token (`[A-Za-z0-9_-]`).
pub(crate) fn boundary_before(h: &[u8], s: usize) -> bool {
    s == 0 || h.get(s - 1).is_none_or(|&b| !is_ident(b))
}

/// At least two of: upper case, lower case, digit.
pub(crate) fn has_mixed_classes(t: &[u8]) -> bool {
    let up = t.iter().any(u8::is_ascii_uppercase);
    let lo = t.iter().any(u8::is_ascii_lowercase);
    let dg = t.iter().any(u8::is_ascii_digit);
    u8::from(up) + u8::from(lo) + u8::from(dg) >= 2
}

/// ASCII-case-insensitive substring test (`needle` is lower case).
pub(crate) fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty()
        || hay
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
}
