//! Secret and PII detection with validators, and redaction; shared by
//! `scan` (secrets embedded in model files), the data guard (PII and
//! secrets in data-set text columns) and the inference gateway (prompts and
//! model outputs).
//!
//! How it works: a case-sensitive Aho-Corasick pass (two dozen token
//! prefixes such as `ghp_`, `AKIA`, `-----BEGIN `, so it runs with its SIMD
//! prefilter) and a `memchr` pass over `=` and `:` (assignments such as
//! `password = …`, `"api_key": …`, `AccountKey=…`, and `scheme://` URLs)
//! find secret candidates, each checked by a validator (charset, length,
//! structure, entropy). Then, if PII kinds are enabled,
//! one linear pass over the words notes context words (`phone`, `SSN`),
//! classifies numbers and digit-bearing words by shape and checks them with
//! the checksums of [`validate`]; each `@` is checked as an email. Overlapping matches
//! keep the most specific one. Every match length is bounded and every
//! validator does bounded work per anchor, so the scan is linear in the
//! input.
//!
//! ```
//! use mlsecops_sensitive::{Config, Detector, Kind, Style, redact_text};
//!
//! let d = Detector::with_config(Config::all());
//! let (text, found) = redact_text(&d, "mail jane.doe@example.org, card 4111 1111 1111 1111", Style::Partial);
//! assert_eq!(text, "mail [EMAIL:…@example.org], card [CREDIT-CARD:…1111]");
//! assert_eq!(found[1].kind, Kind::CreditCard);
//! assert_eq!(format!("DATA-{}-{}", found[1].kind.category().id(), found[1].kind.rule_id()), "DATA-PII-CREDIT-CARD");
//! ```
#![forbid(unsafe_code)]

mod kind;
mod pii;
mod redact;
mod secrets;
mod text;
pub mod validate;

use std::collections::BTreeMap;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use serde::Serialize;

pub use kind::{Category, Confidence, Kind};
pub use redact::{Style, redact, redact_all, redact_text, replacement};

/// One detected value: its kind, byte span in the input and confidence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Match {
    /// What was found.
    pub kind: Kind,
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset one past the last byte.
    pub end: usize,
    /// How sure the detector is.
    pub confidence: Confidence,
}

impl Match {
    /// PII or secret.
    #[must_use]
    pub const fn category(&self) -> Category {
        self.kind.category()
    }

    /// The byte range of the match.
    #[must_use]
    pub const fn range(&self) -> std::ops::Range<usize> {
        self.start..self.end
    }
}

/// Which kinds a [`Detector`] reports, and from which confidence up.
///
/// ```
/// use mlsecops_sensitive::{Category, Config, Confidence, Kind};
///
/// // The gateway: everything but IP addresses, no low-confidence guesses.
/// let c = Config::all().without(Kind::IpAddress).min_confidence(Confidence::Medium);
/// assert!(c.enables(Kind::Email) && !c.enables(Kind::IpAddress));
/// assert!(Config::secrets().kinds().all(|k| k.category() == Category::Secret));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    kinds: u64,
    min_confidence: Confidence,
}

impl Config {
    /// No kind enabled; add some with [`with`](Config::with).
    #[must_use]
    pub const fn none() -> Self {
        Self {
            kinds: 0,
            min_confidence: Confidence::Low,
        }
    }

    /// Every kind, every confidence.
    #[must_use]
    pub const fn all() -> Self {
        Self::none()
            .with_category(Category::Secret)
            .with_category(Category::Pii)
    }

    /// Every secret kind (what [`Detector::new`] uses).
    #[must_use]
    pub const fn secrets() -> Self {
        Self::none().with_category(Category::Secret)
    }

    /// Every PII kind.
    #[must_use]
    pub const fn pii() -> Self {
        Self::none().with_category(Category::Pii)
    }

    /// Also reports `kind`.
    #[must_use]
    pub const fn with(mut self, kind: Kind) -> Self {
        self.kinds |= kind.bit();
        self
    }

    /// Stops reporting `kind`.
    #[must_use]
    pub const fn without(mut self, kind: Kind) -> Self {
        self.kinds &= !kind.bit();
        self
    }

