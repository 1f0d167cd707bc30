//! Helpers the exporters share: digests, timestamps, IRIs, ordering and the
//! model-card fields read from `Artifact::metadata`.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::model::{Artifact, ArtifactKind, Edge, Graph};

use super::ExportOptions;

/// Where the project lives; producers and facet schema URLs point here.
pub(crate) const PROJECT_URL: &str = "https://github.com/mlsecops/mlsecops";

/// The lowercase hex of a well-formed `sha256:<64 hex>` digest.
pub(crate) fn sha256_hex(digest: &str) -> Option<String> {
    let hex = digest.strip_prefix("sha256:")?;
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| hex.to_ascii_lowercase())
}

/// `sha256:` and the first eight hex digits, or the first 15 characters of
/// anything that is not a sha256 digest.
pub(crate) fn short_digest(digest: &str) -> String {
    match sha256_hex(digest) {
        Some(hex) => format!("sha256:{}", &hex[..8]),
        None => digest.chars().take(15).collect(),
    }
}

/// `name@vN`, the human handle of an artifact version.
pub(crate) fn handle(a: &Artifact) -> String {
    format!("{}@v{}", a.name, a.version)
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The first 16 hex digits of SHA-256 over `s`: a short, IRI-safe key.
pub(crate) fn hex16(s: &str) -> String {
    let d = Sha256::digest(s.as_bytes());
    hex(d.get(..8).unwrap_or_default())
}

/// Nodes ordered by (kind, name, version, digest), one per digest.
pub(crate) fn sorted_nodes(graph: &Graph) -> Vec<&Artifact> {
    let mut nodes: Vec<&Artifact> = graph.nodes.iter().collect();
    nodes.sort_by(|a, b| {
        (a.kind, &a.name, a.version, &a.digest).cmp(&(b.kind, &b.name, b.version, &b.digest))
    });
    let mut seen = BTreeSet::new();
    nodes.retain(|n| seen.insert(n.digest.as_str()));
    nodes
}

/// Edges in (parent, child, relation, run) order without duplicates.
pub(crate) fn sorted_edges(graph: &Graph) -> Vec<&Edge> {
    let mut edges: Vec<&Edge> = graph.edges.iter().collect();
    edges.sort();
    edges.dedup();
    edges
}

/// The node with this digest among `nodes`.
pub(crate) fn find<'a>(nodes: &[&'a Artifact], digest: &str) -> Option<&'a Artifact> {
    nodes.iter().copied().find(|n| n.digest == digest)
}

// ---------------------------------------------------------------------------
// Time

