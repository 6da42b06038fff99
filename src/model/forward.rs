//! The one forward pass of every family, block by block, with the switches
//! of [`ModelConfig`]. The same code serves generation (keys and values go to
//! a KV cache) and training (every intermediate is kept in [`BlockActs`] for
//! `backward.rs`).
//!
//! A batch is a set of sequences packed row after row (no padding): linear
//! layers, norms and activations run on all rows at once; attention runs per
//! sequence.

use super::config::{AttnKind, ModelConfig};
use super::lora::LoraAdapter;
use super::{Block, GateUpProj, Linear, Model, Proj, QkvProj};
use crate::ops::activation::glu_forward;
use crate::ops::attention::{attention_forward, AttnShape};
use crate::ops::linear::linear_forward;
use crate::ops::lora::{lora_forward, Dropout};
use crate::ops::norm::rmsnorm_forward;
use crate::ops::rope::RopeTable;
use std::collections::BTreeMap;

pub use crate::ops::attention::SeqSpan;

/// Where a block writes its keys and values.
pub enum KvSink<'a> {
    /// One sequence, appended at position `pos0` of a cache laid out
    /// `[n_kv_heads, cap, head_dim]`.
    Cache { k: &'a mut [f32], v: &'a mut [f32], cap: usize },
    /// Training: kept in `BlockActs::{k_heads, v_heads}`, each sequence laid
    /// out `[n_kv_heads, len, head_dim]` from offset `start·kv_dim`.
    Saved,
}

/// Every intermediate of one block for one batch. For generation these are
/// scratch buffers reused layer after layer; for training one per layer is
/// kept for the backward pass.
#[derive(Default, Clone)]
pub struct BlockActs {
    pub x_in: Vec<f32>,
    pub rstd_attn: Vec<f32>,
    pub h_attn: Vec<f32>,
    /// q and k before their per-head norm (gemma3), for its backward.
    pub q_raw: Vec<f32>,
    pub k_raw: Vec<f32>,
    pub rstd_q: Vec<f32>,
    pub rstd_k: Vec<f32>,
    /// q after norm and rope, `[T, q_dim]`.
    pub q: Vec<f32>,
    /// k after norm and rope, `[T, kv_dim]`.
    pub k: Vec<f32>,
    pub v: Vec<f32>,
    pub k_heads: Vec<f32>,
    pub v_heads: Vec<f32>,
    /// Attention probabilities per sequence, `[n_heads, len, len]` each, packed.
    pub probs: Vec<f32>,
    pub att: Vec<f32>,
    pub o_out: Vec<f32>,
    pub rstd_post_attn: Vec<f32>,
    pub x_mid: Vec<f32>,
    pub rstd_ffn: Vec<f32>,
    pub h_ffn: Vec<f32>,
    pub gate: Vec<f32>,
    pub up: Vec<f32>,
    pub act: Vec<f32>,
    pub down_out: Vec<f32>,
    pub rstd_post_ffn: Vec<f32>,
    /// For a fused projection, its whole output before the split.
    pub fused: Vec<f32>,
    /// LoRA hidden h = drop(x)·Aᵀ per adapted projection.
    pub lora_h: BTreeMap<Proj, Vec<f32>>,
    /// Norm output scratch for the post-norms.
    pub normed: Vec<f32>,
}

fn sized(v: &mut Vec<f32>, n: usize) -> &mut [f32] {
    v.resize(n, 0.0);
    &mut v[..n]
}

/// Per-layer constants of a forward pass.
pub struct LayerCtx<'a> {
    pub cfg: &'a ModelConfig,
    pub layer: usize,
    pub rope: &'a RopeTable,
    pub lora: Option<&'a LoraAdapter>,
    /// LoRA dropout during training: (p, key of this step).
    pub dropout: Option<(f32, u64)>,
    /// Keep attention probabilities (training).
    pub save_probs: bool,
}

impl LayerCtx<'_> {
    pub fn attn_shape(&self) -> AttnShape {
        let c = self.cfg;
        AttnShape {
            n_heads: c.n_heads,
            n_kv_heads: c.n_kv_heads,
            head_dim: c.head_dim,
            scale: c.attn_scale,
            window: match c.layer_kinds[self.layer] {
                AttnKind::Full => None,
                AttnKind::Sliding { window } => Some(window),
            },
        }
    }

    /// The dropout of projection `proj` in this layer, if training with dropout.
    pub fn dropout_for(&self, proj: Proj) -> Option<Dropout> {
        self.dropout
            .filter(|(p, _)| *p > 0.0)
            .map(|(p, key)| Dropout { p, key: key ^ ((self.layer as u64) << 32) ^ ((proj as u64 + 1) << 48) })
    }
}

