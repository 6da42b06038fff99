//! CUDA side of `activation.rs` (`kernels/glu.cu`): out = act(gate)·up for
//! SwiGLU and GeGLU, and its backward.

use super::activation::Activation;
use crate::cuda::device::{ptr, Gpu, KArg};
use crate::cuda::kernels::GLU;
use crate::cuda::tiles::THREADS;
use crate::{Error, Result};
use cudarc::driver::CudaSlice;

fn act_id(a: Activation) -> i32 {
    match a {
        Activation::Silu => 0,
        Activation::GeluTanh => 1,
    }
}

fn check(n: usize, bufs: &[&CudaSlice<f32>]) -> Result<()> {
    if bufs.iter().any(|b| b.len() < n) {
        return Err(Error::Device(format!("glu: a buffer holds fewer than {n} values")));
    }
    Ok(())
}

/// out[i] = act(gate[i])·up[i] for i < n.
pub fn glu_forward_gpu(
    gpu: &Gpu,
    act: Activation,
    gate: &CudaSlice<f32>,
    up: &CudaSlice<f32>,
    out: &CudaSlice<f32>,
    n: usize,
) -> Result<()> {
    check(n, &[gate, up, out])?;
    let f = gpu.func(&GLU, "glu_fwd")?;
    let args = [KArg::Ptr(ptr(gate)), KArg::Ptr(ptr(up)), KArg::Ptr(ptr(out)), KArg::I64(n as i64), KArg::I32(act_id(act))];
    gpu.launch(&f, (gpu.grid_for(n), 1, 1), THREADS as u32, 0, &args)
}

/// d(gate) and d(up) from d(out); both written.
#[allow(clippy::too_many_arguments)]
pub fn glu_backward_gpu(
    gpu: &Gpu,
    act: Activation,
    gate: &CudaSlice<f32>,
    up: &CudaSlice<f32>,
    dout: &CudaSlice<f32>,
    dgate: &CudaSlice<f32>,
    dup: &CudaSlice<f32>,
    n: usize,
) -> Result<()> {
    check(n, &[gate, up, dout, dgate, dup])?;
    let f = gpu.func(&GLU, "glu_bwd")?;
    let args = [
        KArg::Ptr(ptr(gate)),
        KArg::Ptr(ptr(up)),
        KArg::Ptr(ptr(dout)),
        KArg::Ptr(ptr(dgate)),
        KArg::Ptr(ptr(dup)),
        KArg::I64(n as i64),
        KArg::I32(act_id(act)),
    ];
    gpu.launch(&f, (gpu.grid_for(n), 1, 1), THREADS as u32, 0, &args)
}
