//! RMSNorm, forward and backward, over rows of `w.len()` elements.
//!
//! y = x · r · w with r = 1/√(mean(x²) + ε). Gemma's `(1 + w)` is folded into
//! `w` when the weights are loaded, so one kernel serves every family; it is
//! also used per head for Gemma's q/k norms (rows of head_dim).
//!
//! Backward, with x̂ = x·r and g = w ⊙ dy:  dx = r · (g − x̂ · mean(x̂ ⊙ g)).

use crate::cpu::simd::Simd;
use rayon::prelude::*;

/// Rows per parallel task: enough work to pay for the scheduling.
const ROWS_PER_TASK: usize = 16;

/// Normalises each row of `x` into `y`; stores 1/rms per row in `rstd` if given.
pub fn rmsnorm_forward(x: &[f32], w: &[f32], eps: f32, y: &mut [f32], rstd: Option<&mut [f32]>) {
    let d = w.len();
    assert!(d > 0 && x.len().is_multiple_of(d) && y.len() == x.len());
    let rows = x.len() / d;
    let mut scratch;
    let rstd = match rstd {
        Some(r) => {
            assert_eq!(r.len(), rows);
            r
        }
        None => {
            scratch = vec![0f32; rows];
            &mut scratch[..]
        }
    };
    let work = |(xc, (yc, rc)): (&[f32], (&mut [f32], &mut [f32]))| {
        for ((xr, yr), r) in xc.chunks_exact(d).zip(yc.chunks_exact_mut(d)).zip(rc.iter_mut()) {
            *r = norm_row(xr, w, eps, yr);
        }
    };
    if rows >= 2 * ROWS_PER_TASK && d >= 64 {
        x.par_chunks(d * ROWS_PER_TASK).zip(y.par_chunks_mut(d * ROWS_PER_TASK).zip(rstd.par_chunks_mut(ROWS_PER_TASK))).for_each(work);
    } else {
        work((x, (y, rstd)));
    }
}

/// In place: each row of `x` is replaced by its normalised value.
pub fn rmsnorm_inplace(x: &mut [f32], w: &[f32], eps: f32) {
    let d = w.len();
    for row in x.chunks_exact_mut(d) {
        let r = 1.0 / ((crate::cpu::gemm::dot(row, row) / d as f32) + eps).sqrt();
        for (v, &wi) in row.iter_mut().zip(w) {
            *v = *v * r * wi;
        }
    }
}

fn norm_row(x: &[f32], w: &[f32], eps: f32, y: &mut [f32]) -> f32 {
    // Mean of squares accumulated in f32 as PyTorch and llama.cpp do.
    let ss = crate::cpu::gemm::dot(x, x);
    let r = 1.0 / ((ss / x.len() as f32) + eps).sqrt();
    scale_mul(x, w, r, y);
    r
}

crate::simd_dispatch!(fn scale_mul(x: &[f32], w: &[f32], r: f32, y: &mut [f32]) => scale_mul_kernel);

#[inline(always)]
fn scale_mul_kernel<S: Simd>(x: &[f32], w: &[f32], r: f32, y: &mut [f32]) {
    let n = x.len().min(w.len()).min(y.len());
    let nv = n - n % S::LANES;
    // SAFETY: each vector access covers i..i + LANES with i + LANES ≤ nv ≤ n,
    // the length of the shortest slice; S is the level simd_dispatch! checked
    // the CPU runs (this private kernel is only instantiated by it).
    unsafe {
        let rv = S::splat(r);
        let mut i = 0;
        while i < nv {
            S::store(y.as_mut_ptr().add(i), S::mul(S::mul(S::load(x.as_ptr().add(i)), rv), S::load(w.as_ptr().add(i))));
            i += S::LANES;
        }
    }
    for i in nv..n {
        y[i] = x[i] * r * w[i];
    }
}

/// Gradient of the input: dx (+)= r · (w⊙dy − x̂ · mean(x̂ ⊙ w ⊙ dy)).
pub fn rmsnorm_backward(x: &[f32], w: &[f32], rstd: &[f32], dy: &[f32], dx: &mut [f32], accumulate: bool) {
    let d = w.len();
    assert!(x.len() == dy.len() && dx.len() == x.len() && rstd.len() * d == x.len());
    // ((x, dy), dx), rstd: one task's rows.
    type Rows<'a> = (((&'a [f32], &'a [f32]), &'a mut [f32]), &'a [f32]);
    let work = |(((xc, dyc), dxc), rc): Rows| {
        for (((xr, dyr), dxr), &r) in xc.chunks_exact(d).zip(dyc.chunks_exact(d)).zip(dxc.chunks_exact_mut(d)).zip(rc) {
            norm_backward_row(xr, w, dyr, r, dxr, accumulate);
        }
    };
    if rstd.len() >= 2 * ROWS_PER_TASK && d >= 64 {
        x.par_chunks(d * ROWS_PER_TASK)
            .zip(dy.par_chunks(d * ROWS_PER_TASK))
            .zip(dx.par_chunks_mut(d * ROWS_PER_TASK))
            .zip(rstd.par_chunks(ROWS_PER_TASK))
            .for_each(work);
    } else {
        work((((x, dy), dx), rstd));
    }
}

