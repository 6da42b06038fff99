//! Backward pass of one block: from the gradient of its output to the
//! gradient of its input, accumulating LoRA gradients on the way. It undoes
//! `forward.rs::block_forward` step by step, in reverse, from the
//! activations that the forward pass kept in [`BlockActs`].
//! Base weights are frozen: only input gradients flow through them.

use super::forward::{positions, BlockActs, LayerCtx, SeqSpan};
use super::{Block, GateUpProj, Linear, Proj, QkvProj};
use crate::cpu::scratch::{self, Scratch};
use crate::ops::activation::glu_backward;
use crate::ops::attention::attention_backward;
use crate::ops::linear::linear_backward_input;
use crate::ops::lora::{lora_backward, LoraGrads};
use crate::ops::norm::rmsnorm_backward;
use std::collections::BTreeMap;

/// LoRA gradients of one layer.
pub type LayerGrads = BTreeMap<Proj, LoraGrads>;

/// LoRA gradients of every layer.
pub type AdapterGrads = Vec<LayerGrads>;

/// Gradients of the shapes of `adapter`'s weights, all zero.
pub fn zero_grads(adapter: &crate::model::lora::LoraAdapter) -> AdapterGrads {
    adapter.layers.iter().map(|m| m.iter().map(|(p, w)| (*p, LoraGrads::zeros_like(w))).collect()).collect()
}

/// dx (+)= dy·W through a frozen linear layer, plus its LoRA branch.
#[allow(clippy::too_many_arguments)]
fn project_backward(
    ctx: &LayerCtx,
    proj: Proj,
    lin: &Linear,
    x: &[f32],
    m: usize,
    dy: &[f32],
    a: &BlockActs,
    grads: &mut LayerGrads,
    dx: &mut [f32],
    accumulate: bool,
) {
    linear_backward_input(dy, m, &lin.weight, dx, accumulate);
    if let Some(w) = ctx.lora.and_then(|l| l.get(ctx.layer, proj)) {
        let g = grads.entry(proj).or_insert_with(|| LoraGrads::zeros_like(w));
        let h = a.lora_h.get(&proj).expect("LoRA hidden kept by the forward pass");
        lora_backward(w, x, m, ctx.dropout_for(proj), h, dy, g, dx);
    }
}

/// Gradient through `x += norm(y)` (or `x += y`): returns dy from dx.
fn add_normed_backward(dx: &[f32], y: &[f32], norm: Option<&[f32]>, rstd: &[f32]) -> Scratch {
    match norm {
        Some(w) => {
            let mut dy = scratch::zeroed(y.len());
            rmsnorm_backward(y, w, rstd, dx, &mut dy, false);
            dy
        }
        None => scratch::copied(dx),
    }
}

