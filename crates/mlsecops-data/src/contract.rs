//! Data contracts: [`profile`] infers one from a trusted dataset (types,
//! nullability, ranges, categories, string formats, key columns, label set
//! and priors, sketch summaries), [`Contract::to_toml`] writes it as
//! editable TOML, and [`check_contract`] enforces it on every row.
//!
//! Checking reads CSV and JSON Lines with every scalar column as text and
//! parses each cell itself, so a wrong type is a finding on that row rather
//! than a read error; Parquet is read by its Arrow types. Each batch's
//! columns are checked on all cores; the per-cell loops do not allocate.
//!
//! Severities: `DATA-SCHEMA-MISSING-COLUMN` and `DATA-SCHEMA-DUPLICATE-KEY`
//! are HIGH (a missing feature or a duplicated key breaks joins and
//! training); `DATA-SCHEMA-EXTRA-COLUMN` is LOW; every other row-level rule
//! is MEDIUM. At most [`CheckOptions::max_findings_per_rule`] findings are
//! reported per rule and column, then one summary finding with the total;
//! the per-row [`Rejections`] are always complete.

use std::collections::{BTreeMap, HashMap, HashSet};

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::DataType;
use mlsecops_core::{Finding, Location, Severity, shorten};
use mlsecops_stats::sketch::{FrequentValues, HyperLogLog, Moments, TDigest, fmix64, hash64};
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::cells::TextCells;
use crate::error::DataError;
use crate::ingest::{Batch, Source};

/// A contract rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Rule {
    WrongType,
    Null,
    OutOfRange,
    BadCategory,
    DuplicateKey,
    Format,
    MissingColumn,
    ExtraColumn,
}

impl Rule {
    /// All rules.
    pub const ALL: [Rule; 8] = [
        Rule::WrongType,
        Rule::Null,
        Rule::OutOfRange,
        Rule::BadCategory,
        Rule::DuplicateKey,
        Rule::Format,
        Rule::MissingColumn,
        Rule::ExtraColumn,
    ];

    /// Stable rule id.
    #[must_use]
    pub const fn id(self) -> &'static str {
        match self {
            Rule::WrongType => "DATA-SCHEMA-WRONG-TYPE",
            Rule::Null => "DATA-SCHEMA-NULL",
            Rule::OutOfRange => "DATA-SCHEMA-OUT-OF-RANGE",
            Rule::BadCategory => "DATA-SCHEMA-BAD-CATEGORY",
            Rule::DuplicateKey => "DATA-SCHEMA-DUPLICATE-KEY",
            Rule::Format => "DATA-SCHEMA-FORMAT",
            Rule::MissingColumn => "DATA-SCHEMA-MISSING-COLUMN",
            Rule::ExtraColumn => "DATA-SCHEMA-EXTRA-COLUMN",
        }
    }

    /// Severity of the rule's findings.
    #[must_use]
    pub const fn severity(self) -> Severity {
        match self {
            Rule::MissingColumn | Rule::DuplicateKey => Severity::High,
            Rule::ExtraColumn => Severity::Low,
            _ => Severity::Medium,
        }
    }

    /// Short reason text (used in quarantine files).
    #[must_use]
    pub const fn reason(self) -> &'static str {
        match self {
            Rule::WrongType => "wrong type",
            Rule::Null => "null",
            Rule::OutOfRange => "out of range",
            Rule::BadCategory => "unknown category",
            Rule::DuplicateKey => "duplicate key",
            Rule::Format => "bad format",
            Rule::MissingColumn => "missing column",
            Rule::ExtraColumn => "extra column",
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

/// Logical type of a column in a contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Integer,
    Float,
    Boolean,
    Date,
    Timestamp,
    String,
    /// Nested or binary data: only nullability is checked.
    Other,
}

/// Summary of a column's distribution when profiled (used by diffs).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    pub count: u64,
    pub nulls: u64,
    /// HyperLogLog estimate of distinct non-null values.
    pub distinct: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub std: Option<f64>,
    /// 21 quantiles (0 %, 5 %, …, 100 %) of numeric columns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quantiles: Vec<f64>,
    /// Most frequent values of string columns with their counts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub top: Vec<(String, u64)>,
}

/// What a column must satisfy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: Kind,
    pub nullable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Allowed values (string and boolean columns of low cardinality).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categories: Option<Vec<String>>,
    /// Name of a known format (`email`, `uuid`, `iso-date`, `iso-datetime`,
    /// `integer`, `decimal`, `hex`), informational.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Regular expression every non-null value must match (whole value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// Values are unique (a key column).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unique: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<Summary>,
}

/// The label column, its classes and their priors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelSpec {
    pub column: String,
    pub classes: Vec<String>,
    /// Class → fraction of labelled rows.
    pub priors: BTreeMap<String, f64>,
}

/// A data contract.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contract {
    /// Contract format version (1).
    pub version: u32,
    /// Rows in the profiled dataset.
    pub rows: u64,
    /// Column whose value names a row in findings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_column: Option<String>,
    /// Whether columns not in the contract are reported.
    #[serde(default = "yes")]
    pub allow_extra_columns: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<LabelSpec>,
    #[serde(rename = "column", default)]
    pub columns: Vec<ColumnSpec>,
}

fn yes() -> bool {
    true
}

