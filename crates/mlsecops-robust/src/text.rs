//! Text attacks on text classifiers, black-box (scores only), in the
//! spirit of DeepWordBug (Gao et al., 2018) and TextBugger (Li et al.,
//! NDSS 2019): find the words the decision depends on, then change as few
//! of them as possible with edits a human reader does not notice.
//!
//! Edits, each applied to one word:
//! * **homoglyph**: one Latin letter replaced by a Cyrillic or Greek letter
//!   that renders the same (`a` → U+0430);
//! * **invisible**: a zero-width space, zero-width non-joiner, word
//!   joiner or soft hyphen inserted inside the word;
//! * **typo**: two adjacent letters swapped, a letter dropped, doubled, or
//!   replaced by a keyboard neighbour;
//! * **synonym**: the word swapped for a synonym from a shipped list.
//!
//! The threat model is a budget of changed words (a fraction of the text's
//! words, at least one) and of model queries. Search: score every word by
//! how much deleting it lowers the true class's probability (one batched
//! call), then, most important word first, try every edit of that word in
//! one batched call and keep the one that lowers the margin most, until the
//! decision flips or a budget runs out. Deterministic for a seed.
//!
//! The same tables serve the defence: a gateway that folds homoglyphs,
//! strips invisible characters and spell-checks undoes most of these edits.

use mlsecops_stats::Rng;
use serde::Serialize;

use crate::{AttackError, margin};

/// A text classifier: texts in, `classes()` probabilities per text out.
pub trait TextOracle: Sync {
    fn classes(&self) -> usize;
    fn proba(&self, texts: &[String]) -> Result<Vec<f32>, AttackError>;
}

/// Latin letters and look-alikes from other scripts.
pub const HOMOGLYPHS: &[(char, char)] = &[
    ('a', '\u{0430}'),
    ('c', '\u{0441}'),
    ('e', '\u{0435}'),
    ('i', '\u{0456}'),
    ('j', '\u{0458}'),
    ('o', '\u{043E}'),
    ('p', '\u{0440}'),
    ('s', '\u{0455}'),
    ('x', '\u{0445}'),
    ('y', '\u{0443}'),
    ('A', '\u{0410}'),
    ('B', '\u{0412}'),
    ('C', '\u{0421}'),
    ('E', '\u{0415}'),
    ('H', '\u{041D}'),
    ('I', '\u{0406}'),
    ('K', '\u{041A}'),
    ('M', '\u{041C}'),
    ('N', '\u{039D}'),
    ('O', '\u{041E}'),
    ('P', '\u{0420}'),
    ('T', '\u{0422}'),
    ('X', '\u{0425}'),
    ('Y', '\u{04AE}'),
    ('v', '\u{03BD}'),
];

/// Characters that render as nothing.
pub const INVISIBLE: &[char] = &['\u{200B}', '\u{200C}', '\u{2060}', '\u{00AD}'];

/// QWERTY neighbours for typos.
const KEYBOARD: &[&str] = &["qwertyuiop", "asdfghjkl", "zxcvbnm"];

/// The shipped synonym list: one group per line, comma-separated.
pub const SYNONYMS: &str = include_str!("synonyms.txt");

/// Settings of [`attack_text`].
// Each edit family is an independent switch.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TextOptions {
    /// Words that may change, as a fraction of the text's words (≥ 1 word).
    pub max_word_fraction: f32,
    pub max_queries: u64,
    pub homoglyphs: bool,
    pub invisible: bool,
    pub typos: bool,
    pub synonyms: bool,
    pub seed: u64,
}

impl Default for TextOptions {
    fn default() -> Self {
        Self {
            max_word_fraction: 0.2,
            max_queries: 500,
            homoglyphs: true,
            invisible: true,
            typos: true,
            synonyms: true,
            seed: 0,
        }
    }
}

/// Outcome for one text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TextResult {
    pub clean_correct: bool,
    pub success: bool,
    pub adversarial: String,
    /// Words changed.
    pub edits: usize,
    pub queries: u64,
}

fn synonyms_of(word: &str) -> Vec<String> {
    let lower = word.to_lowercase();
    SYNONYMS
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let group: Vec<&str> = l.split(',').map(str::trim).collect();
            group.contains(&lower.as_str()).then_some(group)
        })
        .flatten()
        .filter(|w| *w != lower)
        .map(ToOwned::to_owned)
        .collect()
}

fn neighbour(c: char, rng: &mut Rng) -> Option<char> {
    let lc = c.to_ascii_lowercase();
    for row in KEYBOARD {
        let chars: Vec<char> = row.chars().collect();
        if let Some(i) = chars.iter().position(|&k| k == lc) {
            let opts: Vec<char> = [i.checked_sub(1), Some(i + 1)]
                .into_iter()
                .flatten()
                .filter_map(|j| chars.get(j).copied())
                .collect();
            let n = *opts.get(rng.below(opts.len().max(1)))?;
            return Some(if c.is_ascii_uppercase() {
                n.to_ascii_uppercase()
            } else {
                n
            });
        }
    }
    None
}