/// y = x·Wᵀ + b + LoRA, saving LoRA's h in `acts.lora_h`.
fn project(ctx: &LayerCtx, proj: Proj, lin: &Linear, x: &[f32], m: usize, y: &mut [f32], lora_h: &mut BTreeMap<Proj, Vec<f32>>) {
    linear_forward(x, m, &lin.weight, lin.bias.as_deref(), y);
    if let Some(w) = ctx.lora.and_then(|l| l.get(ctx.layer, proj)) {
        let h = lora_h.entry(proj).or_default();
        h.resize(m * w.r, 0.0);
        lora_forward(w, x, m, ctx.dropout_for(proj), h, y);
    }
}

/// Positions of every row of the batch.
pub fn positions(spans: &[SeqSpan]) -> Vec<usize> {
    spans.iter().flat_map(|s| s.pos0..s.pos0 + s.len).collect()
}

/// Runs one block on `x` (`[T, hidden]`, updated in place).
pub fn block_forward(ctx: &LayerCtx, block: &Block, x: &mut [f32], spans: &[SeqSpan], kv: KvSink, a: &mut BlockActs) {
    let c = ctx.cfg;
    let t: usize = spans.iter().map(|s| s.len).sum();
    let (hd, qd, kvd, ff) = (c.hidden, c.q_dim(), c.kv_dim(), c.intermediate);
    assert_eq!(x.len(), t * hd);
    let pos = positions(spans);

    // Attention half: norm → q,k,v → (q/k norm) → rope → attention → o → (post-norm) → residual.
    sized(&mut a.x_in, t * hd).copy_from_slice(x);
    rmsnorm_forward(x, &block.attn_norm, c.rms_eps, sized(&mut a.h_attn, t * hd), Some(sized(&mut a.rstd_attn, t)));
    sized(&mut a.q_raw, t * qd);
    sized(&mut a.k_raw, t * kvd);
    sized(&mut a.v, t * kvd);
    match &block.qkv {
        QkvProj::Separate { q, k, v } => {
            project(ctx, Proj::Q, q, &a.h_attn, t, &mut a.q_raw, &mut a.lora_h);
            project(ctx, Proj::K, k, &a.h_attn, t, &mut a.k_raw, &mut a.lora_h);
            project(ctx, Proj::V, v, &a.h_attn, t, &mut a.v, &mut a.lora_h);
        }
        QkvProj::Fused(l) => {
            let w = qd + 2 * kvd;
            project(ctx, Proj::Qkv, l, &a.h_attn, t, sized(&mut a.fused, t * w), &mut a.lora_h);
            for (i, row) in a.fused.chunks_exact(w).enumerate() {
                a.q_raw[i * qd..(i + 1) * qd].copy_from_slice(&row[..qd]);
                a.k_raw[i * kvd..(i + 1) * kvd].copy_from_slice(&row[qd..qd + kvd]);
                a.v[i * kvd..(i + 1) * kvd].copy_from_slice(&row[qd + kvd..]);
            }
        }
    }
    match (&block.q_norm, &block.k_norm) {
        (Some(qn), Some(kn)) => {
            rmsnorm_forward(&a.q_raw, qn, c.rms_eps, sized(&mut a.q, t * qd), Some(sized(&mut a.rstd_q, t * c.n_heads)));
            rmsnorm_forward(&a.k_raw, kn, c.rms_eps, sized(&mut a.k, t * kvd), Some(sized(&mut a.rstd_k, t * c.n_kv_heads)));
        }
        _ => {
            sized(&mut a.q, t * qd).copy_from_slice(&a.q_raw);
            sized(&mut a.k, t * kvd).copy_from_slice(&a.k_raw);
        }
    }
    ctx.rope.forward(&mut a.q, c.n_heads, &pos);
    ctx.rope.forward(&mut a.k, c.n_kv_heads, &pos);

    let shape = ctx.attn_shape();
    let d = c.head_dim;
    sized(&mut a.att, t * qd);
    match kv {
        KvSink::Cache { k: kc, v: vc, cap } => {
            assert_eq!(spans.len(), 1, "a KV cache holds one sequence");
            let s = spans[0];
            assert!(s.pos0 + s.len <= cap, "KV cache of {cap} positions is full");
            scatter_heads(&a.k, &a.v, c.n_kv_heads, d, s.len, cap, s.pos0, kc, vc);
            attention_forward(&shape, &a.q, kc, vc, cap, s.pos0, s.len, &mut a.att, None);
        }
        KvSink::Saved => {
            sized(&mut a.k_heads, t * kvd);
            sized(&mut a.v_heads, t * kvd);
            let probs_len: usize = spans.iter().map(|s| c.n_heads * s.len * s.len).sum();
            if ctx.save_probs {
                sized(&mut a.probs, probs_len);
            }
            let mut p_off = 0;
            for s in spans {
                let (r0, r1) = (s.start, s.start + s.len);
                let kh = &mut a.k_heads[r0 * kvd..r1 * kvd];
                let vh = &mut a.v_heads[r0 * kvd..r1 * kvd];
                scatter_heads(&a.k[r0 * kvd..r1 * kvd], &a.v[r0 * kvd..r1 * kvd], c.n_kv_heads, d, s.len, s.len, 0, kh, vh);
                let n = c.n_heads * s.len * s.len;
                let probs = if ctx.save_probs { Some(&mut a.probs[p_off..p_off + n]) } else { None };
                attention_forward(&shape, &a.q[r0 * qd..r1 * qd], kh, vh, s.len, 0, s.len, &mut a.att[r0 * qd..r1 * qd], probs);
                p_off += n;
            }
        }
    }
    project(ctx, Proj::O, &block.o, &a.att, t, sized(&mut a.o_out, t * hd), &mut a.lora_h);
    add_normed(x, &a.o_out, block.post_attn_norm.as_deref(), c.rms_eps, &mut a.rstd_post_attn, &mut a.normed, t);
    sized(&mut a.x_mid, t * hd).copy_from_slice(x);

    // MLP half: norm → gate, up → act(gate)·up → down → (post-norm) → residual.
    rmsnorm_forward(x, &block.ffn_norm, c.rms_eps, sized(&mut a.h_ffn, t * hd), Some(sized(&mut a.rstd_ffn, t)));
    sized(&mut a.gate, t * ff);
    sized(&mut a.up, t * ff);
    match &block.gate_up {
        GateUpProj::Separate { gate, up } => {
            project(ctx, Proj::Gate, gate, &a.h_ffn, t, &mut a.gate, &mut a.lora_h);
            project(ctx, Proj::Up, up, &a.h_ffn, t, &mut a.up, &mut a.lora_h);
        }
        GateUpProj::Fused(l) => {
            project(ctx, Proj::GateUp, l, &a.h_ffn, t, sized(&mut a.fused, t * 2 * ff), &mut a.lora_h);
            for (i, row) in a.fused.chunks_exact(2 * ff).enumerate() {
                a.gate[i * ff..(i + 1) * ff].copy_from_slice(&row[..ff]);
                a.up[i * ff..(i + 1) * ff].copy_from_slice(&row[ff..]);
            }
        }
    }
    glu_forward(c.activation, &a.gate, &a.up, sized(&mut a.act, t * ff));
    project(ctx, Proj::Down, &block.down, &a.act, t, sized(&mut a.down_out, t * hd), &mut a.lora_h);
    add_normed(x, &a.down_out, block.post_ffn_norm.as_deref(), c.rms_eps, &mut a.rstd_post_ffn, &mut a.normed, t);
}