impl Contract {
    /// Readable TOML (one `[[column]]` table per column).
    pub fn to_toml(&self) -> Result<String, DataError> {
        let body = toml::to_string_pretty(self).map_err(|e| DataError::Contract {
            line: None,
            message: e.to_string(),
        })?;
        Ok(format!(
            "# mlsecops data contract: edit freely; `mlsecops data check --contract` enforces it.\n\
             # Per column: type, nullable, min/max, categories, pattern (regex), unique.\n{body}"
        ))
    }

    /// Parses and validates a contract (regexes compile, names are unique);
    /// errors name the line.
    pub fn from_toml(text: &str) -> Result<Self, DataError> {
        let c: Contract = toml::from_str(text).map_err(|e| DataError::Contract {
            line: e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1),
            message: e.message().trim().to_owned(),
        })?;
        let line_of = |needle: &str| {
            text.find(needle)
                .map(|i| text[..i].matches('\n').count() + 1)
        };
        let mut names = HashSet::new();
        for col in &c.columns {
            if !names.insert(col.name.as_str()) {
                return Err(DataError::Contract {
                    line: line_of(&format!("name = {:?}", col.name)),
                    message: format!("column `{}` is listed twice", col.name),
                });
            }
            if let Some(p) = &col.pattern
                && let Err(e) = Regex::new(&anchor(p))
            {
                return Err(DataError::Contract {
                    line: line_of("pattern"),
                    message: format!(
                        "column `{}`: bad pattern: {}",
                        col.name,
                        shorten(&e.to_string(), 200)
                    ),
                });
            }
        }
        Ok(c)
    }

    /// The spec of a column.
    #[must_use]
    pub fn column(&self, name: &str) -> Option<&ColumnSpec> {
        self.columns.iter().find(|c| c.name == name)
    }
}

fn anchor(p: &str) -> String {
    format!("^(?:{p})$")
}

/// How to profile.
#[derive(Clone, Debug)]
pub struct ProfileOptions {
    /// Column naming rows in findings.
    pub id_column: Option<String>,
    /// Label column (its classes and priors go into the contract).
    pub label_column: Option<String>,
    /// String columns with at most this many distinct values get a category list (default 50).
    pub max_categories: usize,
    /// Widen numeric ranges by this fraction of (max − min) on each side (default 0).
    pub range_slack: f64,
    /// Stop tracking key uniqueness past this many rows (default 50 M).
    pub max_key_rows: u64,
}

impl Default for ProfileOptions {
    fn default() -> Self {
        Self {
            id_column: None,
            label_column: None,
            max_categories: 50,
            range_slack: 0.0,
            max_key_rows: 50_000_000,
        }
    }
}

/// Named string formats, tried in order; the first that fits every value wins.
pub const FORMATS: [(&str, &str); 7] = [
    (
        "uuid",
        "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
    ),
    ("iso-date", r"\d{4}-\d{2}-\d{2}"),
    (
        "iso-datetime",
        r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?",
    ),
    ("email", r"[^@\s]+@[^@\s]+\.[^@\s]+"),
    ("integer", r"[+-]?\d+"),
    ("decimal", r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?"),
    ("hex", r"(0[xX])?[0-9a-fA-F]+"),
];

/// A real calendar date (proleptic Gregorian): month 1–12, day within the month.
fn valid_date(year: &str, month: &str, day: &str) -> bool {
    let (Ok(y), Ok(m), Ok(d)) = (
        year.parse::<u32>(),
        month.parse::<u32>(),
        day.parse::<u32>(),
    ) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

fn fits_format(i: usize, s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|x| x.iter().all(u8::is_ascii_digit));
    match i {
        0 => {
            b.len() == 36
                && b.iter().enumerate().all(|(k, &c)| {
                    if matches!(k, 8 | 13 | 18 | 23) {
                        c == b'-'
                    } else {
                        c.is_ascii_hexdigit()
                    }
                })
        }
        1 => {
            b.len() == 10
                && digits(0..4)
                && b[4] == b'-'
                && digits(5..7)
                && b[7] == b'-'
                && digits(8..10)
                && valid_date(&s[..4], &s[5..7], &s[8..10])
        }
        2 => {
            b.len() >= 16
                && s.get(..10).is_some_and(|d| fits_format(1, d))
                && (b[10] == b'T' || b[10] == b' ')
                && digits(11..13)
                && b[13] == b':'
                && digits(14..16)
                && FORMAT_RES[2].is_match(s)
        }
        3 => FORMAT_RES[3].is_match(s),
        4 => {
            let t = b
                .strip_prefix(b"-")
                .or_else(|| b.strip_prefix(b"+"))
                .unwrap_or(b);
            !t.is_empty() && t.iter().all(u8::is_ascii_digit)
        }
        5 => FORMAT_RES[5].is_match(s),
        6 => {
            let t = b
                .strip_prefix(b"0x")
                .or_else(|| b.strip_prefix(b"0X"))
                .unwrap_or(b);
            !t.is_empty() && t.iter().all(u8::is_ascii_hexdigit)
        }
        _ => false,
    }
}

static FORMAT_RES: std::sync::LazyLock<Vec<Regex>> = std::sync::LazyLock::new(|| {
    FORMATS
        .iter()
        .filter_map(|(_, p)| Regex::new(&anchor(p)).ok())
        .collect()
});

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "1" => Some(true),
        "false" | "f" | "no" | "n" | "0" => Some(false),
        _ => None,
    }
}

fn is_bool_word(s: &str) -> bool {
    let t = s.trim();
    t.len() <= 5 && (t.eq_ignore_ascii_case("true") || t.eq_ignore_ascii_case("false"))
}