/// Candidate replacements for one word.
#[must_use]
pub fn edits_of(word: &str, opts: &TextOptions, rng: &mut Rng) -> Vec<String> {
    let chars: Vec<char> = word.chars().collect();
    let n = chars.len();
    let mut out = Vec::new();
    if n == 0 {
        return out;
    }
    if opts.homoglyphs {
        let spots: Vec<usize> = (0..n)
            .filter(|&i| HOMOGLYPHS.iter().any(|(l, _)| *l == chars[i]))
            .collect();
        if !spots.is_empty() {
            let i = spots[rng.below(spots.len())];
            let mut c = chars.clone();
            if let Some((_, g)) = HOMOGLYPHS.iter().find(|(l, _)| *l == chars[i]) {
                c[i] = *g;
            }
            out.push(c.into_iter().collect());
        }
    }
    if opts.invisible && n >= 2 {
        let mut c = chars.clone();
        c.insert(1 + rng.below(n - 1), INVISIBLE[rng.below(INVISIBLE.len())]);
        out.push(c.into_iter().collect());
    }
    if opts.typos && n >= 3 {
        let i = 1 + rng.below(n - 2);
        let mut swap = chars.clone();
        swap.swap(i, i + 1);
        out.push(swap.into_iter().collect());
        let mut drop = chars.clone();
        drop.remove(i);
        out.push(drop.into_iter().collect());
        if let Some(k) = neighbour(chars[i], rng) {
            let mut sub = chars.clone();
            sub[i] = k;
            out.push(sub.into_iter().collect());
        }
        let mut dup = chars.clone();
        dup.insert(i, chars[i]);
        out.push(dup.into_iter().collect());
    }
    if opts.synonyms {
        out.extend(synonyms_of(word));
    }
    out.retain(|w| w != word);
    out.dedup();
    out
}

/// Byte spans of the words (runs of alphanumerics) of `text`.
fn word_spans(text: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                spans.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        spans.push((s, text.len()));
    }
    spans
}

fn replace_word(words: &[String], seps: &[String], i: usize, with: &str) -> String {
    let mut out = String::new();
    for (j, w) in words.iter().enumerate() {
        out.push_str(&seps[j]);
        out.push_str(if j == i { with } else { w });
    }
    out.push_str(&seps[words.len()]);
    out
}

