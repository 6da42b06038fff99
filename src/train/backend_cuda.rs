//! The training step on the GPU, mirroring `train::step::forward_backward`
//! (embedding, blocks keeping their activations or only their inputs with
//! gradient checkpointing, final norm, the fused output layer + cross-entropy
//! at labelled rows, then the blocks in reverse), behind the trainer's
//! [`StepBackend`] trait. LoRA gradients and AdamW moments live on the GPU;
//! the fused AdamW kernel updates them, and parameters and moments are copied
//! back to the host after each update (the host adapter feeds checkpoints and
//! the PEFT export).

use crate::cuda::device::{Gpu, Mat};
use crate::cuda::elementwise::{copy2d_gpu, embed_gpu, gather_rows_gpu, scatter_rows_gpu};
use crate::model::backward_cuda::{block_backward_gpu, GpuGradScratch};
use crate::model::config::{AttnKind, ModelConfig};
use crate::model::cuda::{GpuModel, PreparedModel};
use crate::model::forward::{positions, LayerCtx, RopeTables};
use crate::model::forward_cuda::{block_forward_gpu, GpuActs, GpuKv, GpuLayerCtx};
use crate::model::lora::LoraAdapter;
use crate::model::lora_cuda::GpuAdapter;
use crate::ops::adamw::AdamW;
use crate::ops::adamw_cuda::{adamw_step_gpu, global_norm_gpu};
use crate::ops::attention_cuda::GpuSeqs;
use crate::ops::loss_cuda::fused_linear_cross_entropy_gpu;
use crate::ops::norm_cuda::{rmsnorm_backward_gpu, rmsnorm_forward_gpu};
use crate::ops::rope_cuda::GpuRope;
use crate::train::backend::StepBackend;
use crate::train::checkpoint::Moments;
use crate::train::step::{Batch, StepOptions, StepStats};
use crate::{Error, Result};
use cudarc::driver::CudaSlice;
use std::sync::Arc;

/// The GPU training backend.
pub struct GpuStepBackend {
    gpu: Arc<Gpu>,
    model: GpuModel,
    host_rope: RopeTables,
    rope_global: GpuRope,
    rope_local: GpuRope,
    adapter: Option<GpuAdapter>,
    moments_on_gpu: bool,
    acts: Vec<GpuActs>,
    scratch: GpuActs,
    grads: GpuGradScratch,
}

/// The batch's per-row data on the GPU.
struct BatchDev {
    t: usize,
    ids: CudaSlice<u32>,
    pos: CudaSlice<u32>,
    seqs: GpuSeqs,
}

impl GpuStepBackend {
    /// Uploads the prepared model; rope tables cover `max_len` positions.
    pub fn new(gpu: Arc<Gpu>, prepared: &PreparedModel, max_len: usize) -> Result<Self> {
        let model = GpuModel::upload(&gpu, prepared)?;
        let host_rope = RopeTables::new(&model.config, max_len.max(1));
        let rope_global = GpuRope::new(&gpu, &host_rope.global)?;
        let rope_local = GpuRope::new(&gpu, &host_rope.local)?;
        let n = model.config.n_layers;
        Ok(GpuStepBackend {
            gpu,
            model,
            host_rope,
            rope_global,
            rope_local,
            adapter: None,
            moments_on_gpu: false,
            acts: (0..n).map(|_| GpuActs::default()).collect(),
            scratch: GpuActs::default(),
            grads: GpuGradScratch::default(),
        })
    }

    pub fn gpu(&self) -> &Arc<Gpu> {
        &self.gpu
    }

    pub fn model(&self) -> &GpuModel {
        &self.model
    }

    /// The accumulated LoRA gradients, copied to the host (tests, diagnostics).
    pub fn gradients(&self) -> Result<crate::model::backward::AdapterGrads> {
        self.adapter.as_ref().ok_or_else(|| Error::invalid("no gradients yet"))?.download_grads(&self.gpu)
    }

