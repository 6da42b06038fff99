//! CUDA side of `rope.rs` (`kernels/rope.cu`): the CPU's cos/sin table copied
//! to the GPU once, rotations by +θ (forward) and −θ (backward) in place.

use super::rope::RopeTable;
use crate::cuda::device::{i32_arg, ptr, Gpu, KArg, Mat};
use crate::cuda::kernels::ROPE;
use crate::cuda::tiles::THREADS;
use crate::{Error, Result};
use cudarc::driver::CudaSlice;

/// A [`RopeTable`] in GPU memory.
pub struct GpuRope {
    cos: CudaSlice<f32>,
    sin: CudaSlice<f32>,
    half: usize,
    len: usize,
}

impl GpuRope {
    pub fn new(gpu: &Gpu, t: &RopeTable) -> Result<Self> {
        let (c, s) = t.cos_sin();
        Ok(GpuRope { cos: gpu.upload(c)?, sin: gpu.upload(s)?, half: t.half(), len: t.len() })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Rotates `x` (rows of n_heads·head_dim, row t at position pos[t]) by
    /// +θ, or by −θ when `backward`. Positions must be below [`Self::len`]
    /// (the caller checks them on the host, where they come from).
    pub fn rotate(&self, gpu: &Gpu, x: Mat, n_heads: usize, pos: &CudaSlice<u32>, backward: bool) -> Result<()> {
        if x.cols < n_heads * 2 * self.half || pos.len() < x.rows {
            return Err(Error::Device(format!(
                "rope: {} columns for {n_heads} heads of {}, {} positions for {} rows",
                x.cols,
                2 * self.half,
                pos.len(),
                x.rows
            )));
        }
        let f = gpu.func(&ROPE, "rope_rotate")?;
        let sign = if backward { -1.0f32 } else { 1.0 };
        let args = [
            x.arg(),
            i32_arg("ld", x.ld)?,
            KArg::Ptr(ptr(&self.cos)),
            KArg::Ptr(ptr(&self.sin)),
            KArg::Ptr(ptr(pos)),
            i32_arg("rows", x.rows)?,
            i32_arg("heads", n_heads)?,
            i32_arg("half", self.half)?,
            KArg::F32(sign),
        ];
        gpu.launch(&f, (x.rows as u32, 1, 1), THREADS as u32, 0, &args)
    }
}
