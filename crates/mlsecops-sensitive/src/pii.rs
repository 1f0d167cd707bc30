//! PII detectors. One linear pass over the words of the text: words without
//! a digit (most of any prose) are skipped after one look; numbers are
//! grouped with their separators (`4111 1111 1111 1111`, `123-45-6789`,
//! `+44 20 7946 0958`) and classified by shape, then checked by the
//! validators of [`crate::validate`]. Emails are found from each `@`.
//! Context words (`phone`, `SSN`, `BSN`, `version`, …) are noted by the same
//! pass, from the alphabetic words it skips, and gate the kinds that have no
//! checksum, or whose checksum is too weak on a bare digit run. Context
//! words are ASCII (`téléphone` is found through its `phone`).
//!
//! Decisions:
//! - IPv4 needs four dotted octets ≤ 255 without leading zeros, first octet
//!   1–223; it is not reported after a version word (`version`, `release`,
//!   `rev`) or operator (`==`, `>=`, `@`), right after a letter (`v1.2.3.4`),
//!   nor inside longer dotted runs (`1.2.3.4.5`).
//! - Phone numbers need a `+` country code, the `(NNN) NNN-NNNN` shape, or a
//!   phone word within 48 bytes before them.
//! - Dates (`2024-05-12`, `12/05/2024`, `12.05.24`) and digit runs longer
//!   than 20 digits never match anything.

use crate::text::is_alnum;
use crate::validate;
use crate::{Confidence, Kind, Match};

/// A class of context word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cue {
    Phone,
    Ssn,
    Nino,
    Bsn,
    Aadhaar,
    Steuer,
    Cpf,
    Nir,
    Version,
}

impl Cue {
    const COUNT: usize = 9;

    /// The kind this cue helps detect.
    pub(crate) const fn kind(self) -> Kind {
        match self {
            Cue::Phone => Kind::Phone,
            Cue::Ssn => Kind::UsSsn,
            Cue::Nino => Kind::UkNino,
            Cue::Bsn => Kind::NlBsn,
            Cue::Aadhaar => Kind::InAadhaar,
            Cue::Steuer => Kind::DeSteuerId,
            Cue::Cpf => Kind::BrCpf,
            Cue::Nir => Kind::FrNir,
            Cue::Version => Kind::IpAddress,
        }
    }

    /// How far after the end of the word the value may start.
    const fn window(self) -> usize {
        match self {
            Cue::Version => 16,
            _ => 48,
        }
    }
}

