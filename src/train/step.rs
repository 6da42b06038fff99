//! One training micro-step: forward through every block (keeping
//! activations, or only each block's input with gradient checkpointing),
//! the fused output layer + cross-entropy at labelled positions, then
//! backward through every block, accumulating LoRA gradients.

use crate::model::backward::{block_backward, AdapterGrads};
use crate::model::forward::{block_forward, embed, BlockActs, KvSink, LayerCtx, RopeTables, SeqSpan};
use crate::model::lora::LoraAdapter;
use crate::model::Model;
use crate::ops::loss::fused_linear_cross_entropy;
use crate::ops::norm::{rmsnorm_backward, rmsnorm_forward};
use crate::{Error, Result};

/// HF's ignore index: positions whose label is this carry no loss.
pub const IGNORE: i32 = -100;

/// Sequences packed row after row. `labels[t]` is the token expected at
/// position t (HF convention: the loss at t scores the logits of t−1), or IGNORE.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    pub tokens: Vec<u32>,
    pub labels: Vec<i32>,
    pub spans: Vec<SeqSpan>,
}

impl Batch {
    pub fn push(&mut self, tokens: &[u32], labels: &[i32]) {
        assert_eq!(tokens.len(), labels.len());
        self.spans.push(SeqSpan { start: self.tokens.len(), len: tokens.len(), pos0: 0 });
        self.tokens.extend_from_slice(tokens);
        self.labels.extend_from_slice(labels);
    }

    /// (row whose logits are scored, target token) for every labelled position.
    pub fn targets(&self) -> Vec<(usize, u32)> {
        let mut out = Vec::new();
        for s in &self.spans {
            for t in 1..s.len {
                let l = self.labels[s.start + t];
                if l != IGNORE {
                    out.push((s.start + t - 1, l as u32));
                }
            }
        }
        out
    }

    pub fn num_targets(&self) -> usize {
        self.targets().len()
    }

    pub fn longest(&self) -> usize {
        self.spans.iter().map(|s| s.len).max().unwrap_or(0)
    }
}

/// Options of a step.
#[derive(Clone, Copy, Debug)]
pub struct StepOptions {
    /// Multiplies the gradients: 1 / (labelled tokens of the whole optimiser step).
    pub loss_scale: f32,
    /// LoRA dropout probability and the key of this micro-step's masks.
    pub dropout: Option<(f32, u64)>,
    pub gradient_checkpointing: bool,
    /// Also return dL/d(embedding output) (for tests against references).
    pub want_embed_grad: bool,
}

/// What a step measured.
#[derive(Clone, Debug, Default)]
pub struct StepStats {
    pub loss_sum: f64,
    pub targets: usize,
    pub correct: usize,
    /// dL/d(embedding output) `[T, hidden]` when asked (already × loss_scale).
    pub embed_grad: Option<Vec<f32>>,
}

/// Buffers of a training step, kept from one step to the next: a step's
/// activations are hundreds of MB, and fresh allocations each step cost more
/// in page faults and zeroing than the norms and activations themselves.
#[derive(Default)]
pub struct StepWorkspace {
    /// One set of activations per layer (without gradient checkpointing).
    saved: Vec<BlockActs>,
    /// Each block's input (with gradient checkpointing).
    inputs: Vec<Vec<f32>>,
    scratch: BlockActs,
}

/// Forward + backward of one micro-batch; gradients are added to `grads`.
pub fn forward_backward(
    model: &Model,
    adapter: &LoraAdapter,
    batch: &Batch,
    rope: &RopeTables,
    opts: &StepOptions,
    grads: &mut AdapterGrads,
) -> Result<StepStats> {
    forward_backward_in(&mut StepWorkspace::default(), model, adapter, batch, rope, opts, grads)
}