    /// Puts the host adapter's parameters on the GPU (uploading it the first time).
    fn sync_params(&mut self, adapter: &LoraAdapter) -> Result<()> {
        match &mut self.adapter {
            Some(a) => a.set_params(&self.gpu, adapter),
            None => {
                self.adapter = Some(GpuAdapter::upload(&self.gpu, adapter, true)?);
                Ok(())
            }
        }
    }

    fn batch_dev(&self, batch: &Batch) -> Result<BatchDev> {
        let c = &self.model.config;
        let t = batch.tokens.len();
        if t == 0 {
            return Err(Error::invalid("empty batch"));
        }
        if self.host_rope.global.len() < batch.longest() {
            return Err(Error::invalid(format!(
                "sequence of {} tokens is longer than the rope table ({})",
                batch.longest(),
                self.host_rope.global.len()
            )));
        }
        if let Some(&bad) = batch.tokens.iter().find(|&&tk| tk as usize >= c.vocab) {
            return Err(Error::invalid(format!("token id {bad} is outside the vocabulary of {} tokens", c.vocab)));
        }
        let pos: Vec<u32> = positions(&batch.spans).into_iter().map(|p| p as u32).collect();
        if pos.iter().any(|&p| p as usize >= self.host_rope.global.len()) {
            return Err(Error::invalid("a position is past the rope table"));
        }
        Ok(BatchDev {
            t,
            ids: self.gpu.upload(&batch.tokens)?,
            pos: self.gpu.upload(&pos)?,
            seqs: GpuSeqs::packed(&self.gpu, &batch.spans)?,
        })
    }

    /// Embedding, every block, final norm. Returns (x, h = norm(x), rstd).
    fn forward(
        &mut self,
        bd: &BatchDev,
        dropout: Option<(f32, u64)>,
        training: bool,
        checkpointing: bool,
        inputs: &mut Vec<CudaSlice<f32>>,
    ) -> Result<(CudaSlice<f32>, CudaSlice<f32>, CudaSlice<f32>)> {
        let GpuStepBackend { gpu, model, host_rope, rope_global, rope_local, adapter, acts, scratch, .. } = self;
        let c: &ModelConfig = &model.config;
        let (t, hd) = (bd.t, c.hidden);
        let x = gpu.zeros::<f32>(t * hd)?;
        embed_gpu(gpu, &bd.ids, t, model.embed.bf16()?, hd, c.embed_scale, &x)?;
        for (layer, block) in model.blocks.iter().enumerate() {
            let rope = match c.layer_kinds[layer] {
                AttnKind::Full => &*rope_global,
                AttnKind::Sliding { .. } => &*rope_local,
            };
            let ctx = GpuLayerCtx {
                cpu: LayerCtx { cfg: c, layer, rope: host_rope.for_layer(c, layer), lora: None, dropout, save_probs: training },
                rope,
                lora: adapter.as_ref(),
            };
            let a = if training && !checkpointing { &mut acts[layer] } else { &mut *scratch };
            if training && checkpointing {
                let xi = gpu.zeros::<f32>(t * hd)?;
                copy2d_gpu(gpu, Mat::new(&x, t, hd)?, Mat::new(&xi, t, hd)?, false)?;
                inputs.push(xi);
            }
            block_forward_gpu(gpu, &ctx, block, &x, t, &bd.pos, &bd.seqs, GpuKv::Saved, a)?;
        }
        let h = gpu.zeros::<f32>(t * hd)?;
        let rstd = gpu.zeros::<f32>(t)?;
        rmsnorm_forward_gpu(gpu, Mat::new(&x, t, hd)?, &model.final_norm, c.rms_eps, Mat::new(&h, t, hd)?, Some(&rstd), false)?;
        Ok((x, h, rstd))
    }

