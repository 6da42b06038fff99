//! CUDA side of `adamw.rs` (`kernels/adamw.cu`): the fused AdamW update with
//! the clipping coefficient folded in, bit-identical to the CPU's, and the
//! sum of squares behind the global gradient norm.

use super::adamw::AdamW;
use crate::cuda::device::{ptr, Gpu, KArg};
use crate::cuda::kernels::ADAMW;
use crate::cuda::tiles::THREADS;
use crate::{Error, Result};
use cudarc::driver::CudaSlice;

/// p, m, v updated in place from g·coef at step t (1-based), learning rate lr.
#[allow(clippy::too_many_arguments)]
pub fn adamw_step_gpu(
    gpu: &Gpu,
    opt: &AdamW,
    t: u64,
    lr: f64,
    coef: f32,
    p: &CudaSlice<f32>,
    g: &CudaSlice<f32>,
    m: &CudaSlice<f32>,
    v: &CudaSlice<f32>,
    n: usize,
) -> Result<()> {
    if [p.len(), g.len(), m.len(), v.len()].iter().any(|&l| l < n) {
        return Err(Error::Device(format!("adamw: buffers shorter than {n}")));
    }
    // The scalars of AdamW::step, rounded from f64 exactly as the CPU does.
    let bc1 = 1.0 - opt.beta1.powi(t as i32);
    let bc2 = 1.0 - opt.beta2.powi(t as i32);
    let neg_step = (-(lr / bc1)) as f32;
    let bc2_sqrt = bc2.sqrt() as f32;
    let decay = (1.0 - lr * opt.weight_decay) as f32;
    let (w1, b2, w2, eps) = ((1.0 - opt.beta1) as f32, opt.beta2 as f32, (1.0 - opt.beta2) as f32, opt.eps as f32);
    let f = gpu.func(&ADAMW, "adamw_step")?;
    let args = [
        KArg::Ptr(ptr(p)),
        KArg::Ptr(ptr(g)),
        KArg::Ptr(ptr(m)),
        KArg::Ptr(ptr(v)),
        KArg::I64(n as i64),
        KArg::F32(coef),
        KArg::F32(neg_step),
        KArg::F32(bc2_sqrt),
        KArg::F32(decay),
        KArg::I32((opt.weight_decay != 0.0) as i32),
        KArg::F32(w1),
        KArg::F32(b2),
        KArg::F32(w2),
        KArg::F32(eps),
    ];
    gpu.launch(&f, (gpu.grid_for(n), 1, 1), THREADS as u32, 0, &args)
}

/// Adds Σ g² (first n values, in f64) to the device scalar `acc`.
pub fn sumsq_gpu(gpu: &Gpu, g: &CudaSlice<f32>, n: usize, acc: &CudaSlice<f64>) -> Result<()> {
    if g.len() < n {
        return Err(Error::Device("sumsq: buffer too short".into()));
    }
    let f = gpu.func(&ADAMW, "sumsq_f64")?;
    let args = [KArg::Ptr(ptr(g)), KArg::I64(n as i64), KArg::Ptr(ptr(acc))];
    gpu.launch(&f, (gpu.grid_for(n).min(1024), 1, 1), THREADS as u32, 0, &args)
}

/// √(Σ g²) over several gradient buffers (each with its length), as
/// `adamw::global_norm` computes it (f64 accumulation, then f32).
pub fn global_norm_gpu(gpu: &Gpu, grads: &[(&CudaSlice<f32>, usize)]) -> Result<f32> {
    let acc = gpu.zeros::<f64>(1)?;
    for (g, n) in grads {
        sumsq_gpu(gpu, g, *n, &acc)?;
    }
    Ok(gpu.download(&acc)?[0].sqrt() as f32)
}