/// Per-column accumulator while profiling.
#[allow(clippy::struct_excessive_bools)] // one flag per candidate type, read once
struct Acc {
    name: String,
    dtype: DataType,
    moments: Moments,
    digest: TDigest,
    hll: HyperLogLog,
    freq: FrequentValues,
    nulls: u64,
    nonnull: u64,
    all_int: bool,
    all_float: bool,
    all_bool: bool,
    all_date: bool,
    all_datetime: bool,
    formats: u8,
    keys: Option<HashSet<u64>>,
    text: String,
}

impl Acc {
    fn new(name: &str, dtype: &DataType) -> Self {
        Self {
            name: name.to_owned(),
            dtype: dtype.clone(),
            moments: Moments::new(),
            digest: TDigest::new(200.0),
            hll: HyperLogLog::new(12),
            freq: FrequentValues::new(1000),
            nulls: 0,
            nonnull: 0,
            all_int: true,
            all_float: true,
            all_bool: true,
            all_date: true,
            all_datetime: true,
            formats: (1 << FORMATS.len()) - 1,
            keys: Some(HashSet::new()),
            text: String::new(),
        }
    }

    fn key(&mut self, h: u64, max_rows: u64) {
        if let Some(k) = &mut self.keys
            && (!k.insert(h) || k.len() as u64 > max_rows)
        {
            self.keys = None;
        }
    }

    fn add_str(&mut self, s: &str, max_key_rows: u64) {
        self.nonnull += 1;
        self.hll.insert(s.as_bytes());
        self.freq.add(s);
        self.key(hash64(s.as_bytes()), max_key_rows);
        if self.all_int && s.trim().parse::<i64>().is_err() {
            self.all_int = false;
        }
        if self.all_float || self.all_int {
            match s.trim().parse::<f64>() {
                Ok(v) if v.is_finite() || !s.trim().chars().any(char::is_alphabetic) => {
                    self.moments.push(v);
                    self.digest.add(v);
                }
                _ => {
                    self.all_float = false;
                    self.all_int = false;
                }
            }
        }
        if self.all_bool && !is_bool_word(s) {
            self.all_bool = false;
        }
        if self.all_date && !fits_format(1, s) {
            self.all_date = false;
        }
        if self.all_datetime && !fits_format(2, s) {
            self.all_datetime = false;
        }
        if self.formats != 0 {
            for i in 0..FORMATS.len() {
                if self.formats & (1 << i) != 0 && !fits_format(i, s) {
                    self.formats &= !(1 << i);
                }
            }
        }
    }

    fn add_num(&mut self, v: f64, max_key_rows: u64) {
        self.nonnull += 1;
        self.moments.push(v);
        self.digest.add(v);
        let h = fmix64(v.to_bits());
        self.hll.insert_hash(h);
        if self.dtype.is_integer() {
            self.key(h, max_key_rows);
        } else {
            self.keys = None;
        }
    }

    #[allow(clippy::cast_lossless)] // one macro body for every primitive width
    fn add_array(&mut self, a: &ArrayRef, max_key_rows: u64) {
        let n = a.len();
        macro_rules! prim {
            ($t:ty) => {{
                let p = a.as_primitive::<$t>();
                for i in 0..n {
                    if p.is_null(i) {
                        self.nulls += 1;
                    } else {
                        self.add_num(p.value(i) as f64, max_key_rows);
                    }
                }
            }};
        }
        match a.data_type() {
            DataType::Int8 => prim!(Int8Type),
            DataType::Int16 => prim!(Int16Type),
            DataType::Int32 => prim!(Int32Type),
            DataType::Int64 => prim!(Int64Type),
            DataType::UInt8 => prim!(UInt8Type),
            DataType::UInt16 => prim!(UInt16Type),
            DataType::UInt32 => prim!(UInt32Type),
            DataType::UInt64 => prim!(UInt64Type),
            DataType::Float32 => prim!(Float32Type),
            DataType::Float64 => prim!(Float64Type),
            DataType::Utf8 => {
                let s = a.as_string::<i32>();
                for i in 0..n {
                    if s.is_null(i) {
                        self.nulls += 1;
                    } else {
                        self.add_str(s.value(i), max_key_rows);
                    }
                }
            }
            _ => {
                let cells = TextCells::new(a);
                let mut text = std::mem::take(&mut self.text);
                for i in 0..n {
                    if cells.write(i, &mut text) {
                        self.add_str(&text, max_key_rows);
                    } else {
                        self.nulls += 1;
                    }
                }
                self.text = text;
            }
        }
    }