    /// Also reports every kind of `category`.
    #[must_use]
    pub const fn with_category(mut self, category: Category) -> Self {
        let mut i = 0;
        while i < Kind::ALL.len() {
            let k = Kind::ALL[i];
            if k.category() as u8 == category as u8 {
                self.kinds |= k.bit();
            }
            i += 1;
        }
        self
    }

    /// Stops reporting every kind of `category`.
    #[must_use]
    pub const fn without_category(mut self, category: Category) -> Self {
        let mut i = 0;
        while i < Kind::ALL.len() {
            let k = Kind::ALL[i];
            if k.category() as u8 == category as u8 {
                self.kinds &= !k.bit();
            }
            i += 1;
        }
        self
    }

    /// Drops matches below `confidence`.
    #[must_use]
    pub const fn min_confidence(mut self, confidence: Confidence) -> Self {
        self.min_confidence = confidence;
        self
    }

    /// Whether `kind` is reported.
    #[must_use]
    pub const fn enables(&self, kind: Kind) -> bool {
        self.kinds & kind.bit() != 0
    }

    /// The lowest confidence reported.
    #[must_use]
    pub const fn confidence_floor(&self) -> Confidence {
        self.min_confidence
    }

    /// The enabled kinds.
    pub fn kinds(&self) -> impl Iterator<Item = Kind> + '_ {
        Kind::ALL.into_iter().filter(|&k| self.enables(k))
    }
}

/// The Aho-Corasick automaton of the token prefixes and the kind of each.
struct Anchors {
    ac: AhoCorasick,
    meaning: Vec<(Kind, &'static str)>,
}

impl Anchors {
    /// Case-sensitive and leftmost-longest, so the automaton uses its SIMD
    /// prefilter and `sk-ant-` wins over `sk-`. `None` if no token kind is
    /// enabled (or, impossibly for these fixed words, building fails).
    fn build(config: &Config) -> Option<Self> {
        let (pats, meaning): (Vec<&str>, Vec<(Kind, &'static str)>) = secrets::ANCHORS
            .iter()
            .filter(|(_, k)| config.enables(*k))
            .map(|&(p, k)| (p, (k, p)))
            .unzip();
        if pats.is_empty() {
            return None;
        }
        let ac = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&pats)
            .ok()?;
        Some(Self { ac, meaning })
    }
}

/// Detects secrets and PII in text or bytes. Immutable and cheap to share
/// across threads; build it once.
pub struct Detector {
    config: Config,
    /// Token prefixes.
    anchors: Option<Anchors>,
    /// Whether the PII word pass runs.
    pii: bool,
}

impl std::fmt::Debug for Detector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Detector")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Default for Detector {
    fn default() -> Self {
        Self::new()
    }
}

impl Detector {
    /// A detector of every secret kind, no PII: what `scan` reports as
    /// embedded secrets. Same as `Detector::with_config(Config::secrets())`.
    #[must_use]
    pub fn new() -> Self {
        Self::with_config(Config::secrets())
    }

    /// A detector of the kinds `config` enables.
    #[must_use]
    pub fn with_config(config: Config) -> Self {
        Self {
            anchors: Anchors::build(&config),
            pii: config.kinds().any(|k| k.category() == Category::Pii),
            config,
        }
    }

    /// The configuration this detector was built with.
    #[must_use]
    pub const fn config(&self) -> &Config {
        &self.config
    }

