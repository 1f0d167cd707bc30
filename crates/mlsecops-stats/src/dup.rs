//! Duplicate detectors: exact duplicates by a 128-bit row hash, near
//! duplicates within a radius in standardized feature space, near-duplicate
//! texts by MinHash + LSH, and duplicate groups whose labels disagree.
//!
//! - **Exact**: rows hash to 128 bits (two independent 64-bit
//!   multiply–xorshift streams over the bit patterns, with `-0.0` read as
//!   `0.0` and every NaN as one NaN); groups from a matrix are confirmed by
//!   comparing the rows, so a collision can never merge different rows.
//! - **Near**: pairs within `radius` from the kNN graph
//!   ([`crate::neighbors`]), grouped by union-find. By default the radius is
//!   `rel_radius` (0.1) × the median distance to the nearest *distinct*
//!   row: in `d` standardized dimensions the chance that an unrelated
//!   neighbour falls within a tenth of the typical spacing shrinks like
//!   `0.1^d`, so only copies with small perturbations (rounding, noise,
//!   re-encoding) qualify.
//! - **Text**: MinHash (Broder 1997, "On the resemblance and containment of
//!   documents") over word or character shingles with 128 hash functions,
//!   and LSH banding (16 bands × 8 rows, Leskovec, Rajaraman & Ullman,
//!   "Mining of Massive Datasets" ch. 3): a pair becomes a candidate with
//!   probability `1 − (1 − J⁸)¹⁶` (0.95 at J = 0.8, 0.07 at J = 0.5), and
//!   every candidate is verified by the exact Jaccard similarity of the
//!   shingle sets.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::Matrix;
use crate::neighbors::{self, Knn};
use crate::outlier::Dsu;

// ---------------------------------------------------------------------------
// Exact

const K1: u64 = 0x9E37_79B9_7F4A_7C15;
const K2: u64 = 0xC2B2_AE3D_27D4_EB4F;

#[inline]
fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    x ^= x >> 33;
    x = x.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    x ^ (x >> 33)
}

/// A 128-bit hash of a stream of 64-bit words (not cryptographic).
fn hash_words(words: impl Iterator<Item = u64>) -> u128 {
    let (mut a, mut b) = (K1, K2);
    let mut len = 0u64;
    for w in words {
        a = mix(a ^ w).wrapping_add(K2);
        b = mix(b.rotate_left(29) ^ w.wrapping_mul(K1)).wrapping_add(K1);
        len += 1;
    }
    (u128::from(mix(a ^ len)) << 64) | u128::from(mix(b ^ len.wrapping_mul(K2)))
}

fn canonical_bits(v: f64) -> u64 {
    if v.is_nan() {
        f64::NAN.to_bits()
    } else if v == 0.0 {
        0
    } else {
        v.to_bits()
    }
}

/// 128-bit hash of one row (`-0.0` = `0.0`, all NaNs equal).
#[must_use]
pub fn row_hash(row: &[f64]) -> u128 {
    hash_words(row.iter().map(|&v| canonical_bits(v)))
}

/// 128-bit hash of a byte key (e.g. a normalized text or a raw record).
#[must_use]
pub fn bytes_hash(bytes: &[u8]) -> u128 {
    let (chunks, rest) = bytes.as_chunks::<8>();
    let mut tail = [0u8; 8];
    tail[..rest.len()].copy_from_slice(rest);
    hash_words(
        chunks
            .iter()
            .map(|c| u64::from_le_bytes(*c))
            .chain(std::iter::once(
                u64::from_le_bytes(tail) ^ (bytes.len() as u64) << 56,
            )),
    )
}

/// Groups of equal keys (size ≥ 2): members ascending, groups ordered by
/// their first member.
#[must_use]
pub fn exact_groups_from_keys(keys: &[u128]) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by_key(|&i| (keys[i], i));
    let mut out = Vec::new();
    for run in order.chunk_by(|&a, &b| keys[a] == keys[b]) {
        if run.len() > 1 {
            out.push(run.to_vec());
        }
    }
    out.sort_unstable_by_key(|g| g[0]);
    out
}

