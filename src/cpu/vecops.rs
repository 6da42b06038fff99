//! Vectorised reductions over long rows (softmax over a 262k vocabulary):
//! max with its index, Σ e^(x−m), and x ← s·e^(x−m) in place.

use super::simd::Simd;

/// (max, index of the first max). NaN-free input assumed; empty → (−∞, 0).
pub fn max_argmax(x: &[f32]) -> (f32, usize) {
    let m = max_dispatch(x);
    // The first index holding the max: one more pass, cheap next to the exps.
    (m, x.iter().position(|&v| v == m).unwrap_or(0))
}

crate::simd_dispatch!(fn max_dispatch(x: &[f32]) -> f32 => max_kernel);

#[inline(always)]
fn max_kernel<S: Simd>(x: &[f32]) -> f32 {
    let nv = x.len() - x.len() % S::LANES;
    // SAFETY: each vector access covers i..i + LANES with i + LANES ≤ nv ≤
    // x.len(); S is the level simd_dispatch! checked the CPU runs (this
    // private kernel is only instantiated by it).
    let mut m = unsafe {
        let mut acc = S::splat(f32::NEG_INFINITY);
        let mut i = 0;
        while i < nv {
            acc = S::max(acc, S::load(x.as_ptr().add(i)));
            i += S::LANES;
        }
        S::hmax(acc)
    };
    for &v in &x[nv..] {
        m = m.max(v);
    }
    m
}

/// Σ e^(x[i] − m), accumulated in f32 lanes.
pub fn sum_exp(x: &[f32], m: f32) -> f32 {
    sum_exp_dispatch(x, m)
}

crate::simd_dispatch!(fn sum_exp_dispatch(x: &[f32], m: f32) -> f32 => sum_exp_kernel);

#[inline(always)]
fn sum_exp_kernel<S: Simd>(x: &[f32], m: f32) -> f32 {
    let nv = x.len() - x.len() % S::LANES;
    // SAFETY: each vector access covers i..i + LANES with i + LANES ≤ nv ≤
    // x.len(); S is the level simd_dispatch! checked the CPU runs (this
    // private kernel is only instantiated by it).
    let mut s = unsafe {
        let (mut acc, mv) = (S::zero(), S::splat(m));
        let mut i = 0;
        while i < nv {
            acc = S::add(acc, S::exp(S::sub(S::load(x.as_ptr().add(i)), mv)));
            i += S::LANES;
        }
        S::hsum(acc)
    };
    for &v in &x[nv..] {
        s += (v - m).exp();
    }
    s
}

/// x[i] ← scale · e^(x[i] − m), in place.
pub fn exp_scale_inplace(x: &mut [f32], m: f32, scale: f32) {
    exp_scale_dispatch(x, m, scale)
}

crate::simd_dispatch!(fn exp_scale_dispatch(x: &mut [f32], m: f32, scale: f32) => exp_scale_kernel);

#[inline(always)]
fn exp_scale_kernel<S: Simd>(x: &mut [f32], m: f32, scale: f32) {
    let nv = x.len() - x.len() % S::LANES;
    // SAFETY: each vector access covers i..i + LANES with i + LANES ≤ nv ≤
    // x.len(); S is the level simd_dispatch! checked the CPU runs (this
    // private kernel is only instantiated by it).
    unsafe {
        let (mv, sv) = (S::splat(m), S::splat(scale));
        let mut i = 0;
        while i < nv {
            let p = x.as_mut_ptr().add(i);
            S::store(p, S::mul(S::exp(S::sub(S::load(p), mv)), sv));
            i += S::LANES;
        }
    }
    for v in &mut x[nv..] {
        *v = (*v - m).exp() * scale;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reductions_match_scalar() {
        let x: Vec<f32> = (0..1003).map(|i| ((i * 37) % 101) as f32 * 0.05 - 2.0).collect();
        let (m, i) = max_argmax(&x);
        assert_eq!(m, x.iter().cloned().fold(f32::NEG_INFINITY, f32::max));
        assert_eq!(i, x.iter().position(|&v| v == m).unwrap());
        let want: f64 = x.iter().map(|&v| ((v - m) as f64).exp()).sum();
        assert!((sum_exp(&x, m) as f64 - want).abs() < 1e-4 * want);
        let mut y = x.clone();
        exp_scale_inplace(&mut y, m, 0.5);
        for (a, b) in y.iter().zip(&x) {
            assert!((*a as f64 - 0.5 * ((b - m) as f64).exp()).abs() < 1e-6);
        }
    }
}