    fn finish(self, opts: &ProfileOptions, rows: u64) -> ColumnSpec {
        let numeric_type = crate::cells::is_numeric(&self.dtype);
        let kind = match &self.dtype {
            t if t.is_integer() => Kind::Integer,
            t if t.is_floating() => Kind::Float,
            DataType::Boolean => Kind::Boolean,
            DataType::Date32 | DataType::Date64 => Kind::Date,
            DataType::Timestamp(..) => Kind::Timestamp,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                if self.nonnull == 0 {
                    Kind::String
                } else if self.all_bool {
                    Kind::Boolean
                } else if self.all_int {
                    Kind::Integer
                } else if self.all_float {
                    Kind::Float
                } else if self.all_date {
                    Kind::Date
                } else if self.all_datetime {
                    Kind::Timestamp
                } else {
                    Kind::String
                }
            }
            _ => Kind::Other,
        };
        let numeric = matches!(kind, Kind::Integer | Kind::Float) && self.moments.count > 0;
        // An id names a row; new rows get new ids (often past the trusted
        // version's largest), so its values get no range.
        let is_id = opts.id_column.as_deref() == Some(self.name.as_str());
        let (min, max) = if numeric && !is_id {
            let slack = (self.moments.max - self.moments.min) * opts.range_slack.max(0.0);
            (
                Some(self.moments.min - slack),
                Some(self.moments.max + slack),
            )
        } else {
            (None, None)
        };
        let is_label = opts.label_column.as_deref() == Some(self.name.as_str());
        let distinct = self.freq.counts.len();
        let categories = (matches!(kind, Kind::String | Kind::Boolean)
            && !self.freq.overflowed
            && distinct > 0
            && (is_label
                || (distinct <= opts.max_categories && self.nonnull >= 2 * distinct as u64)))
            .then(|| self.freq.counts.keys().cloned().collect());
        let (format, pattern) = if kind == Kind::String && categories.is_none() && self.nonnull > 0
        {
            (0..FORMATS.len())
                .find(|i| self.formats & (1 << i) != 0)
                .map_or((None, None), |i| {
                    (Some(FORMATS[i].0.to_owned()), Some(FORMATS[i].1.to_owned()))
                })
        } else {
            (None, None)
        };
        let unique = self.nulls == 0
            && self.nonnull == rows
            && rows > 1
            && self.keys.is_some()
            && matches!(kind, Kind::Integer | Kind::String)
            && (!numeric_type || self.dtype.is_integer());
        let quantiles = if numeric {
            (0..=20)
                .filter_map(|k| self.digest.quantile(f64::from(k) / 20.0))
                .collect()
        } else {
            Vec::new()
        };
        let summary = Summary {
            count: self.nonnull,
            nulls: self.nulls,
            distinct: self.hll.estimate().round() as u64,
            mean: numeric.then_some(self.moments.mean),
            std: numeric.then(|| self.moments.std_dev()),
            quantiles,
            top: if numeric {
                Vec::new()
            } else {
                self.freq
                    .top(20)
                    .into_iter()
                    .map(|(v, c)| (shorten(v, 100), c))
                    .collect()
            },
        };
        ColumnSpec {
            name: self.name,
            kind,
            nullable: self.nulls > 0,
            min,
            max,
            categories,
            format,
            pattern,
            unique,
            summary: Some(summary),
        }
    }
}

fn threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .clamp(1, 8)
}

/// Runs `f` on every element of `items` with the batch, on all cores.
fn par_each<T: Send>(items: &mut [T], f: impl Fn(&mut T) + Sync) {
    let t = threads().min(items.len().max(1));
    if t <= 1 {
        items.iter_mut().for_each(&f);
        return;
    }
    let chunk = items.len().div_ceil(t);
    std::thread::scope(|s| {
        let mut chunks = items.chunks_mut(chunk);
        let first = chunks.next();
        for c in chunks {
            let f = &f;
            s.spawn(move || c.iter_mut().for_each(f));
        }
        if let Some(c) = first {
            c.iter_mut().for_each(&f);
        }
    });
}

/// Infers a contract from a trusted dataset.
pub fn profile(source: &Source, opts: &ProfileOptions) -> Result<Contract, DataError> {
    let schema = source.schema().clone();
    for wanted in [&opts.id_column, &opts.label_column].into_iter().flatten() {
        if schema.index_of(wanted).is_err() {
            return Err(DataError::Schema {
                file: source.display_name(),
                message: format!("no column `{wanted}`"),
            });
        }
    }
    let mut accs: Vec<(usize, Acc)> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| (i, Acc::new(f.name(), f.data_type())))
        .collect();
    let mut rows = 0u64;
    for b in source.batches() {
        let b = b?;
        rows += b.batch.num_rows() as u64;
        let batch = &b.batch;
        par_each(&mut accs, |(i, acc)| {
            acc.add_array(batch.column(*i), opts.max_key_rows);
        });
    }
    let columns: Vec<ColumnSpec> = accs
        .into_iter()
        .map(|(_, a)| a.finish(opts, rows))
        .collect();
    let label = opts.label_column.as_ref().and_then(|l| {
        let spec = columns.iter().find(|c| &c.name == l)?;
        let s = spec.summary.as_ref()?;
        let classes: Vec<String> = spec.categories.clone()?;
        let total = s.count.max(1) as f64;
        let top: HashMap<&str, u64> = s.top.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        let priors = classes
            .iter()
            .map(|c| {
                (
                    c.clone(),
                    top.get(c.as_str()).copied().unwrap_or(0) as f64 / total,
                )
            })
            .collect();
        Some(LabelSpec {
            column: l.clone(),
            classes,
            priors,
        })
    });
    Ok(Contract {
        version: 1,
        rows,
        id_column: opts.id_column.clone(),
        allow_extra_columns: true,
        label,
        columns,
    })
}

/// How to check.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// Findings reported per rule and column before one summary finding (default 1,000).
    pub max_findings_per_rule: usize,
}

impl Default for CheckOptions {
    fn default() -> Self {
        Self {
            max_findings_per_rule: 1000,
        }
    }
}

/// One rejected cell: global row, column index (in the contract, or
/// `u32::MAX` for row-less rules) and rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rejection {
    pub row: u64,
    pub column: u32,
    pub rule: Rule,
}

/// Every row-level violation, sorted by row (complete, not capped).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rejections {
    pub entries: Vec<Rejection>,
    /// Column names, indexed by `Rejection::column`.
    pub columns: Vec<String>,
}