/// Groups of identical rows (size ≥ 2), hashed then confirmed value by
/// value (`-0.0` = `0.0`, NaN = NaN).
#[must_use]
pub fn exact_groups(m: &Matrix) -> Vec<Vec<usize>> {
    let keys: Vec<u128> = (0..m.rows()).map(|i| row_hash(m.row(i))).collect();
    let same = |a: usize, b: usize| {
        m.row(a)
            .iter()
            .zip(m.row(b))
            .all(|(&x, &y)| canonical_bits(x) == canonical_bits(y))
    };
    let mut out = Vec::new();
    for g in exact_groups_from_keys(&keys) {
        // Split a (practically impossible) collision into true groups.
        let mut rest = g;
        while rest.len() > 1 {
            let head = rest[0];
            let (mine, other): (Vec<usize>, Vec<usize>) =
                rest.iter().partition(|&&r| same(head, r));
            if mine.len() > 1 {
                out.push(mine);
            }
            rest = other;
        }
    }
    out.sort_unstable_by_key(|g| g[0]);
    out
}

// ---------------------------------------------------------------------------
// Near

/// Parameters of the near-duplicate search.
#[derive(Clone, Debug, Serialize)]
pub struct NearDupOptions {
    /// Radius as a fraction of the median distance to the nearest distinct
    /// row (used when `radius` is `None`).
    pub rel_radius: f64,
    /// Absolute Euclidean radius, overriding `rel_radius`.
    pub radius: Option<f64>,
    /// Neighbours searched per row.
    pub k: usize,
}

impl Default for NearDupOptions {
    fn default() -> Self {
        Self {
            rel_radius: 0.1,
            radius: None,
            k: 10,
        }
    }
}

/// Near-duplicate groups and the radius that made them.
#[derive(Clone, Debug, Serialize)]
pub struct NearDuplicates {
    /// Euclidean radius used.
    pub radius: f64,
    /// Groups (size ≥ 2), members ascending, ordered by first member;
    /// exact duplicates are included.
    pub groups: Vec<Vec<usize>>,
}

/// Near-duplicate groups of standardized rows (computes a kNN graph).
#[must_use]
pub fn near_duplicates(m: &Matrix, opts: &NearDupOptions) -> NearDuplicates {
    near_duplicates_from_knn(&neighbors::knn(m, opts.k), opts)
}

/// Near-duplicate groups from a kNN graph the caller already has.
#[must_use]
pub fn near_duplicates_from_knn(g: &Knn, opts: &NearDupOptions) -> NearDuplicates {
    let radius = opts.radius.unwrap_or_else(|| {
        let mut first: Vec<f64> = (0..g.n)
            .filter_map(|i| g.distances(i).iter().find(|&&d| d > 0.0))
            .map(|&d| f64::from(d))
            .collect();
        if first.is_empty() {
            0.0
        } else {
            let mid = first.len() / 2;
            let (_, &mut med, _) = first.select_nth_unstable_by(mid, f64::total_cmp);
            opts.rel_radius * med
        }
    });
    let mut dsu = Dsu::new(g.n);
    for (a, b) in neighbors::radius_pairs_from_knn(g, radius) {
        dsu.union(a as usize, b as usize);
    }
    NearDuplicates {
        radius,
        groups: dsu.groups(2),
    }
}

// ---------------------------------------------------------------------------
// Text

/// How texts are cut into shingles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Shingles {
    /// Runs of this many lowercase words.
    Words(usize),
    /// Runs of this many characters (whitespace collapsed, lowercased).
    Chars(usize),
}

/// Parameters of the MinHash search.
#[derive(Clone, Debug, Serialize)]
pub struct MinHashOptions {
    /// Shingling.
    pub shingles: Shingles,
    /// Jaccard similarity from which a pair is reported.
    pub threshold: f64,
    /// Seed of the hash functions.
    pub seed: u64,
}

impl Default for MinHashOptions {
    fn default() -> Self {
        Self {
            shingles: Shingles::Chars(5),
            threshold: 0.8,
            seed: 0x6d69_6e68_6173_6821,
        }
    }
}

/// A verified near-duplicate text pair.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TextPair {
    /// First text.
    pub a: usize,
    /// Second text (`a < b`).
    pub b: usize,
    /// Exact Jaccard similarity of the shingle sets.
    pub jaccard: f64,
}

/// MinHash signature length.
pub const PERMUTATIONS: usize = 128;
const BANDS: usize = 16;
const ROWS_PER_BAND: usize = PERMUTATIONS / BANDS;
/// Buckets larger than this are compared as a chain (each member with the
/// next) instead of all pairs, bounding the work on mass duplicates.
const BUCKET_ALL_PAIRS: usize = 64;

