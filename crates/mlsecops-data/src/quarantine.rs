//! Quarantine: splits a source into clean rows and rejected rows (with an
//! extra `_mlsecops_reasons` column). Every input row lands in exactly one
//! output. Outputs are Parquet, or CSV when the path ends in `.csv`; each
//! is written to a temporary file in the same directory, fsynced and
//! renamed, so a crash leaves either the old file or the complete new one.

use std::collections::BTreeMap;
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
/// rows in it (global 0-based row → reasons) to `rejected_out` with their
/// reasons joined by `; `. Rows keep their order and values.
pub fn write_split(
    source: &Source,
    rejected: &BTreeMap<u64, Vec<String>>,
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
        let range = rejected.range(b.offset..b.offset + n);
        let mut mask = vec![false; n as usize];
        let mut reasons = Vec::new();
        for (&row, why) in range {
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
