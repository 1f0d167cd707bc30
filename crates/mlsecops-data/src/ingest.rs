//! Ingestion: a file (CSV, Parquet, JSON Lines) or a directory of them as
//! one stream of bounded Arrow record batches, each tagged with its global
//! row offset and source file.
//!
//! Hostile input is expected. CSV and JSON Lines are framed here, before
//! Arrow sees a byte: every record is bounded ([`IngestOptions::max_record_bytes`]),
//! quotes are tracked so an unterminated quote is reported at the row where
//! it opened, rows with the wrong field count and invalid UTF-8 are reported
//! with row, line and column. Schemas are inferred from a bounded sample of
//! the first file and enforced on every later row and file. Parquet decoding
//! runs inside `catch_unwind` so a decoder panic on a corrupt page becomes a
//! [`DataError::Corrupt`] naming the file.

use std::fs::File;
use std::io::{Cursor, Read};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{RecordBatch, RecordBatchReader};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};
use bytes::Bytes;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};

use crate::error::DataError;

/// A tabular file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Comma-separated values with a header row.
    Csv,
    /// Apache Parquet.
    Parquet,
    /// One JSON object per line (`.jsonl`, `.ndjson`, `.json`).
    JsonLines,
}

impl Format {
    /// The format named by a file extension, if any.
    #[must_use]
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" | "tsv" | "txt" => Some(Format::Csv),
            "parquet" | "pq" => Some(Format::Parquet),
            "jsonl" | "ndjson" | "json" => Some(Format::JsonLines),
            _ => None,
        }
    }

    /// The format suggested by the first bytes: Parquet's `PAR1` magic, a
    /// JSON object, otherwise `None` (callers fall back to CSV).
    #[must_use]
    pub fn sniff(head: &[u8]) -> Option<Format> {
        if head.starts_with(b"PAR1") {
            return Some(Format::Parquet);
        }
        let first = head.iter().find(|b| !b.is_ascii_whitespace())?;
        (*first == b'{').then_some(Format::JsonLines)
    }

    /// Lowercase name (`csv`, `parquet`, `jsonl`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Parquet => "parquet",
            Format::JsonLines => "jsonl",
        }
    }
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "csv" => Ok(Format::Csv),
            "parquet" | "pq" => Ok(Format::Parquet),
            "jsonl" | "ndjson" | "json" => Ok(Format::JsonLines),
            other => Err(format!(
                "unknown data format `{other}`, expected csv, parquet or jsonl"
            )),
        }
    }
}

/// How to read a source. The defaults bound memory to a few batches.
#[derive(Clone, Debug)]
pub struct IngestOptions {
    /// Force a format instead of detecting it (extension, then magic bytes).
    pub format: Option<Format>,
    /// Rows per record batch (default 65,536).
    pub batch_rows: usize,
    /// Bytes a CSV record or JSON line may take (default 16 MiB).
    pub max_record_bytes: usize,
    /// Bytes of CSV/JSON text buffered into one batch before it is flushed
    /// early (default 256 MiB).
    pub max_batch_bytes: usize,
    /// Records sampled from the first file to infer CSV/JSON types (default 1,000).
    pub infer_rows: usize,
    /// CSV field delimiter (default `,`; `\t` for `.tsv` files).
    pub delimiter: u8,
    /// Read CSV and JSON scalar columns as strings (Utf8) so a contract can
    /// judge every cell itself; Parquet keeps its types.
    pub all_strings: bool,
    /// Most files a directory may hold (default 100,000).
    pub max_files: usize,
}

impl Default for IngestOptions {
    fn default() -> Self {
        Self {
            format: None,
            batch_rows: 65_536,
            max_record_bytes: 16 << 20,
            max_batch_bytes: 256 << 20,
            infer_rows: 1000,
            delimiter: b',',
            all_strings: false,
            max_files: 100_000,
        }
    }
}

/// One record batch of a source.
#[derive(Clone, Debug)]
pub struct Batch {
    /// The rows, in the source's schema.
    pub batch: RecordBatch,
    /// Global 0-based row of the first row, over all files of the source.
    pub offset: u64,
    /// 0-based row of the first row within its file.
    pub file_offset: u64,
    /// The file the rows come from (as given, or a name for in-memory input).
    pub file: Arc<str>,
}

#[derive(Clone, Debug)]
enum Input {
    Path(PathBuf),
    Memory(Bytes),
}

#[derive(Clone, Debug)]
struct SourceFile {
    name: Arc<str>,
    input: Input,
    format: Format,
}

/// A file or a directory of files read as one table with one schema.
#[derive(Clone, Debug)]
pub struct Source {
    files: Vec<SourceFile>,
    /// The schema as inferred/declared (typed).
    typed: SchemaRef,
    /// The schema batches are decoded into (typed, or strings).
    schema: SchemaRef,
    opts: IngestOptions,
}

