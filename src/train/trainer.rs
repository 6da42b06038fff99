//! The training loop: epochs of shuffled micro-batches, gradient
//! accumulation with the loss normalised over the whole optimiser step (so
//! accumulation does not change it), global-norm clipping, AdamW with a
//! warm-up + decay schedule, validation each epoch, checkpoints.
//! Metrics follow transformers/TRL: train_loss is the mean of the step
//! losses; mean_token_accuracy the mean of per-micro-batch accuracies.

use super::backend::{CpuStepBackend, StepBackend};
use super::checkpoint::{load_checkpoint, save_checkpoint, Moments, TrainerState};
use super::data::{batch_of, Prepared};
use super::schedule::{LrSchedule, Schedule};
use super::step::{evaluate_loss, StepOptions};
use crate::model::forward::RopeTables;
use crate::model::lora::{LoraAdapter, LoraConfig};
use crate::model::Model;
use crate::ops::adamw::{clip_coefficient, AdamW};
use crate::util::rng::Rng;
use crate::{Error, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Clone, Debug, Serialize)]
pub struct TrainOptions {
    pub epochs: usize,
    pub batch_size: usize,
    pub gradient_accumulation: usize,
    pub lr: f64,
    pub warmup_ratio: f64,
    pub schedule: Schedule,
    pub weight_decay: f64,
    pub max_grad_norm: f64,
    pub seed: u64,
    pub max_seq_len: usize,
    pub gradient_checkpointing: bool,
    /// Also checkpoint every N optimiser steps (checkpoints are always written at each epoch's end).
    pub save_steps: Option<usize>,
    #[serde(skip)]
    pub lora: LoraConfig,
}

impl TrainOptions {
    pub fn validate(&self) -> Result<()> {
        if self.epochs == 0 || self.batch_size == 0 || self.gradient_accumulation == 0 {
            return Err(Error::invalid("epochs, batch size and gradient accumulation must be at least 1"));
        }
        if !(self.lr > 0.0 && self.lr < 1.0) {
            return Err(Error::invalid(format!("learning rate {} is out of range (0, 1)", self.lr)));
        }
        if !(0.0..=1.0).contains(&self.warmup_ratio) {
            return Err(Error::invalid("--warmup-ratio must be within [0, 1]"));
        }
        // NaN fails every range test below (`contains` is false for it).
        if !(0.0..=1.0).contains(&self.weight_decay) {
            return Err(Error::invalid(format!("--weight-decay {} is out of range [0, 1]", self.weight_decay)));
        }
        // 0 turns clipping off, as in transformers.
        if !(self.max_grad_norm.is_finite() && self.max_grad_norm >= 0.0) {
            return Err(Error::invalid(format!("--max-grad-norm {} must be a finite number ≥ 0 (0: no clipping)", self.max_grad_norm)));
        }
        if self.max_seq_len < 2 {
            return Err(Error::invalid(format!("--max-seq-len {} is too short (at least 2 tokens)", self.max_seq_len)));
        }
        self.lora.validate_values()
    }

    /// What must not change between a run and its resumption: the options,
    /// the base model's weights and the tokenised data (digests).
    fn fingerprint(&self, model: &Model, data: &Prepared) -> String {
        format!(
            "base={} data={} examples={} max_seq_len={} rslora={} epochs={} batch={} accum={} lr={} warmup={} sched={:?} wd={} clip={} seed={} r={} alpha={} dropout={} targets={}",
            model.digest(),
            data.digest(),
            data.examples.len(),
            self.max_seq_len,
            self.lora.use_rslora,
            self.epochs,
            self.batch_size,
            self.gradient_accumulation,
            self.lr,
            self.warmup_ratio,
            self.schedule,
            self.weight_decay,
            self.max_grad_norm,
            self.seed,
            self.lora.r,
            self.lora.alpha,
            self.lora.dropout,
            self.lora.targets.iter().map(|p| p.module_name()).collect::<Vec<_>>().join(",")
        )
    }
}

/// The `key=value` items of two fingerprints that differ, by key.
fn fingerprint_differences(a: &str, b: &str) -> String {
    let items = |s: &str| -> Vec<(String, String)> {
        s.split(' ').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
    };
    let (a, b) = (items(a), items(b));
    let keys: Vec<&str> = b.iter().filter(|kv| !a.contains(kv)).map(|(k, _)| k.as_str()).collect();
    if keys.is_empty() {
        "an older checkpoint format".to_string()
    } else {
        format!("differs in {}", keys.join(", "))
    }
}

/// Reported after every optimiser step; return false to stop (cancel).
#[derive(Clone, Debug)]
pub struct Progress {
    pub step: usize,
    pub total_steps: usize,
    pub epoch: usize,
    pub loss: f64,
    pub lr: f64,
    pub grad_norm: f32,
    pub tokens_per_second: f64,
    pub elapsed_seconds: f64,
    /// Set when a checkpoint was just written.
    pub checkpoint: Option<PathBuf>,
}

