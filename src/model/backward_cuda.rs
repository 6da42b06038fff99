//! The backward pass of one block on the GPU, undoing
//! [`block_forward_gpu`](crate::model::forward_cuda::block_forward_gpu) step by step in
//! the order of `model::backward::block_backward`: from dL/d(block output) in
//! `dx` to dL/d(block input), adding LoRA gradients to the adapter's buffers.

use crate::cuda::device::ensure_len;
use crate::cuda::device::{Gpu, Mat};
use crate::cuda::elementwise::copy2d_gpu;
use crate::model::config::ModelConfig;
use crate::model::cuda::{GpuBlock, GpuLinear};
use crate::model::forward_cuda::{b, bm, Buf, GpuActs, GpuLayerCtx};
use crate::model::lora_cuda::GpuAdapter;
use crate::model::Proj;
use crate::ops::activation_cuda::glu_backward_gpu;
use crate::ops::attention_cuda::{attention_backward_gpu, GpuSeqs, KvLayout};
use crate::ops::linear_cuda::linear_backward_input_gpu;
use crate::ops::lora_cuda::lora_backward_gpu;
use crate::ops::norm_cuda::rmsnorm_backward_gpu;
use crate::{Error, Result};
use cudarc::driver::CudaSlice;

/// Gradient buffers of one block's backward pass, reused layer after layer.
#[derive(Default)]
pub struct GpuGradScratch {
    d_norm: Buf,
    d_act: Buf,
    d_gate: Buf,
    d_up: Buf,
    d_hffn: Buf,
    d_att: Buf,
    dq: Buf,
    dk: Buf,
    dv: Buf,
    dvec: Buf,
    dq_raw: Buf,
    dk_raw: Buf,
    d_hattn: Buf,
    d_fused: Buf,
    /// LoRA's dh `[t, r]`.
    dh: Buf,
}

impl GpuGradScratch {
    fn size_for(&mut self, gpu: &Gpu, c: &ModelConfig, t: usize, max_rank: usize) -> Result<()> {
        let (hd, qd, kvd, ff) = (c.hidden, c.q_dim(), c.kv_dim(), c.intermediate);
        for (buf, n) in [
            (&mut self.d_norm, t * hd),
            (&mut self.d_act, t * ff),
            (&mut self.d_gate, t * ff),
            (&mut self.d_up, t * ff),
            (&mut self.d_hffn, t * hd),
            (&mut self.d_att, t * qd),
            (&mut self.dq, t * qd),
            (&mut self.dk, t * kvd),
            (&mut self.dv, t * kvd),
            (&mut self.dvec, t * c.n_heads),
            (&mut self.dq_raw, t * qd),
            (&mut self.dk_raw, t * kvd),
            (&mut self.d_hattn, t * hd),
            (&mut self.d_fused, t * (qd + 2 * kvd).max(2 * ff)),
            (&mut self.dh, t * max_rank.max(1)),
        ] {
            ensure_len(gpu, buf, n.max(1))?;
        }
        Ok(())
    }
}

/// dx (+)= dy·W through a frozen linear layer, plus its LoRA branch.
#[allow(clippy::too_many_arguments)]
fn project_backward(
    gpu: &Gpu,
    ctx: &GpuLayerCtx,
    proj: Proj,
    lin: &GpuLinear,
    x: Mat,
    dy: Mat,
    a: &GpuActs,
    dh: &CudaSlice<f32>,
    dx: Mat,
    accumulate: bool,
) -> Result<()> {
    linear_backward_input_gpu(gpu, dy, &lin.w, dx, accumulate)?;
    if let Some(w) = ctx.lora.and_then(|l: &GpuAdapter| l.get(ctx.cpu.layer, proj)) {
        let st = w.train.as_ref().ok_or_else(|| Error::invalid("LoRA adapter on the GPU has no gradient buffers"))?;
        let h = a.lora_h.get(&proj).ok_or_else(|| Error::invalid(format!("LoRA hidden of {proj:?} was not kept by the forward pass")))?;
        lora_backward_gpu(gpu, &w.dev(), x, ctx.cpu.dropout_for(proj), h, dy, &st.ga, &st.gb, dx, dh)?;
    }
    Ok(())
}

