//! CUDA side of `norm.rs` (`kernels/rmsnorm.cu`): RMSNorm forward (optionally
//! added into its output: x += norm(y) for the post-norms) and backward.

use crate::cuda::device::{i32_arg, ptr, Gpu, KArg, Mat};
use crate::cuda::kernels::RMSNORM;
use crate::cuda::tiles::THREADS;
use crate::{Error, Result};
use cudarc::driver::CudaSlice;

fn check(x: &Mat, w: &CudaSlice<f32>, other: &Mat, rstd: Option<&CudaSlice<f32>>) -> Result<()> {
    if !x.is_dense() || !other.is_dense() || x.rows != other.rows || x.cols != other.cols || w.len() < x.cols {
        return Err(Error::Device(format!(
            "rmsnorm: rows {}×{} / {}×{} with {} weights (dense rows needed)",
            x.rows,
            x.cols,
            other.rows,
            other.cols,
            w.len()
        )));
    }
    if rstd.is_some_and(|r| r.len() < x.rows) {
        return Err(Error::Device("rmsnorm: rstd buffer too small".into()));
    }
    Ok(())
}

/// y (+)= x·r·w per row of `x.cols`; stores r = 1/rms per row if asked.
pub fn rmsnorm_forward_gpu(
    gpu: &Gpu,
    x: Mat,
    w: &CudaSlice<f32>,
    eps: f32,
    y: Mat,
    rstd: Option<&CudaSlice<f32>>,
    add: bool,
) -> Result<()> {
    check(&x, w, &y, rstd)?;
    let f = gpu.func(&RMSNORM, "rmsnorm_fwd")?;
    let args = [
        x.arg(),
        KArg::Ptr(ptr(w)),
        y.arg(),
        KArg::Ptr(rstd.map_or(0, ptr)),
        i32_arg("rows", x.rows)?,
        i32_arg("d", x.cols)?,
        KArg::F32(eps),
        KArg::I32(add as i32),
    ];
    gpu.launch(&f, (x.rows as u32, 1, 1), THREADS as u32, 0, &args)
}

/// dx (+)= r·(w⊙dy − x̂·mean(x̂⊙w⊙dy)).
pub fn rmsnorm_backward_gpu(
    gpu: &Gpu,
    x: Mat,
    w: &CudaSlice<f32>,
    rstd: &CudaSlice<f32>,
    dy: Mat,
    dx: Mat,
    accumulate: bool,
) -> Result<()> {
    check(&x, w, &dy, Some(rstd))?;
    check(&x, w, &dx, None)?;
    let f = gpu.func(&RMSNORM, "rmsnorm_bwd")?;
    let args = [
        x.arg(),
        KArg::Ptr(ptr(w)),
        KArg::Ptr(ptr(rstd)),
        dy.arg(),
        dx.arg(),
        i32_arg("rows", x.rows)?,
        i32_arg("d", x.cols)?,
        KArg::I32(accumulate as i32),
    ];
    gpu.launch(&f, (x.rows as u32, 1, 1), THREADS as u32, 0, &args)
}
