//! Column extraction for the analyses: numeric feature matrices, label
//! indices, ids and text columns from a [`Source`], with a row cap; and
//! user-supplied embeddings or probabilities from Parquet or `.npy`.
//!
//! Encoding of features: numeric and boolean columns become `f64` (NaN for
//! nulls and unparsable cells); a string column with at most
//! [`ExtractOptions::max_one_hot`] distinct values is one-hot encoded (one
//! column `name=value` per value, sorted), a string column with more is
//! ordinal-encoded (index of the value in sorted order).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_schema::DataType;
use mlsecops_stats::Matrix;

use crate::cells::{TextCells, f64_at, is_numeric};
use crate::error::DataError;
use crate::ingest::{IngestOptions, Source};

/// What to extract.
#[derive(Clone, Debug)]
pub struct ExtractOptions {
    /// Feature columns (empty: every column except label, id and text).
    pub features: Vec<String>,
    pub label: Option<String>,
    pub id: Option<String>,
    pub text: Vec<String>,
    /// Read at most this many rows (the first ones).
    pub max_rows: Option<u64>,
    /// One-hot encode string features with at most this many values (default 16).
    pub max_one_hot: usize,
}

impl Default for ExtractOptions {
    fn default() -> Self {
        Self {
            features: Vec::new(),
            label: None,
            id: None,
            text: Vec::new(),
            max_rows: None,
            max_one_hot: 16,
        }
    }
}

/// Extracted columns, row-aligned.
#[derive(Clone, Debug)]
pub struct Extracted {
    pub rows: usize,
    /// Features, row-major.
    pub features: Matrix,
    /// Names of the matrix columns (`col` or `col=value` for one-hot).
    pub feature_names: Vec<String>,
    /// Class index per row (`None` for a null label) and class names (sorted).
    pub labels: Option<(Vec<Option<usize>>, Vec<String>)>,
    pub ids: Option<Vec<String>>,
    pub texts: BTreeMap<String, Vec<Option<String>>>,
}

enum Col {
    Num(Vec<f64>),
    Str(Vec<Option<String>>),
}

