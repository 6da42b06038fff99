//! What runs the steps of the training loop: the CPU backend (`model::forward`,
//! `model::backward`, AdamW on the host) or, with the `cuda` feature, the GPU
//! one (`train::backend_cuda`). The loop in `trainer.rs` only talks to this trait, so
//! both devices share batching, accumulation, clipping, schedule, validation
//! and checkpoints.

use super::checkpoint::Moments;
use super::step::{evaluate_loss, forward_backward_in, Batch, StepOptions, StepStats, StepWorkspace};
use crate::model::backward::{zero_grads, AdapterGrads};
use crate::model::forward::RopeTables;
use crate::model::lora::LoraAdapter;
use crate::model::Model;
use crate::ops::adamw::{global_norm, AdamW};
use crate::Result;

pub trait StepBackend {
    /// Clears the accumulated gradients (start of an optimiser step).
    fn zero_grads(&mut self, adapter: &LoraAdapter) -> Result<()>;
    /// Forward and backward of one micro-batch; gradients are added.
    fn forward_backward(&mut self, adapter: &LoraAdapter, batch: &Batch, opts: &StepOptions) -> Result<StepStats>;
    /// √(Σ g²) over the accumulated gradients.
    fn grad_norm(&mut self) -> Result<f32>;
    /// Multiplies the gradients by `coef` and applies AdamW at step `t`;
    /// `adapter` and `moments` hold the new values on return.
    fn apply_update(&mut self, opt: &AdamW, t: u64, lr: f64, coef: f32, adapter: &mut LoraAdapter, moments: &mut Moments) -> Result<()>;
    /// Loss only (validation).
    fn evaluate_loss(&mut self, adapter: &LoraAdapter, batch: &Batch) -> Result<StepStats>;
    /// What runs the steps, for messages ("CPU (8 threads)", the GPU's name).
    fn describe(&self) -> String;
}

/// The CPU backend.
pub struct CpuStepBackend<'a> {
    model: &'a Model,
    rope: &'a RopeTables,
    grads: AdapterGrads,
    workspace: StepWorkspace,
}

impl<'a> CpuStepBackend<'a> {
    pub fn new(model: &'a Model, rope: &'a RopeTables) -> Self {
        CpuStepBackend { model, rope, grads: Vec::new(), workspace: StepWorkspace::default() }
    }

    pub fn grads(&self) -> &AdapterGrads {
        &self.grads
    }
}

impl StepBackend for CpuStepBackend<'_> {
    fn zero_grads(&mut self, adapter: &LoraAdapter) -> Result<()> {
        self.grads = zero_grads(adapter);
        Ok(())
    }

    fn forward_backward(&mut self, adapter: &LoraAdapter, batch: &Batch, opts: &StepOptions) -> Result<StepStats> {
        if self.grads.len() != adapter.layers.len() {
            self.grads = zero_grads(adapter);
        }
        forward_backward_in(&mut self.workspace, self.model, adapter, batch, self.rope, opts, &mut self.grads)
    }

    fn grad_norm(&mut self) -> Result<f32> {
        Ok(global_norm(self.grads.iter().flat_map(|l| l.values()).flat_map(|g| [&g.a[..], &g.b[..]])))
    }

    fn apply_update(&mut self, opt: &AdamW, t: u64, lr: f64, coef: f32, adapter: &mut LoraAdapter, moments: &mut Moments) -> Result<()> {
        apply_update(opt, t, lr, coef, adapter, &self.grads, moments);
        Ok(())
    }

    fn evaluate_loss(&mut self, adapter: &LoraAdapter, batch: &Batch) -> Result<StepStats> {
        evaluate_loss(self.model, Some(adapter), batch, self.rope)
    }

    fn describe(&self) -> String {
        format!("CPU ({} threads)", rayon::current_num_threads())
    }
}

/// Clips (by `coef`) and applies AdamW to every LoRA matrix.
pub fn apply_update(opt: &AdamW, t: u64, lr: f64, coef: f32, adapter: &mut LoraAdapter, grads: &AdapterGrads, moments: &mut Moments) {
    let mut i = 0;
    for (layer, proj, w) in adapter.iter_mut() {
        let g = &grads[layer][&proj];
        for (param, grad) in [(&mut w.a, &g.a), (&mut w.b, &g.b)] {
            let clipped: Vec<f32> = grad.iter().map(|x| x * coef).collect();
            opt.step(t, lr, param, &clipped, &mut moments.m[i], &mut moments.v[i]);
            i += 1;
        }
    }
}