/// How a context word must appear.
#[derive(Clone, Copy, Debug)]
enum Form {
    /// The whole ASCII word (`tel`, `SSN`).
    Whole,
    /// The start of a word (`phone` in `PhoneNumber`, `steuer` in `Steuer-ID`).
    Prefix,
    /// The whole word, right after the given word (`security` after `social`).
    After(&'static str),
}

/// Context words, compared ignoring ASCII case with the alphabetic words of
/// the text.
const CUES: &[(&str, Cue, Form)] = &[
    ("phone", Cue::Phone, Form::Prefix),
    ("telephone", Cue::Phone, Form::Prefix),
    ("telefon", Cue::Phone, Form::Prefix),
    ("tel", Cue::Phone, Form::Whole),
    ("mobile", Cue::Phone, Form::Prefix),
    ("mob", Cue::Phone, Form::Whole),
    ("cell", Cue::Phone, Form::Prefix),
    ("fax", Cue::Phone, Form::Whole),
    ("call", Cue::Phone, Form::Whole),
    ("whatsapp", Cue::Phone, Form::Prefix),
    ("portable", Cue::Phone, Form::Whole),
    ("handy", Cue::Phone, Form::Whole),
    ("sms", Cue::Phone, Form::Whole),
    ("ssn", Cue::Ssn, Form::Whole),
    ("security", Cue::Ssn, Form::After("social")),
    ("nino", Cue::Nino, Form::Whole),
    ("insurance", Cue::Nino, Form::After("national")),
    ("number", Cue::Nino, Form::After("ni")),
    ("bsn", Cue::Bsn, Form::Whole),
    ("burgerservicenummer", Cue::Bsn, Form::Prefix),
    ("sofinummer", Cue::Bsn, Form::Prefix),
    ("aadhaar", Cue::Aadhaar, Form::Prefix),
    ("aadhar", Cue::Aadhaar, Form::Prefix),
    ("uidai", Cue::Aadhaar, Form::Whole),
    ("steuer", Cue::Steuer, Form::Prefix),
    ("identifikationsnummer", Cue::Steuer, Form::Prefix),
    ("idnr", Cue::Steuer, Form::Whole),
    ("id", Cue::Steuer, Form::After("tax")),
    ("cpf", Cue::Cpf, Form::Whole),
    ("nir", Cue::Nir, Form::Whole),
    ("insee", Cue::Nir, Form::Whole),
    ("sociale", Cue::Nir, Form::Whole),
    ("vitale", Cue::Nir, Form::Whole),
    ("secu", Cue::Nir, Form::Whole),
    ("version", Cue::Version, Form::Prefix),
    ("release", Cue::Version, Form::Prefix),
    ("build", Cue::Version, Form::Whole),
    ("rev", Cue::Version, Form::Whole),
    ("ver", Cue::Version, Form::Whole),
];

/// Longest context word.
const CUE_MAX: usize = 21;

/// Where context words end, per cue, in increasing order.
#[derive(Debug, Default)]
struct Cues {
    ends: [Vec<usize>; Cue::COUNT],
    /// Per first letter (`a`..`z`): bit `n` is set if a context word of
    /// that letter can match a word of `n` bytes.
    lengths: [u32; 26],
    /// Cues whose kind is enabled, by first letter.
    active: [Vec<(&'static str, Cue, Form)>; 26],
}

impl Cues {
    fn new(enabled: impl Fn(Kind) -> bool) -> Self {
        let mut c = Cues::default();
        for &(w, cue, form) in CUES {
            if !enabled(cue.kind()) {
                continue;
            }
            let first = usize::from(w.as_bytes()[0] - b'a');
            let bits = match form {
                Form::Prefix => u32::MAX << w.len(),
                Form::Whole | Form::After(_) => 1 << w.len(),
            };
            c.lengths[first] |= bits;
            c.active[first].push((w, cue, form));
        }
        c
    }

    /// Notes the alphabetic word `h[s..e]` if it is a context word.
    fn word(&mut self, h: &[u8], s: usize, e: usize) {
        let len = e - s;
        let first = h[s].to_ascii_lowercase();
        if !first.is_ascii_lowercase()
            || self.lengths[usize::from(first - b'a')] & (1 << len.min(31)) == 0
        {
            return;
        }
        let w = &h[s..e];
        for &(cw, cue, form) in &self.active[usize::from(first - b'a')] {
            let cw = cw.as_bytes();
            let hit = match form {
                Form::Whole => w.eq_ignore_ascii_case(cw),
                Form::Prefix => w.len() >= cw.len() && w[..cw.len()].eq_ignore_ascii_case(cw),
                Form::After(prev) => {
                    w.eq_ignore_ascii_case(cw) && after_word(h, s, prev.as_bytes())
                }
            };
            if hit {
                self.ends[cue as usize].push(e);
            }
        }
    }

    /// A `cue` word ends at most its window before `pos`.
    fn near(&self, cue: Cue, pos: usize) -> bool {
        let v = &self.ends[cue as usize];
        let i = v.partition_point(|&e| e <= pos);
        i > 0 && pos - v[i - 1] <= cue.window()
    }
}

/// `h[..s]` ends with the word `prev` and one space or `-`.
fn after_word(h: &[u8], s: usize, prev: &[u8]) -> bool {
    let Some(p) = s.checked_sub(prev.len() + 1) else {
        return false;
    };
    matches!(h[s - 1], b' ' | b'-')
        && h[p..s - 1].eq_ignore_ascii_case(prev)
        && (p == 0 || !h[p - 1].is_ascii_alphanumeric())
}

/// The PII pass over `h`: pushes matches of enabled kinds to `out`.
pub(crate) fn scan(h: &[u8], enabled: impl Fn(Kind) -> bool + Copy, out: &mut Vec<Match>) {
    if enabled(Kind::Email) {
        emails(h, out);
    }
    let words = [
        Kind::CreditCard,
        Kind::Iban,
        Kind::Phone,
        Kind::IpAddress,
        Kind::UsSsn,
        Kind::UkNino,
        Kind::EsDni,
        Kind::ItCodiceFiscale,
        Kind::NlBsn,
        Kind::BrCpf,
        Kind::InAadhaar,
        Kind::FrNir,
        Kind::DeSteuerId,
        Kind::CnResidentId,
    ];
    if words.iter().any(|&k| enabled(k)) {
        let mut w = Words {
            h,
            enabled,
            cues: Cues::new(enabled),
            out,
        };
        w.run();
    }
}

// ---------------------------------------------------------------- email

/// File extensions that look like top-level domains in `icon@2x.png`.
const NOT_TLDS: &[&[u8]] = &[
    b"png", b"jpg", b"jpeg", b"gif", b"svg", b"webp", b"ico", b"bmp", b"tif", b"tiff", b"css",
    b"js", b"ts", b"map", b"json", b"txt", b"md", b"py", b"rs", b"html", b"pdf", b"lock",
];

fn is_local(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-' | b'\'')
}

fn emails(h: &[u8], out: &mut Vec<Match>) {
    for at in memchr::memchr_iter(b'@', h) {
        if let Some(m) = email_at(h, at) {
            out.push(m);
        }
    }
}

/// The email around the `@` at `at`: local part of 1–64 characters (no
/// leading, trailing or double dot), a domain of at least two labels with
/// an alphabetic top-level label of 2–24 letters that is not a file
/// extension.
fn email_at(h: &[u8], at: usize) -> Option<Match> {
    // Local part, back from the `@`: ASCII atom characters and non-ASCII
    // letters (RFC 6531), decoded so the span starts on a character.
    let mut ls = at;
    while ls > 0 && at - ls <= 64 {
        let b = h[ls - 1];
        if is_local(b) {
            ls -= 1;
            continue;
        }
        if b >= 0x80 {
            let mut k = ls - 1;
            while k > 0 && h[k] & 0xC0 == 0x80 && ls - k < 4 {
                k -= 1;
            }
            if std::str::from_utf8(&h[k..ls]).is_ok_and(|c| c.chars().all(char::is_alphanumeric)) {
                ls = k;
                continue;
            }
        }
        break;
    }
    let local_len = at - ls;
    let local = &h[ls..at];
    let ok_local = (1..=64).contains(&local_len)
        && local.first() != Some(&b'.')
        && local.last() != Some(&b'.')
        && !local.windows(2).any(|w| w == b"..")
        && local
            .iter()
            .any(|&b| b.is_ascii_alphanumeric() || b >= 0x80)
        && local != b"git"
        && !(ls > 0 && matches!(h[ls - 1], b'/' | b'@' | b'\\'));
    if !ok_local {
        return None;
    }
    // Domain labels.
    let mut k = at + 1;
    let mut labels = 0;
    let mut last_label = (k, k);
    loop {
        let n = h.get(k..).map_or(0, |t| {
            t.iter()
                .take(64)
                .take_while(|&&b| b.is_ascii_alphanumeric() || b == b'-')
                .count()
        });
        if n == 0 || n > 63 || h[k] == b'-' || h[k + n - 1] == b'-' {
            break;
        }
        labels += 1;
        last_label = (k, k + n);
        k += n;
        if h.get(k) == Some(&b'.')
            && h.get(k + 1).is_some_and(u8::is_ascii_alphanumeric)
            && k - at < 253
        {
            k += 1;
        } else {
            break;
        }
    }
    let (ts, te) = last_label;
    let tld = &h[ts..te];
    let ok_domain = labels >= 2
        && k - at <= 254
        && ((2..=24).contains(&tld.len()) && tld.iter().all(u8::is_ascii_alphabetic)
            || tld.len() > 4 && tld[..4].eq_ignore_ascii_case(b"xn--"))
        && !NOT_TLDS.iter().any(|x| tld.eq_ignore_ascii_case(x))
        && h.get(te)
            .is_none_or(|&b| !(is_alnum(b) || b == b'_' || b == b'@'));
    ok_domain.then_some(Match {
        kind: Kind::Email,
        start: ls,
        end: te,
        confidence: Confidence::High,
    })
}

// ---------------------------------------------------------------- words

/// At most this many digit groups in one number.
const MAX_GROUPS: usize = 12;
/// At most this many bytes in one number with its separators.
const MAX_NUMBER: usize = 64;
/// A digit group longer than this is a "long digit run", never PII.
const MAX_GROUP_DIGITS: usize = 20;

/// A number and its separators: `groups[i]` are digit runs, `seps[i]` the
/// bytes between group `i` and `i + 1`.
#[derive(Default)]
struct Number {
    groups: [(usize, usize); MAX_GROUPS],
    seps: [(usize, usize); MAX_GROUPS],
    n: usize,
}

/// What precedes the first digit.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lead {
    None,
    Plus,
    Paren,
}

/// How far before a digit the word pass starts: past the longest context
/// window (48 bytes plus a two-word cue) and the letters of a letter-first
/// id (`DE89…`, `RSSMRA85…`).
const LOOKBEHIND: usize = 96;

/// Position of the first ASCII digit at or after `from`, or `h.len()`.
/// Chunks of 32 bytes are tested without early exit so the test vectorises.
fn next_digit(h: &[u8], from: usize) -> usize {
    let Some(tail) = h.get(from..) else {
        return h.len();
    };
    let mut chunks = tail.chunks_exact(32);
    let mut base = from;
    for c in chunks.by_ref() {
        if c.iter()
            .fold(0u8, |a, &b| a | u8::from(b.wrapping_sub(b'0') < 10))
            != 0
        {
            return base + c.iter().position(u8::is_ascii_digit).unwrap_or(0);
        }
        base += 32;
    }
    let rem = chunks.remainder();
    base + rem.iter().position(u8::is_ascii_digit).unwrap_or(rem.len())
}

/// After passing a digit, how far the word pass goes before it searches
/// for the next digit again.
const RESEARCH_AFTER: usize = 64;

const LETTER: u8 = 1;
const DIGIT: u8 = 2;

/// Byte classes: ASCII letter, ASCII digit, or anything else (0).
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = if b.is_ascii_alphabetic() {
            LETTER
        } else if b.is_ascii_digit() {
            DIGIT
        } else {
            0
        };
        i += 1;
    }
    t
};