/// 9999-12-31T23:59:59Z, the last second RFC 3339 can write with four digits.
const MAX_SECS: i64 = 253_402_300_799;

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` for unix seconds, clamped to 1970..=9999: the one
/// form every target schema accepts (SPDX 3 allows no fraction, no offset).
pub(crate) fn rfc3339_from_secs(secs: i64) -> String {
    let secs = secs.clamp(0, MAX_SECS);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// [`rfc3339_from_secs`] for unix milliseconds (the model's `created_at`).
pub(crate) fn rfc3339_from_millis(ms: i64) -> String {
    rfc3339_from_secs(ms.div_euclid(1000))
}

/// Unix seconds of an RFC 3339 date-time (`T`, `t` or a space between date
/// and time; any fraction is dropped; a leap second counts as :59).
pub(crate) fn parse_rfc3339(s: &str) -> Option<i64> {
    fn num(b: &[u8]) -> Option<i64> {
        if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(b.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
    }
    let b = s.trim().as_bytes();
    let sep = |i: usize, c: &[u8]| b.get(i).is_some_and(|x| c.contains(x));
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt ") && sep(13, b":") && sep(16, b":")) {
        return None;
    }
    let y = num(b.get(0..4)?)?;
    let mo = num(b.get(5..7)?)?;
    let d = num(b.get(8..10)?)?;
    let h = num(b.get(11..13)?)?;
    let mi = num(b.get(14..16)?)?;
    let sec = num(b.get(17..19)?)?;
    let mut rest = b.get(19..)?;
    if let Some(frac) = rest.strip_prefix(b".") {
        let digits = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        rest = frac.get(digits..)?;
    }
    let offset = match rest {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), oh1, oh2, b':', om1, om2] => {
            let oh = num(&[*oh1, *oh2])?;
            let om = num(&[*om1, *om2])?;
            if oh > 23 || om > 59 {
                return None;
            }
            let off = oh * 3600 + om * 60;
            if *sign == b'-' { -off } else { off }
        }
        _ => return None,
    };
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60
    {
        return None;
    }
    let sec = sec.min(59);
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - offset)
}

/// The document's creation time: `opts.timestamp` normalised by
/// [`rfc3339_from_secs`], or, when it does not parse, the newest `created_at`
/// in the graph (so output stays deterministic either way).
pub(crate) fn document_time(opts: &ExportOptions, graph: &Graph) -> String {
    if let Some(secs) = parse_rfc3339(&opts.timestamp) {
        return rfc3339_from_secs(secs);
    }
    let newest = graph
        .nodes
        .iter()
        .map(|n| n.created_at)
        .chain(graph.runs.iter().map(|r| r.created_at))
        .max()
        .unwrap_or(0);
    rfc3339_from_millis(newest)
}

// ---------------------------------------------------------------------------
// URIs

/// Whether `s` is an absolute URI we are willing to hand on as a location:
/// `scheme://…` (scheme of two or more characters, so `C://` is not one) or
/// `urn:…`, with no whitespace, controls or characters URIs never contain.
pub(crate) fn is_absolute_uri(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else {
        return false;
    };
    let scheme_ok = scheme.len() >= 2
        && scheme
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+.-".contains(&b));
    let shape_ok = (rest.starts_with("//") && rest.len() > 2)
        || (scheme.eq_ignore_ascii_case("urn") && !rest.is_empty());
    let chars_ok = !s
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || "<>\"{}|\\^`".contains(c));
    scheme_ok && shape_ok && chars_ok
}

/// Percent-encodes every byte outside `A-Z a-z 0-9 - . _ ~ : @`.
pub(crate) fn pct_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:@".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The producer URI of everything we emit: the project at the tool's tag.
pub(crate) fn producer(opts: &ExportOptions) -> String {
    let v = opts.tool_version.trim();
    if v.is_empty() {
        PROJECT_URL.to_owned()
    } else {
        let tag = if v.starts_with('v') {
            v.to_owned()
        } else {
            format!("v{v}")
        };
        format!("{PROJECT_URL}/tree/{}", pct_encode(&tag))
    }
}

// ---------------------------------------------------------------------------
// Metadata

/// Model-card facts read from `metadata.model_card` (snake_case keys; the
/// top-level `metadata.description` is the fallback description). Unknown
/// keys and values of the wrong type are ignored rather than guessed at.
#[derive(Debug, Default)]
pub(crate) struct ModelCard {
    pub description: Option<String>,
    /// CycloneDX learning approach, only one of the values its schema allows.
    pub approach: Option<&'static str>,
    pub task: Option<String>,
    pub architecture_family: Option<String>,
    pub model_architecture: Option<String>,
    /// `(name, value)`, map order (sorted) or list order.
    pub metrics: Vec<(String, String)>,
    pub hyperparameters: Vec<(String, String)>,
    pub limitations: Vec<String>,
    pub use_cases: Vec<String>,
    pub users: Vec<String>,
    pub domains: Vec<String>,
}

const APPROACHES: [&str; 5] = [
    "supervised",
    "unsupervised",
    "reinforcement-learning",
    "semi-supervised",
    "self-supervised",
];

fn non_empty(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// A string, or the strings of a list.
fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) if !s.trim().is_empty() => vec![s.trim().to_owned()],
        Some(Value::Array(items)) => items.iter().filter_map(|i| non_empty(Some(i))).collect(),
        _ => Vec::new(),
    }
}

/// A scalar as text: strings as they are, numbers and booleans printed.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `{"name": value}` or `[{"name"|"type": …, "value": …}]` as pairs.
fn pairs(v: Option<&Value>) -> Vec<(String, String)> {
    match v {
        Some(Value::Object(map)) => map
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), scalar(v)?)))
            .filter(|(k, _)| !k.is_empty())
            .collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| {
                let key = non_empty(i.get("name")).or_else(|| non_empty(i.get("type")))?;
                Some((key, scalar(i.get("value")?)?))
            })
            .collect(),
        _ => Vec::new(),
    }
}

