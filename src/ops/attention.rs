//! Causal grouped-query attention with an optional sliding window, forward
//! and backward.
//!
//! Layouts: queries and outputs are `[T, n_heads·d]` (token-major, as the
//! projections produce them); keys and values are `[n_kv_heads, cap, d]`
//! (head-major, the KV cache layout), of which positions `0..p0+T` are
//! filled. Query t sits at position p0+t and sees keys j with
//! `j ≤ p0+t` and, for a window w, `j > p0+t−w`.
//! Query head h reads KV head h / (n_heads / n_kv_heads).
//!
//! Per head: S = scale·Q·Kᵀ, P = softmax(S) over the visible keys, O = P·V.
//! Backward: dV = Pᵀ·dO, dP = dO·Vᵀ, dS = P ⊙ (dP − Σ_j P·dP), dQ = scale·dS·K,
//! dK = scale·dSᵀ·Q.

use crate::cpu::gemm::{gemm_nn_into, gemm_nt, gemm_tn, OutBlock};
use crate::cpu::SendPtr;
use rayon::prelude::*;

/// One sequence of a packed batch: rows `start..start+len`, positions `pos0..`.
#[derive(Clone, Copy, Debug)]
pub struct SeqSpan {
    pub start: usize,
    pub len: usize,
    pub pos0: usize,
}

/// Query rows processed at once, bounding the score buffer to QB × keys.
const QB: usize = 256;

#[derive(Clone, Copy, Debug)]
pub struct AttnShape {
    pub n_heads: usize,
    pub n_kv_heads: usize,
    pub head_dim: usize,
    pub scale: f32,
    /// Sliding window length (the query's own position included), if any.
    pub window: Option<usize>,
}

impl AttnShape {
    fn group(&self) -> usize {
        self.n_heads / self.n_kv_heads
    }
    /// First visible key position for a query at `pos`.
    fn first_key(&self, pos: usize) -> usize {
        match self.window {
            Some(w) => (pos + 1).saturating_sub(w),
            None => 0,
        }
    }
}

/// Forward for T queries at positions p0..p0+T. `probs`, if given, receives
/// P as `[n_heads, T, p0+T]` (zeros where masked) for the backward pass.
#[allow(clippy::too_many_arguments)]
pub fn attention_forward(
    s: &AttnShape,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    cap: usize,
    p0: usize,
    t: usize,
    out: &mut [f32],
    probs: Option<&mut [f32]>,
) {
    let (h, d) = (s.n_heads, s.head_dim);
    let l = p0 + t;
    assert!(q.len() == t * h * d && out.len() == t * h * d, "attention: q/out sizes");
    assert!(l <= cap && k.len() >= s.n_kv_heads * cap * d && v.len() >= s.n_kv_heads * cap * d, "attention: kv sizes");
    let row = h * d;
    let out_ptr = SendPtr(out.as_mut_ptr());
    let probs_ptr = probs.map(|p| {
        assert_eq!(p.len(), h * t * l, "attention: probs size");
        SendPtr(p.as_mut_ptr())
    });
    (0..h).into_par_iter().for_each(|head| {
        let kv = head / s.group();
        let kh = &k[kv * cap * d..(kv * cap + l) * d];
        let vh = &v[kv * cap * d..(kv * cap + l) * d];
        let mut scores = vec![0f32; QB.min(t) * l];
        let mut t0 = 0;
        while t0 < t {
            let tb = QB.min(t - t0);
            let k_lo = s.first_key(p0 + t0);
            let k_hi = p0 + t0 + tb;
            let nk = k_hi - k_lo;
            let sc = &mut scores[..tb * nk];
            gemm_nt(tb, nk, d, &q[t0 * row + head * d..], row, &kh[k_lo * d..], d, sc, nk, false);
            for (i, srow) in sc.chunks_exact_mut(nk).enumerate() {
                let pos = p0 + t0 + i;
                let (lo, hi) = (s.first_key(pos) - k_lo, pos + 1 - k_lo);
                softmax_masked(srow, lo, hi, s.scale);
            }
            // SAFETY: the block's elements (t0 + i)·row + head·d + j, i < tb,
            // j < d, lie inside `out` (t·row values, asserted; d ≤ row) and are
            // this head's columns of rows t0..t0 + tb: no other task (head)
            // touches them, and nothing else holds `out` during the loop.
            let o = unsafe { OutBlock::from_raw(out_ptr.ptr().add(t0 * row + head * d), tb, d, row) };
            gemm_nn_into(nk, sc, nk, &vh[k_lo * d..], d, o, false);
            if let Some(pp) = probs_ptr {
                for (i, srow) in sc.chunks_exact(nk).enumerate() {
                    // SAFETY: `probs` holds h·t·l values (asserted above) and
                    // head < h, t0 + i < t, so row head·t + t0 + i of l values is
                    // inside it; only this task (its head) touches that row.
                    let dst = unsafe { std::slice::from_raw_parts_mut(pp.ptr().add((head * t + t0 + i) * l), l) };
                    dst[..k_lo].fill(0.0);
                    dst[k_lo..k_hi].copy_from_slice(srow);
                    dst[k_hi..].fill(0.0);
                }
            }
            t0 += tb;
        }
    });
}