/// `dx` holds dL/d(block output) on entry and dL/d(block input) on return.
#[allow(clippy::too_many_arguments)]
pub fn block_backward_gpu(
    gpu: &Gpu,
    ctx: &GpuLayerCtx,
    block: &GpuBlock,
    a: &GpuActs,
    seqs: &GpuSeqs,
    pos: &CudaSlice<u32>,
    dx: &CudaSlice<f32>,
    s: &mut GpuGradScratch,
) -> Result<()> {
    let c = ctx.cpu.cfg;
    let t = a.t;
    let (hd, qd, kvd, ff, d) = (c.hidden, c.q_dim(), c.kv_dim(), c.intermediate, c.head_dim);
    let max_rank = ctx.lora.map_or(0, |l| l.iter().map(|(_, _, w)| w.r).max().unwrap_or(0));
    s.size_for(gpu, c, t, max_rank)?;
    let dxm = Mat::new(dx, t, hd)?;
    let dh = b(&s.dh);

    // ---- MLP half, in reverse.
    let d_down = match &block.post_ffn_norm {
        Some(w) => {
            rmsnorm_backward_gpu(gpu, bm(&a.down_out, t, hd)?, w, b(&a.rstd_post_ffn), dxm, bm(&s.d_norm, t, hd)?, false)?;
            bm(&s.d_norm, t, hd)?
        }
        None => dxm,
    };
    project_backward(gpu, ctx, Proj::Down, block.linear(Proj::Down), bm(&a.act, t, ff)?, d_down, a, dh, bm(&s.d_act, t, ff)?, false)?;
    glu_backward_gpu(gpu, c.activation, b(&a.gate), b(&a.up), b(&s.d_act), b(&s.d_gate), b(&s.d_up), t * ff)?;
    let h_ffn = bm(&a.h_ffn, t, hd)?;
    let d_hffn = bm(&s.d_hffn, t, hd)?;
    if block.has(Proj::GateUp) {
        let fused = Mat::new(b(&s.d_fused), t, 2 * ff)?;
        copy2d_gpu(gpu, bm(&s.d_gate, t, ff)?, fused.cols_range(0, ff)?, false)?;
        copy2d_gpu(gpu, bm(&s.d_up, t, ff)?, fused.cols_range(ff, ff)?, false)?;
        project_backward(gpu, ctx, Proj::GateUp, block.linear(Proj::GateUp), h_ffn, fused, a, dh, d_hffn, false)?;
    } else {
        project_backward(gpu, ctx, Proj::Gate, block.linear(Proj::Gate), h_ffn, bm(&s.d_gate, t, ff)?, a, dh, d_hffn, false)?;
        project_backward(gpu, ctx, Proj::Up, block.linear(Proj::Up), h_ffn, bm(&s.d_up, t, ff)?, a, dh, d_hffn, true)?;
    }
    // The residual passes dx through; the norm adds its share.
    rmsnorm_backward_gpu(gpu, bm(&a.x_mid, t, hd)?, &block.ffn_norm, b(&a.rstd_ffn), d_hffn, dxm, true)?;

    // ---- Attention half, in reverse.
    let d_o = match &block.post_attn_norm {
        Some(w) => {
            rmsnorm_backward_gpu(gpu, bm(&a.o_out, t, hd)?, w, b(&a.rstd_post_attn), dxm, bm(&s.d_norm, t, hd)?, false)?;
            bm(&s.d_norm, t, hd)?
        }
        None => dxm,
    };
    project_backward(gpu, ctx, Proj::O, block.linear(Proj::O), bm(&a.att, t, qd)?, d_o, a, dh, bm(&s.d_att, t, qd)?, false)?;

    let shape = ctx.cpu.attn_shape();
    attention_backward_gpu(
        gpu,
        &shape,
        bm(&a.q, t, qd)?,
        b(&a.k),
        b(&a.v),
        KvLayout::token_major(c.n_kv_heads, d),
        seqs,
        bm(&a.att, t, qd)?,
        bm(&s.d_att, t, qd)?,
        b(&a.lse),
        b(&s.dvec),
        bm(&s.dq, t, qd)?,
        b(&s.dk),
        b(&s.dv),
    )?;
    ctx.rope.rotate(gpu, bm(&s.dq, t, qd)?, c.n_heads, pos, true)?;
    ctx.rope.rotate(gpu, bm(&s.dk, t, kvd)?, c.n_kv_heads, pos, true)?;
    let (dq_raw, dk_raw) = match (&block.q_norm, &block.k_norm) {
        (Some(qn), Some(kn)) => {
            let (nh, nkv) = (t * c.n_heads, t * c.n_kv_heads);
            rmsnorm_backward_gpu(
                gpu,
                Mat::new(b(&a.q_raw), nh, d)?,
                qn,
                b(&a.rstd_q),
                Mat::new(b(&s.dq), nh, d)?,
                Mat::new(b(&s.dq_raw), nh, d)?,
                false,
            )?;
            rmsnorm_backward_gpu(
                gpu,
                Mat::new(b(&a.k_raw), nkv, d)?,
                kn,
                b(&a.rstd_k),
                Mat::new(b(&s.dk), nkv, d)?,
                Mat::new(b(&s.dk_raw), nkv, d)?,
                false,
            )?;
            (bm(&s.dq_raw, t, qd)?, bm(&s.dk_raw, t, kvd)?)
        }
        _ => (bm(&s.dq, t, qd)?, bm(&s.dk, t, kvd)?),
    };
    let h_attn = bm(&a.h_attn, t, hd)?;
    let d_hattn = bm(&s.d_hattn, t, hd)?;
    if block.has(Proj::Qkv) {
        let w = qd + 2 * kvd;
        let fused = Mat::new(b(&s.d_fused), t, w)?;
        copy2d_gpu(gpu, dq_raw, fused.cols_range(0, qd)?, false)?;
        copy2d_gpu(gpu, dk_raw, fused.cols_range(qd, kvd)?, false)?;
        copy2d_gpu(gpu, bm(&s.dv, t, kvd)?, fused.cols_range(qd + kvd, kvd)?, false)?;
        project_backward(gpu, ctx, Proj::Qkv, block.linear(Proj::Qkv), h_attn, fused, a, dh, d_hattn, false)?;
    } else {
        project_backward(gpu, ctx, Proj::Q, block.linear(Proj::Q), h_attn, dq_raw, a, dh, d_hattn, false)?;
        project_backward(gpu, ctx, Proj::K, block.linear(Proj::K), h_attn, dk_raw, a, dh, d_hattn, true)?;
        project_backward(gpu, ctx, Proj::V, block.linear(Proj::V), h_attn, bm(&s.dv, t, kvd)?, a, dh, d_hattn, true)?;
    }
    rmsnorm_backward_gpu(gpu, bm(&a.x_in, t, hd)?, &block.attn_norm, b(&a.rstd_attn), d_hattn, dxm, true)
}
