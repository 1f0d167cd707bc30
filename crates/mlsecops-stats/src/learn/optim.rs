//! Limited-memory BFGS (Liu & Nocedal, "On the limited memory BFGS method
//! for large scale optimization", Math. Programming 1989) with the two-loop
//! recursion and a backtracking Armijo line search; enough for the smooth,
//! strongly convex objectives of L2-regularized logistic regression.

/// Stopping rules for [`minimize`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct LbfgsSettings {
    /// Maximum number of iterations (line searches).
    pub max_iter: usize,
    /// Stop when the largest gradient component is below this.
    pub gtol: f64,
    /// Stop when the relative objective decrease is below this.
    pub ftol: f64,
    /// History size.
    pub memory: usize,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Minimizes `f` from `x` (updated in place); `f(x, grad)` returns the
/// objective and writes the gradient. Returns the number of evaluations.
pub(crate) fn minimize(
    x: &mut [f64],
    s: LbfgsSettings,
    mut f: impl FnMut(&[f64], &mut [f64]) -> f64,
) -> usize {
    let n = x.len();
    let mut g = vec![0.0; n];
    let mut fx = f(x, &mut g);
    let mut evals = 1;
    if !fx.is_finite() {
        return evals;
    }
    let mut hist_s: Vec<Vec<f64>> = Vec::new();
    let mut hist_y: Vec<Vec<f64>> = Vec::new();
    let mut hist_rho: Vec<f64> = Vec::new();
    let mut d = vec![0.0; n];
    let mut x_new = vec![0.0; n];
    let mut g_new = vec![0.0; n];
    let mut alpha = vec![0.0; s.memory.max(1)];
    for it in 0..s.max_iter {
        let gmax = g.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        if gmax <= s.gtol {
            break;
        }
        // Two-loop recursion: d = -H g.
        d.copy_from_slice(&g);
        let m = hist_s.len();
        for i in (0..m).rev() {
            alpha[i] = hist_rho[i] * dot(&hist_s[i], &d);
            for (dj, yj) in d.iter_mut().zip(&hist_y[i]) {
                *dj -= alpha[i] * yj;
            }
        }
        let gamma = if m > 0 {
            let yy = dot(&hist_y[m - 1], &hist_y[m - 1]);
            if yy > 0.0 {
                1.0 / (hist_rho[m - 1] * yy)
            } else {
                1.0
            }
        } else {
            1.0 / gmax.max(1.0)
        };
        for v in &mut d {
            *v *= gamma;
        }
        for i in 0..m {
            let beta = hist_rho[i] * dot(&hist_y[i], &d);
            for (dj, sj) in d.iter_mut().zip(&hist_s[i]) {
                *dj += sj * (alpha[i] - beta);
            }
        }
        for v in &mut d {
            *v = -*v;
        }
        let mut slope = dot(&g, &d);
        if slope >= 0.0 {
            // Not a descent direction: restart from steepest descent.
            hist_s.clear();
            hist_y.clear();
            hist_rho.clear();
            for (dj, gj) in d.iter_mut().zip(&g) {
                *dj = -gj / gmax.max(1.0);
            }
            slope = dot(&g, &d);
        }
        // Backtracking Armijo line search.
        let mut step = 1.0;
        let mut accepted = false;
        let mut f_new = fx;
        for _ in 0..30 {
            for ((xn, xi), di) in x_new.iter_mut().zip(x.iter()).zip(&d) {
                *xn = xi + step * di;
            }
            f_new = f(&x_new, &mut g_new);
            evals += 1;
            if f_new.is_finite() && f_new <= fx + 1e-4 * step * slope {
                accepted = true;
                break;
            }
            step *= 0.5;
        }
        if !accepted {
            break;
        }
        let sv: Vec<f64> = x_new.iter().zip(x.iter()).map(|(a, b)| a - b).collect();
        let yv: Vec<f64> = g_new.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy = dot(&sv, &yv);
        if sy > 1e-12 * dot(&yv, &yv).max(1e-300) {
            if hist_s.len() == s.memory.max(1) {
                hist_s.remove(0);
                hist_y.remove(0);
                hist_rho.remove(0);
            }
            hist_s.push(sv);
            hist_y.push(yv);
            hist_rho.push(1.0 / sy);
        }
        x.copy_from_slice(&x_new);
        g.copy_from_slice(&g_new);
        let rel = (fx - f_new) / fx.abs().max(f_new.abs()).max(1.0);
        fx = f_new;
        if rel <= s.ftol && it > 0 {
            break;
        }
    }
    evals
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimizes_an_ill_conditioned_quadratic() {
        let scale = [1.0, 10.0, 100.0, 1000.0];
        let mut x = vec![1.0; 4];
        minimize(
            &mut x,
            LbfgsSettings {
                max_iter: 200,
                gtol: 1e-10,
                ftol: 0.0,
                memory: 5,
            },
            |x, g| {
                let mut f = 0.0;
                for i in 0..4 {
                    let d = x[i] - 3.0;
                    f += 0.5 * scale[i] * d * d;
                    g[i] = scale[i] * d;
                }
                f
            },
        );
        assert!(x.iter().all(|v| (v - 3.0).abs() < 1e-6), "{x:?}");
    }
}
