//! Quarantine: splits a source into clean rows and rejected rows (with an
//! extra `_mlsecops_reasons` column). Every input row lands in exactly one
//! output. Outputs are Parquet, or CSV when the path ends in `.csv`; each
//! is written to a temporary file in the same directory, fsynced and
//! renamed, so a crash leaves either the old file or the complete new one.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, BooleanArray, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;

use crate::error::DataError;
use crate::ingest::Source;

/// Name of the reasons column added to rejected rows.
pub const REASONS_COLUMN: &str = "_mlsecops_reasons";

/// Flagged rows and why, kept compactly: one 16-byte entry (row, reason,
/// score) per reason, reason strings interned. A check over a file larger
/// than memory may flag most of its rows (a whole column out of range), so
/// this is the one structure that grows with the input; it stays ~16 bytes
/// per flagged row and reason, against ~200 for a map of string vectors.
///
/// Entries are appended in any order; [`RowReasons::finish`] sorts them and
/// merges repeats (keeping the highest score). Queries expect a finished set.
#[derive(Clone, Debug, Default)]
pub struct RowReasons {
    names: Vec<String>,
    index: HashMap<String, u32>,
    entries: Vec<Entry>,
    finished: bool,
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct Entry {
    row: u64,
    reason: u32,
    score: f32,
}

impl RowReasons {
    /// An empty set.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `row` was flagged for `reason` with `score` in `[0, 1]`.
    pub fn insert(&mut self, row: u64, reason: &str, score: f64) {
        let id = if let Some(&id) = self.index.get(reason) {
            id
        } else {
            let id = self.names.len() as u32;
            self.names.push(reason.to_owned());
            self.index.insert(reason.to_owned(), id);
            id
        };
        let score = if score.is_nan() {
            0.0
        } else {
            score.clamp(0.0, 1.0) as f32
        };
        self.entries.push(Entry {
            row,
            reason: id,
            score,
        });
        self.finished = false;
    }

    /// Sorts by row (a row's reasons in the order each reason was first
    /// used) and merges repeats.
    pub fn finish(&mut self) {
        if self.finished {
            return;
        }
        self.entries.sort_by_key(|e| (e.row, e.reason));
        self.entries.dedup_by(|later, kept| {
            if later.row == kept.row && later.reason == kept.reason {
                kept.score = kept.score.max(later.score);
                true
            } else {
                false
            }
        });
        self.entries.shrink_to_fit();
        self.finished = true;
    }

    /// Whether no row is flagged.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Number of distinct flagged rows.
    #[must_use]
    pub fn row_count(&self) -> usize {
        self.groups(0, None).count()
    }

    /// `(row, reasons, max score)` for each flagged row in `lo..hi`, by row.
    pub fn range(&self, lo: u64, hi: u64) -> impl Iterator<Item = (u64, Vec<&str>, f64)> + '_ {
        self.described(lo, Some(hi))
    }

    fn described(
        &self,
        lo: u64,
        hi: Option<u64>,
    ) -> impl Iterator<Item = (u64, Vec<&str>, f64)> + '_ {
        self.groups(lo, hi).map(|g| {
            let reasons = g
                .iter()
                .map(|e| self.names[e.reason as usize].as_str())
                .collect();
            let score = g.iter().map(|e| f64::from(e.score)).fold(0.0, f64::max);
            (g[0].row, reasons, score)
        })
    }

    /// Every flagged row with its reasons and max score, by row.
    pub fn iter(&self) -> impl Iterator<Item = (u64, Vec<&str>, f64)> + '_ {
        self.described(0, None)
    }

    /// The reasons `row` was flagged for (empty when it was not).
    #[must_use]
    pub fn get(&self, row: u64) -> Vec<&str> {
        self.described(row, row.checked_add(1))
            .next()
            .map(|(_, r, _)| r)
            .unwrap_or_default()
    }

    /// Runs of entries per row for rows in `lo..hi` (`None`: no upper end).
    fn groups(&self, lo: u64, hi: Option<u64>) -> impl Iterator<Item = &[Entry]> + '_ {
        debug_assert!(
            self.finished || self.entries.is_empty(),
            "RowReasons::finish first"
        );
        let start = self.entries.partition_point(|e| e.row < lo);
        let end = hi.map_or(self.entries.len(), |hi| {
            self.entries.partition_point(|e| e.row < hi)
        });
        self.entries[start..end.max(start)].chunk_by(|a, b| a.row == b.row)
    }
}

/// Rows written to each output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SplitCounts {
    pub clean: u64,
    pub rejected: u64,
}

enum Sink {
    Parquet(ArrowWriter<BufWriter<File>>),
    Csv(arrow_csv::Writer<BufWriter<File>>),
}

struct Out {
    tmp: PathBuf,
    dest: PathBuf,
    sink: Option<Sink>,
}

impl Out {
    fn create(dest: &Path, schema: &SchemaRef) -> Result<Self, DataError> {
        let shown = dest.display().to_string();
        let name = dest.file_name().and_then(|n| n.to_str()).unwrap_or("out");
        let tmp = dest.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
        let f = BufWriter::new(File::create(&tmp).map_err(|e| DataError::io(&shown, e))?);
        let sink = if name.to_ascii_lowercase().ends_with(".csv") {
            Sink::Csv(arrow_csv::WriterBuilder::new().with_header(true).build(f))
        } else {
            Sink::Parquet(
                ArrowWriter::try_new(f, schema.clone(), None).map_err(|e| write_err(&shown, &e))?,
            )
        };
        Ok(Self {
            tmp,
            dest: dest.to_path_buf(),
            sink: Some(sink),
        })
    }