/// Sorted, deduplicated 64-bit hashes of a text's shingles. A text shorter
/// than one shingle is one shingle; an empty text has none.
#[must_use]
pub fn shingle_set(text: &str, kind: Shingles) -> Vec<u64> {
    let lower = text.to_lowercase();
    let mut out: Vec<u64> = match kind {
        Shingles::Words(w) => {
            let words: Vec<&str> = lower.split_whitespace().collect();
            let w = w.max(1);
            if words.is_empty() {
                Vec::new()
            } else if words.len() <= w {
                vec![fnv(words.join(" ").as_bytes())]
            } else {
                words
                    .windows(w)
                    .map(|s| fnv(s.join(" ").as_bytes()))
                    .collect()
            }
        }
        Shingles::Chars(c) => {
            let chars: Vec<char> = lower
                .split_whitespace()
                .flat_map(|w| w.chars().chain([' ']))
                .collect();
            let chars = &chars[..chars.len().saturating_sub(1)];
            let c = c.max(1);
            if chars.is_empty() {
                Vec::new()
            } else if chars.len() <= c {
                vec![fnv(chars.iter().collect::<String>().as_bytes())]
            } else {
                let mut buf = String::new();
                chars
                    .windows(c)
                    .map(|s| {
                        buf.clear();
                        buf.extend(s);
                        fnv(buf.as_bytes())
                    })
                    .collect()
            }
        }
    };
    out.sort_unstable();
    out.dedup();
    out
}

fn fnv(bytes: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    mix(h)
}

/// Exact Jaccard similarity of two sorted sets (1 when both are empty).
#[must_use]
pub fn jaccard(a: &[u64], b: &[u64]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let (mut i, mut j, mut inter) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                inter += 1;
                i += 1;
                j += 1;
            }
        }
    }
    inter as f64 / (a.len() + b.len() - inter) as f64
}

/// MinHash signature of a shingle set (all `u64::MAX` when empty).
#[must_use]
pub fn minhash(set: &[u64], seed: u64) -> [u64; PERMUTATIONS] {
    let mut sig = [u64::MAX; PERMUTATIONS];
    for &s in set {
        for (p, slot) in sig.iter_mut().enumerate() {
            let h = mix(s ^ mix(seed.wrapping_add((p as u64).wrapping_mul(K1))));
            if h < *slot {
                *slot = h;
            }
        }
    }
    sig
}

/// Jaccard estimate from two signatures (share of equal slots).
#[must_use]
pub fn minhash_similarity(a: &[u64; PERMUTATIONS], b: &[u64; PERMUTATIONS]) -> f64 {
    a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / PERMUTATIONS as f64
}

/// Near-duplicate text pairs with exact Jaccard ≥ `threshold`, sorted.
/// Empty texts are never paired.
#[must_use]
pub fn near_duplicate_texts<S: AsRef<str>>(texts: &[S], opts: &MinHashOptions) -> Vec<TextPair> {
    let sets: Vec<Vec<u64>> = texts
        .iter()
        .map(|t| shingle_set(t.as_ref(), opts.shingles))
        .collect();
    let sigs: Vec<[u64; PERMUTATIONS]> = sets.iter().map(|s| minhash(s, opts.seed)).collect();
    let mut cand: HashSet<(u32, u32)> = HashSet::new();
    for band in 0..BANDS {
        let mut buckets: HashMap<u128, Vec<u32>> = HashMap::new();
        for (i, sig) in sigs.iter().enumerate() {
            if sets[i].is_empty() {
                continue;
            }
            let key = hash_words(
                sig[band * ROWS_PER_BAND..(band + 1) * ROWS_PER_BAND]
                    .iter()
                    .copied(),
            );
            buckets.entry(key).or_default().push(i as u32);
        }
        for members in buckets.values() {
            if members.len() <= BUCKET_ALL_PAIRS {
                for (x, &a) in members.iter().enumerate() {
                    for &b in &members[x + 1..] {
                        cand.insert((a, b));
                    }
                }
            } else {
                for w in members.windows(2) {
                    cand.insert((w[0], w[1]));
                }
            }
        }
    }
    let mut out: Vec<TextPair> = cand
        .into_iter()
        .filter_map(|(a, b)| {
            let j = jaccard(&sets[a as usize], &sets[b as usize]);
            (j >= opts.threshold).then_some(TextPair {
                a: a as usize,
                b: b as usize,
                jaccard: j,
            })
        })
        .collect();
    out.sort_by_key(|p| (p.a, p.b));
    out
}

/// Groups (union-find over pairs) of near-duplicate texts.
#[must_use]
pub fn text_groups(n: usize, pairs: &[TextPair]) -> Vec<Vec<usize>> {
    let mut dsu = Dsu::new(n);
    for p in pairs {
        if p.a < n && p.b < n {
            dsu.union(p.a, p.b);
        }
    }
    dsu.groups(2)
}

// ---------------------------------------------------------------------------
// Labels

