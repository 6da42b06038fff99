//! The output layer fused with cross-entropy, forward and backward, at the
//! labelled positions only (the idea of Liger's fused linear cross-entropy
//! and llm.c's fused classifier).
//!
//! With a 262k-token vocabulary the logits of a whole batch would not fit in
//! memory, and most positions carry no label. So the labelled positions are
//! taken in chunks whose logits fit a fixed budget (128 MB): for each chunk,
//! one GEMM writes the logits (vocabulary panels dequantised once each, in
//! parallel), each position is reduced to its log-sum-exp, loss and argmax
//! and its logits turned in place into scale·(softmax − one-hot), and a
//! second GEMM accumulates dH = dlogits·W. Two GEMMs per chunk, where
//! recomputing the logits would take three.

use crate::cpu::gemm::{gemm_nn, gemm_tn, with_serial};
use crate::cpu::scratch;
use crate::cpu::simd::Simd;
use crate::cpu::SendPtr;
use crate::ops::linear::dequantize_rows;
use crate::quant::tensor::QTensor;
use rayon::prelude::*;

/// Vocabulary rows per panel.
const PANEL: usize = 256;
/// Logit values kept at once (32 M floats = 128 MB: 128 positions of a
/// 262k vocabulary, so that a typical step is one chunk and the 168 M-weight
/// output matrix is dequantised twice per step, not four times).
const LOGITS_BUDGET: usize = 32 << 20;

/// What the fused loss returns.
#[derive(Clone, Debug, Default)]
pub struct LossOutput {
    /// Σ over positions of −log softmax(logits)[target].
    pub loss_sum: f64,
    /// Positions whose argmax (lowest id on ties) equals the target.
    pub correct: usize,
    pub count: usize,
}

/// Vocabulary ranges of whole panels, a few per thread.
fn ranges(vocab: usize) -> Vec<(usize, usize)> {
    let tasks = (rayon::current_num_threads() * 2).max(1);
    let per = vocab.div_ceil(tasks).div_ceil(PANEL) * PANEL;
    (0..vocab.div_ceil(per)).map(|i| (i * per, ((i + 1) * per).min(vocab))).collect()
}

/// Cross-entropy of `h` (`[n, d]`, final-norm outputs at labelled positions)
/// against `targets` through `w` (`[vocab, d]`). If `dh` is given, it
/// receives `scale · dL/dh` (e.g. scale = 1/number of labelled tokens).
///
/// The logits are kept transposed, `[vocab, c]` for a chunk of c positions,
/// so that both GEMMs take the weight panels as they are dequantised (no
/// transposition of the 262k×640 matrix) and the softmax reductions run
/// across the c positions in SIMD lanes.
pub fn fused_linear_cross_entropy(h: &[f32], targets: &[u32], w: &QTensor, scale: f32, mut dh: Option<&mut [f32]>) -> LossOutput {
    let (vocab, d) = (w.rows(), w.cols());
    let n = targets.len();
    assert_eq!(h.len(), n * d);
    if n == 0 {
        return LossOutput::default();
    }
    assert!(targets.iter().all(|&t| (t as usize) < vocab), "target outside the vocabulary");
    let chunk = (LOGITS_BUDGET / vocab).clamp(1, n);
    // Every value is written by chunk_logits before it is read: no zeroing.
    let mut logits_t = scratch::take(chunk * vocab);
    let mut out = LossOutput { count: n, ..LossOutput::default() };
    for r0 in (0..n).step_by(chunk) {
        let r1 = (r0 + chunk).min(n);
        let c = r1 - r0;
        let lt = &mut logits_t[..c * vocab];
        // hᵀ `[d, c]`: the chunk's positions as columns.
        let mut ht = vec![0f32; d * c];
        for i in 0..c {
            for k in 0..d {
                ht[k * c + i] = h[(r0 + i) * d + k];
            }
        }
        chunk_logits(&ht, c, w, lt);
        let tg = &targets[r0..r1];
        let stats = column_stats(lt, c, tg);
        for (i, &t) in tg.iter().enumerate() {
            out.loss_sum += (stats.lse[i] - stats.target[i]) as f64;
            out.correct += (stats.argmax[i] == t as usize) as usize;
        }
        if let Some(dh) = dh.as_deref_mut() {
            // In place: scale·(softmax − one-hot), column by column.
            lt.par_chunks_mut(PANEL * c).for_each(|block| {
                for row in block.chunks_exact_mut(c) {
                    softmax_grad_row(row, &stats.lse, scale);
                }
            });
            for (i, &t) in tg.iter().enumerate() {
                lt[t as usize * c + i] -= scale;
            }
            chunk_grad(lt, c, w, &mut dh[r0 * d..r1 * d]);
        }
    }
    out
}

