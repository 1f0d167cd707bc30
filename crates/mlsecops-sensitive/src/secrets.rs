//! Secret detectors. Tokens are found from their prefix (`ghp_`, `AKIA`,
//! `-----BEGIN `) by the Aho-Corasick pass; assignments (`password = …`,
//! `"api_key": …`, `AccountKey=…`, `aws_secret_access_key: …`) and URLs
//! with credentials from each `=` and `:` (found with `memchr`), looking
//! back at the key name. A validator then checks charset, length and
//! structure so decoys are dropped.

use crate::text::{
    boundary_before, contains_ci, has_mixed_classes, is_alnum, is_ident, run, run_max,
};
use crate::validate::shannon_entropy;
use crate::{Confidence, Kind, Match};

/// Token prefixes, matched case-sensitively.
pub(crate) const ANCHORS: &[(&str, Kind)] = &[
    ("AKIA", Kind::AwsAccessKeyId),
    ("ASIA", Kind::AwsAccessKeyId),
    ("ghp_", Kind::GithubToken),
    ("gho_", Kind::GithubToken),
    ("ghu_", Kind::GithubToken),
    ("ghs_", Kind::GithubToken),
    ("ghr_", Kind::GithubToken),
    ("github_pat_", Kind::GithubToken),
    ("glpat-", Kind::GitlabToken),
    ("xoxb-", Kind::SlackToken),
    ("xoxp-", Kind::SlackToken),
    ("xoxa-", Kind::SlackToken),
    ("xoxr-", Kind::SlackToken),
    ("xoxs-", Kind::SlackToken),
    ("https://hooks.slack.com/services/", Kind::SlackWebhook),
    ("sk_live_", Kind::StripeKey),
    ("rk_live_", Kind::StripeKey),
    ("sk-ant-", Kind::AnthropicKey),
    ("sk-", Kind::OpenaiKey),
    ("hf_", Kind::HuggingfaceToken),
    ("AIza", Kind::GoogleApiKey),
    ("npm_", Kind::NpmToken),
    ("-----BEGIN ", Kind::PrivateKey),
    ("eyJ", Kind::Jwt),
];

/// What a key name before `=`/`:` announces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Name {
    /// An AWS secret access key (within 64 bytes).
    Aws,
    /// `AccountKey=` of an Azure connection string (right after `=`).
    AzureAccountKey,
    /// An Azure storage key (within 64 bytes).
    Azure,
    /// The PEM `private_key` of a GCP service-account JSON file.
    Gcp,
    /// Any secret value, judged by its entropy.
    Generic,
}

impl Name {
    const fn kind(self) -> Kind {
        match self {
            Name::Aws => Kind::AwsSecretAccessKey,
            Name::AzureAccountKey | Name::Azure => Kind::AzureStorageKey,
            Name::Gcp => Kind::GcpServiceAccountKey,
            Name::Generic => Kind::GenericSecret,
        }
    }
}

/// Key names in lower case. A name matches when it is the last component
/// of the identifier before the operator, ignoring ASCII case: `password`
/// matches `DB_PASSWORD` and `dbPassword`, `apikey` matches `apiKey`, but
/// `token` does not match `tokenizer` or `max_tokens`.
const NAMES: &[(&[u8], Name)] = &[
    (b"aws_secret_access_key", Name::Aws),
    (b"secret_access_key", Name::Aws),
    (b"secretaccesskey", Name::Aws),
    (b"aws_secret_key", Name::Aws),
    (b"accountkey", Name::AzureAccountKey),
    (b"azure_storage_key", Name::Azure),
    (b"azure_storage_account_key", Name::Azure),
    (b"azure_storage_access_key", Name::Azure),
    (b"private_key", Name::Gcp),
    (b"password", Name::Generic),
    (b"passwd", Name::Generic),
    (b"passphrase", Name::Generic),
    (b"pwd", Name::Generic),
    (b"secret", Name::Generic),
    (b"secret_key", Name::Generic),
    (b"secret-key", Name::Generic),
    (b"secretkey", Name::Generic),
    (b"api_key", Name::Generic),
    (b"api-key", Name::Generic),
    (b"apikey", Name::Generic),
    (b"token", Name::Generic),
];