/// x += norm(y) (or x += y without a norm).
fn add_normed(x: &mut [f32], y: &[f32], norm: Option<&[f32]>, eps: f32, rstd: &mut Vec<f32>, scratch: &mut Vec<f32>, t: usize) {
    match norm {
        Some(w) => {
            let n = sized(scratch, y.len());
            rmsnorm_forward(y, w, eps, n, Some(sized(rstd, t)));
            x.iter_mut().zip(n.iter()).for_each(|(a, b)| *a += b);
        }
        None => x.iter_mut().zip(y).for_each(|(a, b)| *a += b),
    }
}

/// Copies token-major k, v (`[len, n_kv·d]`) into head-major buffers
/// (`[n_kv, cap, d]`) at positions `p0..p0+len`.
#[allow(clippy::too_many_arguments)]
fn scatter_heads(k: &[f32], v: &[f32], n_kv: usize, d: usize, len: usize, cap: usize, p0: usize, kd: &mut [f32], vd: &mut [f32]) {
    for i in 0..len {
        for h in 0..n_kv {
            let src = i * n_kv * d + h * d;
            let dst = (h * cap + p0 + i) * d;
            kd[dst..dst + d].copy_from_slice(&k[src..src + d]);
            vd[dst..dst + d].copy_from_slice(&v[src..src + d]);
        }
    }
}

/// Embedding rows for `tokens`, times the family's scale (gemma: √hidden).
pub fn embed(model: &Model, tokens: &[u32], out: &mut [f32]) {
    let h = model.config.hidden;
    assert_eq!(out.len(), tokens.len() * h);
    for (row, &tok) in out.chunks_exact_mut(h).zip(tokens) {
        model.embed.dequantize_row(tok as usize, row);
        if let Some(s) = model.config.embed_scale {
            // HF multiplies by the scale cast to the weights' dtype; in f32 it is √hidden rounded to f32.
            row.iter_mut().for_each(|v| *v *= s);
        }
    }
}

/// Rope tables for a model, up to `len` positions.
pub struct RopeTables {
    pub global: RopeTable,
    pub local: RopeTable,
}

impl RopeTables {
    pub fn new(cfg: &ModelConfig, len: usize) -> Self {
        RopeTables {
            global: RopeTable::new(&cfg.rope_global, cfg.head_dim, len),
            local: RopeTable::new(&cfg.rope_local, cfg.head_dim, len),
        }
    }
    pub fn for_layer(&self, cfg: &ModelConfig, layer: usize) -> &RopeTable {
        match cfg.layer_kinds[layer] {
            AttnKind::Full => &self.global,
            AttnKind::Sliding { .. } => &self.local,
        }
    }
}