    /// The labelled rows of `h`: (row, target) pairs, the rows on the GPU, h at those rows.
    #[allow(clippy::type_complexity)]
    fn labelled(&self, batch: &Batch, h: &CudaSlice<f32>) -> Result<(Vec<(usize, u32)>, CudaSlice<u32>, CudaSlice<f32>)> {
        let d = self.model.config.hidden;
        let targets = batch.targets();
        let rows: Vec<u32> = targets.iter().map(|(r, _)| *r as u32).collect();
        let rows_dev = self.gpu.upload(&rows)?;
        let h_lab = self.gpu.zeros::<f32>(targets.len() * d)?;
        gather_rows_gpu(&self.gpu, h, &rows_dev, targets.len(), d, &h_lab)?;
        Ok((targets, rows_dev, h_lab))
    }
}

impl StepBackend for GpuStepBackend {
    fn zero_grads(&mut self, adapter: &LoraAdapter) -> Result<()> {
        self.sync_params(adapter)?;
        let gpu = self.gpu.clone();
        self.adapter.as_mut().expect("uploaded just above").zero_grads(&gpu)
    }

    fn forward_backward(&mut self, adapter: &LoraAdapter, batch: &Batch, opts: &StepOptions) -> Result<StepStats> {
        if self.adapter.is_none() {
            self.zero_grads(adapter)?;
        }
        let bd = self.batch_dev(batch)?;
        let (t, d) = (bd.t, self.model.config.hidden);
        let mut inputs = Vec::new();
        let (x, h, rstd) = self.forward(&bd, opts.dropout, true, opts.gradient_checkpointing, &mut inputs)?;

        // Loss at labelled rows only.
        let (targets, rows_dev, h_lab) = self.labelled(batch, &h)?;
        let n = targets.len();
        let ids: Vec<u32> = targets.iter().map(|(_, tk)| *tk).collect();
        let dh_lab = self.gpu.zeros::<f32>(n * d)?;
        let out = fused_linear_cross_entropy_gpu(
            &self.gpu,
            Mat::new(&h_lab, n, d)?,
            &ids,
            self.model.lm_head(),
            opts.loss_scale,
            Some(Mat::new(&dh_lab, n, d)?),
        )?;
        let dh = self.gpu.zeros::<f32>(t * d)?;
        scatter_rows_gpu(&self.gpu, &dh_lab, &rows_dev, n, d, &dh)?;

        // Backward.
        let GpuStepBackend { gpu, model, host_rope, rope_global, rope_local, adapter, acts, scratch, grads, .. } = self;
        let c: &ModelConfig = &model.config;
        let dx = gpu.zeros::<f32>(t * d)?;
        rmsnorm_backward_gpu(gpu, Mat::new(&x, t, d)?, &model.final_norm, &rstd, Mat::new(&dh, t, d)?, Mat::new(&dx, t, d)?, false)?;
        drop(h);
        for layer in (0..c.n_layers).rev() {
            let block = &model.blocks[layer];
            let rope = match c.layer_kinds[layer] {
                AttnKind::Full => &*rope_global,
                AttnKind::Sliding { .. } => &*rope_local,
            };
            let ctx = GpuLayerCtx {
                cpu: LayerCtx { cfg: c, layer, rope: host_rope.for_layer(c, layer), lora: None, dropout: opts.dropout, save_probs: true },
                rope,
                lora: adapter.as_ref(),
            };
            if opts.gradient_checkpointing {
                // Recompute this block's activations from its saved input.
                let xi = inputs.pop().expect("one input per layer");
                block_forward_gpu(gpu, &ctx, block, &xi, t, &bd.pos, &bd.seqs, GpuKv::Saved, scratch)?;
                block_backward_gpu(gpu, &ctx, block, scratch, &bd.seqs, &bd.pos, &dx, grads)?;
            } else {
                block_backward_gpu(gpu, &ctx, block, &acts[layer], &bd.seqs, &bd.pos, &dx, grads)?;
            }
        }
        let embed_grad = if opts.want_embed_grad { Some(gpu.download_n(&dx, t * d)?) } else { None };
        gpu.sync()?;
        Ok(StepStats { loss_sum: out.loss_sum, targets: out.count, correct: out.correct, embed_grad })
    }