impl Rejections {
    /// Number of distinct rejected rows.
    #[must_use]
    pub fn rows(&self) -> usize {
        let mut n = 0;
        let mut last = None;
        for e in &self.entries {
            if last != Some(e.row) {
                n += 1;
                last = Some(e.row);
            }
        }
        n
    }

    /// Row → reasons (`DATA-SCHEMA-NULL: label`), as the quarantine writer takes them.
    #[must_use]
    pub fn reasons(&self) -> crate::quarantine::RowReasons {
        let mut m = crate::quarantine::RowReasons::new();
        for e in &self.entries {
            let col = self
                .columns
                .get(e.column as usize)
                .map_or("", String::as_str);
            m.insert(e.row, &format!("{}: {col}", e.rule.id()), 1.0);
        }
        m.finish();
        m
    }
}

/// What [`check_contract`] found.
#[derive(Clone, Debug, Default)]
pub struct CheckOutcome {
    /// Findings (capped per rule and column, with summary findings).
    pub findings: Vec<Finding>,
    /// Every rejected row and why.
    pub rejections: Rejections,
    /// Rows read.
    pub rows: u64,
}

/// Hasher for keys that are already well-mixed 64-bit hashes (identity),
/// and FNV-1a for short category strings: both much cheaper than SipHash
/// in the per-cell loop; inputs cannot choose collisions that matter here
/// (keys are pre-hashed, category sets are small and fixed by the contract).
#[derive(Default, Clone, Copy)]
struct FastHasher(u64);

impl std::hash::Hasher for FastHasher {
    fn finish(&self) -> u64 {
        fmix64(self.0)
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = self.0 ^ 0xcbf2_9ce4_8422_2325;
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.0 = h;
    }
    fn write_u64(&mut self, v: u64) {
        self.0 ^= v;
    }
}

type Fast = std::hash::BuildHasherDefault<FastHasher>;

/// Per-column checking state.
struct ColCheck<'c> {
    spec: &'c ColumnSpec,
    col_no: u32,
    batch_idx: Option<usize>,
    cats: Option<HashSet<&'c str, Fast>>,
    pattern: Option<Regex>,
    seen: Option<HashMap<u64, u64, Fast>>,
    counts: [u64; 8],
    cap: usize,
    findings: Vec<Finding>,
    rejects: Vec<Rejection>,
    text: String,
}

struct Ctx<'a> {
    batch: &'a Batch,
    ids: Option<TextCells<'a>>,
}