/// Reads the requested columns (a second pass is never needed).
pub fn extract(source: &Source, opts: &ExtractOptions) -> Result<Extracted, DataError> {
    let schema = source.schema().clone();
    let name = source.display_name();
    let need = |c: &str| {
        schema.index_of(c).map_err(|_| DataError::Schema {
            file: name.clone(),
            message: format!("no column `{c}`"),
        })
    };
    let features: Vec<String> = if opts.features.is_empty() {
        schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .filter(|n| {
                Some(n) != opts.label.as_ref()
                    && Some(n) != opts.id.as_ref()
                    && !opts.text.contains(n)
            })
            .collect()
    } else {
        opts.features.clone()
    };
    let fidx: Vec<usize> = features.iter().map(|c| need(c)).collect::<Result<_, _>>()?;
    let lidx = opts.label.as_deref().map(need).transpose()?;
    let iidx = opts.id.as_deref().map(need).transpose()?;
    let tidx: Vec<usize> = opts
        .text
        .iter()
        .map(|c| need(c))
        .collect::<Result<_, _>>()?;
    let mut cols: Vec<Col> = fidx
        .iter()
        .map(|&i| {
            let t = schema.field(i).data_type();
            if is_numeric(t) || *t == DataType::Boolean {
                Col::Num(Vec::new())
            } else {
                Col::Str(Vec::new())
            }
        })
        .collect();
    let mut labels: Vec<Option<String>> = Vec::new();
    let mut ids = Vec::new();
    let mut texts: Vec<Vec<Option<String>>> = vec![Vec::new(); tidx.len()];
    let cap = opts.max_rows.unwrap_or(u64::MAX);
    let mut rows = 0u64;
    for b in source.batches() {
        let b = b?;
        let n = (b.batch.num_rows() as u64).min(cap - rows) as usize;
        for (c, &i) in cols.iter_mut().zip(&fidx) {
            let a = b.batch.column(i);
            match c {
                Col::Num(v) => v.extend((0..n).map(|r| f64_at(a, r).unwrap_or(f64::NAN))),
                Col::Str(v) => {
                    let t = TextCells::new(a);
                    v.extend((0..n).map(|r| t.get(r)));
                }
            }
        }
        if let Some(i) = lidx {
            let t = TextCells::new(b.batch.column(i));
            labels.extend((0..n).map(|r| t.get(r)));
        }
        if let Some(i) = iidx {
            let t = TextCells::new(b.batch.column(i));
            ids.extend((0..n).map(|r| t.get(r).unwrap_or_default()));
        }
        for (v, &i) in texts.iter_mut().zip(&tidx) {
            let t = TextCells::new(b.batch.column(i));
            v.extend((0..n).map(|r| t.get(r)));
        }
        rows += n as u64;
        if rows >= cap {
            break;
        }
    }
    let rows = rows as usize;
    // Encode.
    let mut names = Vec::new();
    let mut encoded: Vec<Vec<f64>> = Vec::new();
    for (c, fname) in cols.into_iter().zip(&features) {
        match c {
            Col::Num(v) => {
                names.push(fname.clone());
                encoded.push(v);
            }
            Col::Str(v) => {
                let mut vocab: Vec<&str> = v.iter().flatten().map(String::as_str).collect();
                vocab.sort_unstable();
                vocab.dedup();
                if vocab.len() <= opts.max_one_hot {
                    for val in &vocab {
                        names.push(format!("{fname}={val}"));
                        encoded.push(
                            v.iter()
                                .map(|x| match x {
                                    None => f64::NAN,
                                    Some(x) => f64::from(u8::from(x == val)),
                                })
                                .collect(),
                        );
                    }
                } else {
                    names.push(fname.clone());
                    encoded.push(
                        v.iter()
                            .map(|x| {
                                x.as_deref()
                                    .and_then(|x| vocab.binary_search(&x).ok())
                                    .map_or(f64::NAN, |k| k as f64)
                            })
                            .collect(),
                    );
                }
            }
        }
    }
    let width = encoded.len();
    let mut data = Vec::with_capacity(rows * width);
    for r in 0..rows {
        data.extend(encoded.iter().map(|c| c[r]));
    }
    let features = Matrix::from_vec(rows, width, data).map_err(|e| DataError::Schema {
        file: name.clone(),
        message: e.to_string(),
    })?;
    let labels = lidx.map(|_| {
        let mut classes: Vec<String> = labels.iter().flatten().cloned().collect();
        classes.sort_unstable();
        classes.dedup();
        let idx = labels
            .iter()
            .map(|l| l.as_ref().and_then(|l| classes.binary_search(l).ok()))
            .collect();
        (idx, classes)
    });
    Ok(Extracted {
        rows,
        features,
        feature_names: names,
        labels,
        ids: iidx.map(|_| ids),
        texts: opts.text.iter().cloned().zip(texts).collect(),
    })
}

