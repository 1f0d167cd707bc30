//! Integration tests of the data guard: hostile inputs (each generated
//! here), directories, Parquet, contract check and quarantine end to end.
// Test helpers unwrap, and read whole small files they wrote themselves.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use mlsecops_data::ingest::read_stream;
use mlsecops_data::{
    CheckOptions, DataError, Format, IngestOptions, ProfileOptions, Source, check_contract,
    profile, write_split,
};
use parquet::arrow::ArrowWriter;

mod cases;

fn read_all(path: &Path, opts: &IngestOptions) -> Result<u64, DataError> {
    let s = Source::open(path, opts)?;
    let mut n = 0;
    for b in s.batches() {
        n += b?.batch.num_rows() as u64;
    }
    Ok(n)
}

fn write_parquet(path: &Path, rows: i64) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("x", DataType::Float64, true),
        Field::new("c", DataType::Utf8, true),
    ]));
    let cols: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(0..rows)),
        Arc::new(Float64Array::from_iter_values(
            (0..rows).map(|i| i as f64 / 10.0),
        )),
        Arc::new(StringArray::from_iter_values(
            (0..rows).map(|i| if i % 2 == 0 { "a" } else { "b" }),
        )),
    ];
    let mut w =
        ArrowWriter::try_new(std::fs::File::create(path).unwrap(), schema.clone(), None).unwrap();
    w.write(&RecordBatch::try_new(schema, cols).unwrap())
        .unwrap();
    w.close().unwrap();
}

/// Yields `header` then `len` bytes of `a` lazily, never holding them.
struct Endless {
    header: Vec<u8>,
    pos: usize,
    left: u64,
}

impl Read for Endless {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos < self.header.len() {
            let n = buf.len().min(self.header.len() - self.pos);
            buf[..n].copy_from_slice(&self.header[self.pos..self.pos + n]);
            self.pos += n;
            return Ok(n);
        }
        let n = (buf.len() as u64).min(self.left) as usize;
        buf[..n].fill(b'a');
        self.left -= n as u64;
        Ok(n)
    }
}

#[test]
fn one_gigabyte_line_is_refused_by_the_cap_without_allocating_it() {
    let opts = IngestOptions {
        max_record_bytes: 1 << 20,
        ..IngestOptions::default()
    };
    for format in [Format::Csv, Format::JsonLines] {
        let header = if format == Format::Csv {
            b"a,b\n1,2\n".to_vec()
        } else {
            b"{\"a\":1}\n{\"a\":\"".to_vec()
        };
        let r = Endless {
            header,
            pos: 0,
            left: 1 << 30,
        };
        let result = read_stream("big", r, format, &opts)
            .and_then(|(_, it)| it.collect::<Result<Vec<_>, _>>());
        let e = result.unwrap_err();
        assert!(
            matches!(e, DataError::RecordTooLong { row: 1, .. }),
            "{format:?}: {e}"
        );
        assert!(
            e.to_string().contains("record longer than 1048576 bytes"),
            "{e}"
        );
    }
}

#[test]
fn hostile_csv_cases_name_file_row_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let case = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        read_all(&p, &IngestOptions::default())
            .unwrap_err()
            .to_string()
    };
    let e = case("ragged.csv", b"a,b,c\n1,2,3\n4,5\n");
    assert!(
        e.contains("ragged.csv: row 1 (line 3): 2 fields, the header has 3"),
        "{e}"
    );
    let e = case("utf8.csv", b"a,b\n1,ok\n2,bad\xff\xfe\n");
    assert!(
        e.contains("utf8.csv: row 1 (line 3) column `#1`: invalid UTF-8"),
        "{e}"
    );
    let mut bomb = b"a,b\n1,2\n3,\"never closed\n".to_vec();
    for _ in 0..1000 {
        bomb.extend_from_slice(b"5,6\n");
    }
    let e = case("bomb.csv", &bomb);
    assert!(
        e.contains("bomb.csv: row 1 (line 3): unterminated quoted field"),
        "{e}"
    );
    // A quote bomb larger than the cap is stopped at the cap, with a hint.
    let p = dir.path().join("bigbomb.csv");
    let mut big = b"a\n\"".to_vec();
    big.extend(std::iter::repeat_n(b'x', 100_000));
    std::fs::write(&p, &big).unwrap();
    let e = read_all(
        &p,
        &IngestOptions {
            max_record_bytes: 10_000,
            ..IngestOptions::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("record longer than 10000 bytes") && e.contains("hint: a quoted field"),
        "{e}"
    );
    let e = case("dup.csv", b"a,a\n1,2\n");
    assert!(e.contains("duplicate column name"), "{e}");
}

#[test]
fn corrupt_parquet_is_an_error_never_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.parquet");
    write_parquet(&good, 1000);
    assert_eq!(read_all(&good, &IngestOptions::default()).unwrap(), 1000);
    let bytes = std::fs::read(&good).unwrap();
    // Bad magic.
    let p = dir.path().join("magic.parquet");
    let mut b = bytes.clone();
    let n = b.len();
    b[n - 4..].copy_from_slice(b"XXXX");
    std::fs::write(&p, &b).unwrap();
    let e = read_all(&p, &IngestOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(&format!("{}: corrupt file", p.display())),
        "{e}"
    );
    // Truncated footer.
    let p = dir.path().join("trunc.parquet");
    std::fs::write(&p, &bytes[..bytes.len() - 20]).unwrap();
    assert!(read_all(&p, &IngestOptions::default()).is_err());
    // Corrupt pages: flip bytes in the data region (every variant must not panic).
    for k in 0..40 {
        let mut b = bytes.clone();
        let at = 4 + (k * 97) % (bytes.len() / 2);
        for x in &mut b[at..at + 8] {
            *x ^= 0x5a;
        }
        let p = dir.path().join(format!("pages{k}.parquet"));
        std::fs::write(&p, &b).unwrap();
        let _ = read_all(&p, &IngestOptions::default());
    }
}

