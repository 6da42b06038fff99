//! Weight binding: tensors are asked for by their Hugging Face name (also the
//! PEFT module path) and each source maps that to its own naming — GGUF's
//! `blk.N.attn_q.weight`, or the name itself for safetensors. Shapes are
//! checked here, so a wrong file fails with the tensor's name.

use super::config::{Family, ModelConfig};
use super::{Block, GateUpProj, Linear, Model, QkvProj};
use crate::quant::tensor::{QTensor, TensorData};
use crate::{Error, Result};
use std::sync::Arc;

/// Where tensors come from.
pub trait WeightSource {
    /// The tensor with this Hugging Face name, or None if the file lacks it.
    fn get(&self, hf_name: &str) -> Result<Option<QTensor>>;
    /// True when norm weights are stored as Gemma's `w` (HF) rather than `1 + w` (GGUF).
    fn gemma_norms_need_plus_one(&self) -> bool;
    /// True when q/k rows are permuted for interleaved rope (GGUF llama).
    fn qk_rows_interleaved(&self) -> bool;
    fn describe(&self) -> String;
}

/// Maps a Hugging Face tensor name to its GGUF name (llama.cpp's convention).
pub fn gguf_name(hf: &str, family: Family) -> Option<String> {
    let simple = match hf {
        "model.embed_tokens.weight" => Some("token_embd.weight"),
        "model.norm.weight" => Some("output_norm.weight"),
        "lm_head.weight" => Some("output.weight"),
        _ => None,
    };
    if let Some(s) = simple {
        return Some(s.to_string());
    }
    let rest = hf.strip_prefix("model.layers.")?;
    let (layer, rest) = rest.split_once('.')?;
    let (module, suffix) = rest.rsplit_once('.')?;
    let g = match (module, family) {
        ("input_layernorm", _) => "attn_norm",
        ("self_attn.q_proj", _) => "attn_q",
        ("self_attn.k_proj", _) => "attn_k",
        ("self_attn.v_proj", _) => "attn_v",
        ("self_attn.qkv_proj", _) => "attn_qkv",
        ("self_attn.o_proj", _) => "attn_output",
        ("self_attn.q_norm", _) => "attn_q_norm",
        ("self_attn.k_norm", _) => "attn_k_norm",
        ("post_attention_layernorm", Family::Gemma3) => "post_attention_norm",
        ("post_attention_layernorm", _) => "ffn_norm",
        ("pre_feedforward_layernorm", _) => "ffn_norm",
        ("post_feedforward_layernorm", _) => "post_ffw_norm",
        ("mlp.gate_proj", _) => "ffn_gate",
        ("mlp.up_proj", _) => "ffn_up",
        ("mlp.gate_up_proj", _) => "ffn_up",
        ("mlp.down_proj", _) => "ffn_down",
        _ => return None,
    };
    Some(format!("blk.{layer}.{g}.{suffix}"))
}

struct Binder<'a> {
    src: &'a dyn WeightSource,
    cfg: &'a ModelConfig,
}

impl Binder<'_> {
    fn required(&self, name: &str) -> Result<QTensor> {
        self.src.get(name)?.ok_or_else(|| Error::tensor(name, format!("missing from {}", self.src.describe())))
    }

    fn matrix(&self, name: &str, rows: usize, cols: usize) -> Result<QTensor> {
        let t = self.required(name)?;
        t.expect_shape(&[rows, cols])?;
        Ok(t)
    }

    fn vector(&self, name: &str, len: usize) -> Result<Vec<f32>> {
        let t = self.required(name)?;
        t.expect_shape(&[len])?;
        t.to_f32()
    }

    fn norm(&self, name: &str, len: usize) -> Result<Vec<f32>> {
        let mut w = self.vector(name, len)?;
        if self.cfg.family == Family::Gemma3 && self.src.gemma_norms_need_plus_one() {
            w.iter_mut().for_each(|x| *x += 1.0);
        }
        Ok(w)
    }

    fn linear(&self, path: &str, out: usize, inp: usize, bias: bool) -> Result<Linear> {
        let weight = self.matrix(&format!("{path}.weight"), out, inp)?;
        let bias = if bias { Some(self.vector(&format!("{path}.bias"), out)?) } else { None };
        Ok(Linear { path: path.to_string(), weight, bias })
    }

    /// q or k projection, un-permuting GGUF llama rows to the rotate-half layout.
    fn rope_linear(&self, path: &str, heads: usize, inp: usize, bias: bool) -> Result<Linear> {
        let mut l = self.linear(path, heads * self.cfg.head_dim, inp, bias)?;
        if self.src.qk_rows_interleaved() {
            let order = unpermute_order(heads, self.cfg.head_dim);
            l.weight = gather_rows(&l.weight, &order)?;
            if let Some(b) = &mut l.bias {
                *b = order.iter().map(|&r| b[r]).collect();
            }
        }
        Ok(l)
    }

    fn block(&self, i: usize) -> Result<Block> {
        let c = self.cfg;
        let p = format!("model.layers.{i}");
        let (h, qd, kvd, ff) = (c.hidden, c.q_dim(), c.kv_dim(), c.intermediate);
        let qkv = if c.fused_projections {
            QkvProj::Fused(self.linear(&format!("{p}.self_attn.qkv_proj"), qd + 2 * kvd, h, c.qkv_bias)?)
        } else {
            QkvProj::Separate {
                q: self.rope_linear(&format!("{p}.self_attn.q_proj"), c.n_heads, h, c.qkv_bias)?,
                k: self.rope_linear(&format!("{p}.self_attn.k_proj"), c.n_kv_heads, h, c.qkv_bias)?,
                v: self.linear(&format!("{p}.self_attn.v_proj"), kvd, h, c.qkv_bias)?,
            }
        };
        let gate_up = if c.fused_projections {
            GateUpProj::Fused(self.linear(&format!("{p}.mlp.gate_up_proj"), 2 * ff, h, false)?)
        } else {
            GateUpProj::Separate {
                gate: self.linear(&format!("{p}.mlp.gate_proj"), ff, h, false)?,
                up: self.linear(&format!("{p}.mlp.up_proj"), ff, h, false)?,
            }
        };
        let sandwich = c.sandwich_norms;
        Ok(Block {
            attn_norm: self.norm(&format!("{p}.input_layernorm.weight"), h)?,
            qkv,
            q_norm: if c.qk_norm { Some(self.norm(&format!("{p}.self_attn.q_norm.weight"), c.head_dim)?) } else { None },
            k_norm: if c.qk_norm { Some(self.norm(&format!("{p}.self_attn.k_norm.weight"), c.head_dim)?) } else { None },
            o: self.linear(&format!("{p}.self_attn.o_proj"), h, qd, false)?,
            post_attn_norm: if sandwich { Some(self.norm(&format!("{p}.post_attention_layernorm.weight"), h)?) } else { None },
            ffn_norm: self
                .norm(&format!("{p}.{}.weight", if sandwich { "pre_feedforward_layernorm" } else { "post_attention_layernorm" }), h)?,
            gate_up,
            down: self.linear(&format!("{p}.mlp.down_proj"), h, ff, false)?,
            post_ffn_norm: if sandwich { Some(self.norm(&format!("{p}.post_feedforward_layernorm.weight"), h)?) } else { None },
        })
    }
}