    fn write(&mut self, b: &RecordBatch) -> Result<(), DataError> {
        let shown = self.dest.display().to_string();
        match &mut self.sink {
            Some(Sink::Parquet(w)) => w.write(b).map_err(|e| write_err(&shown, &e)),
            Some(Sink::Csv(w)) => w.write(b).map_err(|e| write_err(&shown, &e)),
            None => Ok(()),
        }
    }

    fn commit(mut self) -> Result<(), DataError> {
        let shown = self.dest.display().to_string();
        let file = match self.sink.take() {
            Some(Sink::Parquet(w)) => w.into_inner().map_err(|e| write_err(&shown, &e))?,
            Some(Sink::Csv(w)) => w.into_inner(),
            None => return Ok(()),
        };
        let file = file
            .into_inner()
            .map_err(|e| DataError::io(&shown, e.into_error()))?;
        file.sync_all().map_err(|e| DataError::io(&shown, e))?;
        drop(file);
        std::fs::rename(&self.tmp, &self.dest).map_err(|e| DataError::io(&shown, e))?;
        if let Some(dir) = self.dest.parent().filter(|d| !d.as_os_str().is_empty())
            && let Ok(d) = File::open(dir)
        {
            // Persist the rename; not supported everywhere, so best effort.
            let _ = d.sync_all();
        }
        Ok(())
    }
}

impl Drop for Out {
    fn drop(&mut self) {
        if self.sink.is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

fn write_err(file: &str, e: &dyn std::fmt::Display) -> DataError {
    DataError::Io {
        file: file.to_owned(),
        source: std::io::Error::other(e.to_string()),
    }
}

/// Writes the rows of `source` not in `rejected` to `clean_out`, and the
/// rows in it (global 0-based rows, finished) to `rejected_out` with their
/// reasons joined by `; `. Rows keep their order and values.
pub fn write_split(
    source: &Source,
    rejected: &RowReasons,
    clean_out: &Path,
    rejected_out: &Path,
) -> Result<SplitCounts, DataError> {
    let schema = source.schema().clone();
    let mut rej_fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    rej_fields.push(Field::new(REASONS_COLUMN, DataType::Utf8, false));
    let rej_schema = Arc::new(Schema::new(rej_fields));
    let mut clean = Out::create(clean_out, &schema)?;
    let mut rej = Out::create(rejected_out, &rej_schema)?;
    let mut counts = SplitCounts::default();
    for b in source.batches() {
        let b = b?;
        let n = b.batch.num_rows() as u64;
        let mut mask = vec![false; n as usize];
        let mut reasons = Vec::new();
        for (row, why, _) in rejected.range(b.offset, b.offset + n) {
            mask[(row - b.offset) as usize] = true;
            reasons.push(why.join("; "));
        }
        let keep: BooleanArray = mask.iter().map(|&m| Some(!m)).collect();
        let kept = arrow_select::filter::filter_record_batch(&b.batch, &keep)
            .map_err(|e| write_err(&clean_out.display().to_string(), &e))?;
        counts.clean += kept.num_rows() as u64;
        if kept.num_rows() > 0 {
            clean.write(&kept)?;
        }
        if !reasons.is_empty() {
            let take: BooleanArray = mask.iter().map(|&m| Some(m)).collect();
            let taken = arrow_select::filter::filter_record_batch(&b.batch, &take)
                .map_err(|e| write_err(&rejected_out.display().to_string(), &e))?;
            let mut cols: Vec<ArrayRef> = taken.columns().to_vec();
            cols.push(Arc::new(StringArray::from(reasons)));
            let out = RecordBatch::try_new(rej_schema.clone(), cols)
                .map_err(|e| write_err(&rejected_out.display().to_string(), &e))?;
            counts.rejected += out.num_rows() as u64;
            rej.write(&out)?;
        }
    }
    clean.commit()?;
    rej.commit()?;
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_reasons_sort_merge_and_range() {
        let mut r = RowReasons::new();
        r.insert(7, "B", 0.2);
        r.insert(3, "A", 0.9);
        r.insert(7, "A", 0.5);
        r.insert(7, "B", 0.8);
        r.insert(u64::MAX, "C", f64::NAN);
        r.finish();
        assert_eq!(r.row_count(), 3);
        let all: Vec<(u64, Vec<&str>, f64)> = r.iter().collect();
        assert_eq!(all[0], (3, vec!["A"], f64::from(0.9f32)));
        assert_eq!(all[1].0, 7);
        assert_eq!(all[1].1, vec!["B", "A"]);
        assert!((all[1].2 - 0.8).abs() < 1e-6);
        assert_eq!(all[2], (u64::MAX, vec!["C"], 0.0));
        assert_eq!(r.range(4, 8).map(|g| g.0).collect::<Vec<_>>(), vec![7]);
        assert_eq!(r.range(8, 4).count(), 0);
        assert!(r.get(5).is_empty());
        assert_eq!(r.get(3), vec!["A"]);
        assert_eq!(r.get(u64::MAX), vec!["C"]);
    }
}
