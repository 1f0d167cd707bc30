//! A dense row-major `f64` matrix: the one shape every detector takes.

use serde::Serialize;

/// Dense row-major matrix of `rows × cols` values.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Matrix {
    rows: usize,
    cols: usize,
    data: Vec<f64>,
}

/// Errors building a matrix.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ShapeError {
    #[error("{len} values cannot fill a {rows}×{cols} matrix")]
    Length {
        rows: usize,
        cols: usize,
        len: usize,
    },
}

impl Matrix {
    /// An all-zero matrix.
    #[must_use]
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Self {
            rows,
            cols,
            data: vec![0.0; rows * cols],
        }
    }

    /// Wraps row-major data.
    pub fn from_vec(rows: usize, cols: usize, data: Vec<f64>) -> Result<Self, ShapeError> {
        if rows.checked_mul(cols) != Some(data.len()) {
            return Err(ShapeError::Length {
                rows,
                cols,
                len: data.len(),
            });
        }
        Ok(Self { rows, cols, data })
    }

    /// Builds from rows of equal length (the first row decides the width).
    pub fn from_rows(rows: &[Vec<f64>]) -> Result<Self, ShapeError> {
        let cols = rows.first().map_or(0, Vec::len);
        let mut data = Vec::with_capacity(rows.len() * cols);
        for r in rows {
            if r.len() != cols {
                return Err(ShapeError::Length {
                    rows: rows.len(),
                    cols,
                    len: r.len(),
                });
            }
            data.extend_from_slice(r);
        }
        Ok(Self {
            rows: rows.len(),
            cols,
            data,
        })
    }

    #[must_use]
    pub fn rows(&self) -> usize {
        self.rows
    }

    #[must_use]
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// One row.
    #[must_use]
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// One row, mutable.
    pub fn row_mut(&mut self, i: usize) -> &mut [f64] {
        &mut self.data[i * self.cols..(i + 1) * self.cols]
    }

    #[must_use]
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.data[i * self.cols + j]
    }

    pub fn set(&mut self, i: usize, j: usize, v: f64) {
        self.data[i * self.cols + j] = v;
    }

    /// All values, row-major.
    #[must_use]
    pub fn as_slice(&self) -> &[f64] {
        &self.data
    }

    /// A new matrix holding the given rows, in order.
    #[must_use]
    pub fn select_rows(&self, idx: &[usize]) -> Self {
        let mut data = Vec::with_capacity(idx.len() * self.cols);
        for &i in idx {
            data.extend_from_slice(self.row(i));
        }
        Self {
            rows: idx.len(),
            cols: self.cols,
            data,
        }
    }

    /// Column means and standard deviations (population; 1.0 where a column
    /// is constant so standardizing never divides by zero). Non-finite
    /// values are skipped.
    #[must_use]
    pub fn column_stats(&self) -> (Vec<f64>, Vec<f64>) {
        let mut mean = vec![0.0; self.cols];
        let mut m2 = vec![0.0; self.cols];
        let mut n = vec![0usize; self.cols];
        for i in 0..self.rows {
            for (j, &v) in self.row(i).iter().enumerate() {
                if v.is_finite() {
                    n[j] += 1;
                    let d = v - mean[j];
                    mean[j] += d / n[j] as f64;
                    m2[j] += d * (v - mean[j]);
                }
            }
        }
        let sd = m2
            .iter()
            .zip(&n)
            .map(|(&s, &k)| {
                let v = if k > 0 { (s / k as f64).sqrt() } else { 0.0 };
                if v > 1e-12 { v } else { 1.0 }
            })
            .collect();
        (mean, sd)
    }

    /// Standardizes every column to zero mean and unit variance in place;
    /// non-finite values become 0 (the mean). Returns the (mean, sd) used.
    pub fn standardize(&mut self) -> (Vec<f64>, Vec<f64>) {
        let (mean, sd) = self.column_stats();
        for i in 0..self.rows {
            let cols = self.cols;
            let row = &mut self.data[i * cols..(i + 1) * cols];
            for (j, v) in row.iter_mut().enumerate() {
                *v = if v.is_finite() {
                    (*v - mean[j]) / sd[j]
                } else {
                    0.0
                };
            }
        }
        (mean, sd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standardize_gives_zero_mean_unit_sd_and_survives_constant_columns() {
        let mut m = Matrix::from_rows(&[vec![1.0, 5.0], vec![3.0, 5.0], vec![5.0, 5.0]]).unwrap();
        m.standardize();
        let (mean, sd) = m.column_stats();
        assert!(mean[0].abs() < 1e-12 && (sd[0] - 1.0).abs() < 1e-12);
        assert!(m.get(0, 1).abs() < f64::EPSILON);
    }

    #[test]
    fn from_vec_rejects_wrong_length() {
        assert!(Matrix::from_vec(2, 3, vec![0.0; 5]).is_err());
    }
}