struct Words<'a, F> {
    h: &'a [u8],
    enabled: F,
    cues: Cues,
    out: &'a mut Vec<Match>,
}

/// Separator between two digit groups starting at `k`: its length, or 0.
fn separator(h: &[u8], k: usize) -> usize {
    let digit_at = |i: usize| h.get(i).is_some_and(u8::is_ascii_digit);
    let b = |i: usize| h.get(k + i).copied().unwrap_or(0);
    let len = match (b(0), b(1), b(2)) {
        (b' ', b'-', b' ') => 3,
        (b')', b' ' | b'-', _) | (b' ', b'(', _) => 2,
        (b' ' | b'-' | b'.' | b'/' | b'(' | b')', _, _) => 1,
        _ => 0,
    };
    if len > 0 && digit_at(k + len) { len } else { 0 }
}

impl<F: Fn(Kind) -> bool + Copy> Words<'_, F> {
    fn emit(&mut self, kind: Kind, start: usize, end: usize, confidence: Confidence) {
        if (self.enabled)(kind) {
            self.out.push(Match {
                kind,
                start,
                end,
                confidence,
            });
        }
    }

    fn on(&self, k: Kind) -> bool {
        (self.enabled)(k)
    }

    fn run(&mut self) {
        let h = self.h;
        let n = h.len();
        let mut i = 0;
        // Where to look for the next digit again; see `RESEARCH_AFTER`.
        let mut search_at = 0usize;
        while i < n {
            // Everything reported holds a digit, and its context starts at
            // most `LOOKBEHIND` bytes before it: jump over digit-free text
            // (most prose) with a vectorised search. In digit-dense text
            // (logs, tables) the search is repeated only every so often.
            if i >= search_at {
                let d = next_digit(h, i);
                if d == n {
                    break;
                }
                if d - i > LOOKBEHIND {
                    i = d - LOOKBEHIND;
                    // Start at a word start (the skipped word is too long to matter).
                    while i < d && CLASS[usize::from(h[i])] != 0 {
                        i += 1;
                    }
                }
                search_at = d + RESEARCH_AFTER;
            }
            // Skip to the next word, then to its end, with one table lookup
            // per byte.
            let Some(p) = h[i..].iter().position(|&b| CLASS[usize::from(b)] != 0) else {
                break;
            };
            let ws = i + p;
            let mut j = ws;
            let mut seen = 0u8;
            for &b in &h[ws..] {
                let c = CLASS[usize::from(b)];
                if c == 0 {
                    break;
                }
                seen |= c;
                j += 1;
            }
            let digit = seen & DIGIT != 0;
            let next = h.get(j).copied().unwrap_or(0);
            let mut resume = j;
            if next == b':'
                && j - ws <= 4
                && h[ws..j].iter().all(u8::is_ascii_hexdigit)
                && let Some(e) = self.ipv6(ws)
            {
                i = e;
                continue;
            }
            if h[ws].is_ascii_digit() {
                // Fast path: a short standalone number (`12`, `2024`, `3e`)
                // can be nothing; most numbers in text are like that.
                let lead = ws > 0 && matches!(h[ws - 1], b'+' | b'(');
                if j - ws >= 8 || lead || separator(h, j) > 0 {
                    resume = resume.max(self.number(ws));
                }
            } else if digit {
                self.letter_word(ws, j);
            } else {
                if j - ws <= CUE_MAX {
                    self.cues.word(h, ws, j);
                }
                if j - ws == 2 && next == b' ' {
                    self.nino_spaced(ws);
                }
            }
            i = resume;
        }
    }

    /// Handles words that start with a letter and hold a digit: IBAN, NIE,
    /// NINO, codice fiscale.
    fn letter_word(&mut self, ws: usize, we: usize) {
        let h = self.h;
        if ws > 0
            && matches!(
                h[ws - 1],
                b'_' | b'-' | b'.' | b'/' | b'\\' | b'@' | b'#' | b'$'
            )
        {
            return;
        }
        let w = &h[ws..we];
        if self.on(Kind::Iban)
            && w.len() >= 4
            && w[0].is_ascii_uppercase()
            && w[1].is_ascii_uppercase()
            && let Some(e) = self.iban(ws)
        {
            self.emit(Kind::Iban, ws, e, Confidence::High);
            return;
        }
        match w.len() {
            9 if matches!(w[0], b'X' | b'Y' | b'Z') && validate::es_dni(w) => {
                self.emit(Kind::EsDni, ws, we, Confidence::High);
            }
            9 if validate::uk_nino(w) => {
                let c = if self.cues.near(Cue::Nino, ws) {
                    Confidence::Medium
                } else {
                    Confidence::Low
                };
                self.emit(Kind::UkNino, ws, we, c);
            }
            16 if validate::it_codice_fiscale(w) => {
                self.emit(Kind::ItCodiceFiscale, ws, we, Confidence::High);
            }
            _ => {}
        }
    }

    /// `AB 12 34 56 C`.
    fn nino_spaced(&mut self, ws: usize) {
        let h = self.h;
        let Some(t) = h.get(ws..ws + 13) else { return };
        if !self.on(Kind::UkNino) || h.get(ws + 13).is_some_and(|&b| is_alnum(b)) {
            return;
        }
        let shape = t.iter().enumerate().all(|(i, &b)| match i {
            2 | 5 | 8 | 11 => b == b' ',
            _ => is_alnum(b),
        });
        let compact: Vec<u8> = t.iter().copied().filter(|&b| b != b' ').collect();
        if shape && validate::uk_nino(&compact) {
            self.emit(Kind::UkNino, ws, ws + 13, Confidence::Medium);
        }
    }

    /// An IBAN at `ws`, compact or printed in groups of four; its end.
    fn iban(&self, ws: usize) -> Option<usize> {
        let h = self.h;
        let want = validate::iban_length([h[ws], h[ws + 1]])?;
        let mut buf = [0u8; 34];
        let mut len = 0;
        let mut k = ws;
        loop {
            let r = h[k..]
                .iter()
                .take(35)
                .take_while(|b| b.is_ascii_alphanumeric())
                .count();
            if len + r > want {
                return None;
            }
            buf[len..len + r].copy_from_slice(&h[k..k + r]);
            len += r;
            k += r;
            if len == want {
                break;
            }
            if r == 4
                && h.get(k) == Some(&b' ')
                && h.get(k + 1).is_some_and(u8::is_ascii_alphanumeric)
            {
                k += 1;
            } else {
                return None;
            }
        }
        validate::iban(&buf[..len]).then_some(k)
    }

    /// IPv6 at `ws` (8 groups, or 2–7 groups with one `::`); its end.
    fn ipv6(&mut self, ws: usize) -> Option<usize> {
        let h = self.h;
        if !self.on(Kind::IpAddress) || (ws > 0 && matches!(h[ws - 1], b':' | b'.' | b'_' | b'-')) {
            return None;
        }
        let hex_run = |k: usize| {
            h.get(k..).map_or(0, |t| {
                t.iter()
                    .take(5)
                    .take_while(|b| b.is_ascii_hexdigit())
                    .count()
            })
        };
        let mut k = ws;
        let mut groups = 0;
        let mut compressed = false;
        let mut digit = false;
        loop {
            let r = hex_run(k);
            if r == 0 || r > 4 {
                return None;
            }
            digit |= h[k..k + r].iter().any(u8::is_ascii_digit);
            groups += 1;
            k += r;
            if h[k..].starts_with(b"::") {
                if compressed {
                    return None;
                }
                compressed = true;
                k += 2;
                if hex_run(k) == 0 {
                    break;
                }
            } else if h.get(k) == Some(&b':') && hex_run(k + 1) > 0 && groups < 8 {
                k += 1;
            } else {
                break;
            }
        }
        let count_ok = if compressed {
            (2..=7).contains(&groups)
        } else {
            groups == 8
        };
        let tail_ok = h
            .get(k)
            .is_none_or(|&b| !(is_alnum(b) || matches!(b, b'_' | b':' | b'.')));
        (count_ok && tail_ok && digit).then_some(())?;
        self.emit(Kind::IpAddress, ws, k, Confidence::Medium);
        Some(k)
    }

    /// Parses the number starting at `ws` and classifies its runs of
    /// groups; returns where scanning resumes.
    fn number(&mut self, ws: usize) -> usize {
        let h = self.h;
        let mut num = Number::default();
        let mut k = ws;
        let mut overflow = false;
        loop {
            let d = h[k..]
                .iter()
                .take(MAX_GROUP_DIGITS + 1)
                .take_while(|b| b.is_ascii_digit())
                .count();
            if d > MAX_GROUP_DIGITS || num.n == MAX_GROUPS || k + d - ws > MAX_NUMBER {
                overflow = true;
            }
            if !overflow {
                num.groups[num.n] = (k, k + d);
            }
            k += d;
            if overflow {
                // Skip the rest of this run of digits and separators.
                k += h[k..].iter().take_while(|b| b.is_ascii_digit()).count();
                let s = separator(h, k);
                if s == 0 {
                    return k;
                }
                k += s;
                continue;
            }
            let s = separator(h, k);
            if s == 0 {
                num.n += 1;
                break;
            }
            num.seps[num.n] = (k, k + s);
            num.n += 1;
            k += s;
        }
        let end = k;
        let lead = match ws.checked_sub(1).map(|p| h[p]) {
            Some(b'+') => Lead::Plus,
            Some(b'(') => Lead::Paren,
            _ => Lead::None,
        };
        // What precedes the number (or its `+`/`(`) must end a token.
        let before = if lead == Lead::None { ws } else { ws - 1 };
        let start_ok = before == 0
            || !(is_alnum(h[before - 1])
                || matches!(
                    h[before - 1],
                    b'_' | b'-'
                        | b'.'
                        | b'\\'
                        | b'#'
                        | b'$'
                        | b'@'
                        | b'^'
                        | b'~'
                        | b'%'
                        | b'&'
                        | b'+'
                ));
        // Tail: DNI letter, Chinese id `X`, or a clean end.
        let tail = h.get(end).copied().unwrap_or(b' ');
        let after = |i: usize| h.get(end + i).is_none_or(|&b| !(is_alnum(b) || b == b'_'));
        if num.n == 1 && start_ok {
            let (gs, ge) = num.groups[0];
            let len = ge - gs;
            if len == 8 && tail.is_ascii_uppercase() && after(1) {
                self.dni(gs, ge, end + 1, h[end]);
                return end + 1;
            }
            if len == 8
                && tail == b'-'
                && h.get(end + 1).is_some_and(u8::is_ascii_uppercase)
                && after(2)
            {
                self.dni(gs, ge, end + 2, h[end + 1]);
                return end + 2;
            }
            if len == 17 && matches!(tail, b'X' | b'x') && after(1) && self.on(Kind::CnResidentId) {
                let mut id = [0u8; 18];
                id[..17].copy_from_slice(&h[gs..ge]);
                id[17] = b'X';
                if validate::cn_resident_id(&id) {
                    self.emit(Kind::CnResidentId, gs, end + 1, Confidence::High);
                }
                return end + 1;
            }
        }
        let next = h.get(end + 1).copied().unwrap_or(b' ');
        let tail_ok = !(is_alnum(tail) || tail == b'_')
            && !(matches!(tail, b'-' | b'.' | b'/')
                && (next.is_ascii_alphabetic() || (tail == b'-' && next.is_ascii_digit())));
        if !tail_ok {
            return end;
        }
        // Try the longest runs of groups split only at single spaces.
        let single_space = |i: usize| {
            let (a, b) = num.seps[i];
            b - a == 1 && h[a] == b' '
        };
        let mut a = 0;
        while a < num.n {
            if a > 0 && !single_space(a - 1) {
                a += 1;
                continue;
            }
            if a == 0 && !start_ok {
                a += 1;
                continue;
            }
            let lead = if a == 0 { lead } else { Lead::None };
            let mut found = None;
            let mut b = num.n;
            while b > a {
                if (b == num.n || single_space(b - 1))
                    && let Some(r) = self.classify(&num, a, b, lead)
                {
                    found = Some((b, r));
                    break;
                }
                b -= 1;
            }
            if let Some((b, (kind, conf, used))) = found {
                let s = if lead == Lead::Plus || (lead == Lead::Paren && kind == Kind::Phone) {
                    num.groups[a].0 - 1
                } else {
                    num.groups[a].0
                };
                self.emit(kind, s, num.groups[used - 1].1, conf);
                a = b;
            } else {
                a += 1;
            }
        }
        end
    }

    fn dni(&mut self, gs: usize, ge: usize, end: usize, letter: u8) {
        let mut id = [0u8; 9];
        id[..8].copy_from_slice(&self.h[gs..ge]);
        id[8] = letter;
        if validate::es_dni(&id) {
            self.emit(Kind::EsDni, gs, end, Confidence::High);
        }
    }

    /// Classifies groups `a..b` of `num`.
    fn classify(
        &self,
        num: &Number,
        a: usize,
        b: usize,
        lead: Lead,
    ) -> Option<(Kind, Confidence, usize)> {
        let h = self.h;
        let ng = b - a;
        let mut buf = [0u8; MAX_NUMBER];
        let mut len = 0;
        let mut glen = [0usize; MAX_GROUPS];
        for (g, &(s, e)) in num.groups[a..b].iter().enumerate() {
            glen[g] = e - s;
            buf[len..len + e - s].copy_from_slice(&h[s..e]);
            len += e - s;
        }
        let d = &buf[..len];
        let glen = &glen[..ng];
        let seps = &num.seps[a..b - 1];
        let sep_is = |i: usize, t: &[u8]| seps.get(i).is_some_and(|&(s, e)| &h[s..e] == t);
        let uniform = |t: &[u8]| (0..seps.len()).all(|i| sep_is(i, t));
        let start = num.groups[a].0;
        let near = |c: Cue| {
            self.cues
                .near(c, start.saturating_sub(usize::from(lead != Lead::None)))
        };

        if ng == 1 && len < 8 {
            return None;
        }
        if lead == Lead::Plus {
            let ok = (8..=15).contains(&len) && d[0] != b'0' && ng <= 8;
            return (ok && self.on(Kind::Phone)).then_some((Kind::Phone, Confidence::Medium, b));
        }
        // a.b.c.d, or a.b.c.d/nn (CIDR: the address is reported).
        let cidr = ng == 5 && sep_is(3, b"/") && glen[4] <= 3;
        if (ng == 4 || cidr) && (0..3).all(|i| sep_is(i, b".")) {
            let octets: Vec<u32> = num.groups[a..a + 4]
                .iter()
                .map(|&(s, e)| {
                    let o = &h[s..e];
                    if o.len() > 3 || (o.len() > 1 && o[0] == b'0') {
                        999
                    } else {
                        o.iter().fold(0, |n, &c| n * 10 + u32::from(c - b'0'))
                    }
                })
                .collect();
            let ok = octets.iter().all(|&o| o <= 255)
                && (1..=223).contains(&octets[0])
                && !near(Cue::Version)
                && !after_version_operator(h, start);
            return (ok && self.on(Kind::IpAddress)).then_some((
                Kind::IpAddress,
                Confidence::Medium,
                a + 4,
            ));
        }
        if ng == 3 && (uniform(b"-") || uniform(b"/") || uniform(b".")) && is_date(glen, d) {
            return None;
        }
        if ng == 1 && len == 18 && self.on(Kind::CnResidentId) && validate::cn_resident_id(d) {
            return Some((Kind::CnResidentId, Confidence::High, b));
        }
        let card_shape = ng == 1
            || (ng <= 5
                && (uniform(b" ") || uniform(b"-"))
                && glen.iter().all(|l| (3..=6).contains(l)));
        if card_shape && self.on(Kind::CreditCard) && validate::card(d) {
            return Some((Kind::CreditCard, Confidence::High, b));
        }
        if self.on(Kind::UsSsn) && validate::us_ssn(d) {
            let dashed = glen == [3, 2, 4] && uniform(b"-");
            let ctx = near(Cue::Ssn)
                && (ng == 1 || (glen == [3, 2, 4] && (uniform(b" ") || uniform(b"-"))));
            if ctx {
                return Some((Kind::UsSsn, Confidence::High, b));
            }
            if dashed {
                return Some((Kind::UsSsn, Confidence::Medium, b));
            }
        }
        if self.on(Kind::BrCpf) && len == 11 && validate::br_cpf(d) {
            let formatted =
                glen == [3, 3, 3, 2] && sep_is(0, b".") && sep_is(1, b".") && sep_is(2, b"-");
            if formatted || (ng == 1 && near(Cue::Cpf)) {
                return Some((Kind::BrCpf, Confidence::High, b));
            }
        }
        if self.on(Kind::InAadhaar) && len == 12 && validate::in_aadhaar(d) {
            let grouped = glen == [4, 4, 4] && (uniform(b" ") || uniform(b"-"));
            if grouped || (ng == 1 && near(Cue::Aadhaar)) {
                return Some((Kind::InAadhaar, Confidence::High, b));
            }
        }
        if self.on(Kind::FrNir) && len == 15 && validate::fr_nir(d) {
            let grouped = glen == [1, 2, 2, 2, 3, 3, 2] && uniform(b" ");
            if grouped || ((ng == 1 || glen == [13, 2]) && near(Cue::Nir)) {
                return Some((Kind::FrNir, Confidence::High, b));
            }
        }
        if self.on(Kind::NlBsn) && len == 9 && near(Cue::Bsn) && validate::nl_bsn(d) {
            let shape = ng == 1 || glen == [4, 2, 3] || glen == [3, 3, 3];
            if shape {
                return Some((Kind::NlBsn, Confidence::High, b));
            }
        }
        if self.on(Kind::DeSteuerId) && len == 11 && near(Cue::Steuer) && validate::de_steuer_id(d)
        {
            let shape = ng == 1 || (glen == [2, 3, 3, 3] && uniform(b" "));
            if shape {
                return Some((Kind::DeSteuerId, Confidence::High, b));
            }
        }
        if self.on(Kind::Phone) {
            // (NNN) NNN-NNNN, 1 (NNN) NNN-NNNN
            let nanp = |o: usize| {
                let off = glen.iter().take(o).sum::<usize>();
                glen.get(o..) == Some(&[3, 3, 4][..])
                    && (b'2'..=b'9').contains(&d[off])
                    && (b'2'..=b'9').contains(&d[off + 3])
                    && seps.get(o).is_some_and(|&(s, _)| h[s] == b')')
                    && (sep_is(o + 1, b"-") || sep_is(o + 1, b" ") || sep_is(o + 1, b"."))
            };
            let shaped = (lead == Lead::Paren && nanp(0))
                || (lead == Lead::None
                    && d[0] == b'1'
                    && glen[0] == 1
                    && sep_is(0, b" (")
                    && nanp(1));
            if shaped {
                return Some((Kind::Phone, Confidence::Medium, b));
            }
            let ctx_ok = near(Cue::Phone)
                && (7..=15).contains(&len)
                && (if ng == 1 {
                    (10..=12).contains(&len)
                } else {
                    glen[ng - 1] >= 2 && glen[0] <= 5
                });
            if ctx_ok {
                return Some((Kind::Phone, Confidence::Medium, b));
            }
        }
        None
    }
}

