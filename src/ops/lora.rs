//! LoRA as PEFT defines it, forward and backward:
//!
//!   y += s · (drop(x)·Aᵀ)·Bᵀ,   A `[r, in]`, B `[out, r]`, s = α/r (or α/√r).
//!
//! With h = drop(x)·Aᵀ `[m, r]` saved from the forward pass:
//!   dB += s · dyᵀ·h,   dh = s · dy·B,   dA += dhᵀ·drop(x),   dx += drop'(dh·A).
//! Dropout masks are not stored: they are regenerated from a counter-based
//! hash of (key, index), so backward sees exactly the forward's mask.

use crate::cpu::gemm::{gemm_nn, gemm_nt, gemm_tn};
use crate::cpu::scratch;
use rayon::prelude::*;

/// One adapted projection's trainable matrices.
#[derive(Clone, Debug, PartialEq)]
pub struct LoraWeights {
    pub r: usize,
    pub in_features: usize,
    pub out_features: usize,
    /// `[r, in]`, row-major.
    pub a: Vec<f32>,
    /// `[out, r]`, row-major.
    pub b: Vec<f32>,
    pub scale: f32,
}

/// Gradients with the shapes of [`LoraWeights`]' matrices.
#[derive(Clone, Debug, Default)]
pub struct LoraGrads {
    pub a: Vec<f32>,
    pub b: Vec<f32>,
}

impl LoraGrads {
    pub fn zeros_like(w: &LoraWeights) -> Self {
        LoraGrads { a: vec![0.0; w.a.len()], b: vec![0.0; w.b.len()] }
    }
}

/// Inverted dropout with probability `p`, mask derived from `key` and the
/// element index; kept elements are scaled by 1/(1−p) as torch does.
#[derive(Clone, Copy, Debug)]
pub struct Dropout {
    pub p: f32,
    pub key: u64,
}

/// Elements per parallel task of the dropout passes.
const DROPOUT_CHUNK: usize = 1 << 15;

impl Dropout {
    /// out = drop(x).
    pub fn apply(&self, x: &[f32], out: &mut [f32]) {
        self.run(x, out, false);
    }

    /// acc += drop(g): the dropout's own backward, added to a gradient.
    pub fn add_backward(&self, g: &[f32], acc: &mut [f32]) {
        self.run(g, acc, true);
    }

    fn run(&self, x: &[f32], out: &mut [f32], accumulate: bool) {
        assert_eq!(x.len(), out.len());
        let (key, threshold, scale) = (self.key32(), self.threshold(), 1.0 / (1.0 - self.p));
        x.par_chunks(DROPOUT_CHUNK).zip(out.par_chunks_mut(DROPOUT_CHUNK)).enumerate().for_each(|(c, (x, out))| {
            dropout_dispatch(key, threshold, scale, (c * DROPOUT_CHUNK) as u32, x, out, accumulate);
        });
    }

    fn key32(&self) -> u32 {
        fmix32((self.key as u32) ^ fmix32((self.key >> 32) as u32))
    }

    /// Elements whose 24-bit draw is below this are dropped.
    fn threshold(&self) -> u32 {
        (self.p.clamp(0.0, 1.0) as f64 * (1u32 << 24) as f64) as u32
    }
}

/// Murmur3's 32-bit finaliser: a cheap, well-mixed hash that vectorises
/// (32-bit multiplies only), so masks are regenerated at memory speed.
#[inline(always)]
fn fmix32(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85EB_CA6B);
    h ^= h >> 13;
    h = h.wrapping_mul(0xC2B2_AE35);
    h ^ (h >> 16)
}

crate::simd_dispatch!(fn dropout_dispatch(key: u32, threshold: u32, scale: f32, base: u32, x: &[f32], out: &mut [f32], accumulate: bool) => dropout_kernel);

/// out[i] (+)= x[i]·scale, or 0 where the hash of (key, base + i) falls
/// below the threshold. Plain scalar code: compiled inside each ISA's entry
/// point, the compiler vectorises it for that ISA (`S` only selects that
/// entry point).
#[inline(always)]
#[allow(clippy::extra_unused_type_parameters)]
fn dropout_kernel<S: crate::cpu::simd::Simd>(
    key: u32,
    threshold: u32,
    scale: f32,
    base: u32,
    x: &[f32],
    out: &mut [f32],
    accumulate: bool,
) {
    let keep = |i: usize| fmix32(base.wrapping_add(i as u32).wrapping_mul(0x9E37_79B1) ^ key) >> 8 >= threshold;
    if accumulate {
        for (i, (o, &v)) in out.iter_mut().zip(x).enumerate() {
            *o += if keep(i) { v * scale } else { 0.0 };
        }
    } else {
        for (i, (o, &v)) in out.iter_mut().zip(x).enumerate() {
            *o = if keep(i) { v * scale } else { 0.0 };
        }
    }
}

/// y[m×out] += s·(drop(x)·Aᵀ)·Bᵀ; writes h = drop(x)·Aᵀ `[m, r]` into `h`.
pub fn lora_forward(w: &LoraWeights, x: &[f32], m: usize, dropout: Option<Dropout>, h: &mut [f32], y: &mut [f32]) {
    let (r, inp, out) = (w.r, w.in_features, w.out_features);
    assert!(x.len() == m * inp && h.len() == m * r && y.len() == m * out);
    match dropout {
        Some(d) if d.p > 0.0 => {
            let mut xd = scratch::take(x.len());
            d.apply(x, &mut xd);
            gemm_nt(m, r, inp, &xd, inp, &w.a, inp, h, r, false);
        }
        _ => gemm_nt(m, r, inp, x, inp, &w.a, inp, h, r, false),
    }
    // s is folded into the small matrix B (out × r) rather than applied to
    // the m × out product: one pass over y fewer. PEFT scales the product;
    // the two differ by rounding only (exactly equal when s is a power of two).
    let sb = scaled(&w.b, w.scale);
    gemm_nt(m, out, r, h, r, &sb, r, y, out, true);
}