#[test]
fn directory_is_one_table_and_schema_mismatch_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("b.csv"), "x,y\n3,4\n").unwrap();
    std::fs::write(dir.path().join("a.csv"), "x,y\n1,2\n").unwrap();
    std::fs::write(dir.path().join("notes.md"), "ignored").unwrap();
    let s = Source::open(dir.path(), &IngestOptions::default()).unwrap();
    let batches: Vec<_> = s.batches().collect::<Result<_, _>>().unwrap();
    assert_eq!(batches.len(), 2);
    assert!(batches[0].file.ends_with("a.csv") && batches[1].file.ends_with("b.csv"));
    assert_eq!((batches[1].offset, batches[1].file_offset), (1, 0));
    std::fs::write(dir.path().join("c.csv"), "x,z\n5,6\n").unwrap();
    let e = read_all(dir.path(), &IngestOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("c.csv: header"), "{e}");
}

#[test]
fn duplicate_keys_are_found_across_the_files_of_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    // Same row number, different files: only the repeated key is flagged.
    std::fs::write(dir.path().join("a.csv"), "id,v\n1,0.5\n2,0.6\n").unwrap();
    std::fs::write(dir.path().join("b.csv"), "id,v\n3,0.5\n1,0.6\n2,0.5\n").unwrap();
    let src = Source::open(dir.path(), &IngestOptions::default()).unwrap();
    let contract = profile(
        &Source::open(dir.path().join("a.csv"), &IngestOptions::default()).unwrap(),
        &ProfileOptions {
            id_column: Some("id".into()),
            ..ProfileOptions::default()
        },
    )
    .unwrap();
    let out = check_contract(&contract, &src, &CheckOptions::default()).unwrap();
    let dups: Vec<_> = out
        .findings
        .iter()
        .filter(|f| f.rule == "DATA-SCHEMA-DUPLICATE-KEY")
        .collect();
    assert_eq!(dups.len(), 2, "{dups:?}");
    assert!(dups.iter().all(|f| f.location.path.ends_with("b.csv")));
    assert_eq!(dups[0].location.row, Some(1));
    assert!(
        dups[0].message.contains("earlier file"),
        "{}",
        dups[0].message
    );
    let rows: Vec<u64> = out.rejections.reasons().iter().map(|r| r.0).collect();
    assert_eq!(rows, vec![3, 4]);
}

#[test]
fn contract_check_and_quarantine_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let trusted = dir.path().join("trusted.parquet");
    write_parquet(&trusted, 500);
    let opts = ProfileOptions {
        id_column: Some("id".into()),
        ..ProfileOptions::default()
    };
    let contract = profile(
        &Source::open(&trusted, &IngestOptions::default()).unwrap(),
        &opts,
    )
    .unwrap();
    assert!(contract.column("id").unwrap().unique);
    let toml = contract.to_toml().unwrap();
    let contract = mlsecops_data::Contract::from_toml(&toml).unwrap();
    // New data as CSV: a wrong type, an out-of-range value, a bad category, a duplicate id.
    let new = dir.path().join("new.csv");
    let mut t = String::from("id,x,c\n");
    for i in 0..100 {
        t.push_str(&format!(
            "{i},{},{}\n",
            f64::from(i) / 10.0,
            if i % 2 == 0 { "a" } else { "b" }
        ));
    }
    t.push_str("100,abc,a\n101,1e9,b\n102,1.0,zzz\n5,1.0,a\n");
    std::fs::write(&new, t).unwrap();
    let src = Source::open(&new, &IngestOptions::default()).unwrap();
    let out = check_contract(&contract, &src, &CheckOptions::default()).unwrap();
    let reasons = out.rejections.reasons();
    assert_eq!(
        reasons.iter().map(|r| r.0).collect::<Vec<_>>(),
        vec![100, 101, 102, 103]
    );
    assert!(
        out.findings
            .iter()
            .all(|f| f.location.path.ends_with("new.csv"))
    );
    let clean = dir.path().join("clean.parquet");
    let rejected = dir.path().join("rejected.csv");
    let counts = write_split(&src, &reasons, &clean, &rejected).unwrap();
    assert_eq!((counts.clean, counts.rejected), (100, 4));
    assert_eq!(read_all(&clean, &IngestOptions::default()).unwrap(), 100);
    let rej = std::fs::read_to_string(&rejected).unwrap();
    assert!(rej.lines().next().unwrap().ends_with("_mlsecops_reasons"));
    assert!(rej.contains("DATA-SCHEMA-DUPLICATE-KEY: id"), "{rej}");
    // No temporary files left behind.
    assert!(
        std::fs::read_dir(dir.path()).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with('.'))
    );
}

#[test]
fn parquet_contract_check_reads_arrow_types() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.parquet");
    write_parquet(&p, 300);
    let src = Source::open(&p, &IngestOptions::default()).unwrap();
    let c = profile(&src, &ProfileOptions::default()).unwrap();
    let out = check_contract(&c, &src, &CheckOptions::default()).unwrap();
    assert!(out.findings.is_empty(), "{:?}", out.findings);
    assert_eq!(out.rows, 300);
}
