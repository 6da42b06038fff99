//! Models: configuration per family, the name registry, weight binding.
//!
//! A [`Model`] is the frozen base network: its config and its weights, kept
//! in their file formats (quantised or not). Norm weights are small and kept
//! as f32, with Gemma's `(1 + w)` already applied, so every family multiplies
//! by `w`.

pub mod backward;
#[cfg(feature = "cuda")]
pub mod backward_cuda;
pub mod config;
#[cfg(feature = "cuda")]
pub mod cuda;
pub mod forward;
#[cfg(feature = "cuda")]
pub mod forward_cuda;
pub mod load;
pub mod lora;
#[cfg(feature = "cuda")]
pub mod lora_cuda;
pub mod peft;
pub mod registry;
pub mod weights;

pub use config::{Activation, AttnKind, Family, ModelConfig};
pub use load::{load_model, LoadedModel};

use crate::quant::tensor::QTensor;

/// One linear layer of the base model: y = x·Wᵀ (+ b).
#[derive(Clone, Debug)]
pub struct Linear {
    /// PEFT/Hugging Face module path, e.g. `model.layers.0.self_attn.q_proj`.
    pub path: String,
    pub weight: QTensor,
    pub bias: Option<Vec<f32>>,
}

impl Linear {
    pub fn out_features(&self) -> usize {
        self.weight.rows()
    }
    pub fn in_features(&self) -> usize {
        self.weight.cols()
    }
}

/// The projections of a block that LoRA can adapt. Phi-3 fuses q/k/v and
/// gate/up into one matrix each; the others keep them apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum Proj {
    Q,
    K,
    V,
    Qkv,
    O,
    Gate,
    Up,
    GateUp,
    Down,
}

impl Proj {
    pub const ALL: [Proj; 9] = [Proj::Q, Proj::K, Proj::V, Proj::Qkv, Proj::O, Proj::Gate, Proj::Up, Proj::GateUp, Proj::Down];

    /// The module name PEFT uses in `target_modules`.
    pub fn module_name(self) -> &'static str {
        match self {
            Proj::Q => "q_proj",
            Proj::K => "k_proj",
            Proj::V => "v_proj",
            Proj::Qkv => "qkv_proj",
            Proj::O => "o_proj",
            Proj::Gate => "gate_proj",
            Proj::Up => "up_proj",
            Proj::GateUp => "gate_up_proj",
            Proj::Down => "down_proj",
        }
    }

    pub fn from_module_name(name: &str) -> Option<Proj> {
        Proj::ALL.into_iter().find(|p| p.module_name() == name)
    }

    /// "self_attn" or "mlp": the sub-module the projection lives in.
    pub fn parent(self) -> &'static str {
        match self {
            Proj::Q | Proj::K | Proj::V | Proj::Qkv | Proj::O => "self_attn",
            _ => "mlp",
        }
    }
}

/// Attention input projections.
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)] // one per block: size does not matter, matching does
pub enum QkvProj {
    Separate { q: Linear, k: Linear, v: Linear },
    Fused(Linear),
}

/// MLP input projections.
#[derive(Clone, Debug)]
pub enum GateUpProj {
    Separate { gate: Linear, up: Linear },
    Fused(Linear),
}

/// One transformer block.
#[derive(Clone, Debug)]
pub struct Block {
    pub attn_norm: Vec<f32>,
    pub qkv: QkvProj,
    /// Per-head RMSNorm of q and k (gemma3).
    pub q_norm: Option<Vec<f32>>,
    pub k_norm: Option<Vec<f32>>,
    pub o: Linear,
    /// Norm of the attention output before the residual add (gemma3).
    pub post_attn_norm: Option<Vec<f32>>,
    pub ffn_norm: Vec<f32>,
    pub gate_up: GateUpProj,
    pub down: Linear,
    /// Norm of the MLP output before the residual add (gemma3).
    pub post_ffn_norm: Option<Vec<f32>>,
}

impl Block {
    /// The block's linear layers with their projection kind.
    pub fn linears(&self) -> Vec<(Proj, &Linear)> {
        let mut v = Vec::with_capacity(7);
        match &self.qkv {
            QkvProj::Separate { q, k, v: vv } => v.extend([(Proj::Q, q), (Proj::K, k), (Proj::V, vv)]),
            QkvProj::Fused(l) => v.push((Proj::Qkv, l)),
        }
        v.push((Proj::O, &self.o));
        match &self.gate_up {
            GateUpProj::Separate { gate, up } => v.extend([(Proj::Gate, gate), (Proj::Up, up)]),
            GateUpProj::Fused(l) => v.push((Proj::GateUp, l)),
        }
        v.push((Proj::Down, &self.down));
        v
    }
}

/// The frozen base network.
#[derive(Clone, Debug)]
pub struct Model {
    pub config: ModelConfig,
    /// `[vocab, hidden]`.
    pub embed: QTensor,
    pub blocks: Vec<Block>,
    pub final_norm: Vec<f32>,
    /// `[vocab, hidden]`; the same tensor as `embed` when tied.
    pub lm_head: QTensor,
}

impl Model {
    /// SHA-256 of every weight (bytes, type and shape, in model order), in
    /// hex: names the base an adapter or checkpoint was trained on whatever
    /// file or format it was loaded from.
    pub fn digest(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        let mut tensor = |t: &QTensor| {
            h.update(t.ty.to_string().as_bytes());
            for d in &t.shape {
                h.update((*d as u64).to_le_bytes());
            }
            h.update(t.bytes());
        };
        tensor(&self.embed);
        let mut floats: Vec<&[f32]> = Vec::new();
        for b in &self.blocks {
            for (_, l) in b.linears() {
                tensor(&l.weight);
                floats.extend(l.bias.as_deref());
            }
            floats.extend(
                [Some(&b.attn_norm), b.q_norm.as_ref(), b.k_norm.as_ref(), b.post_attn_norm.as_ref(), Some(&b.ffn_norm)]
                    .into_iter()
                    .flatten()
                    .map(Vec::as_slice),
            );
            floats.extend(b.post_ffn_norm.as_deref());
        }
        floats.push(&self.final_norm);
        if !self.config.tied_embeddings {
            tensor(&self.lm_head);
        }
        for f in floats {
            h.update(bytemuck::cast_slice(f));
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Number of parameters of the base model (tied weights counted once).
    pub fn num_params(&self) -> usize {
        let c = &self.config;
        let mut n = self.embed.numel() + self.final_norm.len();
        if !c.tied_embeddings {
            n += self.lm_head.numel();
        }
        for b in &self.blocks {
            n += b.attn_norm.len() + b.ffn_norm.len();
            n += [&b.q_norm, &b.k_norm, &b.post_attn_norm, &b.post_ffn_norm]
                .iter()
                .map(|o| o.as_ref().map_or(0, |v| v.len()))
                .sum::<usize>();
            for (_, l) in b.linears() {
                n += l.weight.numel() + l.bias.as_ref().map_or(0, |b| b.len());
            }
        }
        n
    }

    /// Bytes of weights read per decoded token (what bounds decode speed).
    pub fn weight_bytes(&self) -> usize {
        let mut n = self.lm_head.bytes().len();
        for b in &self.blocks {
            n += b.linears().iter().map(|(_, l)| l.weight.bytes().len()).sum::<usize>();
        }
        n
    }
}