impl ModelCard {
    pub(crate) fn from_metadata(meta: &Value) -> Self {
        let card = meta.get("model_card").filter(|c| c.is_object());
        let get = |k: &str| card.and_then(|c| c.get(k));
        Self {
            description: non_empty(get("description"))
                .or_else(|| non_empty(meta.get("description"))),
            approach: get("approach")
                .and_then(Value::as_str)
                .and_then(|a| APPROACHES.into_iter().find(|x| *x == a)),
            task: non_empty(get("task")),
            architecture_family: non_empty(get("architecture_family")),
            model_architecture: non_empty(get("model_architecture")),
            metrics: pairs(get("metrics")),
            hyperparameters: pairs(get("hyperparameters")),
            limitations: strings(get("limitations")),
            use_cases: strings(get("use_cases")),
            users: strings(get("users")),
            domains: strings(get("domains")),
        }
    }
}

/// `metadata.description` (datasets, code) or the model card's description.
pub(crate) fn description(a: &Artifact) -> Option<String> {
    if a.kind == ArtifactKind::Model {
        ModelCard::from_metadata(&a.metadata).description
    } else {
        non_empty(a.metadata.get("description"))
    }
}

/// `metadata.license`: an SPDX license expression as the producer declared it.
pub(crate) fn license(a: &Artifact) -> Option<String> {
    non_empty(a.metadata.get("license"))
}

/// Whether `s` has the shape of an SPDX license expression: license ids
/// (`[A-Za-z0-9.-]+` with an optional trailing `+`, or
/// `DocumentRef-…:LicenseRef-…`) joined by `AND`, `OR` and `WITH`, with
/// balanced parentheses. Shape only: ids are not looked up in the list.
pub(crate) fn is_license_expression(s: &str) -> bool {
    let spaced = s.replace('(', " ( ").replace(')', " ) ");
    let mut depth = 0usize;
    let mut want_operand = true;
    for tok in spaced.split_whitespace() {
        match tok {
            "(" if want_operand => depth += 1,
            ")" if !want_operand && depth > 0 => depth -= 1,
            "AND" | "OR" | "WITH" if !want_operand => want_operand = true,
            id if want_operand => {
                let id = id.strip_suffix('+').unwrap_or(id);
                let ok_char = |c: char| c.is_ascii_alphanumeric() || c == '.' || c == '-';
                let ok = match id.split_once(':') {
                    Some((doc, lic)) => {
                        doc.starts_with("DocumentRef-")
                            && lic.starts_with("LicenseRef-")
                            && doc.chars().all(ok_char)
                            && lic.chars().all(ok_char)
                    }
                    None => !id.is_empty() && id.chars().all(ok_char),
                };
                if !ok {
                    return false;
                }
                want_operand = false;
            }
            _ => return false,
        }
    }
    !want_operand && depth == 0
}

