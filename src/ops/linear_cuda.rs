//! CUDA side of `linear.rs`: frozen base weights (NF4 or bf16) multiplied on
//! tensor cores by `kernels/nf4_matmul.cu` — y = x·Wᵀ (+ b) forward, dx = dy·W
//! for the input gradient. Inputs are rounded to bf16, products accumulated in
//! f32 (see the kernel's header for the exact numerics).

use crate::cuda::device::{i32_arg, Gpu, KArg, Mat};
use crate::cuda::kernels::NF4_MATMUL;
use crate::cuda::weights::{GpuWeight, WeightRef};
use crate::{Error, Result};
use cudarc::driver::CudaSlice;

use crate::cuda::tiles::{MM_BM as BM, MM_BN as BN, THREADS};

fn check_common(w: &WeightRef, a: &Mat, what: &str) -> Result<()> {
    if !w.cols.is_multiple_of(64) {
        return Err(Error::tensor(w.name, format!("{} input features: the CUDA kernels need a multiple of 64", w.cols)));
    }
    if !a.vec4_aligned() {
        return Err(Error::Device(format!("{what}: rows must start on 16-byte boundaries (ld {}, offset {})", a.ld, a.offset)));
    }
    Ok(())
}

/// y[m × out] (+)= x[m × in] · Wᵀ (+ bias).
pub fn linear_forward_gpu(gpu: &Gpu, x: Mat, w: &GpuWeight, bias: Option<&CudaSlice<f32>>, y: Mat, accumulate: bool) -> Result<()> {
    xwt_gpu(gpu, x, &w.view(gpu)?, bias, y, accumulate)
}

/// [`linear_forward_gpu`] for a weight view (e.g. a vocabulary chunk).
pub fn xwt_gpu(gpu: &Gpu, x: Mat, w: &WeightRef, bias: Option<&CudaSlice<f32>>, y: Mat, accumulate: bool) -> Result<()> {
    let (n, k) = (w.rows, w.cols);
    if x.cols != k || y.cols != n || x.rows != y.rows {
        return Err(Error::tensor(w.name, format!("x {}×{} · Wᵀ ({n}×{k}) into y {}×{}", x.rows, x.cols, y.rows, y.cols)));
    }
    check_common(w, &x, "linear forward")?;
    if let Some(b) = bias {
        if b.len() < n {
            return Err(Error::tensor(w.name, format!("bias of {} values for {n} outputs", b.len())));
        }
    }
    let m = x.rows;
    let entry = if w.nf4 { "nf4_xwt" } else { "bf16_xwt" };
    let f = gpu.func(&NF4_MATMUL, entry)?;
    let mut args = vec![
        x.arg(),
        i32_arg("ldx", x.ld)?,
        y.arg(),
        i32_arg("ldy", y.ld)?,
        KArg::Ptr(bias.map_or(0, crate::cuda::device::ptr)),
        i32_arg("rows", m)?,
        i32_arg("out features", n)?,
        i32_arg("in features", k)?,
        KArg::I32(accumulate as i32),
    ];
    args.extend(w.args.iter().copied());
    gpu.launch(&f, (n.div_ceil(BN) as u32, m.div_ceil(BM) as u32, 1), THREADS as u32, 0, &args)
}

/// dx[m × in] (+)= dy[m × out] · W.
pub fn linear_backward_input_gpu(gpu: &Gpu, dy: Mat, w: &GpuWeight, dx: Mat, accumulate: bool) -> Result<()> {
    dyw_gpu(gpu, dy, &w.view(gpu)?, dx, accumulate)
}

/// [`linear_backward_input_gpu`] for a weight view.
pub fn dyw_gpu(gpu: &Gpu, dy: Mat, w: &WeightRef, dx: Mat, accumulate: bool) -> Result<()> {
    let (n, k) = (w.rows, w.cols);
    if dy.cols != n || dx.cols != k || dy.rows != dx.rows {
        return Err(Error::tensor(w.name, format!("dy {}×{} · W ({n}×{k}) into dx {}×{}", dy.rows, dy.cols, dx.rows, dx.cols)));
    }
    check_common(w, &dy, "linear backward")?;
    let m = dy.rows;
    let entry = if w.nf4 { "nf4_dyw" } else { "bf16_dyw" };
    let f = gpu.func(&NF4_MATMUL, entry)?;
    let mut args = vec![
        dy.arg(),
        i32_arg("lddy", dy.ld)?,
        dx.arg(),
        i32_arg("lddx", dx.ld)?,
        i32_arg("rows", m)?,
        i32_arg("out features", n)?,
        i32_arg("in features", k)?,
        KArg::I32(accumulate as i32),
    ];
    args.extend(w.args.iter().copied());
    gpu.launch(&f, (k.div_ceil(BN) as u32, m.div_ceil(BM) as u32, 1), THREADS as u32, 0, &args)
}

/// The whole NF4 weight dequantised to bf16 bits `[rows, cols]` (tests, and the
/// dequantise-then-cuBLAS comparison of the benchmark).
pub fn dequantize_nf4_gpu(gpu: &Gpu, w: &GpuWeight, out: &CudaSlice<u16>) -> Result<()> {
    if !w.is_nf4() {
        return Err(Error::tensor(&w.name, "not an NF4 weight"));
    }
    let n = w.rows * w.cols;
    if out.len() < n {
        return Err(Error::Device(format!("dequantising {n} values into a buffer of {}", out.len())));
    }
    let f = gpu.func(&NF4_MATMUL, "nf4_dequant_bf16")?;
    let mut args = vec![KArg::Ptr(crate::cuda::device::ptr(out)), KArg::I64((n / 2) as i64)];
    args.extend(w.view(gpu)?.args);
    gpu.launch(&f, (gpu.grid_for(n / 2), 1, 1), THREADS as u32, 0, &args)
}
