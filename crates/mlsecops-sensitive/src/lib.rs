//! Secret detectors: an Aho-Corasick prefilter over known token prefixes and
//! context words, then a validator per kind (charset, length, structure), so
//! look-alike decoys are not reported. Shared by `scan`, data checks and the
//! gateway; redaction never reveals more than a short prefix.
#![forbid(unsafe_code)]

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use serde::Serialize;

/// What kind of secret a match is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    AwsAccessKeyId,
    AwsSecretAccessKey,
    GithubToken,
    GitlabToken,
    SlackToken,
    SlackWebhook,
    StripeKey,
    OpenaiKey,
    AnthropicKey,
    HuggingfaceToken,
    GoogleApiKey,
    NpmToken,
    PrivateKey,
    Jwt,
}

impl Kind {
    /// Human name.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Kind::AwsAccessKeyId => "AWS access key id",
            Kind::AwsSecretAccessKey => "AWS secret access key",
            Kind::GithubToken => "GitHub token",
            Kind::GitlabToken => "GitLab token",
            Kind::SlackToken => "Slack token",
            Kind::SlackWebhook => "Slack webhook URL",
            Kind::StripeKey => "Stripe secret key",
            Kind::OpenaiKey => "OpenAI API key",
            Kind::AnthropicKey => "Anthropic API key",
            Kind::HuggingfaceToken => "Hugging Face token",
            Kind::GoogleApiKey => "Google API key",
            Kind::NpmToken => "npm token",
            Kind::PrivateKey => "private key",
            Kind::Jwt => "JSON Web Token",
        }
    }
}

/// One detected secret: its kind and byte span in the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Match {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
}

#[derive(Clone, Copy)]
enum Pat {
    Prefix(Kind, &'static str),
    AwsSecretContext,
}

const PATTERNS: &[Pat] = &[
    Pat::Prefix(Kind::AwsAccessKeyId, "AKIA"),
    Pat::Prefix(Kind::AwsAccessKeyId, "ASIA"),
    Pat::Prefix(Kind::GithubToken, "ghp_"),
    Pat::Prefix(Kind::GithubToken, "gho_"),
    Pat::Prefix(Kind::GithubToken, "ghu_"),
    Pat::Prefix(Kind::GithubToken, "ghs_"),
    Pat::Prefix(Kind::GithubToken, "ghr_"),
    Pat::Prefix(Kind::GithubToken, "github_pat_"),
    Pat::Prefix(Kind::GitlabToken, "glpat-"),
    Pat::Prefix(Kind::SlackToken, "xoxb-"),
    Pat::Prefix(Kind::SlackToken, "xoxp-"),
    Pat::Prefix(Kind::SlackToken, "xoxa-"),
    Pat::Prefix(Kind::SlackToken, "xoxr-"),
    Pat::Prefix(Kind::SlackToken, "xoxs-"),
    Pat::Prefix(Kind::SlackWebhook, "https://hooks.slack.com/services/"),
    Pat::Prefix(Kind::StripeKey, "sk_live_"),
    Pat::Prefix(Kind::StripeKey, "rk_live_"),
    Pat::Prefix(Kind::AnthropicKey, "sk-ant-"),
    Pat::Prefix(Kind::OpenaiKey, "sk-"),
    Pat::Prefix(Kind::HuggingfaceToken, "hf_"),
    Pat::Prefix(Kind::GoogleApiKey, "AIza"),
    Pat::Prefix(Kind::NpmToken, "npm_"),
    Pat::Prefix(Kind::PrivateKey, "-----BEGIN "),
    Pat::Prefix(Kind::Jwt, "eyJ"),
    Pat::AwsSecretContext,
];

const AWS_CONTEXT: &[&str] = &[
    "aws_secret_access_key",
    "AWS_SECRET_ACCESS_KEY",
    "secret_access_key",
    "SecretAccessKey",
    "aws_secret_key",
];

/// Detects secrets in text or bytes.
pub struct Detector {
    ac: AhoCorasick,
    /// For each pattern id: which entry of `PATTERNS` it belongs to.
    owner: Vec<usize>,
}

impl std::fmt::Debug for Detector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Detector")
    }
}