impl Source {
    /// Opens a file or a directory (its files sorted by name, not
    /// recursive; files of unknown extension skipped unless a format is
    /// forced). Reads only a bounded sample to settle the schema.
    pub fn open(path: impl AsRef<Path>, opts: &IngestOptions) -> Result<Self, DataError> {
        let path = path.as_ref();
        let shown = path.display().to_string();
        let meta = std::fs::metadata(path).map_err(|e| DataError::io(&shown, e))?;
        let mut files = Vec::new();
        if meta.is_dir() {
            let mut entries = Vec::new();
            for e in std::fs::read_dir(path).map_err(|e| DataError::io(&shown, e))? {
                let e = e.map_err(|e| DataError::io(&shown, e))?;
                let p = e.path();
                if !p.is_file() {
                    continue;
                }
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if name.starts_with('.') || name.starts_with('_') {
                    continue;
                }
                if opts.format.is_some() || Format::from_path(&p).is_some() {
                    entries.push(p);
                }
                if entries.len() > opts.max_files {
                    return Err(DataError::Limit {
                        file: shown,
                        message: format!("more than {} files", opts.max_files),
                    });
                }
            }
            entries.sort();
            for p in entries {
                let format = detect_file(&p, opts.format)?;
                files.push(SourceFile {
                    name: p.display().to_string().into(),
                    input: Input::Path(p),
                    format,
                });
            }
            if files.is_empty() {
                return Err(DataError::NoFiles { path: shown });
            }
        } else {
            let format = detect_file(path, opts.format)?;
            files.push(SourceFile {
                name: shown.into(),
                input: Input::Path(path.to_path_buf()),
                format,
            });
        }
        Self::from_files(files, opts)
    }

    /// A source over bytes already in memory (tests, fuzzing, uploads).
    pub fn from_bytes(
        name: &str,
        bytes: impl Into<Bytes>,
        format: Format,
        opts: &IngestOptions,
    ) -> Result<Self, DataError> {
        Self::from_files(
            vec![SourceFile {
                name: name.into(),
                input: Input::Memory(bytes.into()),
                format,
            }],
            opts,
        )
    }

    fn from_files(files: Vec<SourceFile>, opts: &IngestOptions) -> Result<Self, DataError> {
        let mut opts = opts.clone();
        opts.batch_rows = opts.batch_rows.max(1);
        opts.max_record_bytes = opts.max_record_bytes.max(16);
        let first = files.first().ok_or_else(|| DataError::NoFiles {
            path: String::new(),
        })?;
        let typed = Arc::new(infer_schema(first, &opts)?);
        let schema = if opts.all_strings && first.format != Format::Parquet {
            Arc::new(stringify(&typed))
        } else {
            typed.clone()
        };
        Ok(Self {
            files,
            typed,
            schema,
            opts,
        })
    }

    /// The same files read with every CSV/JSON scalar column as strings
    /// (what contract checking uses).
    #[must_use]
    pub fn as_strings(&self) -> Source {
        let mut s = self.clone();
        s.opts.all_strings = true;
        // Parquet keeps its Arrow types: they are checked as they are.
        if s.files.first().is_some_and(|f| f.format != Format::Parquet) {
            s.schema = Arc::new(stringify(&s.typed));
        }
        s
    }

    /// The schema of the batches this source yields.
    #[must_use]
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The inferred (typed) schema, whatever `all_strings` says.
    #[must_use]
    pub fn typed_schema(&self) -> &SchemaRef {
        &self.typed
    }

    /// Names of the files, in reading order.
    #[must_use]
    pub fn files(&self) -> Vec<&str> {
        self.files.iter().map(|f| &*f.name).collect()
    }

    /// The name to show for the whole source (the file, or the first file's directory).
    #[must_use]
    pub fn display_name(&self) -> String {
        match self.files.as_slice() {
            [one] => one.name.to_string(),
            many => many
                .first()
                .and_then(|f| {
                    Path::new(&*f.name)
                        .parent()
                        .map(|p| p.display().to_string())
                })
                .unwrap_or_default(),
        }
    }

    /// The options this source reads with.
    #[must_use]
    pub fn options(&self) -> &IngestOptions {
        &self.opts
    }

    /// Calls `f` on every batch in order while a second thread decodes the
    /// next one (at most one batch ahead, so memory stays at about two
    /// batches). Stops at the first error, from reading or from `f`.
    pub fn for_each_batch<E: From<DataError>>(
        &self,
        mut f: impl FnMut(Batch) -> Result<(), E>,
    ) -> Result<(), E> {
        std::thread::scope(|s| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Batch, DataError>>(1);
            s.spawn(move || {
                for b in self.batches() {
                    let failed = b.is_err();
                    // A closed channel means the consumer stopped.
                    if tx.send(b).is_err() || failed {
                        break;
                    }
                }
            });
            for b in rx {
                f(b?)?;
            }
            Ok(())
        })
    }

    /// Streams every row as bounded batches, file after file.
    #[must_use]
    pub fn batches(&self) -> Batches<'_> {
        Batches {
            source: self,
            next_file: 0,
            current: None,
            offset: 0,
            file_offset: 0,
            failed: false,
        }
    }
}

/// Reads CSV or JSON Lines from any reader (one pass: the inference sample
/// is buffered and replayed). For streams that cannot be reopened, such as
/// stdin or a generated stream.
pub fn read_stream<R: Read + Send + 'static>(
    name: &str,
    reader: R,
    format: Format,
    opts: &IngestOptions,
) -> Result<(SchemaRef, StreamBatches), DataError> {
    let file: Arc<str> = name.into();
    match format {
        Format::Parquet => Err(DataError::Format {
            file: name.to_owned(),
            message: "parquet needs a file or bytes, not a stream".into(),
        }),
        Format::Csv | Format::JsonLines => {
            let mut reader = reader;
            let (sample, schema) = sample_and_infer(&file, format, &mut reader, opts)?;
            let schema = Arc::new(if opts.all_strings {
                stringify(&schema)
            } else {
                schema
            });
            let chained: Box<dyn Read + Send> = Box::new(Cursor::new(sample).chain(reader));
            let inner = open_text(&file, format, chained, &schema, opts)?;
            Ok((
                schema,
                StreamBatches {
                    inner,
                    file,
                    offset: 0,
                    done: false,
                },
            ))
        }
    }
}

/// Batches of [`read_stream`].
pub struct StreamBatches {
    inner: FileReader,
    file: Arc<str>,
    offset: u64,
    done: bool,
}