    fn grad_norm(&mut self) -> Result<f32> {
        let a = self.adapter.as_ref().ok_or_else(|| Error::invalid("no gradients yet"))?;
        let mut bufs = Vec::new();
        for (_, _, w) in a.iter() {
            let st = w.train.as_ref().ok_or_else(|| Error::invalid("adapter without gradients"))?;
            bufs.push((&st.ga, w.r * w.in_features));
            bufs.push((&st.gb, w.out_features * w.r));
        }
        global_norm_gpu(&self.gpu, &bufs)
    }

    fn apply_update(&mut self, opt: &AdamW, t: u64, lr: f64, coef: f32, adapter: &mut LoraAdapter, moments: &mut Moments) -> Result<()> {
        let gpu = self.gpu.clone();
        let a = self.adapter.as_mut().ok_or_else(|| Error::invalid("no gradients yet"))?;
        if !self.moments_on_gpu {
            // Fresh zeros, or the moments of a resumed checkpoint.
            a.set_moments(&gpu, &moments.m, &moments.v)?;
            self.moments_on_gpu = true;
        }
        for (_, _, w) in a.iter() {
            let st = w.train.as_ref().ok_or_else(|| Error::invalid("adapter without gradients"))?;
            adamw_step_gpu(&gpu, opt, t, lr, coef, &w.a, &st.ga, &st.ma, &st.va, w.r * w.in_features)?;
            adamw_step_gpu(&gpu, opt, t, lr, coef, &w.b, &st.gb, &st.mb, &st.vb, w.out_features * w.r)?;
        }
        a.download_into(&gpu, adapter, Some((&mut moments.m, &mut moments.v)))
    }

    fn evaluate_loss(&mut self, adapter: &LoraAdapter, batch: &Batch) -> Result<StepStats> {
        self.sync_params(adapter)?;
        let bd = self.batch_dev(batch)?;
        let d = self.model.config.hidden;
        let (_x, h, _rstd) = self.forward(&bd, None, false, false, &mut Vec::new())?;
        let (targets, _rows, h_lab) = self.labelled(batch, &h)?;
        let ids: Vec<u32> = targets.iter().map(|(_, tk)| *tk).collect();
        let out = fused_linear_cross_entropy_gpu(&self.gpu, Mat::new(&h_lab, ids.len(), d)?, &ids, self.model.lm_head(), 1.0, None)?;
        Ok(StepStats { loss_sum: out.loss_sum, targets: out.count, correct: out.correct, embed_grad: None })
    }

    fn describe(&self) -> String {
        format!("{}, base weights {}", self.gpu.describe(), self.model.quant.name())
    }
}

/// Fine-tunes on the GPU: quantises the base model as asked, uploads it and
/// runs the trainer's loop with the [`GpuStepBackend`].
pub fn train_gpu(
    quant: crate::quant::Quantization,
    job: &crate::train::trainer::TrainJob,
    on_step: &mut dyn FnMut(&crate::train::trainer::Progress) -> bool,
) -> Result<(LoraAdapter, crate::train::trainer::TrainSummary)> {
    let gpu = Gpu::global()?;
    let prepared = PreparedModel::prepare(job.model, quant)?;
    let mut backend = GpuStepBackend::new(gpu, &prepared, crate::train::trainer::longest_example(job.data, job.val))?;
    eprintln!(
        "[INFO] Entraînement sur {} ({:.0} MiB de poids sur le GPU)",
        backend.describe(),
        backend.model().weight_bytes() as f64 / (1 << 20) as f64
    );
    crate::train::trainer::train_on(&mut backend, job, on_step)
}