/// Loads embeddings or class probabilities: a `.npy` file (little-endian
/// `f4`/`f8`, C order, 2-D) or a Parquet file (one list / fixed-size-list
/// column, named or the first such, else every numeric column). At most
/// `max_values` numbers are read.
pub fn load_embeddings(
    path: &Path,
    column: Option<&str>,
    max_values: usize,
) -> Result<Matrix, DataError> {
    let shown = path.display().to_string();
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npy"))
    {
        let f = File::open(path).map_err(|e| DataError::io(&shown, e))?;
        return read_npy(&shown, f, max_values);
    }
    let src = Source::open(path, &IngestOptions::default())?;
    let schema = src.schema().clone();
    let list_col = match column {
        Some(c) => Some(schema.index_of(c).map_err(|_| DataError::Schema {
            file: shown.clone(),
            message: format!("no column `{c}`"),
        })?),
        None => schema.fields().iter().position(|f| {
            matches!(
                f.data_type(),
                DataType::List(_) | DataType::FixedSizeList(..) | DataType::LargeList(_)
            )
        }),
    };
    let mut data = Vec::new();
    let mut rows = 0;
    let mut width: Option<usize> = None;
    let too_many = || DataError::Limit {
        file: shown.clone(),
        message: format!("more than {max_values} values"),
    };
    for b in src.batches() {
        let b = b?;
        if let Some(ci) = list_col {
            let a = b.batch.column(ci);
            let values: Vec<std::sync::Arc<dyn Array>> = match a.data_type() {
                DataType::List(_) => a
                    .as_list::<i32>()
                    .iter()
                    .map(|x| x.unwrap_or_else(|| empty(a)))
                    .collect(),
                DataType::LargeList(_) => a
                    .as_list::<i64>()
                    .iter()
                    .map(|x| x.unwrap_or_else(|| empty(a)))
                    .collect(),
                DataType::FixedSizeList(..) => a
                    .as_fixed_size_list()
                    .iter()
                    .map(|x| x.unwrap_or_else(|| empty(a)))
                    .collect(),
                _ => vec![],
            };
            if values.is_empty() && b.batch.num_rows() > 0 {
                // A plain numeric column: one value per row.
                for r in 0..a.len() {
                    data.push(f64_at(a, r).unwrap_or(f64::NAN));
                }
                width = Some(1);
                rows += a.len();
            }
            for v in values {
                if *width.get_or_insert(v.len()) != v.len() {
                    return Err(DataError::parse(
                        &shown,
                        Some(rows as u64),
                        None,
                        "rows have different lengths",
                    ));
                }
                for k in 0..v.len() {
                    data.push(f64_at(&v, k).unwrap_or(f64::NAN));
                }
                rows += 1;
                if data.len() > max_values {
                    return Err(too_many());
                }
            }
        } else {
            let num: Vec<usize> = (0..b.batch.num_columns())
                .filter(|&i| is_numeric(b.batch.schema().field(i).data_type()))
                .collect();
            width = Some(num.len());
            for r in 0..b.batch.num_rows() {
                data.extend(
                    num.iter()
                        .map(|&i| f64_at(b.batch.column(i), r).unwrap_or(f64::NAN)),
                );
            }
            rows += b.batch.num_rows();
        }
        if data.len() > max_values {
            return Err(too_many());
        }
    }
    Matrix::from_vec(rows, width.unwrap_or(0), data)
        .map_err(|e| DataError::parse(&shown, None, None, e.to_string()))
}

fn empty(a: &std::sync::Arc<dyn Array>) -> std::sync::Arc<dyn Array> {
    let t = match a.data_type() {
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            f.data_type().clone()
        }
        t => t.clone(),
    };
    arrow_array::new_empty_array(&t)
}