/// Softmax of `scale·x[lo..hi]` in place; entries outside are set to 0.
fn softmax_masked(x: &mut [f32], lo: usize, hi: usize, scale: f32) {
    let max = x[lo..hi].iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v * scale));
    let mut sum = 0f32;
    for v in &mut x[lo..hi] {
        *v = (*v * scale - max).exp();
        sum += *v;
    }
    let inv = 1.0 / sum;
    for v in &mut x[lo..hi] {
        *v *= inv;
    }
    x[..lo].fill(0.0);
    x[hi..].fill(0.0);
}

/// Backward for a whole sequence (p0 = 0, T = L): from dO and the saved P,
/// writes dQ (`[T, n_heads·d]`) and accumulates dK, dV (`[n_kv_heads, cap, d]`).
#[allow(clippy::too_many_arguments)]
pub fn attention_backward(
    s: &AttnShape,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    cap: usize,
    t: usize,
    probs: &[f32],
    dout: &[f32],
    dq: &mut [f32],
    dk: &mut [f32],
    dv: &mut [f32],
) {
    let (h, d, g) = (s.n_heads, s.head_dim, s.group());
    let row = h * d;
    if t == 0 {
        return;
    }
    assert!(q.len() == t * row && dout.len() == t * row && dq.len() == t * row && probs.len() == h * t * t);
    assert!(t <= cap && dk.len() >= s.n_kv_heads * cap * d && dv.len() >= s.n_kv_heads * cap * d);
    let dq_ptr = SendPtr(dq.as_mut_ptr());
    // One task per KV head: the heads of a group accumulate into the same dK/dV.
    dk.par_chunks_mut(cap * d).zip(dv.par_chunks_mut(cap * d)).take(s.n_kv_heads).enumerate().for_each(|(kv, (dkh, dvh))| {
        let kh = &k[kv * cap * d..(kv * cap + t) * d];
        let vh = &v[kv * cap * d..(kv * cap + t) * d];
        let mut ds = vec![0f32; t * t];
        for head in kv * g..(kv + 1) * g {
            let p = &probs[head * t * t..(head + 1) * t * t];
            let qh = &q[head * d..];
            let doh = &dout[head * d..];
            // dV += Pᵀ·dO
            gemm_tn(t, d, t, p, t, doh, row, &mut dvh[..t * d], d, true);
            // dP = dO·Vᵀ, then dS = P ⊙ (dP − rowsum(P ⊙ dP)) · scale
            gemm_nt(t, t, d, doh, row, vh, d, &mut ds, t, false);
            for (i, (dsr, pr)) in ds.chunks_exact_mut(t).zip(p.chunks_exact(t)).enumerate() {
                let hi = i + 1;
                let dot: f32 = dsr[..hi].iter().zip(&pr[..hi]).map(|(a, b)| a * b).sum();
                for j in 0..t {
                    dsr[j] = if j < hi { pr[j] * (dsr[j] - dot) * s.scale } else { 0.0 };
                }
            }
            // dQ = dS·K (each head owns its columns of dQ)
            // SAFETY: the block's elements i·row + head·d + j, i < t, j < d,
            // lie inside `dq` (t·row values, asserted) and are this head's
            // columns: the heads of other KV groups, in other tasks, write
            // other columns, and nothing else holds `dq` meanwhile.
            let dqh = unsafe { OutBlock::from_raw(dq_ptr.ptr().add(head * d), t, d, row) };
            gemm_nn_into(t, &ds, t, kh, d, dqh, false);
            // dK += dSᵀ·Q
            gemm_tn(t, d, t, &ds, t, qh, row, &mut dkh[..t * d], d, true);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::rng::Rng;

    fn rand(rng: &mut Rng, n: usize) -> Vec<f32> {
        (0..n).map(|_| rng.next_f32() * 2.0 - 1.0).collect()
    }

    /// Straightforward f64 attention for checking.
    fn naive(s: &AttnShape, q: &[f32], k: &[f32], v: &[f32], cap: usize, p0: usize, t: usize) -> Vec<f64> {
        let (h, d) = (s.n_heads, s.head_dim);
        let mut out = vec![0f64; t * h * d];
        for head in 0..h {
            let kv = head / (h / s.n_kv_heads);
            for i in 0..t {
                let pos = p0 + i;
                let lo = s.window.map_or(0, |w| (pos + 1).saturating_sub(w));
                let scores: Vec<f64> = (lo..=pos)
                    .map(|j| {
                        (0..d).map(|x| q[i * h * d + head * d + x] as f64 * k[(kv * cap + j) * d + x] as f64).sum::<f64>() * s.scale as f64
                    })
                    .collect();
                let m = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let z: f64 = scores.iter().map(|x| (x - m).exp()).sum();
                for (jj, sc) in scores.iter().enumerate() {
                    let p = (sc - m).exp() / z;
                    for x in 0..d {
                        out[i * h * d + head * d + x] += p * v[(kv * cap + lo + jj) * d + x] as f64;
                    }
                }
            }
        }
        out
    }

    #[test]
    fn forward_with_cache_and_window() {
        let mut rng = Rng::new(9);
        for &(window, p0, t) in &[(None, 0, 7), (Some(3), 0, 9), (Some(4), 5, 3), (None, 6, 1)] {
            let s = AttnShape { n_heads: 4, n_kv_heads: 2, head_dim: 8, scale: 0.3, window };
            let cap = 16;
            let q = rand(&mut rng, t * 32);
            let k = rand(&mut rng, 2 * cap * 8);
            let v = rand(&mut rng, 2 * cap * 8);
            let mut out = vec![0f32; t * 32];
            attention_forward(&s, &q, &k, &v, cap, p0, t, &mut out, None);
            let want = naive(&s, &q, &k, &v, cap, p0, t);
            for (a, b) in out.iter().zip(&want) {
                assert!((*a as f64 - b).abs() < 1e-5, "{window:?} {p0} {t}: {a} vs {b}");
            }
        }
    }

    /// An empty sequence is a no-op (the dQ block's size was computed as
    /// (t − 1)·row + d, which wraps at t = 0).
    #[test]
    fn backward_of_nothing_does_nothing() {
        let s = AttnShape { n_heads: 2, n_kv_heads: 1, head_dim: 4, scale: 0.5, window: None };
        let (mut dk, mut dv) = (vec![1f32; 16], vec![1f32; 16]);
        attention_backward(&s, &[], &[0.0; 16], &[0.0; 16], 4, 0, &[], &[], &mut [], &mut dk, &mut dv);
        assert!(dk.iter().chain(&dv).all(|&x| x == 1.0));
    }

    #[test]
    fn backward_matches_finite_differences() {
        let mut rng = Rng::new(10);
        let (t, cap) = (6, 6);
        let s = AttnShape { n_heads: 4, n_kv_heads: 2, head_dim: 4, scale: 0.5, window: Some(4) };
        let q = rand(&mut rng, t * 16);
        let k = rand(&mut rng, 2 * cap * 4);
        let v = rand(&mut rng, 2 * cap * 4);
        let w = rand(&mut rng, t * 16); // L = Σ w ⊙ out
        let loss =
            |q: &[f32], k: &[f32], v: &[f32]| -> f64 { naive(&s, q, k, v, cap, 0, t).iter().zip(&w).map(|(o, w)| o * *w as f64).sum() };
        let mut out = vec![0f32; t * 16];
        let mut p = vec![0f32; 4 * t * t];
        attention_forward(&s, &q, &k, &v, cap, 0, t, &mut out, Some(&mut p));
        let (mut dq, mut dk, mut dv) = (vec![0f32; q.len()], vec![0f32; k.len()], vec![0f32; v.len()]);
        attention_backward(&s, &q, &k, &v, cap, t, &p, &w, &mut dq, &mut dk, &mut dv);
        let h = 1e-3f32;
        let check = |name: &str, x: &[f32], grad: &[f32], which: usize| {
            for i in 0..x.len() {
                let (mut xp, mut xm) = (x.to_vec(), x.to_vec());
                xp[i] += h;
                xm[i] -= h;
                let (lp, lm) = match which {
                    0 => (loss(&xp, &k, &v), loss(&xm, &k, &v)),
                    1 => (loss(&q, &xp, &v), loss(&q, &xm, &v)),
                    _ => (loss(&q, &k, &xp), loss(&q, &k, &xm)),
                };
                let fd = (lp - lm) / (2.0 * h as f64);
                assert!((fd - grad[i] as f64).abs() < 2e-3 * (1.0 + fd.abs()), "{name}[{i}]: {} vs {fd}", grad[i]);
            }
        };
        check("dq", &q, &dq, 0);
        check("dk", &k, &dk, 1);
        check("dv", &v, &dv, 2);
    }
}