impl ColCheck<'_> {
    #[cold]
    fn hit(
        &mut self,
        ctx: &Ctx<'_>,
        i: usize,
        rule: Rule,
        value: &dyn Fn() -> String,
        extra: &str,
    ) {
        let row = ctx.batch.offset + i as u64;
        self.rejects.push(Rejection {
            row,
            column: self.col_no,
            rule,
        });
        let n = &mut self.counts[rule.index()];
        *n += 1;
        if *n as usize > self.cap {
            return;
        }
        let v = value();
        let what = match rule {
            Rule::WrongType => format!("value is not {:?}", self.spec.kind).to_lowercase(),
            Rule::Null => "null in a non-nullable column".to_owned(),
            Rule::OutOfRange => format!(
                "value outside [{}, {}]",
                self.spec.min.map_or("-inf".into(), |m| m.to_string()),
                self.spec.max.map_or("inf".into(), |m| m.to_string())
            ),
            Rule::BadCategory => "value is not an allowed category".to_owned(),
            Rule::DuplicateKey => format!("duplicate value in key column{extra}"),
            Rule::Format => format!(
                "value does not match the {} format",
                self.spec.format.as_deref().unwrap_or("contract's")
            ),
            Rule::MissingColumn | Rule::ExtraColumn => String::new(),
        };
        let mut f = Finding::new(
            rule.id(),
            rule.severity(),
            Location {
                path: ctx.batch.file.to_string(),
                row: Some(ctx.batch.file_offset + i as u64),
                column: Some(self.spec.name.clone()),
                row_id: ctx
                    .ids
                    .as_ref()
                    .and_then(|c| c.get(i))
                    .map(|s| shorten(&s, 120)),
                ..Location::default()
            },
            what,
        );
        if rule != Rule::Null {
            f = f.with_evidence(shorten(&v, 120));
        }
        self.findings.push(f);
    }

    #[inline]
    fn range(&mut self, ctx: &Ctx<'_>, i: usize, v: f64, shown: &dyn Fn() -> String) {
        if self.spec.min.is_some_and(|m| v < m) || self.spec.max.is_some_and(|m| v > m) {
            self.hit(ctx, i, Rule::OutOfRange, shown, "");
        }
    }

    #[inline]
    fn unique(&mut self, ctx: &Ctx<'_>, i: usize, h: u64, shown: &dyn Fn() -> String) {
        if let Some(seen) = &mut self.seen {
            let row = ctx.batch.offset + i as u64;
            // One probe per key: the map is the slowest part of a contract
            // check on a large key column.
            let first = *seen.entry(h).or_insert(row);
            if first != row {
                // Findings number rows within their file.
                let file_start = ctx.batch.offset - ctx.batch.file_offset;
                let at = if first >= file_start {
                    format!(" (first at row {})", first - file_start)
                } else {
                    format!(" (first in an earlier file: row {first} of the source)")
                };
                self.hit(ctx, i, Rule::DuplicateKey, shown, &at);
            }
        }
    }

    fn check_str(&mut self, ctx: &Ctx<'_>, i: usize, s: &str) {
        let shown = || s.to_owned();
        match self.spec.kind {
            Kind::Integer => match s.trim().parse::<i64>() {
                Ok(v) => {
                    self.range(ctx, i, v as f64, &shown);
                    self.unique(ctx, i, fmix64((v as f64).to_bits()), &shown);
                }
                Err(_) => self.hit(ctx, i, Rule::WrongType, &shown, ""),
            },
            Kind::Float => match s.trim().parse::<f64>() {
                Ok(v) => self.range(ctx, i, v, &shown),
                Err(_) => self.hit(ctx, i, Rule::WrongType, &shown, ""),
            },
            Kind::Boolean => {
                if parse_bool(s).is_none() {
                    self.hit(ctx, i, Rule::WrongType, &shown, "");
                }
            }
            // Dates in text files are a format: a value that is not a real
            // ISO date is a format violation, not a different type.
            Kind::Date => {
                if !fits_format(1, s) {
                    self.hit(ctx, i, Rule::Format, &shown, "");
                }
            }
            Kind::Timestamp => {
                if !fits_format(2, s) && !fits_format(1, s) {
                    self.hit(ctx, i, Rule::Format, &shown, "");
                }
            }
            Kind::String | Kind::Other => {
                if self.seen.is_some() {
                    self.unique(ctx, i, hash64(s.as_bytes()), &shown);
                }
            }
        }
        if let Some(c) = &self.cats
            && !c.contains(s)
        {
            let canon_bool = self.spec.kind == Kind::Boolean
                && parse_bool(s).is_some_and(|b| c.iter().any(|x| parse_bool(x) == Some(b)));
            if !canon_bool {
                self.hit(ctx, i, Rule::BadCategory, &shown, "");
            }
        }
        if let Some(p) = &self.pattern
            && !p.is_match(s)
        {
            self.hit(ctx, i, Rule::Format, &shown, "");
        }
    }

    fn check_num(&mut self, ctx: &Ctx<'_>, i: usize, v: f64, integral: bool) {
        let shown = || v.to_string();
        match self.spec.kind {
            Kind::Integer => {
                if integral || v.fract() == 0.0 {
                    self.range(ctx, i, v, &shown);
                    self.unique(ctx, i, fmix64(v.to_bits()), &shown);
                } else {
                    self.hit(ctx, i, Rule::WrongType, &shown, "");
                }
            }
            Kind::Float => self.range(ctx, i, v, &shown),
            Kind::Boolean if v.to_bits() == 0f64.to_bits() || v.to_bits() == 1f64.to_bits() => {}
            Kind::String | Kind::Other => {
                // A number where text was expected is fine unless the text
                // has categories or a format; check its decimal form.
                if self.cats.is_some() || self.pattern.is_some() || self.seen.is_some() {
                    let mut t = std::mem::take(&mut self.text);
                    t.clear();
                    if integral {
                        let _ = std::fmt::Write::write_fmt(&mut t, format_args!("{}", v as i64));
                    } else {
                        let _ = std::fmt::Write::write_fmt(&mut t, format_args!("{v}"));
                    }
                    self.check_str(ctx, i, &t);
                    self.text = t;
                }
            }
            _ => self.hit(ctx, i, Rule::WrongType, &shown, ""),
        }
    }

    #[allow(clippy::cast_lossless)] // one macro body for every primitive width
    fn check_array(&mut self, ctx: &Ctx<'_>, a: &ArrayRef) {
        let n = a.len();
        let nullable = self.spec.nullable;
        let null = |me: &mut Self, i: usize| {
            if !nullable {
                me.hit(ctx, i, Rule::Null, &String::new, "");
            }
        };
        macro_rules! prim {
            ($t:ty, $integral:expr) => {{
                let p = a.as_primitive::<$t>();
                let vals = p.values();
                // Fast path: a numeric column with at most a range to check
                // (no key) only needs the per-value checks for values outside
                // the range, which a tight loop finds.
                let range_only = self.seen.is_none()
                    && (self.spec.kind == Kind::Float
                        || (self.spec.kind == Kind::Integer && $integral));
                if range_only && p.null_count() == 0 {
                    let lo = self.spec.min.unwrap_or(f64::NEG_INFINITY);
                    let hi = self.spec.max.unwrap_or(f64::INFINITY);
                    for (i, &v) in vals.iter().enumerate() {
                        let x = v as f64;
                        if x < lo || x > hi {
                            self.check_num(ctx, i, x, $integral);
                        }
                    }
                } else if p.null_count() == 0 {
                    for (i, &v) in vals.iter().enumerate() {
                        self.check_num(ctx, i, v as f64, $integral);
                    }
                } else {
                    for (i, &v) in vals.iter().enumerate() {
                        if p.is_null(i) {
                            null(self, i);
                        } else {
                            self.check_num(ctx, i, v as f64, $integral);
                        }
                    }
                }
            }};
        }
        match a.data_type() {
            DataType::Int8 => prim!(Int8Type, true),
            DataType::Int16 => prim!(Int16Type, true),
            DataType::Int32 => prim!(Int32Type, true),
            DataType::Int64 => prim!(Int64Type, true),
            DataType::UInt8 => prim!(UInt8Type, true),
            DataType::UInt16 => prim!(UInt16Type, true),
            DataType::UInt32 => prim!(UInt32Type, true),
            DataType::UInt64 => prim!(UInt64Type, true),
            DataType::Float32 => prim!(Float32Type, false),
            DataType::Float64 => prim!(Float64Type, false),
            DataType::Utf8 => {
                let s = a.as_string::<i32>();
                for i in 0..n {
                    if s.is_null(i) {
                        null(self, i);
                    } else {
                        self.check_str(ctx, i, s.value(i));
                    }
                }
            }
            DataType::Utf8View => {
                let s = a.as_string_view();
                for i in 0..n {
                    if s.is_null(i) {
                        null(self, i);
                    } else {
                        self.check_str(ctx, i, s.value(i));
                    }
                }
            }
            DataType::Boolean => {
                let b = a.as_boolean();
                for i in 0..n {
                    if b.is_null(i) {
                        null(self, i);
                    } else if !matches!(self.spec.kind, Kind::Boolean | Kind::String | Kind::Other)
                    {
                        let v = b.value(i);
                        self.hit(ctx, i, Rule::WrongType, &|| v.to_string(), "");
                    } else if let Some(c) = &self.cats {
                        let v = b.value(i);
                        if !c.iter().any(|x| parse_bool(x) == Some(v)) {
                            self.hit(ctx, i, Rule::BadCategory, &|| v.to_string(), "");
                        }
                    }
                }
            }
            _ => {
                let cells = TextCells::new(a);
                let mut t = String::new();
                for i in 0..n {
                    if cells.write(i, &mut t) {
                        if matches!(self.spec.kind, Kind::Other | Kind::Date | Kind::Timestamp)
                            && !matches!(a.data_type(), DataType::LargeUtf8)
                        {
                            continue;
                        }
                        self.check_str(ctx, i, &t);
                    } else {
                        null(self, i);
                    }
                }
            }
        }
    }
}