/// `dx` holds dL/d(block output) on entry and dL/d(block input) on return.
pub fn block_backward(ctx: &LayerCtx, block: &Block, spans: &[SeqSpan], a: &BlockActs, dx: &mut [f32], grads: &mut LayerGrads) {
    let c = ctx.cfg;
    let t: usize = spans.iter().map(|s| s.len).sum();
    let (hd, qd, kvd, ff) = (c.hidden, c.q_dim(), c.kv_dim(), c.intermediate);
    assert_eq!(dx.len(), t * hd);

    // ---- MLP half, in reverse.
    let d_down = add_normed_backward(dx, &a.down_out, block.post_ffn_norm.as_deref(), &a.rstd_post_ffn);
    let mut d_act = scratch::zeroed(t * ff);
    project_backward(ctx, Proj::Down, &block.down, &a.act, t, &d_down, a, grads, &mut d_act, false);
    let (mut d_gate, mut d_up) = (scratch::zeroed(t * ff), scratch::zeroed(t * ff));
    glu_backward(c.activation, &a.gate, &a.up, &d_act, &mut d_gate, &mut d_up);
    let mut d_hffn = scratch::zeroed(t * hd);
    match &block.gate_up {
        GateUpProj::Separate { gate, up } => {
            project_backward(ctx, Proj::Gate, gate, &a.h_ffn, t, &d_gate, a, grads, &mut d_hffn, false);
            project_backward(ctx, Proj::Up, up, &a.h_ffn, t, &d_up, a, grads, &mut d_hffn, true);
        }
        GateUpProj::Fused(l) => {
            let mut d_fused = scratch::zeroed(t * 2 * ff);
            for (i, row) in d_fused.chunks_exact_mut(2 * ff).enumerate() {
                row[..ff].copy_from_slice(&d_gate[i * ff..(i + 1) * ff]);
                row[ff..].copy_from_slice(&d_up[i * ff..(i + 1) * ff]);
            }
            project_backward(ctx, Proj::GateUp, l, &a.h_ffn, t, &d_fused, a, grads, &mut d_hffn, false);
        }
    }
    // The residual passes dx through; the norm adds its share.
    rmsnorm_backward(&a.x_mid, &block.ffn_norm, &a.rstd_ffn, &d_hffn, dx, true);

    // ---- Attention half, in reverse.
    let d_o = add_normed_backward(dx, &a.o_out, block.post_attn_norm.as_deref(), &a.rstd_post_attn);
    let mut d_att = scratch::zeroed(t * qd);
    project_backward(ctx, Proj::O, &block.o, &a.att, t, &d_o, a, grads, &mut d_att, false);

    let shape = ctx.attn_shape();
    let d = c.head_dim;
    let (mut dq, mut dk, mut dv) = (scratch::zeroed(t * qd), scratch::zeroed(t * kvd), scratch::zeroed(t * kvd));
    let mut p_off = 0;
    for s in spans {
        let (r0, r1) = (s.start, s.start + s.len);
        let (mut dkh, mut dvh) = (scratch::zeroed(s.len * kvd), scratch::zeroed(s.len * kvd));
        let n = c.n_heads * s.len * s.len;
        attention_backward(
            &shape,
            &a.q[r0 * qd..r1 * qd],
            &a.k_heads[r0 * kvd..r1 * kvd],
            &a.v_heads[r0 * kvd..r1 * kvd],
            s.len,
            s.len,
            &a.probs[p_off..p_off + n],
            &d_att[r0 * qd..r1 * qd],
            &mut dq[r0 * qd..r1 * qd],
            &mut dkh,
            &mut dvh,
        );
        p_off += n;
        // Head-major [n_kv, len, d] back to token-major [len, n_kv·d].
        for i in 0..s.len {
            for h in 0..c.n_kv_heads {
                let src = (h * s.len + i) * d;
                let dst = (r0 + i) * kvd + h * d;
                dk[dst..dst + d].copy_from_slice(&dkh[src..src + d]);
                dv[dst..dst + d].copy_from_slice(&dvh[src..src + d]);
            }
        }
    }
    let pos = positions(spans);
    ctx.rope.backward(&mut dq, c.n_heads, &pos);
    ctx.rope.backward(&mut dk, c.n_kv_heads, &pos);
    let (dq_raw, dk_raw) = match (&block.q_norm, &block.k_norm) {
        (Some(qn), Some(kn)) => {
            let (mut dqr, mut dkr) = (scratch::zeroed(t * qd), scratch::zeroed(t * kvd));
            rmsnorm_backward(&a.q_raw, qn, &a.rstd_q, &dq, &mut dqr, false);
            rmsnorm_backward(&a.k_raw, kn, &a.rstd_k, &dk, &mut dkr, false);
            (dqr, dkr)
        }
        _ => (dq, dk),
    };
    let mut d_hattn = scratch::zeroed(t * hd);
    match &block.qkv {
        QkvProj::Separate { q, k, v } => {
            project_backward(ctx, Proj::Q, q, &a.h_attn, t, &dq_raw, a, grads, &mut d_hattn, false);
            project_backward(ctx, Proj::K, k, &a.h_attn, t, &dk_raw, a, grads, &mut d_hattn, true);
            project_backward(ctx, Proj::V, v, &a.h_attn, t, &dv, a, grads, &mut d_hattn, true);
        }
        QkvProj::Fused(l) => {
            let w = qd + 2 * kvd;
            let mut d_fused = scratch::zeroed(t * w);
            for (i, row) in d_fused.chunks_exact_mut(w).enumerate() {
                row[..qd].copy_from_slice(&dq_raw[i * qd..(i + 1) * qd]);
                row[qd..qd + kvd].copy_from_slice(&dk_raw[i * kvd..(i + 1) * kvd]);
                row[qd + kvd..].copy_from_slice(&dv[i * kvd..(i + 1) * kvd]);
            }
            project_backward(ctx, Proj::Qkv, l, &a.h_attn, t, &d_fused, a, grads, &mut d_hattn, false);
        }
    }
    rmsnorm_backward(&a.x_in, &block.attn_norm, &a.rstd_attn, &d_hattn, dx, true);
}