/// s·v, in a scratch buffer.
fn scaled(v: &[f32], s: f32) -> scratch::Scratch {
    let mut o = scratch::take(v.len());
    o.iter_mut().zip(v).for_each(|(o, v)| *o = v * s);
    o
}

/// Accumulates dA, dB into `g` and the input gradient into `dx`.
#[allow(clippy::too_many_arguments)]
pub fn lora_backward(
    w: &LoraWeights,
    x: &[f32],
    m: usize,
    dropout: Option<Dropout>,
    h: &[f32],
    dy: &[f32],
    g: &mut LoraGrads,
    dx: &mut [f32],
) {
    let (r, inp, out) = (w.r, w.in_features, w.out_features);
    assert!(x.len() == m * inp && h.len() == m * r && dy.len() == m * out && dx.len() == m * inp);
    // The scale s goes onto the small operands (h is m × r, B is out × r),
    // never onto the m × out gradient dy.
    // dBᵀ = (s·h)ᵀ·dy `[r, out]`: wide rows suit the kernel better than dB's `[out, r]`.
    let sh = scaled(h, w.scale);
    let mut dbt = scratch::take(r * out);
    gemm_tn(r, out, m, &sh, r, dy, out, &mut dbt, out, false);
    for (o, row) in g.b.chunks_exact_mut(r).enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v += dbt[j * out + o];
        }
    }
    // dh = dy·(s·B) `[m, r]`.
    let sb = scaled(&w.b, w.scale);
    let mut dh = scratch::take(m * r);
    gemm_nn(m, r, out, dy, out, &sb, r, &mut dh, r, false);
    match dropout {
        Some(d) if d.p > 0.0 => {
            let mut xd = scratch::take(x.len());
            d.apply(x, &mut xd);
            gemm_tn(r, inp, m, &dh, r, &xd, inp, &mut g.a, inp, true);
            // Reuses xd's buffer for dh·A, masked on its way into dx.
            gemm_nn(m, inp, r, &dh, r, &w.a, inp, &mut xd, inp, false);
            d.add_backward(&xd, dx);
        }
        _ => {
            gemm_tn(r, inp, m, &dh, r, x, inp, &mut g.a, inp, true);
            gemm_nn(m, inp, r, &dh, r, &w.a, inp, dx, inp, true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::rng::Rng;

    fn rand(rng: &mut Rng, n: usize) -> Vec<f32> {
        (0..n).map(|_| rng.next_f32() - 0.5).collect()
    }

    #[test]
    fn gradients_match_finite_differences() {
        let mut rng = Rng::new(12);
        let (m, inp, out, r) = (3, 8, 5, 2);
        for dropout in [None, Some(Dropout { p: 0.3, key: 77 })] {
            let w =
                LoraWeights { r, in_features: inp, out_features: out, a: rand(&mut rng, r * inp), b: rand(&mut rng, out * r), scale: 2.0 };
            let x = rand(&mut rng, m * inp);
            let dy = rand(&mut rng, m * out);
            let loss = |w: &LoraWeights, x: &[f32]| -> f64 {
                let mut h = vec![0f32; m * r];
                let mut y = vec![0f32; m * out];
                lora_forward(w, x, m, dropout, &mut h, &mut y);
                y.iter().zip(&dy).map(|(a, b)| *a as f64 * *b as f64).sum()
            };
            let mut h = vec![0f32; m * r];
            let mut y = vec![0f32; m * out];
            lora_forward(&w, &x, m, dropout, &mut h, &mut y);
            let mut g = LoraGrads::zeros_like(&w);
            let mut dx = vec![0f32; m * inp];
            lora_backward(&w, &x, m, dropout, &h, &dy, &mut g, &mut dx);
            let eps = 1e-3;
            for i in 0..w.a.len() {
                let (mut wp, mut wm) = (w.clone(), w.clone());
                wp.a[i] += eps;
                wm.a[i] -= eps;
                let fd = (loss(&wp, &x) - loss(&wm, &x)) / (2.0 * eps as f64);
                assert!((fd - g.a[i] as f64).abs() < 1e-3, "dA[{i}] {} vs {fd}", g.a[i]);
            }
            for i in 0..w.b.len() {
                let (mut wp, mut wm) = (w.clone(), w.clone());
                wp.b[i] += eps;
                wm.b[i] -= eps;
                let fd = (loss(&wp, &x) - loss(&wm, &x)) / (2.0 * eps as f64);
                assert!((fd - g.b[i] as f64).abs() < 1e-3, "dB[{i}] {} vs {fd}", g.b[i]);
            }
            for i in 0..x.len() {
                let (mut xp, mut xm) = (x.clone(), x.clone());
                xp[i] += eps;
                xm[i] -= eps;
                let fd = (loss(&w, &xp) - loss(&w, &xm)) / (2.0 * eps as f64);
                assert!((fd - dx[i] as f64).abs() < 1e-3, "dx[{i}] {} vs {fd}", dx[i]);
            }
        }
    }

    #[test]
    fn dropout_keeps_the_expected_share() {
        let d = Dropout { p: 0.25, key: 5 };
        let x = vec![1f32; 100_000];
        let mut o = vec![0f32; x.len()];
        d.apply(&x, &mut o);
        let kept = o.iter().filter(|&&v| v > 0.0).count() as f64 / x.len() as f64;
        assert!((kept - 0.75).abs() < 0.01, "kept {kept}");
        assert!(o.iter().all(|&v| v == 0.0 || (v - 1.0 / 0.75).abs() < 1e-6));
    }
}