/// Per position (column): max, first argmax, log-sum-exp and the target's logit.
struct ColumnStats {
    lse: Vec<f32>,
    argmax: Vec<usize>,
    target: Vec<f32>,
}

fn column_stats(lt: &[f32], c: usize, targets: &[u32]) -> ColumnStats {
    let vocab = lt.len() / c;
    // Max per column, over vocabulary ranges in parallel, merged in order.
    let parts = ranges(vocab);
    let maxes: Vec<Vec<f32>> = parts
        .par_iter()
        .map(|&(v0, v1)| {
            let mut m = vec![f32::NEG_INFINITY; c];
            for row in lt[v0 * c..v1 * c].chunks_exact(c) {
                for (a, &b) in m.iter_mut().zip(row) {
                    *a = a.max(b);
                }
            }
            m
        })
        .collect();
    let mut max = maxes[0].clone();
    for m in &maxes[1..] {
        max.iter_mut().zip(m).for_each(|(a, b)| *a = a.max(*b));
    }
    // Σ e^(x − max) per column, and the first row reaching the max.
    let sums: Vec<(Vec<f32>, Vec<usize>)> = parts
        .par_iter()
        .map(|&(v0, v1)| {
            let mut s = vec![0f32; c];
            let mut first = vec![usize::MAX; c];
            for (v, row) in (v0..v1).zip(lt[v0 * c..v1 * c].chunks_exact(c)) {
                add_exp_row(row, &max, &mut s);
                for i in 0..c {
                    if row[i] == max[i] && first[i] == usize::MAX {
                        first[i] = v;
                    }
                }
            }
            (s, first)
        })
        .collect();
    let mut sum = vec![0f32; c];
    let mut argmax = vec![usize::MAX; c];
    for (s, f) in &sums {
        sum.iter_mut().zip(s).for_each(|(a, b)| *a += b);
        argmax.iter_mut().zip(f).for_each(|(a, b)| *a = (*a).min(*b));
    }
    let lse = (0..c).map(|i| max[i] + sum[i].ln()).collect();
    let target = targets.iter().enumerate().map(|(i, &t)| lt[t as usize * c + i]).collect();
    ColumnStats { lse, argmax, target }
}

crate::simd_dispatch!(fn add_exp_row(row: &[f32], max: &[f32], sum: &mut [f32]) => add_exp_row_kernel);
crate::simd_dispatch!(fn softmax_grad_row(row: &mut [f32], lse: &[f32], scale: f32) => softmax_grad_row_kernel);

/// sum[i] += e^(row[i] − max[i]).
#[inline(always)]
fn add_exp_row_kernel<S: Simd>(row: &[f32], max: &[f32], sum: &mut [f32]) {
    let n = row.len().min(max.len()).min(sum.len());
    let nv = n - n % S::LANES;
    // SAFETY: each vector access covers i..i + LANES with i + LANES ≤ nv ≤ n,
    // the length of the shortest slice; S is the level simd_dispatch! checked
    // the CPU runs (this private kernel is only instantiated by it).
    unsafe {
        let mut i = 0;
        while i < nv {
            let e = S::exp(S::sub(S::load(row.as_ptr().add(i)), S::load(max.as_ptr().add(i))));
            S::store(sum.as_mut_ptr().add(i), S::add(S::load(sum.as_ptr().add(i)), e));
            i += S::LANES;
        }
    }
    for i in nv..n {
        sum[i] += (row[i] - max[i]).exp();
    }
}

/// row[i] ← scale·e^(row[i] − lse[i]).
#[inline(always)]
fn softmax_grad_row_kernel<S: Simd>(row: &mut [f32], lse: &[f32], scale: f32) {
    let n = row.len().min(lse.len());
    let nv = n - n % S::LANES;
    // SAFETY: each vector access covers i..i + LANES with i + LANES ≤ nv ≤ n,
    // the length of the shortest slice; S is the level simd_dispatch! checked
    // the CPU runs (this private kernel is only instantiated by it).
    unsafe {
        let sv = S::splat(scale);
        let mut i = 0;
        while i < nv {
            let p = row.as_mut_ptr().add(i);
            S::store(p, S::mul(S::exp(S::sub(S::load(p), S::load(lse.as_ptr().add(i)))), sv));
            i += S::LANES;
        }
    }
    for i in nv..n {
        row[i] = (row[i] - lse[i]).exp() * scale;
    }
}

