//! Linear layers with frozen, possibly quantised weights: y = x·Wᵀ (+ b),
//! W stored `[out, in]` in its file format (F32, F16, BF16, Q4_K, Q8_0...).
//!
//! Forward picks one of two CPU paths:
//! - few rows (decode): one fused dequantise-and-dot per weight row and token
//!   (`quant::dot`), memory-bound, threads split the weight rows;
//! - many rows (prefill, training): weight rows are dequantised exactly, a
//!   panel at a time, into f32 and multiplied with the f32 GEMM; the panel is
//!   reused by every token, so dequantisation costs O(weights), not O(tokens).
//!
//! Backward (input gradient only; base weights are frozen): dx = dy·W, with W
//! dequantised to f32 once per call.

use crate::cpu::gemm::{gemm_nn, gemm_nt_into, OutBlock};
use crate::cpu::scratch;
use crate::cpu::SendPtr;
use crate::quant;
use crate::quant::tensor::QTensor;
use rayon::prelude::*;

/// Up to this many tokens, fused dot products beat unpacking the weights.
const SMALL_M: usize = 4;
/// Weight rows dequantised together in the GEMM path.
const PANEL: usize = 64;

/// y[m × out] = x[m × in] · Wᵀ + bias.
pub fn linear_forward(x: &[f32], m: usize, w: &QTensor, bias: Option<&[f32]>, y: &mut [f32]) {
    let (out, inp) = (w.rows(), w.cols());
    assert!(x.len() == m * inp && y.len() == m * out, "linear {}: x {} / y {} for m={m}, W {out}x{inp}", w.name, x.len(), y.len());
    let yp = SendPtr(y.as_mut_ptr());
    if m <= SMALL_M {
        // Rows per task: large enough to amortise scheduling, small enough to balance.
        let rows_per_task = (out / (rayon::current_num_threads() * 8)).clamp(16, 4096);
        let rb = w.ty.row_bytes(inp).expect("row size checked at load");
        (0..out.div_ceil(rows_per_task)).into_par_iter().for_each(|task| {
            let (o0, o1) = (task * rows_per_task, ((task + 1) * rows_per_task).min(out));
            let rows = &w.bytes()[o0 * rb..o1 * rb];
            for i in 0..m {
                // SAFETY: columns o0..o1 of row i of y are written by this task only.
                let yi = unsafe { std::slice::from_raw_parts_mut(yp.ptr().add(i * out + o0), o1 - o0) };
                quant::dot_rows(w.ty, rows, &x[i * inp..(i + 1) * inp], yi).expect("shapes checked at load");
            }
        });
    } else {
        (0..out.div_ceil(PANEL)).into_par_iter().for_each(|p| {
            let (o0, o1) = (p * PANEL, ((p + 1) * PANEL).min(out));
            let n = o1 - o0;
            let mut panel = scratch::take(n * inp);
            dequantize_rows(w, o0, o1, &mut panel);
            // SAFETY: the block's elements i·out + o0 + j, i < m, j < n, lie
            // inside `y` (m·out values, asserted; o0 + n = o1 ≤ out) and are
            // this panel's columns o0..o1: other tasks write other columns, and
            // nothing else holds `y` during the loop.
            let yc = unsafe { OutBlock::from_raw(yp.ptr().add(o0), m, n, out) };
            // On this thread: the panels already occupy every thread.
            crate::cpu::gemm::with_serial(|| gemm_nt_into(inp, x, inp, &panel, inp, yc, false));
        });
    }
    if let Some(b) = bias {
        for row in y.chunks_exact_mut(out) {
            for (v, bb) in row.iter_mut().zip(b) {
                *v += bb;
            }
        }
    }
}

/// Dequantises weight rows o0..o1 into `dst` (row-major, `in` columns).
pub fn dequantize_rows(w: &QTensor, o0: usize, o1: usize, dst: &mut [f32]) {
    let inp = w.cols();
    let rb = w.ty.row_bytes(inp).expect("row size checked at load");
    let src = &w.bytes()[o0 * rb..o1 * rb];
    quant::dequantize(w.ty, src, &mut dst[..(o1 - o0) * inp]).expect("whole rows");
}

/// The whole weight as f32 `[out, in]`, dequantised in parallel.
pub fn dequantize_all(w: &QTensor, dst: &mut [f32]) {
    let (out, inp) = (w.rows(), w.cols());
    assert_eq!(dst.len(), out * inp);
    dst.par_chunks_mut(PANEL * inp).enumerate().for_each(|(p, chunk)| {
        let o0 = p * PANEL;
        dequantize_rows(w, o0, o0 + chunk.len() / inp, chunk);
    });
}

/// dx[m × in] (+)= dy[m × out] · W.
pub fn linear_backward_input(dy: &[f32], m: usize, w: &QTensor, dx: &mut [f32], accumulate: bool) {
    let (out, inp) = (w.rows(), w.cols());
    assert!(dy.len() == m * out && dx.len() == m * inp);
    // A scratch buffer: a fresh 5 MB one per call cost more in page faults
    // and zeroing than its dequantisation.
    let mut wf = scratch::take(out * inp);
    dequantize_all(w, &mut wf);
    gemm_nn(m, inp, out, dy, out, &wf, inp, dx, inp, accumulate);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::GgmlType;
    use crate::util::rng::Rng;

    #[test]
    fn both_paths_agree_with_f32_reference() {
        let mut rng = Rng::new(11);
        let (out, inp) = (70, 64);
        let wv: Vec<f32> = (0..out * inp).map(|_| rng.next_f32() - 0.5).collect();
        let w = QTensor::from_f32("w", vec![out, inp], &wv).unwrap();
        let bias: Vec<f32> = (0..out).map(|i| i as f32 * 0.01).collect();
        for m in [1, 3, 5, 13] {
            let x: Vec<f32> = (0..m * inp).map(|_| rng.next_f32() - 0.5).collect();
            let mut y = vec![0f32; m * out];
            linear_forward(&x, m, &w, Some(&bias), &mut y);
            for i in 0..m {
                for o in 0..out {
                    let want: f32 = (0..inp).map(|k| x[i * inp + k] * wv[o * inp + k]).sum::<f32>() + bias[o];
                    assert!((y[i * out + o] - want).abs() < 1e-4, "m={m} ({i},{o})");
                }
            }
            let dy: Vec<f32> = (0..m * out).map(|_| rng.next_f32() - 0.5).collect();
            let mut dx = vec![1f32; m * inp];
            linear_backward_input(&dy, m, &w, &mut dx, true);
            for i in 0..m {
                for k in 0..inp {
                    let want: f32 = 1.0 + (0..out).map(|o| dy[i * out + o] * wv[o * inp + k]).sum::<f32>();
                    assert!((dx[i * inp + k] - want).abs() < 1e-4);
                }
            }
        }
        let _ = GgmlType::F32;
    }
}
