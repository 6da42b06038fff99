//! CUDA side of `loss.rs` (`kernels/cross_entropy.cu` + the matmul kernels):
//! the output layer fused with cross-entropy at labelled rows only, walked
//! over the vocabulary in chunks so that logits never exceed one `[n, chunk]`
//! block. Walk 1 folds each chunk into running per-row statistics; the host
//! turns them into the loss (in f64, as the CPU does); walk 2 recomputes each
//! chunk, turns it into (softmax − onehot)·scale and accumulates dH = G·W.

use super::linear_cuda::{dyw_gpu, xwt_gpu};
use super::loss::LossOutput;
use crate::cuda::device::{i32_arg, ptr, Gpu, KArg, Mat};
use crate::cuda::kernels::CROSS_ENTROPY;
use crate::cuda::tiles::THREADS;
use crate::cuda::weights::GpuWeight;
use crate::{Error, Result};

/// Bytes of logits kept at once.
const CHUNK_BYTES: usize = 256 << 20;

/// Vocabulary rows per chunk for n labelled rows: as many as fit in
/// CHUNK_BYTES of logits, in units that keep the chunk's first row at a
/// multiple of 128 rows and of a whole group of 256 NF4 scale blocks.
pub fn chunk_rows(n: usize, vocab: usize, d: usize) -> usize {
    let group = (256 * 64) / gcd(256 * 64, d.max(1));
    let unit = lcm(group, 128);
    let units = (CHUNK_BYTES / 4 / n.max(1) / unit).max(1);
    (units * unit).min(vocab.next_multiple_of(unit))
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

fn lcm(a: usize, b: usize) -> usize {
    a / gcd(a, b) * b
}

/// Cross-entropy of `h` (`[n, d]`) against `targets` through `w` (`[vocab, d]`);
/// if `dh` is given it receives scale·dL/dh.
pub fn fused_linear_cross_entropy_gpu(
    gpu: &Gpu,
    h: Mat,
    targets: &[u32],
    w: &GpuWeight,
    scale: f32,
    dh: Option<Mat>,
) -> Result<LossOutput> {
    let (vocab, d) = (w.rows, w.cols);
    let n = targets.len();
    if h.rows != n || h.cols != d {
        return Err(Error::Device(format!("loss: h {}×{} for {n} targets and {d} features", h.rows, h.cols)));
    }
    if n == 0 {
        return Ok(LossOutput::default());
    }
    if let Some(&t) = targets.iter().find(|&&t| t as usize >= vocab) {
        return Err(Error::invalid(format!("target token {t} is outside the vocabulary of {vocab}")));
    }
    let tdev = gpu.upload(targets)?;
    let (mx, sm, tgt) = (gpu.zeros::<f32>(n)?, gpu.zeros::<f32>(n)?, gpu.zeros::<f32>(n)?);
    let amax = gpu.zeros::<u32>(n)?;
    let nn = i32_arg("rows", n)?;
    let init = gpu.func(&CROSS_ENTROPY, "ce_init")?;
    gpu.launch(
        &init,
        (n.div_ceil(THREADS) as u32, 1, 1),
        THREADS as u32,
        0,
        &[KArg::Ptr(ptr(&mx)), KArg::Ptr(ptr(&sm)), KArg::Ptr(ptr(&tgt)), KArg::Ptr(ptr(&amax)), nn],
    )?;
    let vc = chunk_rows(n, vocab, d);
    let logits = gpu.zeros::<f32>(n * vc)?;
    let stats = gpu.func(&CROSS_ENTROPY, "ce_chunk_stats")?;
    for v0 in (0..vocab).step_by(vc) {
        let nv = vc.min(vocab - v0);
        let lm = Mat::sub(&logits, 0, n, nv, vc)?;
        xwt_gpu(gpu, h, &w.rows_view(gpu, v0, nv)?, None, lm, false)?;
        let args = [
            lm.arg(),
            i32_arg("ld", vc)?,
            i32_arg("chunk", nv)?,
            i32_arg("v0", v0)?,
            KArg::Ptr(ptr(&tdev)),
            nn,
            KArg::Ptr(ptr(&mx)),
            KArg::Ptr(ptr(&sm)),
            KArg::Ptr(ptr(&tgt)),
            KArg::Ptr(ptr(&amax)),
        ];
        gpu.launch(&stats, (n as u32, 1, 1), THREADS as u32, 0, &args)?;
    }
    let (mxh, smh, tgth, amaxh) = (gpu.download(&mx)?, gpu.download(&sm)?, gpu.download(&tgt)?, gpu.download(&amax)?);
    // As the CPU: lse in f32, the loss summed in f64.
    let lse: Vec<f32> = (0..n).map(|i| mxh[i] + smh[i].ln()).collect();
    let loss_sum: f64 = (0..n).map(|i| (lse[i] - tgth[i]) as f64).sum();
    let correct = (0..n).filter(|&i| amaxh[i] == targets[i]).count();
    if let Some(dh) = dh {
        if dh.rows != n || dh.cols != d {
            return Err(Error::Device("loss: dh shape".into()));
        }
        let lse_dev = gpu.upload(&lse)?;
        let grad = gpu.func(&CROSS_ENTROPY, "ce_chunk_grad")?;
        for v0 in (0..vocab).step_by(vc) {
            let nv = vc.min(vocab - v0);
            let lm = Mat::sub(&logits, 0, n, nv, vc)?;
            let wv = w.rows_view(gpu, v0, nv)?;
            xwt_gpu(gpu, h, &wv, None, lm, false)?;
            let args = [
                lm.arg(),
                i32_arg("ld", vc)?,
                i32_arg("chunk", nv)?,
                i32_arg("v0", v0)?,
                KArg::Ptr(ptr(&tdev)),
                KArg::Ptr(ptr(&lse_dev)),
                nn,
                KArg::F32(scale),
            ];
            gpu.launch(&grad, (n as u32, 1, 1), THREADS as u32, 0, &args)?;
            dyw_gpu(gpu, lm, &wv, dh, v0 > 0)?;
        }
    }
    Ok(LossOutput { loss_sum, correct, count: n })
}

#[cfg(test)]
mod tests {
    use super::chunk_rows;

    #[test]
    fn chunks_keep_nf4_groups_aligned_and_fit_memory() {
        for (n, vocab, d) in [(1, 262_144, 640), (3000, 262_144, 640), (50, 151_936, 896), (7, 32_000, 2048), (100_000, 32_064, 3072)] {
            let c = chunk_rows(n, vocab, d);
            assert!(c >= 128 && c.is_multiple_of(128), "{c}");
            assert_eq!((c * d) % (256 * 64), 0, "n={n} d={d}: chunk {c}");
            assert!(c <= vocab.next_multiple_of(c));
            assert!(c * n * 4 <= (256 << 20) || c <= 128 * 128, "chunk {c} for {n} rows");
        }
    }
}
