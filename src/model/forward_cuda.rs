//! The forward pass of one block on the GPU, step for step the same as
//! `model::forward::block_forward` (same switches, same order, same saved
//! intermediates), with two layout differences: keys and values stay
//! token-major (`[T, n_kv·d]`; the attention kernels take strides), and
//! attention saves a log-sum-exp per (head, row) instead of the probabilities.

use crate::cuda::device::{ensure_len, Gpu, Mat};
use crate::cuda::elementwise::{add_gpu, copy2d_gpu};
use crate::model::config::ModelConfig;
use crate::model::cuda::{GpuBlock, GpuLinear};
use crate::model::forward::LayerCtx;
use crate::model::lora_cuda::GpuAdapter;
use crate::model::Proj;
use crate::ops::activation_cuda::glu_forward_gpu;
use crate::ops::attention_cuda::{attention_forward_gpu, GpuSeqs, KvLayout};
use crate::ops::linear_cuda::linear_forward_gpu;
use crate::ops::lora_cuda::lora_forward_gpu;
use crate::ops::norm_cuda::rmsnorm_forward_gpu;
use crate::ops::rope_cuda::GpuRope;
use crate::Result;
use cudarc::driver::CudaSlice;
use std::collections::BTreeMap;

/// A growable device buffer.
pub type Buf = Option<CudaSlice<f32>>;

/// The buffer behind a [`Buf`] sized by [`ensure_len`].
pub fn b(buf: &Buf) -> &CudaSlice<f32> {
    buf.as_ref().expect("buffer sized before use")
}

/// A [`Buf`] as a dense `rows × cols` matrix.
pub fn bm(buf: &Buf, rows: usize, cols: usize) -> Result<Mat<'_>> {
    Mat::new(b(buf), rows, cols)
}

/// Every intermediate of one block for one batch of `t` rows (the GPU twin of
/// `model::forward::BlockActs`). Buffers grow to the largest batch seen.
#[derive(Default)]
pub struct GpuActs {
    pub t: usize,
    pub x_in: Buf,
    pub rstd_attn: Buf,
    pub h_attn: Buf,
    pub q_raw: Buf,
    pub k_raw: Buf,
    pub rstd_q: Buf,
    pub rstd_k: Buf,
    pub q: Buf,
    pub k: Buf,
    pub v: Buf,
    /// Log-sum-exp of the attention rows, `[n_heads, t]`.
    pub lse: Buf,
    pub att: Buf,
    pub o_out: Buf,
    pub rstd_post_attn: Buf,
    pub x_mid: Buf,
    pub rstd_ffn: Buf,
    pub h_ffn: Buf,
    pub gate: Buf,
    pub up: Buf,
    pub act: Buf,
    pub down_out: Buf,
    pub rstd_post_ffn: Buf,
    pub fused: Buf,
    pub lora_h: BTreeMap<Proj, CudaSlice<f32>>,
}

impl GpuActs {
    /// Sizes every buffer for `t` rows of this model.
    pub fn size_for(&mut self, gpu: &Gpu, c: &ModelConfig, t: usize) -> Result<()> {
        let (hd, qd, kvd, ff) = (c.hidden, c.q_dim(), c.kv_dim(), c.intermediate);
        self.t = t;
        for (buf, n) in [
            (&mut self.x_in, t * hd),
            (&mut self.rstd_attn, t),
            (&mut self.h_attn, t * hd),
            (&mut self.q_raw, t * qd),
            (&mut self.k_raw, t * kvd),
            (&mut self.rstd_q, t * c.n_heads),
            (&mut self.rstd_k, t * c.n_kv_heads),
            (&mut self.q, t * qd),
            (&mut self.k, t * kvd),
            (&mut self.v, t * kvd),
            (&mut self.lse, t * c.n_heads),
            (&mut self.att, t * qd),
            (&mut self.o_out, t * hd),
            (&mut self.rstd_post_attn, t),
            (&mut self.x_mid, t * hd),
            (&mut self.rstd_ffn, t),
            (&mut self.h_ffn, t * hd),
            (&mut self.gate, t * ff),
            (&mut self.up, t * ff),
            (&mut self.act, t * ff),
            (&mut self.down_out, t * hd),
            (&mut self.rstd_post_ffn, t),
            (&mut self.fused, t * (qd + 2 * kvd).max(2 * ff)),
        ] {
            ensure_len(gpu, buf, n.max(1))?;
        }
        Ok(())
    }
}

/// Per-layer constants: the CPU's [`LayerCtx`] (config, dropout keys,
/// attention shape) plus the GPU's rope table and adapter.
pub struct GpuLayerCtx<'a> {
    pub cpu: LayerCtx<'a>,
    pub rope: &'a GpuRope,
    pub lora: Option<&'a GpuAdapter>,
}