/// The registration source when it is an absolute URI (local paths stay
/// private to the registry).
pub(crate) fn source_uri(a: &Artifact) -> Option<&str> {
    a.source.as_deref().filter(|s| is_absolute_uri(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        for (s, secs) in [
            ("1970-01-01T00:00:00Z", 0),
            ("2000-02-29T12:34:56Z", 951_827_696),
            ("2024-12-31T23:59:59Z", 1_735_689_599),
            ("9999-12-31T23:59:59Z", MAX_SECS),
        ] {
            assert_eq!(parse_rfc3339(s), Some(secs), "{s}");
            assert_eq!(rfc3339_from_secs(secs), s);
        }
    }

    #[test]
    fn parse_accepts_rfc3339_variants_and_rejects_the_rest() {
        assert_eq!(
            parse_rfc3339("2024-05-01T10:00:00.123456Z"),
            Some(1_714_557_600)
        );
        assert_eq!(
            parse_rfc3339("2024-05-01t12:00:00+02:00"),
            Some(1_714_557_600)
        );
        assert_eq!(
            parse_rfc3339("2024-05-01 05:30:00-04:30"),
            Some(1_714_557_600)
        );
        assert_eq!(parse_rfc3339("2016-12-31T23:59:60Z"), Some(1_483_228_799));
        for bad in [
            "",
            "2024-05-01",
            "2024-05-01T10:00:00",
            "2024-13-01T10:00:00Z",
            "2023-02-29T10:00:00Z",
            "2024-05-01T24:00:00Z",
            "2024-05-01T10:00:00.Z",
            "2024-05-01T10:00:00+0200",
            "2024-05-01T10:00:00Zjunk",
            "２０２４-05-01T10:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn out_of_range_times_clamp() {
        assert_eq!(rfc3339_from_millis(i64::MIN), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_from_millis(i64::MAX), "9999-12-31T23:59:59Z");
        assert_eq!(
            rfc3339_from_millis(1_714_557_600_999),
            "2024-05-01T10:00:00Z"
        );
    }

    #[test]
    fn digests() {
        let d = format!("sha256:{}", "AB".repeat(32));
        assert_eq!(sha256_hex(&d), Some("ab".repeat(32)));
        assert_eq!(short_digest(&d), "sha256:abababab");
        assert_eq!(sha256_hex("sha256:abc"), None);
        assert_eq!(sha256_hex(&format!("md5:{}", "a".repeat(64))), None);
        assert_eq!(short_digest("weird-digest-that-is-long"), "weird-digest-th");
        assert_eq!(short_digest("é€"), "é€");
    }

    #[test]
    fn uris() {
        for ok in [
            "https://x.org/a",
            "s3://bucket/key",
            "file:///tmp/x",
            "urn:x:y",
        ] {
            assert!(is_absolute_uri(ok), "{ok}");
        }
        for bad in [
            "/tmp/x",
            "C://x",
            "C:\\x",
            "https://",
            "https://a b",
            "data.csv",
            "x:y",
        ] {
            assert!(!is_absolute_uri(bad), "{bad}");
        }
        assert_eq!(pct_encode("a b/c:d\"é"), "a%20b%2Fc:d%22%C3%A9");
    }

    #[test]
    fn license_expressions() {
        for ok in [
            "MIT",
            "Apache-2.0 OR MIT",
            "(MIT AND BSD-3-Clause) OR GPL-2.0+",
            "GPL-2.0-only WITH Classpath-exception-2.0",
            "LicenseRef-acme-1",
            "DocumentRef-x:LicenseRef-y",
        ] {
            assert!(is_license_expression(ok), "{ok}");
        }
        for bad in [
            "",
            "Acme Proprietary License",
            "MIT OR",
            "(MIT",
            "MIT)",
            "mit or apache-2.0",
            "a:b",
            "MIT/X11",
        ] {
            assert!(!is_license_expression(bad), "{bad}");
        }
    }

    #[test]
    fn model_card_is_read_leniently() {
        let meta = serde_json::json!({
            "description": "fallback",
            "model_card": {
                "approach": "not-an-approach",
                "task": "classification",
                "metrics": {"accuracy": 0.9, "f1": "0.8", "bad": {"x": 1}},
                "hyperparameters": [{"name": "lr", "value": 0.001}, {"value": 1}],
                "limitations": "small data",
                "use_cases": ["credit scoring", 3, ""],
            }
        });
        let c = ModelCard::from_metadata(&meta);
        assert_eq!(c.description.as_deref(), Some("fallback"));
        assert_eq!(c.approach, None);
        assert_eq!(c.task.as_deref(), Some("classification"));
        assert_eq!(
            c.metrics,
            vec![
                ("accuracy".into(), "0.9".into()),
                ("f1".into(), "0.8".into())
            ]
        );
        assert_eq!(c.hyperparameters, vec![("lr".into(), "0.001".into())]);
        assert_eq!(c.limitations, vec!["small data".to_owned()]);
        assert_eq!(c.use_cases, vec!["credit scoring".to_owned()]);
        let empty = ModelCard::from_metadata(&serde_json::json!("not an object"));
        assert!(empty.description.is_none() && empty.metrics.is_empty());
    }

    proptest::proptest! {
        #[test]
        fn format_then_parse_is_identity(secs in 0i64..=MAX_SECS) {
            proptest::prop_assert_eq!(parse_rfc3339(&rfc3339_from_secs(secs)), Some(secs));
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,40}") {
            let _ = parse_rfc3339(&s);
            let _ = is_absolute_uri(&s);
            let _ = short_digest(&s);
        }
    }
}
