//! The output layer fused with cross-entropy, forward and backward, at the
//! labelled positions only (the idea of Liger's fused linear cross-entropy
//! and llm.c's fused classifier).
//!
//! With a 262k-token vocabulary the logits of a whole batch would not fit in
//! memory, and most positions carry no label. So the labelled positions are
//! taken in chunks whose logits fit a fixed budget (64 MB): for each chunk,
//! one GEMM writes the logits (vocabulary panels dequantised once each, in
//! parallel), each row is reduced to its log-sum-exp, loss and argmax and
//! turned in place into scale·(softmax − one-hot), and a second GEMM
//! accumulates dH = dlogits·W. Two GEMMs per chunk, where recomputing the
//! logits would take three.

use crate::cpu::gemm::{gemm_nn, gemm_nt, with_serial};
use crate::cpu::vecops::{exp_scale_inplace, max_argmax, sum_exp};
use crate::formats::tensor::QTensor;
use crate::ops::linear::dequantize_rows;
use rayon::prelude::*;

/// Vocabulary rows per panel.
const PANEL: usize = 256;
/// Logit values kept at once (16 M floats = 64 MB).
const LOGITS_BUDGET: usize = 16 << 20;

/// What the fused loss returns.
#[derive(Clone, Debug, Default)]
pub struct LossOutput {
    /// Σ over positions of −log softmax(logits)[target].
    pub loss_sum: f64,
    /// Positions whose argmax (lowest id on ties) equals the target.
    pub correct: usize,
    pub count: usize,
}

#[derive(Clone, Copy)]
struct SyncPtr(*mut f32);
unsafe impl Send for SyncPtr {}
unsafe impl Sync for SyncPtr {}
impl SyncPtr {
    fn get(self) -> *mut f32 {
        self.0
    }
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
pub fn fused_linear_cross_entropy(h: &[f32], targets: &[u32], w: &QTensor, scale: f32, mut dh: Option<&mut [f32]>) -> LossOutput {
    let (vocab, d) = (w.rows(), w.cols());
    let n = targets.len();
    assert_eq!(h.len(), n * d);
    if n == 0 {
        return LossOutput::default();
    }
    assert!(targets.iter().all(|&t| (t as usize) < vocab), "target outside the vocabulary");
    let chunk = (LOGITS_BUDGET / vocab).clamp(1, n);
    let mut logits = vec![0f32; chunk * vocab];
    let mut out = LossOutput { count: n, ..LossOutput::default() };
    for r0 in (0..n).step_by(chunk) {
        let r1 = (r0 + chunk).min(n);
        let c = r1 - r0;
        let lg = &mut logits[..c * vocab];
        chunk_logits(&h[r0 * d..r1 * d], c, w, lg);
        // Per row: loss and argmax, then the gradient of the logits in place.
        let want_grad = dh.is_some();
        let rows: Vec<(f64, bool)> = lg
            .par_chunks_mut(vocab)
            .zip(&targets[r0..r1])
            .map(|(row, &t)| {
                let (m, am) = max_argmax(row);
                let lse = m + sum_exp(row, m).ln();
                let loss = (lse - row[t as usize]) as f64;
                if want_grad {
                    exp_scale_inplace(row, lse, scale);
                    row[t as usize] -= scale;
                }
                (loss, am == t as usize)
            })
            .collect();
        for (l, ok) in rows {
            out.loss_sum += l;
            out.correct += ok as usize;
        }
        if let Some(dh) = dh.as_deref_mut() {
            chunk_grad(lg, c, w, &mut dh[r0 * d..r1 * d]);
        }
    }
    out
}

/// logits[c × vocab] = h·Wᵀ, vocabulary panels in parallel.
fn chunk_logits(h: &[f32], c: usize, w: &QTensor, logits: &mut [f32]) {
    let (vocab, d) = (w.rows(), w.cols());
    let lp = SyncPtr(logits.as_mut_ptr());
    ranges(vocab).into_par_iter().for_each(|(v0, v1)| {
        let mut panel = vec![0f32; PANEL * d];
        for p0 in (v0..v1).step_by(PANEL) {
            let p1 = (p0 + PANEL).min(v1);
            dequantize_rows(w, p0, p1, &mut panel);
            // SAFETY: this task owns columns p0..p1 of every row.
            let dst = unsafe { std::slice::from_raw_parts_mut(lp.get().add(p0), (c - 1) * vocab + (p1 - p0)) };
            with_serial(|| gemm_nt(c, p1 - p0, d, h, d, &panel[..(p1 - p0) * d], d, dst, vocab, false));
        }
    });
}

/// dh[c × d] = g·W, with g = dlogits `[c × vocab]`; partial sums per
/// vocabulary range, added in a fixed order (deterministic for a thread count).
fn chunk_grad(g: &[f32], c: usize, w: &QTensor, dh: &mut [f32]) {
    let (vocab, d) = (w.rows(), w.cols());
    let partials: Vec<Vec<f32>> = ranges(vocab)
        .into_par_iter()
        .map(|(v0, v1)| {
            let mut acc = vec![0f32; c * d];
            let mut panel = vec![0f32; PANEL * d];
            for p0 in (v0..v1).step_by(PANEL) {
                let p1 = (p0 + PANEL).min(v1);
                dequantize_rows(w, p0, p1, &mut panel);
                with_serial(|| gemm_nn(c, d, p1 - p0, &g[p0..], vocab, &panel[..(p1 - p0) * d], d, &mut acc, d, true));
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
