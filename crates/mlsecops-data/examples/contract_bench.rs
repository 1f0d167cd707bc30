//! Measures contract profiling and checking on a 1M rows × 16 columns
//! Parquet file (generated with a fixed seed when absent).
//!
//! `cargo run --release -p mlsecops-data --example contract_bench [PATH] [ROWS]`

use std::fs::File;
use std::sync::Arc;
use std::time::Instant;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use mlsecops_data::{CheckOptions, IngestOptions, ProfileOptions, Source, check_contract, profile};
use mlsecops_stats::Rng;
use parquet::arrow::ArrowWriter;

fn generate(path: &std::path::Path, rows: usize) -> Result<(), Box<dyn std::error::Error>> {
    let mut fields = vec![Field::new("id", DataType::Int64, false)];
    for k in 0..10 {
        fields.push(Field::new(format!("f{k}"), DataType::Float64, true));
    }
    for k in 0..3 {
        fields.push(Field::new(format!("n{k}"), DataType::Int64, false));
    }
    fields.push(Field::new("color", DataType::Utf8, false));
    fields.push(Field::new("label", DataType::Utf8, false));
    let schema = Arc::new(Schema::new(fields));
    let tmp = path.with_extension("tmp");
    let mut w = ArrowWriter::try_new(File::create(&tmp)?, schema.clone(), None)?;
    let mut rng = Rng::new(42);
    let colors = ["red", "green", "blue", "black", "white"];
    let chunk = 65_536;
    let mut start = 0;
    while start < rows {
        let n = chunk.min(rows - start);
        let mut cols: Vec<ArrayRef> = vec![Arc::new(Int64Array::from_iter_values(
            start as i64..(start + n) as i64,
        ))];
        for _ in 0..10 {
            cols.push(Arc::new(Float64Array::from_iter_values(
                (0..n).map(|_| rng.normal()),
            )));
        }
        for k in 0..3 {
            cols.push(Arc::new(Int64Array::from_iter_values(
                (0..n).map(|_| rng.below(100 * (k + 1)) as i64),
            )));
        }
        cols.push(Arc::new(StringArray::from_iter_values(
            (0..n).map(|_| colors[rng.below(5)]),
        )));
        cols.push(Arc::new(StringArray::from_iter_values(
            (0..n).map(|_| if rng.below(10) < 3 { "cat" } else { "dog" }),
        )));
        w.write(&RecordBatch::try_new(schema.clone(), cols)?)?;
        start += n;
    }
    w.close()?;
    std::fs::rename(tmp, path)?;
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().map_or_else(
        || std::env::temp_dir().join("mlsecops-contract-bench.parquet"),
        Into::into,
    );
    let rows: usize = args.next().map_or(Ok(1_000_000), |s| s.parse())?;
    if !path.exists() {
        let t = Instant::now();
        generate(&path, rows)?;
        eprintln!("generated {} in {:.2?}", path.display(), t.elapsed());
    }
    let source = Source::open(&path, &IngestOptions::default())?;
    let t = Instant::now();
    let mut read = 0usize;
    for b in source.batches() {
        read += b?.batch.num_rows();
    }
    eprintln!("read only: {read} rows in {:.2?}", t.elapsed());
    let t = Instant::now();
    let contract = profile(
        &source,
        &ProfileOptions {
            id_column: Some("id".into()),
            label_column: Some("label".into()),
            ..ProfileOptions::default()
        },
    )?;
    let tp = t.elapsed();
    let t = Instant::now();
    let out = check_contract(&contract, &source, &CheckOptions::default())?;
    let tc = t.elapsed();
    let n = contract.rows as f64;
    eprintln!(
        "rows {} cols {}: profile {:.2?} ({:.0} rows/s), check {:.2?} ({:.0} rows/s), findings {}",
        contract.rows,
        contract.columns.len(),
        tp,
        n / tp.as_secs_f64(),
        tc,
        n / tc.as_secs_f64(),
        out.findings.len()
    );
    Ok(())
}