/// The duplicate groups whose members do not all carry the same label
/// (indices outside `labels` are ignored).
#[must_use]
pub fn conflicting_labels<L: PartialEq>(groups: &[Vec<usize>], labels: &[L]) -> Vec<Vec<usize>> {
    groups
        .iter()
        .filter(|g| {
            let mut it = g.iter().filter_map(|&i| labels.get(i));
            it.next().is_some_and(|first| it.any(|l| l != first))
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Rng;

    #[test]
    fn exact_groups_from_keys_and_matrix() {
        assert_eq!(
            exact_groups_from_keys(&[5, 1, 5, 2, 1, 5]),
            vec![vec![0, 2, 5], vec![1, 4]]
        );
        assert!(exact_groups_from_keys(&[]).is_empty());
        let m = Matrix::from_rows(&[
            vec![1.0, 0.0],
            vec![2.0, f64::NAN],
            vec![1.0, -0.0],
            vec![2.0, f64::NAN],
            vec![1.0, 1e-300],
        ])
        .unwrap();
        assert_eq!(exact_groups(&m), vec![vec![0, 2], vec![1, 3]]);
        assert_ne!(bytes_hash(b"abc"), bytes_hash(b"abc\0"));
        assert_eq!(bytes_hash(b"hello world!"), bytes_hash(b"hello world!"));
    }

    #[test]
    fn near_duplicates_find_perturbed_copies_only() {
        let mut rng = Rng::new(5);
        let (n, d) = (600, 8);
        let mut v: Vec<f64> = (0..n * d).map(|_| rng.normal()).collect();
        // rows 500.. copy rows 0.. with tiny noise; 590..600 copy row 1 exactly
        for i in 0..90 {
            for j in 0..d {
                v[(500 + i) * d + j] = v[i * d + j] + rng.normal() * 1e-3;
            }
        }
        for i in 590..600 {
            for j in 0..d {
                v[i * d + j] = v[d + j];
            }
        }
        let m = Matrix::from_vec(n, d, v).unwrap();
        let nd = near_duplicates(&m, &NearDupOptions::default());
        let mut want: Vec<Vec<usize>> = (0..90).map(|i| vec![i, 500 + i]).collect();
        want[1] = std::iter::once(1).chain(501..502).chain(590..600).collect();
        assert_eq!(nd.groups, want);
        assert!(nd.radius > 0.01 && nd.radius < 1.0, "{}", nd.radius);
    }

    #[test]
    fn minhash_finds_edited_copies_and_not_unrelated_texts() {
        let mut rng = Rng::new(9);
        let vocab: Vec<String> = (0..500).map(|i| format!("w{i}")).collect();
        let mut texts: Vec<String> = (0..200)
            .map(|_| {
                (0..60)
                    .map(|_| vocab[rng.below(500)].as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        // 20 copies with one word changed (char 5-gram Jaccard well above 0.8)
        for i in 0..20 {
            let mut w: Vec<String> = texts[i].split(' ').map(String::from).collect();
            w[30] = "CHANGED".into();
            texts.push(w.join(" "));
        }
        texts.push(String::new());
        texts.push(String::new());
        let pairs = near_duplicate_texts(&texts, &MinHashOptions::default());
        let got: Vec<(usize, usize)> = pairs.iter().map(|p| (p.a, p.b)).collect();
        let want: Vec<(usize, usize)> = (0..20).map(|i| (i, 200 + i)).collect();
        assert_eq!(got, want);
        assert!(pairs.iter().all(|p| p.jaccard >= 0.8 && p.jaccard < 1.0));
        // the estimate tracks the exact value
        let a = shingle_set(&texts[0], Shingles::Chars(5));
        let b = shingle_set(&texts[200], Shingles::Chars(5));
        let est = minhash_similarity(&minhash(&a, 1), &minhash(&b, 1));
        assert!((est - jaccard(&a, &b)).abs() < 0.12);
        let words = near_duplicate_texts(
            &texts,
            &MinHashOptions {
                shingles: Shingles::Words(1),
                ..MinHashOptions::default()
            },
        );
        assert!(words.len() >= 20);
        assert_eq!(text_groups(texts.len(), &pairs).len(), 20);
    }

    #[test]
    fn conflicting_labels_keeps_disagreeing_groups() {
        let groups = vec![vec![0, 1], vec![2, 3, 4], vec![5, 99]];
        let labels = ["a", "a", "b", "b", "c", "x"];
        assert_eq!(conflicting_labels(&groups, &labels), vec![vec![2, 3, 4]]);
        assert!(conflicting_labels::<u8>(&groups, &[]).is_empty());
    }
}