/// Where a block's keys and values go.
pub enum GpuKv<'a> {
    /// Training: kept in the activations (token-major), one sequence per span.
    Saved,
    /// Generation: one sequence appended at position `p0` of a token-major
    /// cache `[cap, n_kv·d]`.
    Cache { k: &'a CudaSlice<f32>, v: &'a CudaSlice<f32>, cap: usize, p0: usize },
}

/// y = x·Wᵀ + b + LoRA (h saved in `lora_h`).
#[allow(clippy::too_many_arguments)]
pub fn project(
    gpu: &Gpu,
    ctx: &GpuLayerCtx,
    proj: Proj,
    lin: &GpuLinear,
    x: Mat,
    y: Mat,
    lora_h: &mut BTreeMap<Proj, CudaSlice<f32>>,
) -> Result<()> {
    linear_forward_gpu(gpu, x, &lin.w, lin.bias.as_ref(), y, false)?;
    if let Some(w) = ctx.lora.and_then(|l| l.get(ctx.cpu.layer, proj)) {
        let need = x.rows * w.r;
        if lora_h.get(&proj).is_none_or(|h| h.len() < need) {
            lora_h.insert(proj, gpu.zeros(need)?);
        }
        lora_forward_gpu(gpu, &w.dev(), x, ctx.cpu.dropout_for(proj), &lora_h[&proj], y)?;
    }
    Ok(())
}

/// x += norm(y) (or x += y without a norm), saving the norm's rstd.
#[allow(clippy::too_many_arguments)]
pub fn add_normed_gpu(
    gpu: &Gpu,
    x: &CudaSlice<f32>,
    y: &CudaSlice<f32>,
    norm: Option<&CudaSlice<f32>>,
    eps: f32,
    rstd: &CudaSlice<f32>,
    t: usize,
    d: usize,
) -> Result<()> {
    match norm {
        Some(w) => rmsnorm_forward_gpu(gpu, Mat::new(y, t, d)?, w, eps, Mat::new(x, t, d)?, Some(rstd), true),
        None => add_gpu(gpu, x, y, t * d),
    }
}