/// Attacks every text (untargeted).
pub fn attack_text(
    oracle: &dyn TextOracle,
    texts: &[String],
    labels: &[usize],
    opts: &TextOptions,
) -> Result<Vec<TextResult>, AttackError> {
    if texts.len() != labels.len() {
        return Err(AttackError::Input(format!(
            "{} texts for {} labels",
            texts.len(),
            labels.len()
        )));
    }
    let k = oracle.classes();
    if let Some(&bad) = labels.iter().find(|&&l| l >= k) {
        return Err(AttackError::Input(format!(
            "label {bad} is out of range for {k} classes"
        )));
    }
    let results = crate::par_map(texts.len(), |t| {
        let seed = opts.seed ^ (t as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        attack_one(oracle, &texts[t], labels[t], k, opts, seed)
    });
    results.into_iter().collect()
}

fn attack_one(
    oracle: &dyn TextOracle,
    text: &str,
    y: usize,
    k: usize,
    opts: &TextOptions,
    seed: u64,
) -> Result<TextResult, AttackError> {
    let mut rng = Rng::new(seed);
    let spans = word_spans(text);
    let mut words: Vec<String> = spans.iter().map(|&(a, b)| text[a..b].to_owned()).collect();
    let mut seps = Vec::with_capacity(spans.len() + 1);
    let mut at = 0;
    for &(a, b) in &spans {
        seps.push(text[at..a].to_owned());
        at = b;
    }
    seps.push(text[at..].to_owned());
    let p0 = oracle.proba(&[text.to_owned()])?;
    let mut queries = 1u64;
    let clean_correct = mlsecops_model::argmax(&p0) == y;
    let mut loss = margin(&p0, y);
    let done = |adv: String, success: bool, edits: usize, queries: u64| TextResult {
        clean_correct,
        success,
        adversarial: adv,
        edits,
        queries,
    };
    if !clean_correct || words.is_empty() {
        return Ok(done(text.to_owned(), false, 0, queries));
    }
    let max_edits = ((words.len() as f32 * opts.max_word_fraction).floor() as usize).max(1);
    // 1. Importance of each word: the margin without it.
    if queries + words.len() as u64 > opts.max_queries {
        return Ok(done(text.to_owned(), false, 0, queries));
    }
    let deleted: Vec<String> = (0..words.len())
        .map(|i| replace_word(&words, &seps, i, ""))
        .collect();
    let pd = oracle.proba(&deleted)?;
    queries += words.len() as u64;
    let mut order: Vec<(usize, f32)> = (0..words.len())
        .map(|i| (i, margin(&pd[i * k..(i + 1) * k], y)))
        .collect();
    order.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    // 2. Most important word first: its best edit, if it helps.
    let mut edits = 0;
    for (i, _) in order {
        if edits >= max_edits || loss < 0.0 {
            break;
        }
        let cands = edits_of(&words[i], opts, &mut rng);
        if cands.is_empty() {
            continue;
        }
        let room = opts.max_queries.saturating_sub(queries) as usize;
        if room == 0 {
            break;
        }
        let cands: Vec<String> = cands.into_iter().take(room).collect();
        let batch: Vec<String> = cands
            .iter()
            .map(|c| replace_word(&words, &seps, i, c))
            .collect();
        let p = oracle.proba(&batch)?;
        queries += batch.len() as u64;
        let (best, l) = (0..cands.len())
            .map(|j| (j, margin(&p[j * k..(j + 1) * k], y)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap_or((0, f32::INFINITY));
        if l < loss {
            loss = l;
            words[i].clone_from(&cands[best]);
            edits += 1;
        }
    }
    let adv = replace_word(&words, &seps, usize::MAX, "");
    Ok(done(adv, loss < 0.0, edits, queries))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bag-of-words "toxicity" filter: class 1 when a listed word occurs.
    struct Filter;
    impl TextOracle for Filter {
        fn classes(&self) -> usize {
            2
        }
        fn proba(&self, texts: &[String]) -> Result<Vec<f32>, AttackError> {
            Ok(texts
                .iter()
                .flat_map(|t| {
                    let hits = t
                        .split(|c: char| !c.is_alphanumeric())
                        .filter(|w| {
                            ["idiot", "stupid", "hate"].contains(&w.to_lowercase().as_str())
                        })
                        .count() as f32;
                    let p1 = 1.0 / (1.0 + (-(3.0 * hits - 1.5)).exp());
                    [1.0 - p1, p1]
                })
                .collect())
        }
    }

    #[test]
    fn flips_a_keyword_filter_with_few_invisible_edits() {
        let texts = vec![
            "you are an idiot and I hate you".to_owned(),
            "what a stupid idea".to_owned(),
            "have a nice day".to_owned(),
        ];
        let labels = [1usize, 1, 0];
        // Two of the first text's eight words carry the decision.
        let opts = TextOptions {
            synonyms: false,
            max_word_fraction: 0.25,
            ..TextOptions::default()
        };
        let r = attack_text(&Filter, &texts, &labels, &opts).unwrap();
        assert!(r[0].success && r[1].success, "{r:?}");
        // Nothing in the benign text is a keyword: it cannot be flipped.
        assert!(!r[2].success);
        for (res, t) in r.iter().zip(&texts) {
            assert!(res.edits <= ((t.split(' ').count() as f32 * 0.25) as usize).max(1));
            assert!(res.queries <= opts.max_queries);
        }
        // The adversarial text reads the same once invisible characters and
        // homoglyphs are folded: the defence the gateway applies.
        let fold = |s: &str| -> String {
            s.chars()
                .filter(|c| !INVISIBLE.contains(c))
                .map(|c| {
                    HOMOGLYPHS
                        .iter()
                        .find(|(_, g)| *g == c)
                        .map_or(c, |(l, _)| *l)
                })
                .collect()
        };
        let typo_free = TextOptions {
            typos: false,
            ..opts
        };
        let r = attack_text(&Filter, &texts, &labels, &typo_free).unwrap();
        for (res, t) in r.iter().zip(&texts) {
            assert_eq!(&fold(&res.adversarial), t);
        }
        assert_eq!(
            r,
            attack_text(&Filter, &texts, &labels, &typo_free).unwrap()
        );
    }

    #[test]
    fn synonyms_come_from_the_shipped_list() {
        let s = synonyms_of("Good");
        assert!(s.contains(&"great".to_owned()), "{s:?}");
        assert!(!s.contains(&"good".to_owned()));
        let mut rng = Rng::new(1);
        let e = edits_of("terrible", &TextOptions::default(), &mut rng);
        assert!(
            e.iter()
                .any(|w| w.contains('\u{0435}') || w.contains('\u{0430}')),
            "{e:?}"
        );
        assert!(e.iter().all(|w| w != "terrible"));
    }
}