/// Finds assignments of secrets and URLs with passwords from each `=` and
/// `:` of `h`; pushes matches of enabled kinds to `out`.
pub(crate) fn assignments(
    h: &[u8],
    enabled: impl Fn(Kind) -> bool,
    scratch: &mut Scratch,
    out: &mut Vec<Match>,
) {
    let names = [Name::Aws, Name::Azure, Name::Gcp, Name::Generic]
        .iter()
        .any(|n| enabled(n.kind()));
    let urls = enabled(Kind::DatabaseUrl);
    if !names && !urls {
        return;
    }
    for o in memchr::memchr2_iter(b'=', b':', h) {
        let next = h.get(o + 1).copied().unwrap_or(0);
        let prev = if o > 0 { h[o - 1] } else { 0 };
        let op_len = match (h[o], next) {
            (b':', b'/') => {
                if urls && h.get(o + 2) == Some(&b'/') {
                    out.extend(credential_url(h, o));
                }
                continue;
            }
            (b':', b':') | (b'=', b'=') => continue,
            (b':', b'=') | (b'=', b'>') => 2,
            (b'=', _) if matches!(prev, b'=' | b'!' | b'<' | b'>' | b':' | b'~') => continue,
            (b':', _) if prev == b':' => continue,
            _ => 1,
        };
        if !names {
            continue;
        }
        let Some((name, quoted)) = key_name(h, o) else {
            continue;
        };
        if !enabled(name.kind()) {
            continue;
        }
        let found = match name {
            Name::Aws => aws_secret_near(h, o + op_len),
            Name::AzureAccountKey => (h[o] == b'=' && op_len == 1)
                .then(|| azure_key_at(h, o + 1))
                .flatten(),
            Name::Azure => azure_key_near(h, o + op_len),
            Name::Gcp => (quoted && h[o] == b':')
                .then(|| gcp_private_key(h, o + 1, scratch))
                .flatten(),
            Name::Generic => generic_value(h, o + op_len),
        };
        out.extend(found);
    }
}

/// The key name that ends just before the operator at `o` (skipping
/// blanks and a closing quote), and whether it was quoted.
fn key_name(h: &[u8], o: usize) -> Option<(Name, bool)> {
    let mut k = o;
    let blanks = h[..k]
        .iter()
        .rev()
        .take(4)
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    k -= blanks;
    let quoted = k > 0 && matches!(h[k - 1], b'"' | b'\'');
    if quoted {
        k -= 1;
        if k > 0 && h[k - 1] == b'\\' {
            k -= 1;
        }
    }
    let ie = k;
    // Quick reject on the last letter: every name ends in d, e, n, t or y.
    if ie == 0
        || !matches!(
            h[ie - 1].to_ascii_lowercase(),
            b'd' | b'e' | b'n' | b't' | b'y'
        )
    {
        return None;
    }
    let len = h[..ie]
        .iter()
        .rev()
        .take(65)
        .take_while(|&&b| is_ident(b) || b == b'.')
        .count();
    let is = ie - len;
    NAMES.iter().find_map(|&(name, what)| {
        let p = ie.checked_sub(name.len()).filter(|&p| p >= is)?;
        let boundary = p == is
            || matches!(h[p - 1], b'_' | b'-' | b'.')
            || ((h[p - 1].is_ascii_lowercase() || h[p - 1].is_ascii_digit())
                && h[p].is_ascii_uppercase());
        (boundary && h[p..ie].eq_ignore_ascii_case(name)).then_some((what, quoted))
    })
}

/// Per-call state of the validators, so repeated anchors stay linear.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    /// A search for `-----END` from `.0` found `.1` (the first at or after it).
    pem_end: Option<(usize, Option<usize>)>,
}

impl Scratch {
    /// Position of the first `-----END` at or after `from`.
    fn next_pem_end(&mut self, h: &[u8], from: usize) -> Option<usize> {
        if let Some((f, r)) = self.pem_end
            && f <= from
            && r.is_none_or(|p| p >= from)
        {
            return r;
        }
        let r = h
            .get(from..)
            .and_then(|t| memchr::memmem::find(t, b"-----END"))
            .map(|p| from + p);
        self.pem_end = Some((from, r));
        r
    }
}

/// Validates the token whose prefix `pat` (of `kind`) the automaton found
/// at `s..e`.
pub(crate) fn check(
    kind: Kind,
    pat: &str,
    h: &[u8],
    s: usize,
    e: usize,
    scratch: &mut Scratch,
) -> Option<Match> {
    (h.get(s..e) == Some(pat.as_bytes())
        && (matches!(kind, Kind::SlackWebhook | Kind::PrivateKey) || boundary_before(h, s)))
    .then_some(())?;
    prefixed(kind, pat, h, s, scratch)
}