/// logitsᵀ[vocab × c] = W·hᵀ, vocabulary panels in parallel.
fn chunk_logits(ht: &[f32], c: usize, w: &QTensor, lt: &mut [f32]) {
    let (vocab, d) = (w.rows(), w.cols());
    let lp = SendPtr(lt.as_mut_ptr());
    ranges(vocab).into_par_iter().for_each(|(v0, v1)| {
        let mut panel = vec![0f32; PANEL * d];
        for p0 in (v0..v1).step_by(PANEL) {
            let p1 = (p0 + PANEL).min(v1);
            let np = p1 - p0;
            dequantize_rows(w, p0, p1, &mut panel);
            // SAFETY: this task owns rows p0..p1 of lt.
            let dst = unsafe { std::slice::from_raw_parts_mut(lp.ptr().add(p0 * c), np * c) };
            with_serial(|| gemm_nn(np, c, d, &panel[..np * d], d, ht, c, dst, c, false));
        }
    });
}

/// dh[c × d] = gᵀ·W with g = dlogitsᵀ `[vocab × c]`; partial sums per
/// vocabulary range, added in a fixed order (deterministic for a thread count).
fn chunk_grad(gt: &[f32], c: usize, w: &QTensor, dh: &mut [f32]) {
    let (vocab, d) = (w.rows(), w.cols());
    let partials: Vec<Vec<f32>> = ranges(vocab)
        .into_par_iter()
        .map(|(v0, v1)| {
            let mut acc = vec![0f32; c * d];
            let mut panel = vec![0f32; PANEL * d];
            for p0 in (v0..v1).step_by(PANEL) {
                let p1 = (p0 + PANEL).min(v1);
                let np = p1 - p0;
                dequantize_rows(w, p0, p1, &mut panel);
                with_serial(|| gemm_tn(c, d, np, &gt[p0 * c..p1 * c], c, &panel[..np * d], d, &mut acc, d, true));
            }
            acc
        })
        .collect();
    dh.copy_from_slice(&partials[0]);
    for p in &partials[1..] {
        dh.iter_mut().zip(p).for_each(|(a, b)| *a += b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::rng::Rng;

    #[test]
    fn matches_dense_cross_entropy_and_its_gradient() {
        let mut rng = Rng::new(21);
        let (n, d, vocab) = (5, 16, 1000); // several panels and a partial one
        let h: Vec<f32> = (0..n * d).map(|_| rng.next_f32() - 0.5).collect();
        let wv: Vec<f32> = (0..vocab * d).map(|_| rng.next_f32() * 2.0 - 1.0).collect();
        let w = QTensor::from_f32("w", vec![vocab, d], &wv).unwrap();
        let targets: Vec<u32> = vec![3, 999, 256, 511, 0];
        let scale = 0.2;
        let mut dh = vec![0f32; n * d];
        let out = fused_linear_cross_entropy(&h, &targets, &w, scale, Some(&mut dh));
        // Dense reference in f64.
        let mut loss = 0.0;
        let mut correct = 0;
        let mut want = vec![0f64; n * d];
        for i in 0..n {
            let logits: Vec<f64> = (0..vocab).map(|v| (0..d).map(|k| h[i * d + k] as f64 * wv[v * d + k] as f64).sum()).collect();
            let m = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let z: f64 = logits.iter().map(|l| (l - m).exp()).sum();
            loss += m + z.ln() - logits[targets[i] as usize];
            let am = logits.iter().enumerate().fold(0, |b, (j, &l)| if l > logits[b] { j } else { b });
            correct += (am == targets[i] as usize) as usize;
            for v in 0..vocab {
                let g = ((logits[v] - m).exp() / z - (v == targets[i] as usize) as u8 as f64) * scale as f64;
                for k in 0..d {
                    want[i * d + k] += g * wv[v * d + k] as f64;
                }
            }
        }
        assert!((out.loss_sum - loss).abs() < 1e-4 * loss, "{} vs {loss}", out.loss_sum);
        assert_eq!(out.correct, correct);
        for (a, b) in dh.iter().zip(&want) {
            assert!((*a as f64 - b).abs() < 1e-5, "{a} vs {b}");
        }
    }
}