/// Runs one block on `x` (`[t, hidden]`, updated in place). `pos` holds each
/// row's position (for rope); `seqs` the attention sequences.
#[allow(clippy::too_many_arguments)]
pub fn block_forward_gpu(
    gpu: &Gpu,
    ctx: &GpuLayerCtx,
    block: &GpuBlock,
    x: &CudaSlice<f32>,
    t: usize,
    pos: &CudaSlice<u32>,
    seqs: &GpuSeqs,
    kv: GpuKv,
    a: &mut GpuActs,
) -> Result<()> {
    let c = ctx.cpu.cfg;
    let (hd, qd, kvd, ff, d) = (c.hidden, c.q_dim(), c.kv_dim(), c.intermediate, c.head_dim);
    a.size_for(gpu, c, t)?;

    // Attention half.
    copy2d_gpu(gpu, Mat::new(x, t, hd)?, bm(&a.x_in, t, hd)?, false)?;
    rmsnorm_forward_gpu(gpu, Mat::new(x, t, hd)?, &block.attn_norm, c.rms_eps, bm(&a.h_attn, t, hd)?, Some(b(&a.rstd_attn)), false)?;
    let h_attn = bm(&a.h_attn, t, hd)?;
    if block.has(Proj::Qkv) {
        let w = qd + 2 * kvd;
        let fused = Mat::new(b(&a.fused), t, w)?;
        project(gpu, ctx, Proj::Qkv, block.linear(Proj::Qkv), h_attn, fused, &mut a.lora_h)?;
        copy2d_gpu(gpu, fused.cols_range(0, qd)?, bm(&a.q_raw, t, qd)?, false)?;
        copy2d_gpu(gpu, fused.cols_range(qd, kvd)?, bm(&a.k_raw, t, kvd)?, false)?;
        copy2d_gpu(gpu, fused.cols_range(qd + kvd, kvd)?, bm(&a.v, t, kvd)?, false)?;
    } else {
        project(gpu, ctx, Proj::Q, block.linear(Proj::Q), h_attn, bm(&a.q_raw, t, qd)?, &mut a.lora_h)?;
        project(gpu, ctx, Proj::K, block.linear(Proj::K), h_attn, bm(&a.k_raw, t, kvd)?, &mut a.lora_h)?;
        project(gpu, ctx, Proj::V, block.linear(Proj::V), h_attn, bm(&a.v, t, kvd)?, &mut a.lora_h)?;
    }
    match (&block.q_norm, &block.k_norm) {
        (Some(qn), Some(kn)) => {
            rmsnorm_forward_gpu(
                gpu,
                Mat::new(b(&a.q_raw), t * c.n_heads, d)?,
                qn,
                c.rms_eps,
                Mat::new(b(&a.q), t * c.n_heads, d)?,
                Some(b(&a.rstd_q)),
                false,
            )?;
            rmsnorm_forward_gpu(
                gpu,
                Mat::new(b(&a.k_raw), t * c.n_kv_heads, d)?,
                kn,
                c.rms_eps,
                Mat::new(b(&a.k), t * c.n_kv_heads, d)?,
                Some(b(&a.rstd_k)),
                false,
            )?;
        }
        _ => {
            copy2d_gpu(gpu, bm(&a.q_raw, t, qd)?, bm(&a.q, t, qd)?, false)?;
            copy2d_gpu(gpu, bm(&a.k_raw, t, kvd)?, bm(&a.k, t, kvd)?, false)?;
        }
    }
    ctx.rope.rotate(gpu, bm(&a.q, t, qd)?, c.n_heads, pos, false)?;
    ctx.rope.rotate(gpu, bm(&a.k, t, kvd)?, c.n_kv_heads, pos, false)?;

    let shape = ctx.cpu.attn_shape();
    let att = bm(&a.att, t, qd)?;
    match kv {
        GpuKv::Saved => {
            let lse = if ctx.cpu.save_probs { Some(b(&a.lse)) } else { None };
            attention_forward_gpu(gpu, &shape, bm(&a.q, t, qd)?, b(&a.k), b(&a.v), KvLayout::token_major(c.n_kv_heads, d), seqs, att, lse)?;
        }
        GpuKv::Cache { k: kc, v: vc, cap, p0 } => {
            if p0 + t > cap {
                return Err(crate::Error::invalid(format!("KV cache of {cap} positions is full")));
            }
            copy2d_gpu(gpu, bm(&a.k, t, kvd)?, Mat::sub(kc, p0 * kvd, t, kvd, kvd)?, false)?;
            copy2d_gpu(gpu, bm(&a.v, t, kvd)?, Mat::sub(vc, p0 * kvd, t, kvd, kvd)?, false)?;
            attention_forward_gpu(gpu, &shape, bm(&a.q, t, qd)?, kc, vc, KvLayout::token_major(c.n_kv_heads, d), seqs, att, None)?;
        }
    }
    project(gpu, ctx, Proj::O, block.linear(Proj::O), att, bm(&a.o_out, t, hd)?, &mut a.lora_h)?;
    add_normed_gpu(gpu, x, b(&a.o_out), block.post_attn_norm.as_ref(), c.rms_eps, b(&a.rstd_post_attn), t, hd)?;
    copy2d_gpu(gpu, Mat::new(x, t, hd)?, bm(&a.x_mid, t, hd)?, false)?;

    // MLP half.
    rmsnorm_forward_gpu(gpu, Mat::new(x, t, hd)?, &block.ffn_norm, c.rms_eps, bm(&a.h_ffn, t, hd)?, Some(b(&a.rstd_ffn)), false)?;
    let h_ffn = bm(&a.h_ffn, t, hd)?;
    if block.has(Proj::GateUp) {
        let fused = Mat::new(b(&a.fused), t, 2 * ff)?;
        project(gpu, ctx, Proj::GateUp, block.linear(Proj::GateUp), h_ffn, fused, &mut a.lora_h)?;
        copy2d_gpu(gpu, fused.cols_range(0, ff)?, bm(&a.gate, t, ff)?, false)?;
        copy2d_gpu(gpu, fused.cols_range(ff, ff)?, bm(&a.up, t, ff)?, false)?;
    } else {
        project(gpu, ctx, Proj::Gate, block.linear(Proj::Gate), h_ffn, bm(&a.gate, t, ff)?, &mut a.lora_h)?;
        project(gpu, ctx, Proj::Up, block.linear(Proj::Up), h_ffn, bm(&a.up, t, ff)?, &mut a.lora_h)?;
    }
    glu_forward_gpu(gpu, c.activation, b(&a.gate), b(&a.up), b(&a.act), t * ff)?;
    project(gpu, ctx, Proj::Down, block.linear(Proj::Down), bm(&a.act, t, ff)?, bm(&a.down_out, t, hd)?, &mut a.lora_h)?;
    add_normed_gpu(gpu, x, b(&a.down_out), block.post_ffn_norm.as_ref(), c.rms_eps, b(&a.rstd_post_ffn), t, hd)
}
