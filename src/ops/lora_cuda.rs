//! CUDA side of `lora.rs` (`kernels/lora.cu`): y += s·(drop(x)·Aᵀ)·Bᵀ with h
//! kept for the backward pass, and the backward pass giving dA, dB and the dx
//! contribution. The dropout mask is the CPU's, regenerated from (key, index).

use super::lora::Dropout;
use crate::cuda::device::{i32_arg, ptr, Gpu, KArg, Mat};
use crate::cuda::kernels::LORA;
use crate::{Error, Result};
use cudarc::driver::CudaSlice;

/// Largest rank the fused kernels keep in shared memory.
pub use crate::cuda::tiles::LORA_MAX_RANK as MAX_RANK;
use crate::cuda::tiles::{LORA_OUTER_RANKS, LORA_TM as TM, THREADS};

/// One adapted projection's matrices on the GPU.
pub struct LoraDev<'a> {
    pub r: usize,
    pub in_features: usize,
    pub out_features: usize,
    /// `[r, in]`
    pub a: &'a CudaSlice<f32>,
    /// `[out, r]`
    pub b: &'a CudaSlice<f32>,
    pub scale: f32,
}

impl LoraDev<'_> {
    fn check(&self, x: &Mat, m_out: usize, h: &CudaSlice<f32>) -> Result<()> {
        let (r, inp, out) = (self.r, self.in_features, self.out_features);
        if r == 0 || r > MAX_RANK {
            return Err(Error::invalid(format!("LoRA rank {r}: the CUDA kernels support ranks 1..={MAX_RANK}")));
        }
        if self.a.len() < r * inp || self.b.len() < out * r {
            return Err(Error::Device(format!(
                "LoRA matrices of {} and {} values for r={r}, in={inp}, out={out}",
                self.a.len(),
                self.b.len()
            )));
        }
        if x.cols != inp || m_out != x.rows || h.len() < x.rows * r {
            return Err(Error::Device(format!("LoRA shapes: x {}×{}, in={inp}, rows {m_out}, h of {}", x.rows, x.cols, h.len())));
        }
        Ok(())
    }
}

fn drop_args(d: Option<Dropout>) -> [KArg; 2] {
    match d {
        Some(d) if d.p > 0.0 => [KArg::F32(d.p), KArg::U64(d.key)],
        _ => [KArg::F32(0.0), KArg::U64(0)],
    }
}

/// y[m × out] += s·(drop(x)·Aᵀ)·Bᵀ; writes h = drop(x)·Aᵀ `[m, r]`.
pub fn lora_forward_gpu(gpu: &Gpu, w: &LoraDev, x: Mat, dropout: Option<Dropout>, h: &CudaSlice<f32>, y: Mat) -> Result<()> {
    w.check(&x, y.rows, h)?;
    if y.cols != w.out_features {
        return Err(Error::Device(format!("LoRA output of {} columns for {} features", y.cols, w.out_features)));
    }
    let m = x.rows;
    let f = gpu.func(&LORA, "lora_fwd")?;
    let [dp, dk] = drop_args(dropout);
    let args = [
        x.arg(),
        i32_arg("ldx", x.ld)?,
        KArg::Ptr(ptr(w.a)),
        KArg::Ptr(ptr(w.b)),
        KArg::Ptr(ptr(h)),
        y.arg(),
        i32_arg("ldy", y.ld)?,
        i32_arg("rows", m)?,
        i32_arg("in", w.in_features)?,
        i32_arg("out", w.out_features)?,
        i32_arg("rank", w.r)?,
        KArg::F32(w.scale),
        dp,
        dk,
    ];
    gpu.launch(&f, (m.div_ceil(TM) as u32, 1, 1), THREADS as u32, 0, &args)
}

/// Accumulates dA, dB (`ga` `[r, in]`, `gb` `[out, r]`) and adds the input
/// gradient into `dx`; `dh` is scratch of m·r values.
#[allow(clippy::too_many_arguments)]
pub fn lora_backward_gpu(
    gpu: &Gpu,
    w: &LoraDev,
    x: Mat,
    dropout: Option<Dropout>,
    h: &CudaSlice<f32>,
    dy: Mat,
    ga: &CudaSlice<f32>,
    gb: &CudaSlice<f32>,
    dx: Mat,
    dh: &CudaSlice<f32>,
) -> Result<()> {
    w.check(&x, dy.rows, h)?;
    let (r, inp, out, m) = (w.r, w.in_features, w.out_features, x.rows);
    if dy.cols != out || dx.cols != inp || dx.rows != m || dh.len() < m * r || ga.len() < r * inp || gb.len() < out * r {
        return Err(Error::Device("LoRA backward: buffer shapes do not match".into()));
    }
    let [dp, dk] = drop_args(dropout);
    // dh = s·dy·B and dx += drop'(dh·A)
    let f = gpu.func(&LORA, "lora_bwd_dx")?;
    let args = [
        dy.arg(),
        i32_arg("lddy", dy.ld)?,
        KArg::Ptr(ptr(w.a)),
        KArg::Ptr(ptr(w.b)),
        KArg::Ptr(ptr(dh)),
        dx.arg(),
        i32_arg("lddx", dx.ld)?,
        i32_arg("rows", m)?,
        i32_arg("in", inp)?,
        i32_arg("out", out)?,
        i32_arg("rank", r)?,
        KArg::F32(w.scale),
        dp,
        dk,
    ];
    gpu.launch(&f, (m.div_ceil(TM) as u32, 1, 1), THREADS as u32, 0, &args)?;
    let outer = gpu.func(&LORA, "lora_outer")?;
    // dB[n][j] += s · Σ_i dy[i][n] · h[i][j]
    let args = [
        KArg::Ptr(ptr(h)),
        dy.arg(),
        i32_arg("lddy", dy.ld)?,
        KArg::Ptr(ptr(gb)),
        KArg::I32(1),
        i32_arg("rank", r)?,
        i32_arg("rows", m)?,
        i32_arg("out", out)?,
        i32_arg("rank", r)?,
        KArg::F32(w.scale),
        KArg::F32(0.0),
        KArg::U64(0),
    ];
    gpu.launch(&outer, (out.div_ceil(THREADS) as u32, r.div_ceil(LORA_OUTER_RANKS) as u32, 1), THREADS as u32, 0, &args)?;
    // dA[j][c] += Σ_i dh[i][j] · drop(x)[i][c]
    let args = [
        KArg::Ptr(ptr(dh)),
        x.arg(),
        i32_arg("ldx", x.ld)?,
        KArg::Ptr(ptr(ga)),
        i32_arg("in", inp)?,
        KArg::I32(1),
        i32_arg("rows", m)?,
        i32_arg("in", inp)?,
        i32_arg("rank", r)?,
        KArg::F32(1.0),
        dp,
        dk,
    ];
    gpu.launch(&outer, (inp.div_ceil(THREADS) as u32, r.div_ceil(LORA_OUTER_RANKS) as u32, 1), THREADS as u32, 0, &args)
}