fn mk(kind: Kind, start: usize, end: usize, confidence: Confidence) -> Match {
    Match {
        kind,
        start,
        end,
        confidence,
    }
}

fn b64url_json(seg: &[u8]) -> bool {
    // Decode a few bytes of base64url and check the JSON object opens.
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        })
    };
    let mut out = Vec::with_capacity(18);
    for chunk in seg.chunks(4).take(6) {
        if chunk.len() < 4 {
            break;
        }
        let mut n = 0u32;
        for &c in chunk {
            let Some(v) = val(c) else { return false };
            n = (n << 6) | v;
        }
        out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
    }
    out.starts_with(b"{\"") && out.iter().all(|b| b.is_ascii() && !b.is_ascii_control())
}

/// Validates a token that starts with a known prefix at `s`.
fn prefixed(kind: Kind, prefix: &str, h: &[u8], s: usize, scratch: &mut Scratch) -> Option<Match> {
    let body = s + prefix.len();
    let hi = |len: usize| Some(mk(kind, s, body + len, Confidence::High));
    match kind {
        Kind::AwsAccessKeyId => {
            let n = run(h, body, |b| b.is_ascii_uppercase() || b.is_ascii_digit());
            (boundary_before(h, s) && n == 16).then_some(())?;
            hi(16)
        }
        Kind::GithubToken => {
            let n = run_max(h, body, 256, |b| is_alnum(b) || b == b'_');
            let ok = if prefix == "github_pat_" {
                (70..=255).contains(&n)
            } else {
                n == 36
            };
            (boundary_before(h, s) && ok && has_mixed_classes(&h[body..body + n])).then_some(())?;
            hi(n)
        }
        Kind::GitlabToken => {
            let n = run_max(h, body, 256, is_ident);
            (boundary_before(h, s)
                && (20..256).contains(&n)
                && has_mixed_classes(&h[body..body + n]))
            .then_some(())?;
            hi(n)
        }
        Kind::SlackToken => {
            let n = run_max(h, body, 256, |b| is_alnum(b) || b == b'-');
            let digits = h[body..body + n]
                .iter()
                .filter(|b| b.is_ascii_digit())
                .count();
            (boundary_before(h, s) && (20..256).contains(&n) && digits >= 8).then_some(())?;
            hi(n)
        }
        Kind::SlackWebhook => {
            let n = run_max(h, body, 256, |b| is_alnum(b) || b == b'/');
            (n >= 40 && h[body..body + n].iter().filter(|&&b| b == b'/').count() >= 2)
                .then_some(())?;
            hi(n)
        }
        Kind::StripeKey => {
            let n = run_max(h, body, 256, is_alnum);
            (boundary_before(h, s)
                && (24..256).contains(&n)
                && has_mixed_classes(&h[body..body + n]))
            .then_some(())?;
            hi(n)
        }
        Kind::AnthropicKey => {
            let n = run_max(h, body, 512, is_ident);
            (boundary_before(h, s) && (80..512).contains(&n)).then_some(())?;
            hi(n)
        }
        Kind::OpenaiKey => {
            let n = run_max(h, body, 512, is_ident);
            let t = &h[body..body + n];
            let proj = [b"proj-".as_slice(), b"svcacct-", b"admin-"]
                .iter()
                .any(|q| t.starts_with(q));
            let classic = n == 48 && t.windows(8).any(|w| w == b"T3BlbkFJ");
            (boundary_before(h, s)
                && ((proj && (40..512).contains(&n)) || classic)
                && has_mixed_classes(t))
            .then_some(())?;
            hi(n)
        }
        Kind::HuggingfaceToken => {
            let n = run_max(h, body, 64, |b| b.is_ascii_alphabetic());
            let t = &h[body..body + n];
            let next_ok = h.get(body + n).is_none_or(|&b| !is_alnum(b) && b != b'_');
            (boundary_before(h, s) && (30..=40).contains(&n) && next_ok && has_mixed_classes(t))
                .then_some(())?;
            hi(n)
        }
        Kind::GoogleApiKey => {
            let n = run_max(h, body, 64, is_ident);
            (boundary_before(h, s) && n == 35).then_some(())?;
            hi(35)
        }
        Kind::NpmToken => {
            let n = run_max(h, body, 64, is_alnum);
            (boundary_before(h, s) && n == 36 && has_mixed_classes(&h[body..body + n]))
                .then_some(())?;
            hi(36)
        }
        Kind::PrivateKey => {
            let end = pem_private_key(h, s, scratch)?;
            Some(mk(kind, s, end, Confidence::High))
        }
        Kind::Jwt => {
            let seg = |from: usize| run_max(h, from, 8192, is_ident);
            let a = seg(s);
            let dot1 = s + a;
            if h.get(dot1) != Some(&b'.') || a < 10 {
                return None;
            }
            let b = seg(dot1 + 1);
            let dot2 = dot1 + 1 + b;
            if h.get(dot2) != Some(&b'.') || b < 10 || !h[dot1 + 1..].starts_with(b"eyJ") {
                return None;
            }
            let c = seg(dot2 + 1);
            (boundary_before(h, s) && c >= 16 && b64url_json(&h[s..dot1])).then_some(())?;
            Some(mk(kind, s, dot2 + 1 + c, Confidence::High))
        }
        _ => None,
    }
}