/// `==1.2.3.4`, `>= 1.2.3.4`, `pkg@1.2.3.4`: a version requirement.
fn after_version_operator(h: &[u8], start: usize) -> bool {
    let before = &h[..start];
    let trimmed = before.len()
        - before
            .iter()
            .rev()
            .take(2)
            .take_while(|&&b| b == b' ')
            .count();
    let t = &before[..trimmed];
    t.ends_with(b"@")
        || [b"==".as_slice(), b">=", b"<=", b"~=", b"!=", b"^", b"~"]
            .iter()
            .any(|op| t.ends_with(op))
}

/// `YYYY-MM-DD`, `DD/MM/YYYY`, `MM.DD.YY`, …: group lengths and ranges.
fn is_date(glen: &[usize], d: &[u8]) -> bool {
    let v = |s: usize, n: usize| {
        d[s..s + n]
            .iter()
            .fold(0u32, |a, &c| a * 10 + u32::from(c - b'0'))
    };
    let md = |a: u32, b: u32| {
        (1..=12).contains(&a) && (1..=31).contains(&b)
            || (1..=31).contains(&a) && (1..=12).contains(&b)
    };
    match *glen {
        [4, m @ 1..=2, dd @ 1..=2] => md(v(4, m), v(4 + m, dd)),
        [a @ 1..=2, b @ 1..=2, 2 | 4] => md(v(0, a), v(a, b)),
        _ => false,
    }
}