#[derive(Clone, Debug, Serialize)]
pub struct TrainSummary {
    pub train_runtime_seconds: f64,
    pub epochs: usize,
    pub global_steps: usize,
    pub train_loss: f64,
    pub mean_token_accuracy: f64,
    pub train_samples_per_second: f64,
    pub train_tokens_per_second: f64,
    pub num_tokens: u64,
    pub num_examples: usize,
    pub truncated_examples: usize,
    pub dropped_examples: usize,
    pub val_losses: Vec<f64>,
    pub step_losses: Vec<f64>,
    pub trainable_parameters: usize,
}

/// Positions the rope tables must cover for `data` and `val`.
pub fn longest_example(data: &Prepared, val: Option<&Prepared>) -> usize {
    data.examples.iter().chain(val.map(|v| v.examples.iter()).into_iter().flatten()).map(|e| e.tokens.len()).max().unwrap_or(1)
}

/// What a training run works on, whatever runs its steps.
#[derive(Clone, Copy)]
pub struct TrainJob<'a> {
    /// The base model the adapter belongs to (shapes, checkpoints).
    pub model: &'a Model,
    /// `base_model_name_or_path` of the adapter files.
    pub base_name: &'a str,
    pub data: &'a Prepared,
    pub val: Option<&'a Prepared>,
    pub opts: &'a TrainOptions,
    /// Where checkpoints are written.
    pub output: &'a Path,
    /// A checkpoint folder to continue from.
    pub resume: Option<&'a Path>,
}

/// Trains a LoRA adapter on the CPU.
pub fn train(job: &TrainJob, on_step: &mut dyn FnMut(&Progress) -> bool) -> Result<(LoraAdapter, TrainSummary)> {
    let rope = RopeTables::new(&job.model.config, longest_example(job.data, job.val));
    let mut backend = CpuStepBackend::new(job.model, &rope);
    train_on(&mut backend, job, on_step)
}