/// Largest PEM block we look into.
const PEM_MAX: usize = 16 * 1024;

fn is_b64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'='
}

/// End of a PEM private-key block starting at `s` (`-----BEGIN …`), with at
/// least 40 characters of key material. Handles real newlines and the
/// escaped `\n` of JSON strings; without an `-----END` line (a truncated
/// paste) the block ends with its key material.
fn pem_private_key(h: &[u8], s: usize, scratch: &mut Scratch) -> Option<usize> {
    let body = s + "-----BEGIN ".len();
    let label_len = run_max(h, body, 64, |b| {
        b.is_ascii_uppercase() || b.is_ascii_digit() || b == b' '
    });
    let label = &h[body..body + label_len];
    if !label.ends_with(b"PRIVATE KEY") && !label.ends_with(b"PRIVATE KEY BLOCK") {
        return None;
    }
    let header_end = body + label_len;
    if !h[header_end..].starts_with(b"-----") {
        return None;
    }
    let from = header_end + 5;
    let window = &h[from..(from + PEM_MAX).min(h.len())];
    if let Some(p) = scratch
        .next_pem_end(h, from)
        .map(|p| p - from)
        .filter(|&p| p <= PEM_MAX)
    {
        let material = h[from..from + p].iter().filter(|&&b| is_b64(b)).count();
        (material >= 40).then_some(())?;
        let after = from + p + 8;
        let close = h[after..(after + 64).min(h.len())]
            .windows(5)
            .position(|w| w == b"-----")
            .map_or(after, |i| after + i + 5);
        return Some(close);
    }
    // Truncated block: key material lines (real or escaped newlines).
    let mut end = from;
    let mut material = 0;
    let mut i = from;
    while i < from + window.len() {
        let b = h[i];
        if is_b64(b) {
            material += 1;
            end = i + 1;
        } else if !(b == b'\r' || b == b'\n' || b == b'\\' || b == b' ') {
            break;
        }
        i += 1;
    }
    (material >= 40).then_some(end)
}

/// A 40-character AWS secret within 64 bytes after a key name.
fn aws_secret_near(h: &[u8], from: usize) -> Option<Match> {
    let window_end = (from + 64).min(h.len());
    let is_key = |b: u8| is_alnum(b) || b == b'/' || b == b'+';
    let mut i = from;
    while i < window_end {
        if is_key(h[i]) && (i == 0 || !is_key(h[i - 1])) {
            let n = run_max(h, i, 41, is_key);
            let t = &h[i..i + n];
            let up = t.iter().any(u8::is_ascii_uppercase);
            let lo = t.iter().any(u8::is_ascii_lowercase);
            let dg = t.iter().any(u8::is_ascii_digit);
            if n == 40 && up && lo && dg {
                return Some(mk(Kind::AwsSecretAccessKey, i, i + 40, Confidence::Medium));
            }
            i += n.max(1);
        } else {
            i += 1;
        }
    }
    None
}

/// An Azure storage account key at `s`: 88 base64 characters ending `==`
/// (64 random bytes).
fn azure_key_at(h: &[u8], s: usize) -> Option<Match> {
    let n = run_max(h, s, 89, is_b64);
    let t = h.get(s..s + n)?;
    let ok = n == 88 && t.ends_with(b"==") && !t[..86].contains(&b'=') && has_mixed_classes(t);
    ok.then_some(())?;
    Some(mk(Kind::AzureStorageKey, s, s + 88, Confidence::High))
}

