//! Generation on the GPU: the GPU twin of `infer::session::Session` (a KV
//! cache per layer, prefill then one token at a time, the last row's logits
//! copied back for sampling), and the backend that lets `infer::engine::Engine`
//! (query-finetuned, evaluate-finetuned) run its sessions on the GPU.

use crate::cuda::device::{Gpu, Mat};
use crate::cuda::elementwise::embed_gpu;
use crate::infer::engine::{Engine, GenBackend};
use crate::infer::generate::LogitsSource;
use crate::model::config::AttnKind;
use crate::model::cuda::{GpuModel, PreparedModel};
use crate::model::forward::{LayerCtx, RopeTables};
use crate::model::forward_cuda::{block_forward_gpu, GpuActs, GpuKv, GpuLayerCtx};
use crate::model::lora::LoraAdapter;
use crate::model::lora_cuda::GpuAdapter;
use crate::ops::attention_cuda::GpuSeqs;
use crate::ops::linear_cuda::linear_forward_gpu;
use crate::ops::norm_cuda::rmsnorm_forward_gpu;
use crate::ops::rope_cuda::GpuRope;
use crate::quant::Quantization;
use crate::{Error, Result};
use cudarc::driver::CudaSlice;
use std::sync::Arc;

/// A base model and, optionally, an adapter, resident on the GPU.
pub struct GpuBackend {
    gpu: Arc<Gpu>,
    model: GpuModel,
    adapter: Option<GpuAdapter>,
}

impl GpuBackend {
    pub fn new(gpu: Arc<Gpu>, prepared: &PreparedModel, adapter: Option<&LoraAdapter>) -> Result<Self> {
        let model = GpuModel::upload(&gpu, prepared)?;
        let adapter = adapter.map(|a| GpuAdapter::upload(&gpu, a, false)).transpose()?;
        Ok(GpuBackend { gpu, model, adapter })
    }

    pub fn session(&self, cap: usize) -> Result<GpuSession<'_>> {
        GpuSession::new(self, cap)
    }
}

impl GenBackend for GpuBackend {
    fn session(&self, cap: usize) -> Result<Box<dyn LogitsSource + '_>> {
        Ok(Box::new(GpuSession::new(self, cap)?))
    }

    fn describe(&self) -> String {
        format!("{}, base weights {}", self.gpu.describe(), self.model.quant.name())
    }
}

/// Moves `engine`'s model (and adapter) to the GPU: its sessions then run there.
pub fn attach(engine: &mut Engine, quant: Quantization) -> Result<()> {
    let gpu = Gpu::global()?;
    let prepared = PreparedModel::prepare(&engine.base.model, quant)?;
    let backend = GpuBackend::new(gpu, &prepared, engine.adapter.as_ref())?;
    engine.set_backend(Box::new(backend));
    Ok(())
}

/// One sequence being generated on the GPU.
pub struct GpuSession<'m> {
    be: &'m GpuBackend,
    host_rope: RopeTables,
    rope_global: GpuRope,
    rope_local: GpuRope,
    /// Per layer, token-major `[cap, n_kv·d]`.
    k: Vec<CudaSlice<f32>>,
    v: Vec<CudaSlice<f32>>,
    cap: usize,
    len: usize,
    acts: GpuActs,
}

impl<'m> GpuSession<'m> {
    pub fn new(be: &'m GpuBackend, cap: usize) -> Result<Self> {
        let c = &be.model.config;
        let max = c.max_position.max(1);
        if cap > max {
            return Err(Error::invalid(format!("{cap} positions exceed the model's context of {max} tokens")));
        }
        let gpu = &be.gpu;
        let host_rope = RopeTables::new(c, cap.max(1));
        let per_layer = cap.max(1) * c.kv_dim();
        Ok(GpuSession {
            be,
            rope_global: GpuRope::new(gpu, &host_rope.global)?,
            rope_local: GpuRope::new(gpu, &host_rope.local)?,
            host_rope,
            k: (0..c.n_layers).map(|_| gpu.zeros(per_layer)).collect::<Result<_>>()?,
            v: (0..c.n_layers).map(|_| gpu.zeros(per_layer)).collect::<Result<_>>()?,
            cap,
            len: 0,
            acts: GpuActs::default(),
        })
    }

    pub fn reset(&mut self) {
        self.len = 0;
    }

    /// Appends `tokens`; returns the logits after the last one.
    pub fn feed_tokens(&mut self, tokens: &[u32]) -> Result<Vec<f32>> {
        let be = self.be;
        let (gpu, model) = (&*be.gpu, &be.model);
        let c = &model.config;
        if tokens.is_empty() {
            return Err(Error::invalid("no tokens to feed"));
        }
        if let Some(&bad) = tokens.iter().find(|&&t| t as usize >= c.vocab) {
            return Err(Error::invalid(format!("token id {bad} is outside the vocabulary of {} tokens", c.vocab)));
        }
        let (p0, t, hd) = (self.len, tokens.len(), c.hidden);
        if p0 + t > self.cap {
            return Err(Error::invalid(format!("context full: {p0} + {t} tokens exceed the session's {} positions", self.cap)));
        }
        let ids = gpu.upload(tokens)?;
        let pos: Vec<u32> = (p0..p0 + t).map(|p| p as u32).collect();
        let pos = gpu.upload(&pos)?;
        let seqs = GpuSeqs::new(gpu, &[(0, t, 0, p0)])?;
        let x = gpu.zeros::<f32>(t * hd)?;
        embed_gpu(gpu, &ids, t, model.embed.bf16()?, hd, c.embed_scale, &x)?;
        for (layer, block) in model.blocks.iter().enumerate() {
            let rope = match c.layer_kinds[layer] {
                AttnKind::Full => &self.rope_global,
                AttnKind::Sliding { .. } => &self.rope_local,
            };
            let ctx = GpuLayerCtx {
                cpu: LayerCtx { cfg: c, layer, rope: self.host_rope.for_layer(c, layer), lora: None, dropout: None, save_probs: false },
                rope,
                lora: be.adapter.as_ref(),
            };
            let kv = GpuKv::Cache { k: &self.k[layer], v: &self.v[layer], cap: self.cap, p0 };
            block_forward_gpu(gpu, &ctx, block, &x, t, &pos, &seqs, kv, &mut self.acts)?;
        }
        self.len += t;
        let last = Mat::sub(&x, (t - 1) * hd, 1, hd, hd)?;
        let h = gpu.zeros::<f32>(hd)?;
        rmsnorm_forward_gpu(gpu, last, &model.final_norm, c.rms_eps, Mat::new(&h, 1, hd)?, None, false)?;
        let logits = gpu.zeros::<f32>(c.vocab)?;
        linear_forward_gpu(gpu, Mat::new(&h, 1, hd)?, model.lm_head(), None, Mat::new(&logits, 1, c.vocab)?, false)?;
        gpu.download(&logits)
    }
}

impl LogitsSource for GpuSession<'_> {
    fn feed(&mut self, tokens: &[u32]) -> Result<Vec<f32>> {
        self.feed_tokens(tokens)
    }
    fn position(&self) -> usize {
        self.len
    }
    fn capacity(&self) -> usize {
        self.cap
    }
}