/// [`train`] with the steps run by `backend` (the CPU's or the GPU's).
pub fn train_on(
    backend: &mut dyn StepBackend,
    job: &TrainJob,
    on_step: &mut dyn FnMut(&Progress) -> bool,
) -> Result<(LoraAdapter, TrainSummary)> {
    let TrainJob { model, base_name, data, val, opts, output, resume } = *job;
    opts.validate()?;
    let n = data.examples.len();
    if n == 0 {
        return Err(Error::invalid("no training example has a labelled token"));
    }
    let micro_per_epoch = n.div_ceil(opts.batch_size);
    let steps_per_epoch = micro_per_epoch.div_ceil(opts.gradient_accumulation);
    let total_steps = steps_per_epoch * opts.epochs;
    let schedule = LrSchedule::new(opts.lr, opts.warmup_ratio, total_steps, opts.schedule);
    let fingerprint = opts.fingerprint(model, data);
    let optimizer = AdamW { weight_decay: opts.weight_decay, ..AdamW::default() };

    let (mut adapter, mut moments, mut state) = match resume {
        Some(dir) => {
            let (a, m, s) = load_checkpoint(dir, model)?;
            if s.fingerprint != fingerprint {
                return Err(Error::invalid(format!(
                    "checkpoint {} was made with other options, data or base model ({}):\n  checkpoint: {}\n  this run:   {}",
                    dir.display(),
                    fingerprint_differences(&s.fingerprint, &fingerprint),
                    s.fingerprint,
                    fingerprint
                )));
            }
            (a, m, s)
        }
        None => {
            let mut rng = Rng::new(opts.seed);
            let adapter = LoraAdapter::init(model, opts.lora.clone(), &mut rng)?;
            let moments = Moments::zeros(&adapter);
            let state = TrainerState {
                global_step: 0,
                total_steps,
                epoch: 0,
                micro_in_epoch: 0,
                micro_steps: 0,
                step_losses: Vec::new(),
                accuracy_sum: 0.0,
                accuracy_count: 0,
                tokens_seen: 0,
                samples_seen: 0,
                train_seconds: 0.0,
                rng: rng.state(),
                val_losses: Vec::new(),
                fingerprint,
            };
            (adapter, moments, state)
        }
    };
    let mut rng = state.rng();
    let run_start = Instant::now();
    let seconds_before = state.train_seconds;

    while state.epoch < opts.epochs {
        // The epoch's order depends only on (seed, epoch): a resumed run sees the same batches.
        let mut order: Vec<usize> = (0..n).collect();
        Rng::new(opts.seed ^ (0xA5A5_0000 + state.epoch as u64)).shuffle(&mut order);
        let micro_batches: Vec<&[usize]> = order.chunks(opts.batch_size).collect();
        while state.micro_in_epoch < micro_batches.len() {
            let group: Vec<&[usize]> =
                micro_batches[state.micro_in_epoch..(state.micro_in_epoch + opts.gradient_accumulation).min(micro_batches.len())].to_vec();
            let batches: Vec<_> = group.iter().map(|idx| batch_of(idx.iter().map(|&i| &data.examples[i]))).collect();
            let step_targets: usize = batches.iter().map(|b| b.num_targets()).sum();
            backend.zero_grads(&adapter)?;
            let (mut loss_sum, mut step_tokens) = (0.0, 0usize);
            let t0 = Instant::now();
            for b in &batches {
                let key = rng.next_u64();
                let step_opts = StepOptions {
                    loss_scale: 1.0 / step_targets.max(1) as f32,
                    dropout: (opts.lora.dropout > 0.0).then_some((opts.lora.dropout, key)),
                    gradient_checkpointing: opts.gradient_checkpointing,
                    want_embed_grad: false,
                };
                let s = backend.forward_backward(&adapter, b, &step_opts)?;
                loss_sum += s.loss_sum;
                if s.targets > 0 {
                    state.accuracy_sum += s.correct as f64 / s.targets as f64;
                    state.accuracy_count += 1;
                }
                step_tokens += b.tokens.len();
                state.micro_steps += 1;
                state.samples_seen += b.spans.len() as u64;
            }
            state.tokens_seen += step_tokens as u64;
            let grad_norm = backend.grad_norm()?;
            // A non-finite loss or gradient would turn every weight into NaN
            // at the update: stop before it, with the last good checkpoint intact.
            if !(loss_sum.is_finite() && grad_norm.is_finite()) {
                return Err(Error::invalid(format!(
                    "training diverged at step {}: loss {loss_sum}, gradient norm {grad_norm} (lower --learning-rate or set --max-grad-norm)",
                    state.global_step + 1
                )));
            }
            let coef = clip_coefficient(grad_norm, opts.max_grad_norm as f32);
            let lr = schedule.lr(state.global_step);
            backend.apply_update(&optimizer, state.global_step as u64 + 1, lr, coef, &mut adapter, &mut moments)?;
            state.global_step += 1;
            state.micro_in_epoch += group.len();
            let step_loss = loss_sum / step_targets.max(1) as f64;
            state.step_losses.push(step_loss);
            let step_secs = t0.elapsed().as_secs_f64();
            state.train_seconds = seconds_before + run_start.elapsed().as_secs_f64();
            state.rng = rng.state();

            let epoch_done = state.micro_in_epoch >= micro_batches.len();
            if epoch_done {
                if let Some(v) = val {
                    state.val_losses.push(validation_loss_on(backend, &adapter, v, opts.batch_size)?);
                }
                state.epoch += 1;
                state.micro_in_epoch = 0;
            }
            let periodic = opts.save_steps.is_some_and(|s| s > 0 && state.global_step % s == 0);
            let checkpoint =
                if epoch_done || periodic { Some(save_checkpoint(output, &adapter, &moments, &state, base_name)?) } else { None };
            let progress = Progress {
                step: state.global_step,
                total_steps,
                // 1-based: the epoch this step belongs to.
                epoch: if epoch_done { state.epoch } else { state.epoch + 1 },
                loss: step_loss,
                lr,
                grad_norm,
                tokens_per_second: step_tokens as f64 / step_secs.max(1e-9),
                elapsed_seconds: state.train_seconds,
                checkpoint,
            };
            if !on_step(&progress) {
                return Err(Error::Cancelled);
            }
            if epoch_done {
                break;
            }
        }
    }
    let runtime = state.train_seconds.max(1e-9);
    let summary = TrainSummary {
        train_runtime_seconds: state.train_seconds,
        epochs: opts.epochs,
        global_steps: state.global_step,
        train_loss: state.step_losses.iter().sum::<f64>() / state.step_losses.len().max(1) as f64,
        mean_token_accuracy: state.accuracy_sum / state.accuracy_count.max(1) as f64,
        train_samples_per_second: state.samples_seen as f64 / runtime,
        train_tokens_per_second: state.tokens_seen as f64 / runtime,
        num_tokens: state.tokens_seen,
        num_examples: n,
        truncated_examples: data.truncated,
        dropped_examples: data.dropped,
        val_losses: state.val_losses.clone(),
        step_losses: state.step_losses.clone(),
        trainable_parameters: adapter.num_params(),
    };
    Ok((adapter, summary))
}

/// Mean cross-entropy over the labelled tokens of `data`.
pub fn validation_loss(model: &Model, adapter: &LoraAdapter, data: &Prepared, rope: &RopeTables, batch_size: usize) -> Result<f64> {
    let (mut sum, mut count) = (0.0, 0usize);
    for chunk in data.examples.chunks(batch_size.max(1)) {
        let s = evaluate_loss(model, Some(adapter), &batch_of(chunk), rope)?;
        sum += s.loss_sum;
        count += s.targets;
    }
    Ok(sum / count.max(1) as f64)
}

/// [`validation_loss`] with the batches run by `backend`.
pub fn validation_loss_on(backend: &mut dyn StepBackend, adapter: &LoraAdapter, data: &Prepared, batch_size: usize) -> Result<f64> {
    let (mut sum, mut count) = (0.0, 0usize);
    for chunk in data.examples.chunks(batch_size.max(1)) {
        let s = backend.evaluate_loss(adapter, &batch_of(chunk))?;
        sum += s.loss_sum;
        count += s.targets;
    }
    Ok(sum / count.max(1) as f64)
}