/// [`forward_backward`] reusing the buffers of `ws`.
pub fn forward_backward_in(
    ws: &mut StepWorkspace,
    model: &Model,
    adapter: &LoraAdapter,
    batch: &Batch,
    rope: &RopeTables,
    opts: &StepOptions,
    grads: &mut AdapterGrads,
) -> Result<StepStats> {
    let c = &model.config;
    let t = batch.tokens.len();
    if t == 0 {
        return Err(Error::invalid("empty batch"));
    }
    if rope.global.len() < batch.longest() {
        return Err(Error::invalid(format!(
            "sequence of {} tokens is longer than the rope table ({})",
            batch.longest(),
            rope.global.len()
        )));
    }
    if let Some(&bad) = batch.tokens.iter().find(|&&tk| tk as usize >= c.vocab) {
        return Err(Error::invalid(format!("token id {bad} is outside the vocabulary of {} tokens", c.vocab)));
    }
    let ctx = |layer: usize| LayerCtx {
        cfg: c,
        layer,
        rope: rope.for_layer(c, layer),
        lora: Some(adapter),
        dropout: opts.dropout,
        save_probs: true,
    };

    // Forward.
    let mut x = vec![0f32; t * c.hidden];
    embed(model, &batch.tokens, &mut x);
    let StepWorkspace { saved, inputs, scratch } = ws;
    for (layer, block) in model.blocks.iter().enumerate() {
        if opts.gradient_checkpointing {
            if inputs.len() <= layer {
                inputs.push(Vec::new());
            }
            inputs[layer].clear();
            inputs[layer].extend_from_slice(&x);
            block_forward(&ctx(layer), block, &mut x, &batch.spans, KvSink::Saved, scratch);
        } else {
            if saved.len() <= layer {
                saved.push(BlockActs::default());
            }
            block_forward(&ctx(layer), block, &mut x, &batch.spans, KvSink::Saved, &mut saved[layer]);
        }
    }
    let mut h = vec![0f32; t * c.hidden];
    let mut rstd = vec![0f32; t];
    rmsnorm_forward(&x, &model.final_norm, c.rms_eps, &mut h, Some(&mut rstd));

    // Loss at labelled positions only.
    let targets = batch.targets();
    let d = c.hidden;
    let (h_lab, ids) = labelled_rows(&h, &targets, d);
    let mut dh_lab = vec![0f32; h_lab.len()];
    let out = fused_linear_cross_entropy(&h_lab, &ids, &model.lm_head, opts.loss_scale, Some(&mut dh_lab));
    let mut dh = vec![0f32; t * d];
    for (i, (row, _)) in targets.iter().enumerate() {
        dh[row * d..(row + 1) * d].copy_from_slice(&dh_lab[i * d..(i + 1) * d]);
    }

    // Backward.
    let mut dx = vec![0f32; t * d];
    rmsnorm_backward(&x, &model.final_norm, &rstd, &dh, &mut dx, false);
    drop(h);
    for layer in (0..c.n_layers).rev() {
        let block = &model.blocks[layer];
        if opts.gradient_checkpointing {
            // Recompute this block's activations from its saved input.
            block_forward(&ctx(layer), block, &mut inputs[layer], &batch.spans, KvSink::Saved, scratch);
            block_backward(&ctx(layer), block, &batch.spans, scratch, &mut dx, &mut grads[layer]);
        } else {
            block_backward(&ctx(layer), block, &batch.spans, &saved[layer], &mut dx, &mut grads[layer]);
        }
    }
    Ok(StepStats { loss_sum: out.loss_sum, targets: out.count, correct: out.correct, embed_grad: opts.want_embed_grad.then_some(dx) })
}

/// Loss only (validation): Σ CE, labelled tokens, correct predictions.
pub fn evaluate_loss(model: &Model, adapter: Option<&LoraAdapter>, batch: &Batch, rope: &RopeTables) -> Result<StepStats> {
    let c = &model.config;
    let t = batch.tokens.len();
    let mut x = vec![0f32; t * c.hidden];
    embed(model, &batch.tokens, &mut x);
    let mut scratch = BlockActs::default();
    for (layer, block) in model.blocks.iter().enumerate() {
        let ctx = LayerCtx { cfg: c, layer, rope: rope.for_layer(c, layer), lora: adapter, dropout: None, save_probs: false };
        block_forward(&ctx, block, &mut x, &batch.spans, KvSink::Saved, &mut scratch);
    }
    let mut h = vec![0f32; t * c.hidden];
    rmsnorm_forward(&x, &model.final_norm, c.rms_eps, &mut h, None);
    let (h_lab, ids) = labelled_rows(&h, &batch.targets(), c.hidden);
    let out = fused_linear_cross_entropy(&h_lab, &ids, &model.lm_head, 1.0, None);
    Ok(StepStats { loss_sum: out.loss_sum, targets: out.count, correct: out.correct, embed_grad: None })
}

/// The rows of `h` whose logits are scored, and their target tokens.
fn labelled_rows(h: &[f32], targets: &[(usize, u32)], d: usize) -> (Vec<f32>, Vec<u32>) {
    let mut rows = vec![0f32; targets.len() * d];
    for (i, (row, _)) in targets.iter().enumerate() {
        rows[i * d..(i + 1) * d].copy_from_slice(&h[row * d..(row + 1) * d]);
    }
    (rows, targets.iter().map(|(_, tk)| *tk).collect())
}
