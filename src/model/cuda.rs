//! The base model on the GPU: every linear layer of the blocks in NF4 or bf16
//! (`--quantization`), the embedding and the output layer in bf16 (QLoRA keeps
//! them unquantised), norms and biases in f32.
//!
//! [`PreparedModel`] is the host-side form: from it come both the GPU upload
//! and [`PreparedModel::reference_model`], a CPU [`Model`] whose weights are
//! exactly the values the GPU multiplies. Running the CPU engine on that model
//! isolates the GPU's own arithmetic (bf16-rounded activations, summation
//! order) when the two are compared.

use crate::cuda::device::Gpu;
use crate::cuda::weights::{GpuWeight, HostWeight};
use crate::model::{Block, GateUpProj, Linear, Model, ModelConfig, QkvProj};
use crate::quant::Quantization;
use crate::Result;
use cudarc::driver::CudaSlice;

/// A linear layer prepared on the host.
#[derive(Clone, Debug)]
pub struct PreparedLinear {
    pub weight: HostWeight,
    pub bias: Option<Vec<f32>>,
}

/// Every weight of a model in the form the GPU will hold.
#[derive(Clone, Debug)]
pub struct PreparedModel {
    pub quant: Quantization,
    /// The original model (config, norms, module paths).
    pub base: Model,
    /// Per block, its linear layers in `Block::linears()` order.
    pub linears: Vec<Vec<PreparedLinear>>,
    pub embed: HostWeight,
    /// None when the output layer is tied to the embedding.
    pub lm_head: Option<HostWeight>,
}

impl PreparedModel {
    /// Quantises (or rounds to bf16) every weight of `model`, with a progress
    /// bar: NF4 quantisation of a large model takes a while on the CPU.
    pub fn prepare(model: &Model, quant: Quantization) -> Result<Self> {
        let n: usize = model.blocks.iter().map(|b| b.linears().len()).sum();
        let pb = crate::util::progress::bar(n as u64, &format!("Quantisation {}", quant.name()), "tensors");
        let mut linears = Vec::with_capacity(model.blocks.len());
        for b in &model.blocks {
            let mut v = Vec::new();
            for (_, lin) in b.linears() {
                v.push(PreparedLinear { weight: HostWeight::prepare(&lin.weight, quant)?, bias: lin.bias.clone() });
                pb.inc(1);
            }
            linears.push(v);
        }
        pb.finish_and_clear();
        let embed = HostWeight::bf16_of(&model.embed)?;
        let lm_head = if model.config.tied_embeddings { None } else { Some(HostWeight::bf16_of(&model.lm_head)?) };
        Ok(PreparedModel { quant, base: model.clone(), linears, embed, lm_head })
    }

    /// A CPU model computing with exactly the GPU's weight values.
    pub fn reference_model(&self) -> Result<Model> {
        let mut m = self.base.clone();
        for (block, prepared) in m.blocks.iter_mut().zip(&self.linears) {
            let mut it = prepared.iter();
            let mut next = |lin: &mut Linear| -> Result<()> {
                let p = it.next().expect("one prepared weight per linear layer");
                lin.weight = p.weight.reference()?;
                Ok(())
            };
            for_each_linear_mut(block, &mut next)?;
        }
        m.embed = self.embed.reference()?;
        m.lm_head = match &self.lm_head {
            Some(h) => h.reference()?,
            None => m.embed.clone(),
        };
        Ok(m)
    }
}

/// Visits a block's linear layers mutably in `Block::linears()` order.
fn for_each_linear_mut(b: &mut Block, f: &mut dyn FnMut(&mut Linear) -> Result<()>) -> Result<()> {
    match &mut b.qkv {
        QkvProj::Separate { q, k, v } => {
            f(q)?;
            f(k)?;
            f(v)?;
        }
        QkvProj::Fused(l) => f(l)?,
    }
    f(&mut b.o)?;
    match &mut b.gate_up {
        GateUpProj::Separate { gate, up } => {
            f(gate)?;
            f(up)?;
        }
        GateUpProj::Fused(l) => f(l)?,
    }
    f(&mut b.down)
}

/// A linear layer in GPU memory.
pub struct GpuLinear {
    pub w: GpuWeight,
    pub bias: Option<CudaSlice<f32>>,
}

impl GpuLinear {
    pub fn out_features(&self) -> usize {
        self.w.rows
    }
    pub fn in_features(&self) -> usize {
        self.w.cols
    }
}

/// One block's weights on the GPU; `linears` in `Block::linears()` order.
pub struct GpuBlock {
    pub attn_norm: CudaSlice<f32>,
    pub q_norm: Option<CudaSlice<f32>>,
    pub k_norm: Option<CudaSlice<f32>>,
    pub post_attn_norm: Option<CudaSlice<f32>>,
    pub ffn_norm: CudaSlice<f32>,
    pub post_ffn_norm: Option<CudaSlice<f32>>,
    pub linears: Vec<(crate::model::Proj, GpuLinear)>,
}

impl GpuBlock {
    pub fn linear(&self, p: crate::model::Proj) -> &GpuLinear {
        &self.linears.iter().find(|(q, _)| *q == p).expect("projection present in this block").1
    }
    pub fn has(&self, p: crate::model::Proj) -> bool {
        self.linears.iter().any(|(q, _)| *q == p)
    }
}

/// The base model in GPU memory.
pub struct GpuModel {
    pub config: ModelConfig,
    pub quant: Quantization,
    pub blocks: Vec<GpuBlock>,
    pub embed: GpuWeight,
    pub lm_head: Option<GpuWeight>,
    pub final_norm: CudaSlice<f32>,
}

impl GpuModel {
    pub fn upload(gpu: &Gpu, p: &PreparedModel) -> Result<Self> {
        let opt = |v: &Option<Vec<f32>>| -> Result<Option<CudaSlice<f32>>> { v.as_ref().map(|w| gpu.upload(w)).transpose() };
        let mut blocks = Vec::with_capacity(p.base.blocks.len());
        for (b, prepared) in p.base.blocks.iter().zip(&p.linears) {
            let mut linears = Vec::new();
            for ((proj, _), pl) in b.linears().into_iter().zip(prepared) {
                linears.push((proj, GpuLinear { w: pl.weight.upload(gpu)?, bias: opt(&pl.bias)? }));
            }
            blocks.push(GpuBlock {
                attn_norm: gpu.upload(&b.attn_norm)?,
                q_norm: opt(&b.q_norm)?,
                k_norm: opt(&b.k_norm)?,
                post_attn_norm: opt(&b.post_attn_norm)?,
                ffn_norm: gpu.upload(&b.ffn_norm)?,
                post_ffn_norm: opt(&b.post_ffn_norm)?,
                linears,
            });
        }
        Ok(GpuModel {
            config: p.base.config.clone(),
            quant: p.quant,
            blocks,
            embed: p.embed.upload(gpu)?,
            lm_head: p.lm_head.as_ref().map(|h| h.upload(gpu)).transpose()?,
            final_norm: gpu.upload(&p.base.final_norm)?,
        })
    }

    /// The output layer (the embedding when tied).
    pub fn lm_head(&self) -> &GpuWeight {
        self.lm_head.as_ref().unwrap_or(&self.embed)
    }

    /// Bytes of GPU memory held by the weights.
    pub fn weight_bytes(&self) -> usize {
        let mut n = self.embed.bytes() + self.lm_head.as_ref().map_or(0, |h| h.bytes());
        for b in &self.blocks {
            n += b.linears.iter().map(|(_, l)| l.w.bytes()).sum::<usize>();
        }
        n
    }
}