/// An account key within 64 bytes after an `AZURE_STORAGE_KEY`-like name.
fn azure_key_near(h: &[u8], from: usize) -> Option<Match> {
    let end = (from + 64).min(h.len());
    (from..end)
        .filter(|&i| is_b64(h[i]) && (i == 0 || !is_b64(h[i - 1])))
        .find_map(|i| azure_key_at(h, i))
        .map(|m| Match {
            confidence: Confidence::Medium,
            ..m
        })
}

/// `"private_key": "-----BEGIN PRIVATE KEY-----\n…"` in a service-account
/// JSON key file; `from` is just after the `:`.
fn gcp_private_key(h: &[u8], from: usize, scratch: &mut Scratch) -> Option<Match> {
    let mut i = from;
    i += run_max(h, i, 8, |b| {
        b == b' ' || b == b'\t' || b == b'\n' || b == b'\r'
    });
    (h.get(i) == Some(&b'"')).then_some(())?;
    let s = i + 1;
    (h[s..].starts_with(b"-----BEGIN ")).then_some(())?;
    let end = pem_private_key(h, s, scratch)?;
    Some(mk(Kind::GcpServiceAccountKey, s, end, Confidence::High))
}

/// Values that are templates, masks or examples, not secrets.
fn is_placeholder(v: &[u8]) -> bool {
    const WORDS: &[&[u8]] = &[
        b"xxxx",
        b"****",
        b"....",
        b"____",
        b"----",
        b"changeme",
        b"change_me",
        b"change-me",
        b"example",
        b"placeholder",
        b"your_",
        b"your-",
        b"yourpass",
        b"dummy",
        b"redacted",
        b"sample",
        b"<",
        b">",
        b"${",
        b"{{",
        b"}}",
        b"%(",
        b"$(",
        b"process.env",
        b"getenv",
        b"environ",
        b"os.env",
        b"secrets.",
        b"vault:",
        b"null",
        b"undefined",
        b"none",
        b"todo",
        b"fixme",
        b"insert",
        b"replace",
        b"enter_",
        b"123456",
        b"abcdef",
        b"qwerty",
    ];
    v.first() == Some(&b'$') && v[1..].iter().all(|&b| b.is_ascii_uppercase() || b == b'_')
        || is_constant_name(v)
        || WORDS.iter().any(|w| contains_ci(v, w))
}

/// `HUGGINGFACE-TOKEN`, `MY_API_KEY`: the name of a constant or variable
/// (capitals, `_`, `-`, no digit), a reference to a secret, not one.
fn is_constant_name(v: &[u8]) -> bool {
    v.iter().any(u8::is_ascii_uppercase)
        && v.iter()
            .all(|&b| b.is_ascii_uppercase() || b == b'_' || b == b'-')
}

/// `a.b.c`, `self.config.password_field`, `get_secret()`: code, not a value.
fn is_code_like(v: &[u8]) -> bool {
    if v.contains(&b'(') {
        return true;
    }
    let dotted = v.split(|&b| b == b'.').collect::<Vec<_>>();
    dotted.len() >= 2
        && dotted.iter().all(|p| {
            p.first()
                .is_some_and(|&b| b.is_ascii_alphabetic() || b == b'_')
                && p.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_')
        })
}

/// Minimum length and entropy of a generic secret value.
const GENERIC_MIN_LEN: usize = 16;
const GENERIC_MAX_LEN: usize = 256;
const GENERIC_MIN_ENTROPY: f64 = 3.0;

/// The value of `password = "…"`, `"api_key": "…"`, `SECRET_KEY=…`,
/// `?token=…`, starting at `i` (after the operator): 16–256 printable
/// characters, quoted or up to a delimiter, that are not a placeholder or
/// code, with at least two character classes and a Shannon entropy of at
/// least 3 bits/byte.
fn generic_value(h: &[u8], mut i: usize) -> Option<Match> {
    i += run_max(h, i, 4, |b| b == b' ' || b == b'\t');
    let (vs, ve) = if h.get(i) == Some(&b'\\') && h.get(i + 1) == Some(&b'"') {
        let vs = i + 2;
        let n = run_max(h, vs, GENERIC_MAX_LEN + 1, |b| {
            b != b'\\' && (0x20..0x7f).contains(&b)
        });
        (h.get(vs + n) == Some(&b'\\')).then_some(())?;
        (vs, vs + n)
    } else if let Some(&q @ (b'"' | b'\'' | b'`')) = h.get(i) {
        let vs = i + 1;
        let n = run_max(h, vs, GENERIC_MAX_LEN + 1, |b| {
            b != q && (0x20..0x7f).contains(&b)
        });
        (h.get(vs + n) == Some(&q)).then_some(())?;
        (vs, vs + n)
    } else {
        let n = run_max(h, i, GENERIC_MAX_LEN + 1, |b| {
            b.is_ascii_graphic() && !b",;)&\"'`]}".contains(&b)
        });
        (i, i + n)
    };
    let v = &h[vs..ve];
    let n = v.len();
    ((GENERIC_MIN_LEN..=GENERIC_MAX_LEN).contains(&n)).then_some(())?;
    let classes = [
        v.iter().any(u8::is_ascii_lowercase),
        v.iter().any(u8::is_ascii_uppercase),
        v.iter().any(u8::is_ascii_digit),
        v.iter().any(|b| !b.is_ascii_alphanumeric()),
    ]
    .iter()
    .filter(|&&c| c)
    .count();
    (classes >= 2 && !is_placeholder(v) && !is_code_like(v)).then_some(())?;
    let entropy = shannon_entropy(v);
    (entropy >= GENERIC_MIN_ENTROPY).then_some(())?;
    let confidence = if entropy >= 3.5 && n >= 20 {
        Confidence::Medium
    } else {
        Confidence::Low
    };
    Some(mk(Kind::GenericSecret, vs, ve, confidence))
}