/// Binds every tensor the config needs, checking names and shapes.
pub fn bind_model(cfg: ModelConfig, src: &dyn WeightSource) -> Result<Model> {
    let b = Binder { src, cfg: &cfg };
    let embed = b.matrix("model.embed_tokens.weight", cfg.vocab, cfg.hidden)?;
    let blocks = (0..cfg.n_layers).map(|i| b.block(i)).collect::<Result<Vec<_>>>()?;
    let final_norm = b.norm("model.norm.weight", cfg.hidden)?;
    let lm_head = if cfg.tied_embeddings { embed.clone() } else { b.matrix("lm_head.weight", cfg.vocab, cfg.hidden)? };
    Ok(Model { config: cfg, embed, blocks, final_norm, lm_head })
}

/// Row order that undoes llama.cpp's q/k permutation: HF row (head, half, i)
/// is GGUF row head·d + 2i + half.
fn unpermute_order(heads: usize, d: usize) -> Vec<usize> {
    let half = d / 2;
    let mut order = Vec::with_capacity(heads * d);
    for h in 0..heads {
        for s in 0..2 {
            for i in 0..half {
                order.push(h * d + 2 * i + s);
            }
        }
    }
    order
}

/// A new owned tensor whose row r is row `order[r]` of `t` (rows are whole
/// blocks, so this works for quantised tensors too).
fn gather_rows(t: &QTensor, order: &[usize]) -> Result<QTensor> {
    let rb = t.ty.row_bytes(t.cols()).ok_or_else(|| Error::tensor(&t.name, "row is not a whole number of blocks"))?;
    let mut bytes = Vec::with_capacity(rb * order.len());
    for &r in order {
        bytes.extend_from_slice(t.row_bytes(r));
    }
    Ok(QTensor { name: t.name.clone(), ty: t.ty, shape: t.shape.clone(), data: TensorData::Owned(Arc::new(bytes)) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gguf_names() {
        assert_eq!(gguf_name("model.layers.3.self_attn.q_proj.weight", Family::Llama).unwrap(), "blk.3.attn_q.weight");
        assert_eq!(gguf_name("model.layers.0.post_attention_layernorm.weight", Family::Llama).unwrap(), "blk.0.ffn_norm.weight");
        assert_eq!(
            gguf_name("model.layers.0.post_attention_layernorm.weight", Family::Gemma3).unwrap(),
            "blk.0.post_attention_norm.weight"
        );
        assert_eq!(gguf_name("model.layers.0.pre_feedforward_layernorm.weight", Family::Gemma3).unwrap(), "blk.0.ffn_norm.weight");
        assert_eq!(gguf_name("model.layers.1.mlp.gate_up_proj.weight", Family::Phi3).unwrap(), "blk.1.ffn_up.weight");
        assert_eq!(gguf_name("model.layers.1.self_attn.q_proj.bias", Family::Qwen2).unwrap(), "blk.1.attn_q.bias");
        assert_eq!(gguf_name("model.embed_tokens.weight", Family::Gemma3).unwrap(), "token_embd.weight");
        assert!(gguf_name("model.layers.1.unknown.weight", Family::Llama).is_none());
    }

    #[test]
    fn unpermute_inverts_llama_cpp_permutation() {
        // llama.cpp: w.reshape(heads, 2, d/2, ...).swapaxes(1, 2) — GGUF row h·d + 2i + s holds HF row h·d + s·d/2 + i.
        let (heads, d) = (2, 8);
        let mut gguf_rows = vec![0usize; heads * d];
        for h in 0..heads {
            for i in 0..d / 2 {
                for s in 0..2 {
                    gguf_rows[h * d + 2 * i + s] = h * d + s * (d / 2) + i;
                }
            }
        }
        let order = unpermute_order(heads, d);
        let restored: Vec<usize> = order.iter().map(|&r| gguf_rows[r]).collect();
        assert_eq!(restored, (0..heads * d).collect::<Vec<_>>());
    }
}