/// Parses a `.npy` stream: magic, version 1–3 header (≤ 64 KiB), a 2-D
/// (or 1-D, read as one column) C-order array of little-endian `f4`/`f8`.
pub fn read_npy(name: &str, mut r: impl Read, max_values: usize) -> Result<Matrix, DataError> {
    let bad = |m: &str| DataError::Format {
        file: name.to_owned(),
        message: format!("not a supported .npy file: {m}"),
    };
    let mut pre = [0u8; 8];
    r.read_exact(&mut pre).map_err(|_| bad("truncated"))?;
    if &pre[..6] != b"\x93NUMPY" {
        return Err(bad("bad magic"));
    }
    let hlen = if pre[6] == 1 {
        let mut b = [0u8; 2];
        r.read_exact(&mut b).map_err(|_| bad("truncated"))?;
        usize::from(u16::from_le_bytes(b))
    } else if pre[6] == 2 || pre[6] == 3 {
        let mut b = [0u8; 4];
        r.read_exact(&mut b).map_err(|_| bad("truncated"))?;
        u32::from_le_bytes(b) as usize
    } else {
        return Err(bad("unknown version"));
    };
    if hlen > 65_536 {
        return Err(bad("header too large"));
    }
    let mut h = vec![0u8; hlen];
    r.read_exact(&mut h).map_err(|_| bad("truncated header"))?;
    let h = String::from_utf8_lossy(&h);
    let item = if h.contains("'<f8'") || h.contains("\"<f8\"") {
        8
    } else if h.contains("'<f4'") || h.contains("\"<f4\"") {
        4
    } else {
        return Err(bad("dtype must be little-endian f4 or f8"));
    };
    if h.contains("'fortran_order': True") {
        return Err(bad("fortran order"));
    }
    let shape_at = h.find("'shape'").ok_or_else(|| bad("no shape"))?;
    let open = h[shape_at..].find('(').ok_or_else(|| bad("no shape"))? + shape_at;
    let close = h[open..].find(')').ok_or_else(|| bad("no shape"))? + open;
    let dims: Vec<usize> = h[open + 1..close]
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::parse)
        .collect::<Result<_, _>>()
        .map_err(|_| bad("bad shape"))?;
    let (rows, cols) = match dims.as_slice() {
        [n] => (*n, 1),
        [n, d] => (*n, *d),
        _ => return Err(bad("array must be 1-D or 2-D")),
    };
    let n = rows
        .checked_mul(cols)
        .filter(|&n| n <= max_values)
        .ok_or_else(|| DataError::Limit {
            file: name.to_owned(),
            message: format!("array of {rows}×{cols} exceeds {max_values} values"),
        })?;
    let mut data = Vec::with_capacity(n);
    let mut buf = vec![0u8; item * 8192];
    while data.len() < n {
        let k = (n - data.len()).min(8192);
        r.read_exact(&mut buf[..k * item])
            .map_err(|_| bad("truncated data"))?;
        for c in buf[..k * item].chunks_exact(item) {
            data.push(if item == 8 {
                f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])
            } else {
                f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            });
        }
    }
    Matrix::from_vec(rows, cols, data).map_err(|e| bad(&e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::Format;

    fn npy(descr: &str, shape: &str, payload: &[u8]) -> Vec<u8> {
        let mut h = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        while (10 + h.len() + 1) % 64 != 0 {
            h.push(' ');
        }
        h.push('\n');
        let mut v = b"\x93NUMPY\x01\x00".to_vec();
        v.extend_from_slice(&(h.len() as u16).to_le_bytes());
        v.extend_from_slice(h.as_bytes());
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn npy_f4_and_f8_and_hostile() {
        let p: Vec<u8> = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        let m = read_npy("a.npy", &npy("<f4", "(2, 3)", &p)[..], 100).unwrap();
        assert_eq!((m.rows(), m.cols(), m.get(1, 2)), (2, 3, 6.0));
        let p: Vec<u8> = [1.5f64, 2.5].iter().flat_map(|x| x.to_le_bytes()).collect();
        let m = read_npy("a.npy", &npy("<f8", "(2,)", &p)[..], 100).unwrap();
        assert_eq!((m.rows(), m.cols(), m.get(1, 0)), (2, 1, 2.5));
        // Huge shape with no data: refused by the cap, nothing allocated.
        assert!(
            read_npy(
                "a.npy",
                &npy("<f8", "(4000000000, 4000000000)", &[])[..],
                1 << 20
            )
            .is_err()
        );
        assert!(read_npy("a.npy", &npy("<f8", "(2, 3)", &p)[..], 100).is_err()); // truncated
        assert!(read_npy("a.npy", &npy(">f8", "(1,)", &p)[..], 100).is_err());
        assert!(read_npy("a.npy", &b"junk"[..], 100).is_err());
    }

    #[test]
    fn extract_one_hot_ordinal_labels_ids() {
        let mut t = String::from("id,x,c,many,label,txt\n");
        for i in 0..40 {
            t.push_str(&format!(
                "r{i},{i},{},v{i},{},hello {i}\n",
                if i % 2 == 0 { "a" } else { "b" },
                i % 3
            ));
        }
        let s = Source::from_bytes(
            "t.csv",
            t.into_bytes(),
            Format::Csv,
            &IngestOptions::default(),
        )
        .unwrap();
        let e = extract(
            &s,
            &ExtractOptions {
                label: Some("label".into()),
                id: Some("id".into()),
                text: vec!["txt".into()],
                max_rows: Some(30),
                ..ExtractOptions::default()
            },
        )
        .unwrap();
        assert_eq!(e.rows, 30);
        assert_eq!(e.feature_names, vec!["x", "c=a", "c=b", "many"]);
        assert_eq!(e.features.row(1), &[1.0, 0.0, 1.0, 1.0][..]); // ordinal: "v1" sorts second
        let (idx, classes) = e.labels.unwrap();
        assert_eq!(classes, vec!["0", "1", "2"]);
        assert_eq!(idx[4], Some(1));
        assert_eq!(e.ids.unwrap()[3], "r3");
        assert_eq!(e.texts["txt"][2].as_deref(), Some("hello 2"));
    }
}