/// URL schemes of databases and brokers whose URLs carry credentials.
const DB_SCHEMES: &[&[u8]] = &[
    b"postgres",
    b"postgresql",
    b"mysql",
    b"mariadb",
    b"mongodb",
    b"redis",
    b"rediss",
    b"amqp",
    b"amqps",
    b"mssql",
    b"sqlserver",
    b"oracle",
    b"couchdb",
    b"clickhouse",
    b"cockroachdb",
    b"neo4j",
    b"bolt",
    b"cassandra",
    b"memcached",
    b"db2",
    b"snowflake",
    b"elasticsearch",
    b"influxdb",
];

/// Passwords that are documentation stand-ins; reported at low confidence.
const WEAK_PASSWORDS: &[&[u8]] = &[
    b"pass",
    b"password",
    b"passwd",
    b"pwd",
    b"secret",
    b"test",
    b"root",
    b"admin",
    b"postgres",
];

/// `postgres://user:pass@host[:port]`, `mongodb+srv://…`, `jdbc:mysql://…`:
/// a database URL whose user-info has a password. `s` is the `://`.
fn credential_url(h: &[u8], s: usize) -> Option<Match> {
    let scheme_len = h[..s]
        .iter()
        .rev()
        .take(33)
        .take_while(|&&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'.' | b'-'))
        .count();
    let b = s - scheme_len;
    let scheme = &h[b..s];
    let base = scheme.split(|&c| c == b'+').next().unwrap_or_default();
    (scheme_len <= 32
        && (b == 0 || !h[b - 1].is_ascii_alphanumeric())
        && DB_SCHEMES.iter().any(|d| base.eq_ignore_ascii_case(d)))
    .then_some(())?;
    let stop = |c: u8| !c.is_ascii_graphic() || b"/?#\"'<>`@".contains(&c);
    let u = s + 3;
    let user = run_max(h, u, 129, |c| !stop(c) && c != b':');
    (user <= 128 && h.get(u + user) == Some(&b':')).then_some(())?;
    let p = u + user + 1;
    let pass = run_max(h, p, 257, |c| !stop(c));
    ((1..=256).contains(&pass) && h.get(p + pass) == Some(&b'@')).then_some(())?;
    let pw = &h[p..p + pass];
    let templated = pw.iter().all(|&c| c == b'*' || c == b'x' || c == b'X')
        || [b"${".as_slice(), b"{{", b"%s", b"%(", b"$("]
            .iter()
            .any(|t| contains_ci(pw, t))
        || pw.first() == Some(&b'$');
    (!templated).then_some(())?;
    let host = p + pass + 1;
    let host_len = run_max(h, host, 256, |c| {
        c.is_ascii_alphanumeric()
            || matches!(c, b'.' | b'-' | b'_' | b':' | b'[' | b']' | b'%' | b',')
    });
    (1..256).contains(&host_len).then_some(())?;
    let mut end = host + host_len;
    while end > host && matches!(h[end - 1], b'.' | b':' | b',') {
        end -= 1;
    }
    let confidence = if WEAK_PASSWORDS.iter().any(|w| pw.eq_ignore_ascii_case(w)) {
        Confidence::Low
    } else {
        Confidence::High
    };
    Some(mk(Kind::DatabaseUrl, b, end, confidence))
}