/// Checks every row of `source` against `contract`.
pub fn check_contract(
    contract: &Contract,
    source: &Source,
    opts: &CheckOptions,
) -> Result<CheckOutcome, DataError> {
    let source = source.as_strings();
    let schema = source.schema().clone();
    let file = source.display_name();
    let mut out = CheckOutcome::default();
    let mut cols: Vec<ColCheck<'_>> = Vec::with_capacity(contract.columns.len());
    for (k, spec) in contract.columns.iter().enumerate() {
        let batch_idx = schema.index_of(&spec.name).ok();
        if batch_idx.is_none() {
            out.findings.push(
                Finding::new(
                    Rule::MissingColumn.id(),
                    Rule::MissingColumn.severity(),
                    Location {
                        column: Some(spec.name.clone()),
                        ..Location::file(file.clone())
                    },
                    format!("column `{}` required by the contract is missing", spec.name),
                )
                .with_evidence(format!("{:?}", spec.kind).to_lowercase()),
            );
        }
        let pattern = match &spec.pattern {
            Some(p) => Some(Regex::new(&anchor(p)).map_err(|e| DataError::Contract {
                line: None,
                message: format!("column `{}`: bad pattern: {e}", spec.name),
            })?),
            None => None,
        };
        cols.push(ColCheck {
            spec,
            col_no: k as u32,
            batch_idx,
            cats: spec
                .categories
                .as_ref()
                .map(|c| c.iter().map(String::as_str).collect()),
            pattern,
            seen: spec.unique.then(HashMap::default),
            counts: [0; 8],
            cap: opts.max_findings_per_rule,
            findings: Vec::new(),
            rejects: Vec::new(),
            text: String::new(),
        });
    }
    if !contract.allow_extra_columns {
        for f in schema.fields() {
            if contract.column(f.name()).is_none() {
                out.findings.push(Finding::new(
                    Rule::ExtraColumn.id(),
                    Rule::ExtraColumn.severity(),
                    Location {
                        column: Some(f.name().clone()),
                        ..Location::file(file.clone())
                    },
                    format!("column `{}` is not in the contract", f.name()),
                ));
            }
        }
    }
    let id_idx = contract
        .id_column
        .as_ref()
        .and_then(|c| schema.index_of(c).ok());
    let mut present: Vec<ColCheck<'_>> =
        cols.into_iter().filter(|c| c.batch_idx.is_some()).collect();
    source.for_each_batch(|b| -> Result<(), DataError> {
        out.rows += b.batch.num_rows() as u64;
        let batch: &RecordBatch = &b.batch;
        let ids = id_idx.map(|i| batch.column(i));
        par_each(&mut present, |c| {
            let ctx = Ctx {
                batch: &b,
                ids: ids.map(TextCells::new),
            };
            if let Some(i) = c.batch_idx {
                c.check_array(&ctx, batch.column(i));
            }
        });
        Ok(())
    })?;
    let mut entries = Vec::new();
    for c in present {
        out.findings.extend(c.findings);
        for r in Rule::ALL {
            let n = c.counts[r.index()];
            if n as usize > c.cap {
                out.findings.push(
                    Finding::new(
                        r.id(),
                        r.severity(),
                        Location {
                            column: Some(c.spec.name.clone()),
                            ..Location::file(file.clone())
                        },
                        format!(
                            "{n} rows violate this rule in column `{}`; only the first {} are listed",
                            c.spec.name, c.cap
                        ),
                    )
                    .with_evidence(format!("{n} rows")),
                );
            }
        }
        entries.extend(c.rejects);
    }
    entries.sort_unstable();
    out.rejections = Rejections {
        entries,
        columns: contract.columns.iter().map(|c| c.name.clone()).collect(),
    };
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::{Format, IngestOptions};

    fn src(text: &str) -> Source {
        Source::from_bytes(
            "t.csv",
            text.as_bytes().to_vec(),
            Format::Csv,
            &IngestOptions::default(),
        )
        .unwrap()
    }

    const TRUSTED: &str = "id,age,color,email,score,flag\n\
        1,30,red,a@x.org,0.5,true\n\
        2,40,blue,b@x.org,0.7,false\n\
        3,50,red,c@x.org,0.9,true\n\
        4,35,blue,d@x.org,0.1,false\n\
        5,45,red,e@x.org,0.3,true\n";

    #[test]
    fn profile_infers_types_ranges_categories_formats_keys() {
        let c = profile(
            &src(TRUSTED),
            &ProfileOptions {
                id_column: Some("id".into()),
                ..ProfileOptions::default()
            },
        )
        .unwrap();
        let id = c.column("id").unwrap();
        assert_eq!(id.kind, Kind::Integer);
        assert!(id.unique && !id.nullable);
        // New rows bring new ids: the key gets no range.
        assert_eq!((id.min, id.max), (None, None));
        let age = c.column("age").unwrap();
        assert_eq!((age.min, age.max), (Some(30.0), Some(50.0)));
        let color = c.column("color").unwrap();
        assert_eq!(
            color.categories.as_deref(),
            Some(&["blue".to_owned(), "red".to_owned()][..])
        );
        assert_eq!(c.column("email").unwrap().format.as_deref(), Some("email"));
        assert_eq!(c.column("score").unwrap().kind, Kind::Float);
        assert_eq!(c.column("flag").unwrap().kind, Kind::Boolean);
        // TOML round trip.
        let t = c.to_toml().unwrap();
        assert_eq!(Contract::from_toml(&t).unwrap(), c);
    }

    #[test]
    fn check_reports_each_rule_with_row_and_id() {
        let c = profile(
            &src(TRUSTED),
            &ProfileOptions {
                id_column: Some("id".into()),
                ..ProfileOptions::default()
            },
        )
        .unwrap();
        let bad = "id,age,color,email,score,flag\n\
            1,30,red,a@x.org,0.5,true\n\
            2,abc,blue,b@x.org,0.7,false\n\
            3,99,green,not-an-email,0.9,maybe\n\
            3,,red,c@x.org,0.2,true\n";
        let out = check_contract(&c, &src(bad), &CheckOptions::default()).unwrap();
        let rules: Vec<(&str, u64, &str)> = out
            .findings
            .iter()
            .map(|f| {
                (
                    f.rule.as_str(),
                    f.location.row.unwrap(),
                    f.location.column.as_deref().unwrap(),
                )
            })
            .collect();
        for want in [
            ("DATA-SCHEMA-WRONG-TYPE", 1, "age"),
            ("DATA-SCHEMA-OUT-OF-RANGE", 2, "age"),
            ("DATA-SCHEMA-BAD-CATEGORY", 2, "color"),
            ("DATA-SCHEMA-FORMAT", 2, "email"),
            ("DATA-SCHEMA-WRONG-TYPE", 2, "flag"),
            ("DATA-SCHEMA-DUPLICATE-KEY", 3, "id"),
            ("DATA-SCHEMA-NULL", 3, "age"),
        ] {
            assert!(rules.contains(&want), "{want:?} not in {rules:?}");
        }
        let dup = out
            .findings
            .iter()
            .find(|f| f.rule == "DATA-SCHEMA-DUPLICATE-KEY")
            .unwrap();
        assert_eq!(dup.severity, Severity::High);
        assert_eq!(dup.location.row_id.as_deref(), Some("3"));
        assert_eq!(out.rejections.rows(), 3);
        assert!(out.rejections.reasons().get(1)[0].contains("age"));
    }

    #[test]
    fn missing_and_extra_columns_and_cap() {
        let mut c = profile(&src(TRUSTED), &ProfileOptions::default()).unwrap();
        c.allow_extra_columns = false;
        let mut text = String::from("id,age,color,email,score,other\n");
        for i in 0..30 {
            text.push_str(&format!("{i},1000,red,a@x.org,0.5,1\n"));
        }
        let out = check_contract(
            &c,
            &src(&text),
            &CheckOptions {
                max_findings_per_rule: 5,
            },
        )
        .unwrap();
        assert!(
            out.findings
                .iter()
                .any(|f| f.rule == "DATA-SCHEMA-MISSING-COLUMN"
                    && f.location.column.as_deref() == Some("flag")
                    && f.severity == Severity::High)
        );
        assert!(
            out.findings
                .iter()
                .any(|f| f.rule == "DATA-SCHEMA-EXTRA-COLUMN")
        );
        let range: Vec<_> = out
            .findings
            .iter()
            .filter(|f| {
                f.rule == "DATA-SCHEMA-OUT-OF-RANGE" && f.location.column.as_deref() == Some("age")
            })
            .collect();
        assert_eq!(range.len(), 6);
        assert!(range.last().unwrap().message.starts_with("30 rows"));
        assert_eq!(out.rejections.rows(), 30);
    }

    #[test]
    fn from_toml_errors_name_the_line() {
        let e = Contract::from_toml("version = 1\nrows = 3\n[[column]]\nname = \"a\"\ntype = \"integr\"\nnullable = false\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("contract line 5"), "{e}");
        let e = Contract::from_toml("version = 1\nrows = 3\n[[column]]\nname = \"a\"\ntype = \"string\"\nnullable = false\npattern = \"(\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 7") && e.contains("bad pattern"), "{e}");
    }
}