impl Default for Detector {
    fn default() -> Self {
        Self::new()
    }
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

/// Length of the run starting at `s` whose bytes satisfy `ok`.
fn run(h: &[u8], s: usize, ok: impl Fn(u8) -> bool) -> usize {
    h[s.min(h.len())..].iter().take_while(|&&b| ok(b)).count()
}

fn has_mixed_classes(t: &[u8]) -> bool {
    let up = t.iter().any(u8::is_ascii_uppercase);
    let lo = t.iter().any(u8::is_ascii_lowercase);
    let dg = t.iter().any(u8::is_ascii_digit);
    u8::from(up) + u8::from(lo) + u8::from(dg) >= 2
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
    let mut out = Vec::new();
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

impl Detector {
    #[must_use]
    pub fn new() -> Self {
        let mut pats: Vec<&str> = Vec::new();
        let mut owner = Vec::new();
        for (i, p) in PATTERNS.iter().enumerate() {
            match p {
                Pat::Prefix(_, s) => {
                    pats.push(s);
                    owner.push(i);
                }
                Pat::AwsSecretContext => {
                    for c in AWS_CONTEXT {
                        pats.push(c);
                        owner.push(i);
                    }
                }
            }
        }
        let ac = AhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .build(&pats)
            .expect("a few fixed ASCII patterns always build");
        Self { ac, owner }
    }

    /// Every secret found in `hay`, in order, non-overlapping.
    #[must_use]
    pub fn find(&self, hay: &[u8]) -> Vec<Match> {
        let mut out: Vec<Match> = Vec::new();
        for m in self.ac.find_overlapping_iter(hay) {
            let Some(&i) = self.owner.get(m.pattern().as_usize()) else {
                continue;
            };
            let found = match PATTERNS[i] {
                Pat::Prefix(kind, p) => validate(kind, p, hay, m.start()),
                Pat::AwsSecretContext => aws_secret_near(hay, m.end()),
            };
            if let Some(f) = found
                && !out.iter().any(|o| o.start < f.end && f.start < o.end)
            {
                out.push(f);
            }
        }
        out.sort_by_key(|m| m.start);
        out
    }
}

fn boundary_before(h: &[u8], s: usize) -> bool {
    s == 0 || !(is_alnum(h[s - 1]) || h[s - 1] == b'_' || h[s - 1] == b'-')
}

fn validate(kind: Kind, prefix: &str, h: &[u8], s: usize) -> Option<Match> {
    let p = prefix.len();
    let body = s + p;
    let mk = |len: usize| {
        Some(Match {
            kind,
            start: s,
            end: body + len,
        })
    };
    match kind {
        Kind::AwsAccessKeyId => {
            let n = run(h, body, |b| {
                b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b) || b.is_ascii_digit()
            });
            (boundary_before(h, s) && n == 16).then_some(())?;
            mk(16)
        }
        Kind::GithubToken => {
            let n = run(h, body, |b| is_alnum(b) || b == b'_');
            let ok = if prefix == "github_pat_" {
                n >= 70
            } else {
                n == 36
            };
            (boundary_before(h, s) && ok && has_mixed_classes(&h[body..body + n])).then_some(())?;
            mk(n)
        }
        Kind::GitlabToken => {
            let n = run(h, body, |b| is_alnum(b) || b == b'_' || b == b'-');
            (boundary_before(h, s) && n >= 20 && has_mixed_classes(&h[body..body + n]))
                .then_some(())?;
            mk(n)
        }
        Kind::SlackToken => {
            let n = run(h, body, |b| is_alnum(b) || b == b'-');
            let digits = h[body..body + n]
                .iter()
                .filter(|b| b.is_ascii_digit())
                .count();
            (boundary_before(h, s) && n >= 20 && digits >= 8).then_some(())?;
            mk(n)
        }
        Kind::SlackWebhook => {
            let n = run(h, body, |b| is_alnum(b) || b == b'/');
            (n >= 40 && h[body..body + n].iter().filter(|&&b| b == b'/').count() >= 2)
                .then_some(())?;
            mk(n)
        }
        Kind::StripeKey => {
            let n = run(h, body, is_alnum);
            (boundary_before(h, s) && n >= 24 && has_mixed_classes(&h[body..body + n]))
                .then_some(())?;
            mk(n)
        }
        Kind::AnthropicKey => {
            let n = run(h, body, |b| is_alnum(b) || b == b'-' || b == b'_');
            (boundary_before(h, s) && n >= 80).then_some(())?;
            mk(n)
        }
        Kind::OpenaiKey => {
            let n = run(h, body, |b| is_alnum(b) || b == b'-' || b == b'_');
            let t = &h[body..body + n];
            let proj = [b"proj-".as_slice(), b"svcacct-", b"admin-"]
                .iter()
                .any(|q| t.starts_with(q));
            let classic = n == 48 && t.windows(8).any(|w| w == b"T3BlbkFJ");
            (boundary_before(h, s) && ((proj && n >= 40) || classic) && has_mixed_classes(t))
                .then_some(())?;
            mk(n)
        }
        Kind::HuggingfaceToken => {
            let n = run(h, body, |b| b.is_ascii_alphabetic());
            let t = &h[body..body + n];
            let next_ok = h.get(body + n).is_none_or(|&b| !is_alnum(b) && b != b'_');
            (boundary_before(h, s) && (30..=40).contains(&n) && next_ok && has_mixed_classes(t))
                .then_some(())?;
            mk(n)
        }
        Kind::GoogleApiKey => {
            let n = run(h, body, |b| is_alnum(b) || b == b'_' || b == b'-');
            (boundary_before(h, s) && n == 35).then_some(())?;
            mk(35)
        }
        Kind::NpmToken => {
            let n = run(h, body, is_alnum);
            (boundary_before(h, s) && n == 36 && has_mixed_classes(&h[body..body + n]))
                .then_some(())?;
            mk(36)
        }
        Kind::PrivateKey => {
            let line_end = h[body..]
                .iter()
                .take(64)
                .position(|&b| b == b'-')
                .map(|i| body + i)?;
            let label = &h[body..line_end];
            if !label.ends_with(b"PRIVATE KEY") && !label.ends_with(b"PRIVATE KEY BLOCK") {
                return None;
            }
            let end = h[line_end..]
                .windows(5)
                .take(16 * 1024)
                .position(|w| w == b"-----END")
                .map_or(line_end + 5, |i| line_end + i + 8);
            // Require key material after the header: at least 40 base64 characters.
            let mat = h[line_end..end.min(h.len())]
                .iter()
                .filter(|b| b.is_ascii_alphanumeric() || **b == b'+' || **b == b'/')
                .count();
            (mat >= 40).then_some(())?;
            Some(Match {
                kind,
                start: s,
                end: end.min(h.len()),
            })
        }
        Kind::Jwt => {
            let seg = |from: usize| run(h, from, |b| is_alnum(b) || b == b'-' || b == b'_');
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
            Some(Match {
                kind,
                start: s,
                end: dot2 + 1 + c,
            })
        }
        Kind::AwsSecretAccessKey => None,
    }
}

/// A 40-character AWS secret within 64 bytes after a context word.
fn aws_secret_near(h: &[u8], from: usize) -> Option<Match> {
    let window_end = (from + 64).min(h.len());
    let mut i = from;
    while i < window_end {
        let is_key = |b: u8| is_alnum(b) || b == b'/' || b == b'+';
        if is_key(h[i]) && (i == 0 || !is_key(h[i - 1])) {
            let n = run(h, i, is_key);
            let t = &h[i..i + n];
            let up = t.iter().any(u8::is_ascii_uppercase);
            let lo = t.iter().any(u8::is_ascii_lowercase);
            let dg = t.iter().any(u8::is_ascii_digit);
            if n == 40 && up && lo && dg {
                return Some(Match {
                    kind: Kind::AwsSecretAccessKey,
                    start: i,
                    end: i + 40,
                });
            }
            i += n.max(1);
        } else {
            i += 1;
        }
    }
    None
}

/// Redacts a secret for display: a short prefix, then `…` and the length.
#[must_use]
pub fn redact(secret: &[u8]) -> String {
    let keep = secret.len().min(if secret.len() > 12 { 6 } else { 2 });
    format!(
        "{}…[{} chars redacted]",
        String::from_utf8_lossy(&secret[..keep]),
        secret.len() - keep
    )
}

/// Replaces every detected secret in `text` with `[REDACTED:<kind>]`.
#[must_use]
pub fn redact_all(detector: &Detector, text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for m in detector.find(text.as_bytes()) {
        if !text.is_char_boundary(m.start) || !text.is_char_boundary(m.end) {
            continue;
        }
        out.push_str(&text[last..m.start]);
        out.push_str(&format!("[REDACTED:{}]", serde_kind(m.kind)));
        last = m.end;
    }
    out.push_str(&text[last..]);
    out
}

fn serde_kind(k: Kind) -> &'static str {
    match k {
        Kind::AwsAccessKeyId => "aws-access-key-id",
        Kind::AwsSecretAccessKey => "aws-secret-access-key",
        Kind::GithubToken => "github-token",
        Kind::GitlabToken => "gitlab-token",
        Kind::SlackToken => "slack-token",
        Kind::SlackWebhook => "slack-webhook",
        Kind::StripeKey => "stripe-key",
        Kind::OpenaiKey => "openai-key",
        Kind::AnthropicKey => "anthropic-key",
        Kind::HuggingfaceToken => "huggingface-token",
        Kind::GoogleApiKey => "google-api-key",
        Kind::NpmToken => "npm-token",
        Kind::PrivateKey => "private-key",
        Kind::Jwt => "jwt",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn kinds(s: &str) -> Vec<Kind> {
        Detector::new()
            .find(s.as_bytes())
            .into_iter()
            .map(|m| m.kind)
            .collect()
    }

    #[test]
    fn finds_planted_secrets() {
        let cases: &[(&str, Kind)] = &[
            ("key=AKIAIOSFODNN7EXAMPL2 ", Kind::AwsAccessKeyId),
            (
                "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                Kind::AwsSecretAccessKey,
            ),
            (
                "token: ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5",
                Kind::GithubToken,
            ),
            (
                "hf_AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh",
                Kind::HuggingfaceToken,
            ),
            (
                "xoxb-12345678901-12345678901-AbCdEfGhIjKlMnOpQrStUvWx",
                Kind::SlackToken,
            ),
            ("sk_live_4eC39HqLyjWDarjtT1zdp7dc9", Kind::StripeKey),
            (
                "AIzaSyA-1234567890abcdefghijklmnopqrstu",
                Kind::GoogleApiKey,
            ),
            (
                "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
                Kind::Jwt,
            ),
        ];
        for (s, k) in cases {
            assert_eq!(kinds(s), vec![*k], "{s}");
        }
    }

    #[test]
    fn ignores_decoys() {
        for s in [
            "AKIA_NOT_A_KEY",
            "AKIAIOSFODNN7EXAMPL",   // 15 chars
            "XAKIAIOSFODNN7EXAMPLE", // no boundary
            "ghp_short",
            "hf_hub_download",
            "sk-this-is-not-a-key",
            "eyJust.some.text",
            "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----",
            "aws_secret_access_key = changeme",
        ] {
            assert!(kinds(s).is_empty(), "{s}");
        }
    }

    #[test]
    fn redaction_hides_the_secret() {
        let d = Detector::new();
        let r = redact_all(&d, "use ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5 now");
        assert_eq!(r, "use [REDACTED:github-token] now");
        assert!(!redact(b"ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5").contains("kL1m"));
    }

    proptest! {
        #[test]
        fn never_panics(s in proptest::collection::vec(any::<u8>(), 0..512)) {
            let d = Detector::new();
            for m in d.find(&s) {
                prop_assert!(m.start < m.end && m.end <= s.len());
            }
        }
    }
}