impl Iterator for StreamBatches {
    type Item = Result<Batch, DataError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.inner.next_batch() {
            Ok(Some(batch)) => {
                let b = Batch {
                    offset: self.offset,
                    file_offset: self.offset,
                    file: self.file.clone(),
                    batch,
                };
                self.offset += b.batch.num_rows() as u64;
                Some(Ok(b))
            }
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

fn detect_file(path: &Path, forced: Option<Format>) -> Result<Format, DataError> {
    if let Some(f) = forced {
        return Ok(f);
    }
    let shown = path.display().to_string();
    let mut head = [0u8; 64];
    let mut f = File::open(path).map_err(|e| DataError::io(&shown, e))?;
    let n = read_full(&mut f, &mut head).map_err(|e| DataError::io(&shown, e))?;
    if head[..n].starts_with(b"PAR1") {
        return Ok(Format::Parquet);
    }
    if let Some(fmt) = Format::from_path(path) {
        return Ok(fmt);
    }
    Ok(Format::sniff(&head[..n]).unwrap_or(Format::Csv))
}

fn read_full(r: &mut (impl Read + ?Sized), buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Replaces every scalar type by Utf8 (nested types are kept).
fn stringify(s: &Schema) -> Schema {
    Schema::new(
        s.fields()
            .iter()
            .map(|f| {
                let t = match f.data_type() {
                    DataType::List(_)
                    | DataType::LargeList(_)
                    | DataType::FixedSizeList(..)
                    | DataType::Struct(_)
                    | DataType::Map(..) => f.data_type().clone(),
                    _ => DataType::Utf8,
                };
                Field::new(f.name(), t, true)
            })
            .collect::<Vec<_>>(),
    )
}

fn open_reader(file: &SourceFile) -> Result<Box<dyn Read + Send>, DataError> {
    Ok(match &file.input {
        Input::Path(p) => Box::new(std::io::BufReader::with_capacity(
            1 << 16,
            File::open(p).map_err(|e| DataError::io(&file.name, e))?,
        )),
        Input::Memory(b) => Box::new(Cursor::new(b.clone())),
    })
}

fn infer_schema(file: &SourceFile, opts: &IngestOptions) -> Result<Schema, DataError> {
    match file.format {
        Format::Parquet => {
            let r = open_parquet(file, opts)?;
            Ok(r.schema().as_ref().clone())
        }
        Format::Csv | Format::JsonLines => {
            let mut r = open_reader(file)?;
            let (_, schema) = sample_and_infer(&file.name, file.format, &mut r, opts)?;
            Ok(schema)
        }
    }
}

/// Reads up to `infer_rows` records (bounded by the record cap) and infers
/// a schema; returns the bytes read so a stream can replay them.
fn sample_and_infer(
    name: &str,
    format: Format,
    reader: &mut (dyn Read + Send),
    opts: &IngestOptions,
) -> Result<(Vec<u8>, Schema), DataError> {
    let mut sample = Vec::new();
    match format {
        Format::Csv => {
            let mut framer =
                CsvFramer::new(name, delimiter_for(name, opts), opts.max_record_bytes, None);
            let mut chunk = vec![0u8; 1 << 16];
            let mut records: Vec<(usize, usize)> = Vec::new();
            let mut eof = false;
            while records.len() <= opts.infer_rows && !eof {
                let n = read_full(reader, &mut chunk).map_err(|e| DataError::io(name, e))?;
                let start = sample.len();
                sample.extend_from_slice(&chunk[..n]);
                if n == 0 {
                    eof = true;
                }
                framer.scan(&sample, start, eof, &mut records)?;
            }
            let Some(&(h0, h1)) = records.first() else {
                return Ok((sample, Schema::empty()));
            };
            let header = parse_fields(&sample[h0..h1], framer.delim);
            check_header(name, &header)?;
            let body_end = records
                .get(opts.infer_rows)
                .map_or_else(|| records.last().map_or(h1, |r| r.1), |r| r.1);
            let fmt = arrow_csv::reader::Format::default()
                .with_header(false)
                .with_delimiter(framer.delim);
            let (inferred, _) = fmt
                .infer_schema(Cursor::new(&sample[h1..body_end]), Some(opts.infer_rows))
                .map_err(|e| DataError::parse(name, None, None, e.to_string()))?;
            let fields: Vec<Field> = header
                .iter()
                .enumerate()
                .map(|(i, h)| {
                    let t = inferred
                        .fields()
                        .get(i)
                        .map_or(DataType::Utf8, |f| f.data_type().clone());
                    let t = if t == DataType::Null {
                        DataType::Utf8
                    } else {
                        t
                    };
                    Field::new(h, t, true)
                })
                .collect();
            Ok((sample, Schema::new(fields)))
        }
        Format::JsonLines => {
            let mut lines = LineReader::new(name, opts.max_record_bytes);
            let mut values = Vec::new();
            let mut row = 0u64;
            while values.len() < opts.infer_rows {
                let Some(line) = lines.next_line(reader)? else {
                    break;
                };
                sample.extend_from_slice(line);
                sample.push(b'\n');
                let t = trim_ascii(line);
                if t.is_empty() {
                    continue;
                }
                if std::str::from_utf8(t).is_err() {
                    return Err(DataError::Utf8 {
                        file: name.to_owned(),
                        row: Some(row),
                        line: Some(lines.line),
                        column: None,
                    });
                }
                let v: serde_json::Value = serde_json::from_slice(t)
                    .map_err(|e| DataError::parse(name, Some(row), None, e.to_string()))?;
                if !v.is_object() {
                    return Err(DataError::parse(
                        name,
                        Some(row),
                        None,
                        "expected a JSON object",
                    ));
                }
                values.push(v);
                row += 1;
            }
            // Hand back the unread tail of the line buffer too.
            sample.extend_from_slice(lines.pending());
            let schema = arrow_json::reader::infer_json_schema_from_iterator(values.iter().map(Ok))
                .map_err(|e| DataError::parse(name, None, None, e.to_string()))?;
            // Keep the order of first appearance stable: arrow sorts by name already.
            Ok((sample, schema))
        }
        Format::Parquet => Err(DataError::Format {
            file: name.to_owned(),
            message: "parquet schema comes from its footer".into(),
        }),
    }
}

fn delimiter_for(name: &str, opts: &IngestOptions) -> u8 {
    if opts.delimiter == b',' && name.to_ascii_lowercase().ends_with(".tsv") {
        b'\t'
    } else {
        opts.delimiter
    }
}

fn check_header(name: &str, header: &[String]) -> Result<(), DataError> {
    let mut seen = std::collections::HashSet::new();
    for h in header {
        if !seen.insert(h.as_str()) {
            return Err(DataError::Schema {
                file: name.to_owned(),
                message: format!(
                    "duplicate column name `{}` in the header",
                    mlsecops_core::shorten(h, 80)
                ),
            });
        }
    }
    Ok(())
}

fn trim_ascii(b: &[u8]) -> &[u8] {
    b.trim_ascii()
}

/// Splits one CSV record (terminator included) into unquoted fields.
fn parse_fields(rec: &[u8], delim: u8) -> Vec<String> {
    let rec = rec.strip_suffix(b"\n").unwrap_or(rec);
    let rec = rec.strip_suffix(b"\r").unwrap_or(rec);
    let mut out = Vec::new();
    let mut cur = Vec::new();
    let mut inq = false;
    let mut i = 0;
    while i < rec.len() {
        let b = rec[i];
        if inq {
            if b == b'"' {
                if rec.get(i + 1) == Some(&b'"') {
                    cur.push(b'"');
                    i += 1;
                } else {
                    inq = false;
                }
            } else {
                cur.push(b);
            }
        } else if b == b'"' && cur.is_empty() {
            inq = true;
        } else if b == delim {
            out.push(String::from_utf8_lossy(&cur).into_owned());
            cur.clear();
        } else {
            cur.push(b);
        }
        i += 1;
    }
    out.push(String::from_utf8_lossy(&cur).into_owned());
    out
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Q {
    StartField,
    Unquoted,
    Quoted,
    QuoteInQuoted,
}

/// CSV record framing: finds record ends outside quotes, bounds record
/// length, checks field counts and UTF-8, and counts rows and lines.
struct CsvFramer {
    name: Arc<str>,
    delim: u8,
    max: usize,
    state: Q,
    fields: usize,
    /// Start of the current record in the caller's buffer.
    rec_start: usize,
    /// Position up to which the buffer was scanned.
    pos: usize,
    /// Data rows completed (the header is not counted).
    rows: u64,
    header_seen: bool,
    line: u64,
    rec_line: u64,
    expected: Option<usize>,
}

impl CsvFramer {
    fn new(name: &str, delim: u8, max: usize, expected: Option<usize>) -> Self {
        Self {
            name: name.into(),
            delim,
            max,
            state: Q::StartField,
            fields: 1,
            rec_start: 0,
            pos: 0,
            rows: 0,
            header_seen: false,
            line: 1,
            rec_line: 1,
            expected,
        }
    }

    /// The buffer lost its first `n` bytes.
    fn shift(&mut self, n: usize) {
        self.rec_start -= n;
        self.pos -= n;
    }

    /// Scans `buf[self.pos..]`, pushing `(start, end)` of every complete,
    /// non-blank record (the header included). At `eof` an unterminated
    /// last record is completed by the caller appending `\n`.
    fn scan(
        &mut self,
        buf: &[u8],
        _from: usize,
        eof: bool,
        out: &mut Vec<(usize, usize)>,
    ) -> Result<(), DataError> {
        let delim = self.delim;
        let mut i = self.pos;
        while i < buf.len() {
            let b = buf[i];
            match self.state {
                Q::Quoted => {
                    if b == b'"' {
                        self.state = Q::QuoteInQuoted;
                    } else if b == b'\n' {
                        self.line += 1;
                    }
                }
                Q::StartField | Q::Unquoted | Q::QuoteInQuoted => {
                    if b == b'\n' {
                        self.line += 1;
                        self.end_record(buf, i + 1, out)?;
                    } else if b == delim {
                        self.fields += 1;
                        self.state = Q::StartField;
                    } else if b == b'"' {
                        self.state = match self.state {
                            Q::StartField => Q::Quoted,
                            Q::QuoteInQuoted => Q::Quoted,
                            s => s,
                        };
                    } else if b != b'\r' {
                        self.state = Q::Unquoted;
                    }
                }
            }
            i += 1;
            if i - self.rec_start > self.max {
                return Err(DataError::RecordTooLong {
                    file: self.name.to_string(),
                    row: self.rows,
                    line: self.rec_line,
                    limit: self.max,
                    in_quotes: self.state == Q::Quoted,
                });
            }
        }
        self.pos = i;
        if eof {
            if self.state == Q::Quoted {
                return Err(DataError::UnterminatedQuote {
                    file: self.name.to_string(),
                    row: self.rows,
                    line: self.rec_line,
                });
            }
            if self.rec_start < buf.len() {
                // Last record without a terminator: complete it in place.
                self.end_record(buf, buf.len(), out)?;
                self.pos = buf.len();
            }
        }
        Ok(())
    }

    fn end_record(
        &mut self,
        buf: &[u8],
        end: usize,
        out: &mut Vec<(usize, usize)>,
    ) -> Result<(), DataError> {
        let rec = &buf[self.rec_start..end];
        let blank = rec.iter().all(|&b| b == b'\n' || b == b'\r');
        if !blank {
            if let Err(e) = std::str::from_utf8(rec) {
                let col = count_fields(&rec[..e.valid_up_to()], self.delim);
                return Err(DataError::Utf8 {
                    file: self.name.to_string(),
                    row: self.header_seen.then_some(self.rows),
                    line: Some(self.rec_line),
                    column: Some(format!("#{col}")),
                });
            }
            if let Some(exp) = self.expected
                && self.fields != exp
            {
                return Err(DataError::Ragged {
                    file: self.name.to_string(),
                    row: self.rows,
                    line: self.rec_line,
                    expected: exp,
                    found: self.fields,
                });
            }
            if self.header_seen {
                self.rows += 1;
            } else {
                self.header_seen = true;
                if self.expected.is_none() {
                    self.expected = Some(self.fields);
                }
            }
            out.push((self.rec_start, end));
        }
        self.rec_start = end;
        self.rec_line = self.line;
        self.fields = 1;
        self.state = Q::StartField;
        Ok(())
    }
}

/// 0-based index of the field that contains the end of `prefix`.
fn count_fields(prefix: &[u8], delim: u8) -> usize {
    let mut inq = false;
    let mut n = 0;
    for &b in prefix {
        if b == b'"' {
            inq = !inq;
        } else if b == delim && !inq {
            n += 1;
        }
    }
    n
}

/// Bounded line splitting for JSON Lines.
struct LineReader {
    name: Arc<str>,
    max: usize,
    buf: Vec<u8>,
    start: usize,
    scanned: usize,
    eof: bool,
    /// 1-based line number of the line last returned.
    line: u64,
    last_len: usize,
}

impl LineReader {
    fn new(name: &str, max: usize) -> Self {
        Self {
            name: name.into(),
            max,
            buf: Vec::new(),
            start: 0,
            scanned: 0,
            eof: false,
            line: 0,
            last_len: 0,
        }
    }

    fn pending(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// The next line without its terminator, or `None` at the end.
    fn next_line(&mut self, r: &mut (dyn Read + Send)) -> Result<Option<&[u8]>, DataError> {
        self.start += self.last_len;
        self.last_len = 0;
        loop {
            if let Some(p) = self.buf[self.scanned..].iter().position(|&b| b == b'\n') {
                let end = self.scanned + p;
                if end - self.start > self.max {
                    return Err(self.too_long());
                }
                self.scanned = end + 1;
                self.last_len = end + 1 - self.start;
                self.line += 1;
                return Ok(Some(&self.buf[self.start..end]));
            }
            self.scanned = self.buf.len();
            if self.buf.len() - self.start > self.max {
                return Err(self.too_long());
            }
            if self.eof {
                if self.start < self.buf.len() {
                    self.last_len = self.buf.len() - self.start;
                    self.line += 1;
                    return Ok(Some(&self.buf[self.start..]));
                }
                return Ok(None);
            }
            if self.start > 0 {
                self.buf.drain(..self.start);
                self.scanned -= self.start;
                self.start = 0;
            }
            let old = self.buf.len();
            let want = (1 << 16).min(self.max + 2 - (old - self.start).min(self.max));
            self.buf.resize(old + want.max(1), 0);
            let n = read_full(r, &mut self.buf[old..]).map_err(|e| DataError::io(&self.name, e))?;
            self.buf.truncate(old + n);
            if n == 0 {
                self.eof = true;
            }
        }
    }

    fn too_long(&self) -> DataError {
        DataError::RecordTooLong {
            file: self.name.to_string(),
            row: self.line,
            line: self.line + 1,
            limit: self.max,
            in_quotes: false,
        }
    }
}

/// Reader of one file.
enum FileReader {
    Csv(Box<CsvStream>),
    Json(Box<JsonStream>),
    Parquet {
        name: Arc<str>,
        reader: ParquetRecordBatchReader,
        poisoned: bool,
    },
}

impl FileReader {
    fn next_batch(&mut self) -> Result<Option<RecordBatch>, DataError> {
        match self {
            FileReader::Csv(c) => c.next_batch(),
            FileReader::Json(j) => j.next_batch(),
            FileReader::Parquet {
                name,
                reader,
                poisoned,
            } => {
                if *poisoned {
                    return Ok(None);
                }
                match catch_unwind(AssertUnwindSafe(|| reader.next())) {
                    Ok(None) => Ok(None),
                    Ok(Some(Ok(b))) => Ok(Some(b)),
                    Ok(Some(Err(e))) => {
                        *poisoned = true;
                        Err(DataError::Corrupt {
                            file: name.to_string(),
                            message: mlsecops_core::shorten(&e.to_string(), 300),
                        })
                    }
                    Err(_) => {
                        *poisoned = true;
                        Err(DataError::Corrupt {
                            file: name.to_string(),
                            message: "the parquet decoder failed on a corrupt page".into(),
                        })
                    }
                }
            }
        }
    }
}

fn open_parquet(
    file: &SourceFile,
    opts: &IngestOptions,
) -> Result<ParquetRecordBatchReader, DataError> {
    let corrupt = |m: String| DataError::Corrupt {
        file: file.name.to_string(),
        message: mlsecops_core::shorten(&m, 300),
    };
    let built = catch_unwind(AssertUnwindSafe(
        || -> Result<ParquetRecordBatchReader, DataError> {
            let builder = match &file.input {
                Input::Path(p) => {
                    let f = File::open(p).map_err(|e| DataError::io(&file.name, e))?;
                    ParquetRecordBatchReaderBuilder::try_new(f)
                        .map(|b| b.with_batch_size(opts.batch_rows).build())
                }
                Input::Memory(b) => ParquetRecordBatchReaderBuilder::try_new(b.clone())
                    .map(|b| b.with_batch_size(opts.batch_rows).build()),
            };
            builder
                .map_err(|e| corrupt(e.to_string()))?
                .map_err(|e| corrupt(e.to_string()))
        },
    ));
    match built {
        Ok(r) => r,
        Err(_) => Err(corrupt("the parquet footer could not be decoded".into())),
    }
}

fn open_file(
    file: &SourceFile,
    schema: &SchemaRef,
    opts: &IngestOptions,
) -> Result<FileReader, DataError> {
    match file.format {
        Format::Parquet => {
            let reader = open_parquet(file, opts)?;
            let got = reader.schema();
            let same = got.fields().len() == schema.fields().len()
                && got.fields().iter().zip(schema.fields()).all(|(a, b)| {
                    a.name() == b.name()
                        && (a.data_type() == b.data_type() || *b.data_type() == DataType::Utf8)
                });
            if !same {
                return Err(DataError::Schema {
                    file: file.name.to_string(),
                    message: format!(
                        "schema differs from the first file: {} vs {}",
                        describe(&got),
                        describe(schema)
                    ),
                });
            }
            if got
                .fields()
                .iter()
                .zip(schema.fields())
                .any(|(a, b)| a.data_type() != b.data_type())
            {
                return Err(DataError::Schema {
                    file: file.name.to_string(),
                    message: "a parquet file cannot be mixed with text files of another schema"
                        .into(),
                });
            }
            Ok(FileReader::Parquet {
                name: file.name.clone(),
                reader,
                poisoned: false,
            })
        }
        Format::Csv | Format::JsonLines => {
            let r = open_reader(file)?;
            open_text(&file.name, file.format, r, schema, opts)
        }
    }
}

fn describe(s: &Schema) -> String {
    let parts: Vec<String> = s
        .fields()
        .iter()
        .take(20)
        .map(|f| format!("{}: {}", f.name(), f.data_type()))
        .collect();
    mlsecops_core::shorten(&format!("[{}]", parts.join(", ")), 400)
}

fn open_text(
    name: &Arc<str>,
    format: Format,
    reader: Box<dyn Read + Send>,
    schema: &SchemaRef,
    opts: &IngestOptions,
) -> Result<FileReader, DataError> {
    let arrow = |e: ArrowError| DataError::parse(name, None, None, e.to_string());
    match format {
        Format::Csv => {
            let delim = delimiter_for(name, opts);
            let decoder = arrow_csv::ReaderBuilder::new(schema.clone())
                .with_header(false)
                .with_delimiter(delim)
                .with_batch_size(opts.batch_rows)
                .build_decoder();
            Ok(FileReader::Csv(Box::new(CsvStream {
                name: name.clone(),
                reader,
                buf: Vec::with_capacity(1 << 16),
                fed: 0,
                records: Vec::new(),
                framer: CsvFramer::new(
                    name,
                    delim,
                    opts.max_record_bytes,
                    Some(schema.fields().len().max(1)),
                ),
                decoder,
                eof: false,
                header: None,
                schema: schema.clone(),
                fed_rows: 0,
                bytes_since_flush: 0,
                max_batch_bytes: opts.max_batch_bytes,
            })))
        }
        Format::JsonLines => {
            let decoder = arrow_json::ReaderBuilder::new(schema.clone())
                .with_batch_size(opts.batch_rows)
                .with_coerce_primitive(opts.all_strings)
                .build_decoder()
                .map_err(arrow)?;
            Ok(FileReader::Json(Box::new(JsonStream {
                name: name.clone(),
                reader,
                lines: LineReader::new(name, opts.max_record_bytes),
                decoder,
                in_decoder: 0,
                row: 0,
                batch_rows: opts.batch_rows,
                max_batch_bytes: opts.max_batch_bytes,
                bytes_since_flush: 0,
                done: false,
            })))
        }
        Format::Parquet => Err(DataError::Format {
            file: name.to_string(),
            message: "parquet is not a text format".into(),
        }),
    }
}

struct CsvStream {
    name: Arc<str>,
    reader: Box<dyn Read + Send>,
    buf: Vec<u8>,
    /// Bytes of `buf` already handed to the decoder (or skipped: header).
    fed: usize,
    /// Complete records found and not yet fed, as (start, end) in `buf`.
    records: Vec<(usize, usize)>,
    framer: CsvFramer,
    decoder: arrow_csv::reader::Decoder,
    eof: bool,
    header: Option<()>,
    schema: SchemaRef,
    /// Data rows handed to the decoder so far.
    fed_rows: u64,
    bytes_since_flush: usize,
    max_batch_bytes: usize,
}

impl CsvStream {
    fn flush(&mut self) -> Result<Option<RecordBatch>, DataError> {
        self.bytes_since_flush = 0;
        self.decoder.flush().map_err(|e| self.arrow_error(&e))
    }

    fn arrow_error(&self, e: &ArrowError) -> DataError {
        let msg = e.to_string();
        // arrow-csv names the 0-based row (relative to the decoder, which
        // never saw the header) and the column index.
        let row = number_after(&msg, "at line ").or_else(|| number_after(&msg, "for line "));
        let col = number_after(&msg, "for column ").and_then(|i| {
            self.schema
                .fields()
                .get(i as usize)
                .map(|f| f.name().clone())
        });
        let short = msg.split(". Row data").next().unwrap_or(&msg).to_owned();
        DataError::parse(&self.name, row, col.as_deref(), short)
    }

    fn next_batch(&mut self) -> Result<Option<RecordBatch>, DataError> {
        loop {
            // Feed complete records.
            while let Some(&(s, e)) = self.records.first() {
                if self.header.is_none() {
                    let header = parse_fields(&self.buf[s..e], self.framer.delim);
                    let names: Vec<&String> =
                        self.schema.fields().iter().map(|f| f.name()).collect();
                    if header.len() != names.len()
                        || header.iter().zip(&names).any(|(a, b)| a != *b)
                    {
                        return Err(DataError::Schema {
                            file: self.name.to_string(),
                            message: format!(
                                "header {} differs from the first file's {}",
                                mlsecops_core::shorten(&format!("{header:?}"), 200),
                                mlsecops_core::shorten(&format!("{names:?}"), 200)
                            ),
                        });
                    }
                    self.header = Some(());
                    self.fed = e;
                    self.records.remove(0);
                    continue;
                }
                let start = s.max(self.fed);
                let n = self
                    .decoder
                    .decode(&self.buf[start..e])
                    .map_err(|err| self.arrow_error(&err))?;
                self.fed = start + n;
                self.bytes_since_flush += n;
                if self.fed >= e {
                    self.records.remove(0);
                    self.fed_rows += 1;
                }
                if self.decoder.capacity() == 0
                    || n == 0
                    || self.bytes_since_flush >= self.max_batch_bytes
                {
                    if self.fed < e && n > 0 {
                        continue;
                    }
                    if let Some(b) = self.flush()? {
                        return Ok(Some(b));
                    }
                }
            }
            if self.eof {
                return self.flush();
            }
            // Drop consumed bytes, read more, frame it.
            let keep_from = self.fed.min(self.framer.rec_start);
            if keep_from > 0 {
                self.buf.drain(..keep_from);
                self.fed -= keep_from;
                self.framer.shift(keep_from);
                for r in &mut self.records {
                    r.0 -= keep_from;
                    r.1 -= keep_from;
                }
            }
            let old = self.buf.len();
            self.buf.resize(old + (1 << 16), 0);
            let n = read_full(&mut self.reader, &mut self.buf[old..])
                .map_err(|e| DataError::io(&self.name, e))?;
            self.buf.truncate(old + n);
            if n == 0 {
                self.eof = true;
                // Complete a last record that has no terminator.
                if self.framer.rec_start < self.buf.len() && self.framer.state != Q::Quoted {
                    self.buf.push(b'\n');
                }
            }
            self.framer
                .scan(&self.buf, old, self.eof, &mut self.records)?;
        }
    }
}

fn number_after(msg: &str, pat: &str) -> Option<u64> {
    let i = msg.find(pat)? + pat.len();
    let digits: String = msg[i..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

struct JsonStream {
    name: Arc<str>,
    reader: Box<dyn Read + Send>,
    lines: LineReader,
    decoder: arrow_json::reader::Decoder,
    in_decoder: usize,
    row: u64,
    batch_rows: usize,
    max_batch_bytes: usize,
    bytes_since_flush: usize,
    done: bool,
}

impl JsonStream {
    fn flush(&mut self) -> Result<Option<RecordBatch>, DataError> {
        self.in_decoder = 0;
        self.bytes_since_flush = 0;
        let first = self.row;
        self.decoder
            .flush()
            .map_err(|e| DataError::parse(&self.name, Some(first), None, e.to_string()))
    }

    fn next_batch(&mut self) -> Result<Option<RecordBatch>, DataError> {
        loop {
            if self.in_decoder >= self.batch_rows || self.bytes_since_flush >= self.max_batch_bytes
            {
                return self.flush();
            }
            if self.done {
                return self.flush();
            }
            let Some(line) = self.lines.next_line(&mut self.reader)? else {
                self.done = true;
                continue;
            };
            let t = line.trim_ascii();
            if t.is_empty() {
                continue;
            }
            if std::str::from_utf8(t).is_err() {
                return Err(DataError::Utf8 {
                    file: self.name.to_string(),
                    row: Some(self.row),
                    line: Some(self.lines.line),
                    column: None,
                });
            }
            if t.first() != Some(&b'{') {
                return Err(DataError::parse(
                    &self.name,
                    Some(self.row),
                    None,
                    "expected a JSON object",
                ));
            }
            let len = t.len();
            let mut done = 0;
            while done < len {
                let n = self.decoder.decode(&t[done..]).map_err(|e| {
                    DataError::parse(&self.name, Some(self.row), None, e.to_string())
                })?;
                if n == 0 {
                    // Decoder full: cannot happen as we flush at batch_rows, but stay safe.
                    return Err(DataError::parse(
                        &self.name,
                        Some(self.row),
                        None,
                        "json decoder stalled",
                    ));
                }
                done += n;
            }
            // Arrow's tape decoder completes a row on the next token; feed a
            // newline so the row closes here.
            self.decoder
                .decode(b"\n")
                .map_err(|e| DataError::parse(&self.name, Some(self.row), None, e.to_string()))?;
            self.in_decoder += 1;
            self.row += 1;
            self.bytes_since_flush += len;
        }
    }
}

/// Iterator over the batches of a [`Source`].
pub struct Batches<'a> {
    source: &'a Source,
    next_file: usize,
    current: Option<(Arc<str>, FileReader)>,
    offset: u64,
    file_offset: u64,
    failed: bool,
}

impl Iterator for Batches<'_> {
    type Item = Result<Batch, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        loop {
            if self.current.is_none() {
                let f = self.source.files.get(self.next_file)?;
                self.next_file += 1;
                self.file_offset = 0;
                match open_file(f, &self.source.schema, &self.source.opts) {
                    Ok(r) => self.current = Some((f.name.clone(), r)),
                    Err(e) => {
                        self.failed = true;
                        return Some(Err(e));
                    }
                }
            }
            let (name, reader) = self.current.as_mut()?;
            match reader.next_batch() {
                Ok(Some(batch)) if batch.num_rows() == 0 => {}
                Ok(Some(batch)) => {
                    let b = Batch {
                        offset: self.offset,
                        file_offset: self.file_offset,
                        file: name.clone(),
                        batch,
                    };
                    self.offset += b.batch.num_rows() as u64;
                    self.file_offset += b.batch.num_rows() as u64;
                    return Some(Ok(b));
                }
                Ok(None) => self.current = None,
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;

    fn csv(text: &str) -> Result<Vec<Batch>, DataError> {
        let s = Source::from_bytes(
            "t.csv",
            text.as_bytes().to_vec(),
            Format::Csv,
            &IngestOptions::default(),
        )?;
        s.batches().collect()
    }

    #[test]
    fn csv_infers_types_and_counts_rows() {
        let b = csv("a,b,c\n1,x,2.5\n2,\"y,\"\"z\"\"\",3\n\n3,w,\n").unwrap();
        assert_eq!(b.len(), 1);
        let batch = &b[0].batch;
        assert_eq!(batch.num_rows(), 3);
        assert_eq!(batch.schema().field(0).data_type(), &DataType::Int64);
        assert_eq!(batch.schema().field(1).data_type(), &DataType::Utf8);
        assert_eq!(batch.schema().field(2).data_type(), &DataType::Float64);
        assert!(batch.column(2).is_null(2));
    }

    #[test]
    fn csv_small_batches_have_offsets_and_no_trailing_newline() {
        let mut text = String::from("x\n");
        for i in 0..10 {
            text.push_str(&format!("{i}\n"));
        }
        text.pop();
        let opts = IngestOptions {
            batch_rows: 3,
            ..IngestOptions::default()
        };
        let s = Source::from_bytes("t.csv", text.into_bytes(), Format::Csv, &opts).unwrap();
        let b: Vec<Batch> = s.batches().collect::<Result<_, _>>().unwrap();
        assert_eq!(
            b.iter().map(|b| b.batch.num_rows()).collect::<Vec<_>>(),
            vec![3, 3, 3, 1]
        );
        assert_eq!(
            b.iter().map(|b| b.offset).collect::<Vec<_>>(),
            vec![0, 3, 6, 9]
        );
    }

    #[test]
    fn csv_type_error_after_sample_names_row_and_column() {
        let mut text = String::from("id,v\n");
        for i in 0..20 {
            text.push_str(&format!("{i},{i}\n"));
        }
        text.push_str("20,abc\n");
        let opts = IngestOptions {
            infer_rows: 5,
            ..IngestOptions::default()
        };
        let s = Source::from_bytes("t.csv", text.into_bytes(), Format::Csv, &opts).unwrap();
        let e = s
            .batches()
            .collect::<Result<Vec<_>, _>>()
            .unwrap_err()
            .to_string();
        assert!(e.contains("t.csv: row 20 column `v`"), "{e}");
        // …while the string view reads it.
        let rows: usize = s
            .as_strings()
            .batches()
            .map(|b| b.unwrap().batch.num_rows())
            .sum();
        assert_eq!(rows, 21);
    }

    #[test]
    fn jsonl_reads_and_coerces() {
        let text = "{\"a\":1,\"b\":\"x\"}\n\n{\"a\":2.5,\"b\":null}\n";
        let s = Source::from_bytes(
            "t.jsonl",
            text.as_bytes().to_vec(),
            Format::JsonLines,
            &IngestOptions::default(),
        )
        .unwrap();
        let b: Vec<Batch> = s.batches().collect::<Result<_, _>>().unwrap();
        assert_eq!(b[0].batch.num_rows(), 2);
        let st = s.as_strings();
        let b: Vec<Batch> = st.batches().collect::<Result<_, _>>().unwrap();
        assert_eq!(b[0].batch.schema().field(0).data_type(), &DataType::Utf8);
    }

    #[test]
    fn jsonl_bad_line_names_row() {
        let text = "{\"a\":1}\n{\"a\":2}\n{\"a\":\n";
        let s = Source::from_bytes(
            "t.jsonl",
            text.as_bytes().to_vec(),
            Format::JsonLines,
            &IngestOptions::default(),
        );
        let e = match s {
            Err(e) => e.to_string(),
            Ok(s) => s
                .batches()
                .collect::<Result<Vec<_>, _>>()
                .unwrap_err()
                .to_string(),
        };
        assert!(e.contains("row 2"), "{e}");
    }

    #[test]
    fn format_detection() {
        assert_eq!(
            Format::from_path(Path::new("a/b.PARQUET")),
            Some(Format::Parquet)
        );
        assert_eq!(Format::sniff(b"PAR1xxxx"), Some(Format::Parquet));
        assert_eq!(Format::sniff(b"  {\"a\":1}"), Some(Format::JsonLines));
        assert_eq!(Format::sniff(b"a,b"), None);
        assert_eq!("ndjson".parse::<Format>(), Ok(Format::JsonLines));
    }

    #[test]
    fn parse_fields_unquotes() {
        assert_eq!(
            parse_fields(b"a,\"b,\"\"c\"\"\",\r\n", b','),
            vec!["a", "b,\"c\"", ""]
        );
    }
}
