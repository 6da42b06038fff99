//! Launchers of `kernels/elementwise.cu`: embedding lookup, strided copies,
//! residual adds, row gathers and scatters — the data movement around the ops.

use super::device::{i32_arg, ptr, Gpu, KArg, Mat};
use super::kernels::ELEMENTWISE;
use super::tiles::THREADS;
use crate::{Error, Result};
use cudarc::driver::CudaSlice;

/// out[t] = table[ids[t]] · scale for `n` ids (bf16 table `[vocab, d]`).
pub fn embed_gpu(
    gpu: &Gpu,
    ids: &CudaSlice<u32>,
    n: usize,
    table: &CudaSlice<u16>,
    d: usize,
    scale: Option<f32>,
    out: &CudaSlice<f32>,
) -> Result<()> {
    if ids.len() < n || out.len() < n * d || !table.len().is_multiple_of(d.max(1)) {
        return Err(Error::Device("embedding: buffer sizes".into()));
    }
    let f = gpu.func(&ELEMENTWISE, "embed_bf16")?;
    let args = [
        KArg::Ptr(ptr(ids)),
        i32_arg("tokens", n)?,
        KArg::Ptr(ptr(table)),
        i32_arg("d", d)?,
        KArg::F32(scale.unwrap_or(1.0)),
        KArg::I32(scale.is_some() as i32),
        KArg::Ptr(ptr(out)),
    ];
    gpu.launch(&f, (gpu.grid_for(n * d), 1, 1), THREADS as u32, 0, &args)
}

/// dst (+)= src, element by element over two windows of the same shape.
pub fn copy2d_gpu(gpu: &Gpu, src: Mat, dst: Mat, accumulate: bool) -> Result<()> {
    if src.rows != dst.rows || src.cols != dst.cols {
        return Err(Error::Device(format!("copy {}×{} into {}×{}", src.rows, src.cols, dst.rows, dst.cols)));
    }
    let f = gpu.func(&ELEMENTWISE, "copy2d")?;
    let args = [
        src.arg(),
        i32_arg("lds", src.ld)?,
        dst.arg(),
        i32_arg("ldd", dst.ld)?,
        i32_arg("rows", src.rows)?,
        i32_arg("cols", src.cols)?,
        KArg::I32(accumulate as i32),
    ];
    gpu.launch(&f, (gpu.grid_for(src.rows * src.cols), 1, 1), THREADS as u32, 0, &args)
}

/// x[..n] += y[..n].
pub fn add_gpu(gpu: &Gpu, x: &CudaSlice<f32>, y: &CudaSlice<f32>, n: usize) -> Result<()> {
    if x.len() < n || y.len() < n {
        return Err(Error::Device("add: buffers too short".into()));
    }
    let f = gpu.func(&ELEMENTWISE, "add_inplace")?;
    gpu.launch(&f, (gpu.grid_for(n), 1, 1), THREADS as u32, 0, &[KArg::Ptr(ptr(x)), KArg::Ptr(ptr(y)), KArg::I64(n as i64)])
}

/// dst[i] = src[rows[i]] for n rows of d values (row indices checked by the caller on the host).
pub fn gather_rows_gpu(gpu: &Gpu, src: &CudaSlice<f32>, rows: &CudaSlice<u32>, n: usize, d: usize, dst: &CudaSlice<f32>) -> Result<()> {
    if rows.len() < n || dst.len() < n * d {
        return Err(Error::Device("gather: buffers too short".into()));
    }
    let f = gpu.func(&ELEMENTWISE, "gather_rows")?;
    let args = [KArg::Ptr(ptr(src)), KArg::Ptr(ptr(rows)), i32_arg("rows", n)?, i32_arg("d", d)?, KArg::Ptr(ptr(dst))];
    gpu.launch(&f, (gpu.grid_for(n * d), 1, 1), THREADS as u32, 0, &args)
}

/// dst[rows[i]] = src[i] for n rows of d values; other rows untouched.
pub fn scatter_rows_gpu(gpu: &Gpu, src: &CudaSlice<f32>, rows: &CudaSlice<u32>, n: usize, d: usize, dst: &CudaSlice<f32>) -> Result<()> {
    if rows.len() < n || src.len() < n * d {
        return Err(Error::Device("scatter: buffers too short".into()));
    }
    let f = gpu.func(&ELEMENTWISE, "scatter_rows")?;
    let args = [KArg::Ptr(ptr(src)), KArg::Ptr(ptr(rows)), i32_arg("rows", n)?, i32_arg("d", d)?, KArg::Ptr(ptr(dst))];
    gpu.launch(&f, (gpu.grid_for(n * d), 1, 1), THREADS as u32, 0, &args)
}