crate::simd_dispatch!(fn norm_backward_row(x: &[f32], w: &[f32], dy: &[f32], r: f32, dx: &mut [f32], accumulate: bool) => norm_backward_row_kernel);

/// One row: c = r²·Σ x·w·dy / d, then dx (+)= r·(w·dy − x·c).
#[inline(always)]
fn norm_backward_row_kernel<S: Simd>(x: &[f32], w: &[f32], dy: &[f32], r: f32, dx: &mut [f32], accumulate: bool) {
    let d = x.len().min(w.len()).min(dy.len()).min(dx.len());
    let nv = d - d % S::LANES;
    // SAFETY: each vector access covers i..i + LANES with i + LANES ≤ nv ≤ d,
    // the length of the shortest slice; S is the level simd_dispatch! checked
    // the CPU runs (this private kernel is only instantiated by it).
    unsafe {
        let mut acc = S::zero();
        let mut i = 0;
        while i < nv {
            let wd = S::mul(S::load(w.as_ptr().add(i)), S::load(dy.as_ptr().add(i)));
            acc = S::fma(S::load(x.as_ptr().add(i)), wd, acc);
            i += S::LANES;
        }
        let mut s = S::hsum(acc);
        for i in nv..d {
            s += x[i] * w[i] * dy[i];
        }
        let c = r * r * s / d as f32;
        let (rv, cv) = (S::splat(r), S::splat(c));
        let mut i = 0;
        while i < nv {
            let wd = S::mul(S::load(w.as_ptr().add(i)), S::load(dy.as_ptr().add(i)));
            let g = S::mul(rv, S::sub(wd, S::mul(S::load(x.as_ptr().add(i)), cv)));
            let p = dx.as_mut_ptr().add(i);
            S::store(p, if accumulate { S::add(S::load(p), g) } else { g });
            i += S::LANES;
        }
        for i in nv..d {
            let g = r * (w[i] * dy[i] - x[i] * c);
            dx[i] = if accumulate { dx[i] + g } else { g };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::rng::Rng;

    #[test]
    fn forward_matches_definition() {
        let mut rng = Rng::new(5);
        let (rows, d) = (3, 20);
        let x: Vec<f32> = (0..rows * d).map(|_| rng.next_f32() - 0.5).collect();
        let w: Vec<f32> = (0..d).map(|_| rng.next_f32() + 0.5).collect();
        let mut y = vec![0f32; rows * d];
        let mut r = vec![0f32; rows];
        rmsnorm_forward(&x, &w, 1e-6, &mut y, Some(&mut r));
        for t in 0..rows {
            let ms: f64 = x[t * d..(t + 1) * d].iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / d as f64;
            let rr = 1.0 / (ms + 1e-6).sqrt();
            for i in 0..d {
                assert!((y[t * d + i] as f64 - x[t * d + i] as f64 * rr * w[i] as f64).abs() < 1e-6);
            }
        }
        let mut z = x.clone();
        rmsnorm_inplace(&mut z, &w, 1e-6);
        assert!(z.iter().zip(&y).all(|(a, b)| (a - b).abs() < 1e-6));
    }

    #[test]
    fn backward_matches_finite_differences() {
        let mut rng = Rng::new(6);
        let (rows, d) = (2, 16);
        let x: Vec<f64> = (0..rows * d).map(|_| rng.next_f64() - 0.5).collect();
        let w: Vec<f32> = (0..d).map(|_| rng.next_f32() + 0.5).collect();
        let dy: Vec<f32> = (0..rows * d).map(|_| rng.next_f32() - 0.5).collect();
        // Loss L = Σ dy ⊙ y, evaluated in f64 for the finite differences.
        let loss = |x: &[f64]| -> f64 {
            let mut l = 0.0;
            for t in 0..rows {
                let row = &x[t * d..(t + 1) * d];
                let r = 1.0 / (row.iter().map(|v| v * v).sum::<f64>() / d as f64 + 1e-6).sqrt();
                for i in 0..d {
                    l += dy[t * d + i] as f64 * row[i] * r * w[i] as f64;
                }
            }
            l
        };
        let xf: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        let mut y = vec![0f32; rows * d];
        let mut r = vec![0f32; rows];
        rmsnorm_forward(&xf, &w, 1e-6, &mut y, Some(&mut r));
        let mut dx = vec![0f32; rows * d];
        rmsnorm_backward(&xf, &w, &r, &dy, &mut dx, false);
        for i in 0..rows * d {
            let h = 1e-5;
            let (mut xp, mut xm) = (x.clone(), x.clone());
            xp[i] += h;
            xm[i] -= h;
            let fd = (loss(&xp) - loss(&xm)) / (2.0 * h);
            assert!((fd - dx[i] as f64).abs() < 1e-4 * (1.0 + fd.abs()), "dx[{i}] {} vs fd {fd}", dx[i]);
        }
    }
}
