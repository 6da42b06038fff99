//! The output layer fused with cross-entropy, forward and backward, at the
//! labelled positions only (the idea of Liger's fused linear cross-entropy
//! and llm.c's fused classifier).
//!
//! With a 262k-token vocabulary the logits of a whole batch would not fit in
//! memory, and most positions carry no label. So the vocabulary is walked in
//! panels of rows of W: each panel is dequantised once and multiplied with
//! the hidden states of every labelled position; an online softmax keeps,
//! per position, the running max, the sum of exponentials, the target's
//! logit and the argmax. A second walk recomputes each panel's logits,
//! turns them into (softmax − one-hot)·scale and accumulates dH = dlogits·W.
//! Logits never exist beyond one `[n, PANEL]` block per thread.

use crate::cpu::gemm::{gemm_nn, gemm_nt, with_serial};
use crate::formats::tensor::QTensor;
use crate::ops::linear::dequantize_rows;
use rayon::prelude::*;

/// Vocabulary rows per panel.
const PANEL: usize = 256;

/// Per-position statistics of the logits.
#[derive(Clone, Debug)]
struct RowStats {
    max: Vec<f32>,
    sum: Vec<f32>,
    target: Vec<f32>,
    argmax: Vec<u32>,
}

impl RowStats {
    fn new(n: usize) -> Self {
        RowStats { max: vec![f32::NEG_INFINITY; n], sum: vec![0.0; n], target: vec![f32::NAN; n], argmax: vec![0; n] }
    }

    /// Merges stats of a later vocabulary range (ties keep the lower id).
    fn merge(&mut self, o: &RowStats) {
        for i in 0..self.max.len() {
            let m = self.max[i].max(o.max[i]);
            self.sum[i] = self.sum[i] * (self.max[i] - m).exp() + o.sum[i] * (o.max[i] - m).exp();
            if o.max[i] > self.max[i] {
                self.argmax[i] = o.argmax[i];
            }
            self.max[i] = m;
            if !o.target[i].is_nan() {
                self.target[i] = o.target[i];
            }
        }
    }
}

/// What the fused loss returns.
#[derive(Clone, Debug, Default)]
pub struct LossOutput {
    /// Σ over positions of −log softmax(logits)[target].
    pub loss_sum: f64,
    /// Positions whose argmax equals the target.
    pub correct: usize,
    pub count: usize,
}

/// Vocabulary ranges of whole panels, one per task.
fn ranges(vocab: usize) -> Vec<(usize, usize)> {
    let tasks = (rayon::current_num_threads() * 2).max(1);
    let per = vocab.div_ceil(tasks).div_ceil(PANEL) * PANEL;
    (0..vocab.div_ceil(per)).map(|i| (i * per, ((i + 1) * per).min(vocab))).collect()
}

/// Cross-entropy of `h` (`[n, d]`, final-norm outputs at labelled positions)
/// against `targets` through `w` (`[vocab, d]`). If `dh` is given, it
/// receives `scale · dL/dh` (e.g. scale = 1/number of labelled tokens).
pub fn fused_linear_cross_entropy(h: &[f32], targets: &[u32], w: &QTensor, scale: f32, dh: Option<&mut [f32]>) -> LossOutput {
    let (vocab, d) = (w.rows(), w.cols());
    let n = targets.len();
    assert_eq!(h.len(), n * d);
    if n == 0 {
        return LossOutput::default();
    }
    assert!(targets.iter().all(|&t| (t as usize) < vocab), "target outside the vocabulary");
    let parts = ranges(vocab);

    // Walk 1: statistics.
    let stats: Vec<RowStats> = parts
        .par_iter()
        .map(|&(v0, v1)| {
            let mut st = RowStats::new(n);
            let mut panel = vec![0f32; PANEL * d];
            let mut logits = vec![0f32; n * PANEL];
            let mut p0 = v0;
            while p0 < v1 {
                let p1 = (p0 + PANEL).min(v1);
                let np = p1 - p0;
                dequantize_rows(w, p0, p1, &mut panel);
                with_serial(|| gemm_nt(n, np, d, h, d, &panel, d, &mut logits, np, false));
                for i in 0..n {
                    let row = &logits[i * np..(i + 1) * np];
                    let (mut best, mut best_j) = (f32::NEG_INFINITY, 0);
                    for (j, &v) in row.iter().enumerate() {
                        if v > best {
                            best = v;
                            best_j = j;
                        }
                    }
                    let m = st.max[i].max(best);
                    let s: f32 = row.iter().map(|&v| (v - m).exp()).sum();
                    st.sum[i] = st.sum[i] * (st.max[i] - m).exp() + s;
                    if best > st.max[i] {
                        st.argmax[i] = (p0 + best_j) as u32;
                    }
                    st.max[i] = m;
                    let t = targets[i] as usize;
                    if (p0..p1).contains(&t) {
                        st.target[i] = row[t - p0];
                    }
                }
                p0 = p1;
            }
            st
        })
        .collect();
    let mut all = stats[0].clone();
    for s in &stats[1..] {
        all.merge(s);
    }
    let lse: Vec<f32> = (0..n).map(|i| all.max[i] + all.sum[i].ln()).collect();
    let loss_sum: f64 = (0..n).map(|i| (lse[i] - all.target[i]) as f64).sum();
    let correct = (0..n).filter(|&i| all.argmax[i] == targets[i]).count();

    // Walk 2: dH = Σ_panels (softmax − onehot)·scale · W_panel.
    if let Some(dh) = dh {
        assert_eq!(dh.len(), n * d);
        let partials: Vec<Vec<f32>> = parts
            .par_iter()
            .map(|&(v0, v1)| {
                let mut acc = vec![0f32; n * d];
                let mut panel = vec![0f32; PANEL * d];
                let mut logits = vec![0f32; n * PANEL];
                let mut p0 = v0;
                while p0 < v1 {
                    let p1 = (p0 + PANEL).min(v1);
                    let np = p1 - p0;
                    dequantize_rows(w, p0, p1, &mut panel);
                    with_serial(|| gemm_nt(n, np, d, h, d, &panel, d, &mut logits, np, false));
                    for i in 0..n {
                        let row = &mut logits[i * np..(i + 1) * np];
                        for v in row.iter_mut() {
                            *v = (*v - lse[i]).exp() * scale;
                        }
                        let t = targets[i] as usize;
                        if (p0..p1).contains(&t) {
                            row[t - p0] -= scale;
                        }
                    }
                    with_serial(|| gemm_nn(n, d, np, &logits, np, &panel, d, &mut acc, d, true));
                    p0 = p1;
                }
                acc
            })
            .collect();
        dh.fill(0.0);
        for p in &partials {
            dh.iter_mut().zip(p).for_each(|(a, b)| *a += b);
        }
    }
    LossOutput { loss_sum, correct, count: n }
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