    /// Every enabled kind found in `hay`, in order, non-overlapping (of
    /// overlapping candidates the most specific is kept: secrets before
    /// PII, a token before a generic assignment, longer before shorter).
    /// Spans start and end next to ASCII bytes, so on UTF-8 input they are
    /// character boundaries.
    #[must_use]
    pub fn find(&self, hay: &[u8]) -> Vec<Match> {
        let mut found: Vec<Match> = Vec::new();
        let mut scratch = secrets::Scratch::default();
        if let Some(anchors) = &self.anchors {
            for m in anchors.ac.find_iter(hay) {
                if let Some(&(kind, pat)) = anchors.meaning.get(m.pattern().as_usize())
                    && let Some(f) =
                        secrets::check(kind, pat, hay, m.start(), m.end(), &mut scratch)
                {
                    found.push(f);
                }
            }
        }
        secrets::assignments(hay, |k| self.config.enables(k), &mut scratch, &mut found);
        if self.pii {
            pii::scan(hay, |k| self.config.enables(k), &mut found);
        }
        pair_aws_secrets(hay, &mut found);
        found.retain(|m| {
            self.config.enables(m.kind)
                && m.confidence >= self.config.min_confidence
                && m.start < m.end
                && m.end <= hay.len()
        });
        resolve(found)
    }
}

/// How close (bytes) a generic secret must be to an AWS access key id to be
/// read as that key's secret.
const AWS_PAIR_WINDOW: usize = 256;

/// A generic secret that has the shape of an AWS secret access key (40
/// characters of `[A-Za-z0-9/+]`) next to an AWS access key id is that
/// key's secret: `Using key "AKIA…" with secret_key = "…"`.
fn pair_aws_secrets(hay: &[u8], found: &mut [Match]) {
    let ids: Vec<usize> = found
        .iter()
        .filter(|m| m.kind == Kind::AwsAccessKeyId)
        .map(|m| m.start)
        .collect();
    if ids.is_empty() {
        return;
    }
    for m in found.iter_mut() {
        if m.kind != Kind::GenericSecret || m.end - m.start != 40 {
            continue;
        }
        let shaped = hay.get(m.start..m.end).is_some_and(|v| {
            v.iter()
                .all(|&b| b.is_ascii_alphanumeric() || b == b'/' || b == b'+')
        });
        if shaped && ids.iter().any(|&i| i.abs_diff(m.start) <= AWS_PAIR_WINDOW) {
            m.kind = Kind::AwsSecretAccessKey;
        }
    }
}

/// Keeps the most specific of overlapping matches, then orders by start.
fn resolve(mut found: Vec<Match>) -> Vec<Match> {
    if found.len() <= 1 {
        return found;
    }
    found.sort_by(|a, b| {
        (b.category() == Category::Secret)
            .cmp(&(a.category() == Category::Secret))
            .then(b.kind.specificity().cmp(&a.kind.specificity()))
            .then(b.confidence.cmp(&a.confidence))
            .then((b.end - b.start).cmp(&(a.end - a.start)))
            .then(a.start.cmp(&b.start))
    });
    let mut kept: BTreeMap<usize, Match> = BTreeMap::new();
    for m in found {
        let overlaps = kept
            .range(..m.end)
            .next_back()
            .is_some_and(|(_, k)| k.end > m.start);
        if !overlaps {
            kept.insert(m.start, m);
        }
    }
    kept.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn automaton_builds_for_every_config() {
        assert!(Detector::with_config(Config::all()).anchors.is_some());
        assert!(Detector::with_config(Config::secrets()).anchors.is_some());
        // Assignment kinds need no automaton.
        let generic = Detector::with_config(Config::none().with(Kind::GenericSecret));
        assert!(generic.anchors.is_none());
        assert_eq!(generic.find(b"password = 'Zx8!qP2@wL9#vB4$'").len(), 1);
        assert!(Detector::with_config(Config::pii()).anchors.is_none());
        assert!(
            Detector::with_config(Config::none())
                .find(b"a@b.co")
                .is_empty()
        );
    }

    #[test]
    fn few_enough_patterns_for_the_simd_prefilter() {
        let a = Anchors::build(&Config::all()).unwrap();
        assert!(a.meaning.len() <= 64, "{}", a.meaning.len());
    }

    #[test]
    fn categories_split_the_kinds() {
        assert_eq!(
            Config::secrets().kinds().count() + Config::pii().kinds().count(),
            Kind::ALL.len()
        );
        assert_eq!(Kind::GenericSecret.category(), Category::Secret);
        assert_eq!(Kind::Email.category(), Category::Pii);
        for k in Kind::ALL {
            assert_eq!(Kind::from_slug(k.slug()), Some(k));
        }
    }
}
