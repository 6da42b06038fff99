//! Training a LoRA adapter: the parameters struct and its defaults, the
//! progress callback that can cancel, the summary.

use super::adapter::{AdapterObj, DyagAdapter, TrainingRecord, ADAPTERS};
use super::error::{guard, DyagStatus, FfiError, FfiResult};
use super::model::{DyagModel, MODELS};
use super::strings::{opt_str_arg, out_arg, path_arg};
use crate::model::lora::LoraConfig;
use crate::train::recipe::{check_and_load, defaults, target_modules};
use crate::train::schedule::Schedule;
use crate::train::trainer::{train, Progress, TrainJob, TrainOptions, TrainSummary};
use std::ffi::{c_char, c_void, CString};
use std::path::Path;

/// Learning-rate schedules (values of `DyagTrainParams.lr_scheduler`): a
/// linear warm-up, then this decay.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DyagLrScheduler {
    Cosine = 0,
    Linear = 1,
    Constant = 2,
}

/// Training parameters, as `dyag finetune`'s options. Start from
/// `dyag_train_default_params()` and change what you need. String fields
/// are NUL-terminated UTF-8 or NULL.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct DyagTrainParams {
    pub epochs: u32,
    /// Examples per micro-batch.
    pub batch_size: u32,
    /// Micro-batches accumulated per optimiser step.
    pub gradient_accumulation: u32,
    pub lora_rank: u32,
    pub lora_alpha: f32,
    /// In [0, 1).
    pub lora_dropout: f32,
    /// Scale LoRA by alpha/sqrt(r) instead of alpha/r.
    pub use_rslora: bool,
    /// Comma-separated modules to adapt ("q_proj,v_proj"); NULL or "": every linear layer of the block.
    pub target_modules: *const c_char,
    /// Peak learning rate, in (0, 1).
    pub lr: f64,
    /// Share of the steps spent warming up, in [0, 1].
    pub warmup_ratio: f64,
    /// A `DyagLrScheduler` value.
    pub lr_scheduler: i32,
    pub weight_decay: f64,
    /// Gradient clipping by global norm.
    pub max_grad_norm: f64,
    /// Longer examples are cut to this many tokens.
    pub max_seq_len: u32,
    pub seed: u64,
    /// Recompute activations in the backward pass to save memory.
    pub gradient_checkpointing: bool,
    /// Also write a checkpoint every N optimiser steps (0: only at each epoch's end).
    pub save_steps: u32,
    /// A validation set (chat JSONL), its loss computed after each epoch; NULL: none.
    pub val_dataset: *const c_char,
    /// A checkpoint folder (OUTPUT/checkpoint-N) to continue from; NULL: start afresh.
    pub resume_from_checkpoint: *const c_char,
}

/// Reported to the progress callback after every optimiser step.
#[repr(C)]
#[derive(Debug)]
pub struct DyagTrainProgress {
    /// Optimiser steps done, 1-based.
    pub step: usize,
    pub total_steps: usize,
    /// The epoch the step belongs to, 1-based.
    pub epoch: usize,
    /// Mean loss over the labelled tokens of this step.
    pub loss: f64,
    /// Learning rate used for this step.
    pub lr: f64,
    /// Gradient global norm before clipping.
    pub grad_norm: f32,
    pub tokens_per_second: f64,
    pub elapsed_seconds: f64,
    /// The checkpoint folder written after this step, or NULL. Valid during the callback only.
    pub checkpoint: *const c_char,
}

/// Called after every optimiser step; return true to go on, false to cancel
/// (the training then fails with DYAG_STATUS_CANCELLED; checkpoints already
/// written stay). Called on the thread that runs the model's work (see
/// `DyagTokenCallback`).
pub type DyagProgressCallback = Option<unsafe extern "C" fn(progress: *const DyagTrainProgress, user_data: *mut c_void) -> bool>;

/// The figures of a finished training (as in training_summary.json).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct DyagTrainSummary {
    pub train_runtime_seconds: f64,
    pub epochs: usize,
    pub global_steps: usize,
    /// Mean of the step losses.
    pub train_loss: f64,
    pub mean_token_accuracy: f64,
    /// Loss of the first and of the last optimiser step.
    pub first_step_loss: f64,
    pub last_step_loss: f64,
    /// Validation loss after the last epoch; NaN without a validation set.
    pub final_val_loss: f64,
    pub train_samples_per_second: f64,
    pub train_tokens_per_second: f64,
    pub num_tokens: u64,
    pub num_examples: usize,
    /// Examples cut at max_seq_len, and examples left without a labelled token (skipped).
    pub truncated_examples: usize,
    pub dropped_examples: usize,
    pub trainable_parameters: usize,
}

impl From<&TrainSummary> for DyagTrainSummary {
    fn from(s: &TrainSummary) -> Self {
        DyagTrainSummary {
            train_runtime_seconds: s.train_runtime_seconds,
            epochs: s.epochs,
            global_steps: s.global_steps,
            train_loss: s.train_loss,
            mean_token_accuracy: s.mean_token_accuracy,
            first_step_loss: s.step_losses.first().copied().unwrap_or(f64::NAN),
            last_step_loss: s.step_losses.last().copied().unwrap_or(f64::NAN),
            final_val_loss: s.val_losses.last().copied().unwrap_or(f64::NAN),
            train_samples_per_second: s.train_samples_per_second,
            train_tokens_per_second: s.train_tokens_per_second,
            num_tokens: s.num_tokens,
            num_examples: s.num_examples,
            truncated_examples: s.truncated_examples,
            dropped_examples: s.dropped_examples,
            trainable_parameters: s.trainable_parameters,
        }
    }
}

/// The defaults of `dyag finetune`: 3 epochs, batch 4, accumulation 1, LoRA
/// r 16 / alpha 32 / dropout 0.05 on every linear layer, lr 5e-4 with a 3%
/// warm-up and cosine decay, no weight decay, clipping at 1.0, sequences of
/// 512 tokens, seed 42, checkpoints at each epoch's end.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn dyag_train_default_params() -> DyagTrainParams {
    DyagTrainParams {
        epochs: defaults::EPOCHS as u32,
        batch_size: defaults::BATCH_SIZE as u32,
        gradient_accumulation: defaults::GRADIENT_ACCUMULATION as u32,
        lora_rank: defaults::LORA_RANK as u32,
        lora_alpha: defaults::LORA_ALPHA,
        lora_dropout: defaults::LORA_DROPOUT,
        use_rslora: false,
        target_modules: std::ptr::null(),
        lr: defaults::LR,
        warmup_ratio: defaults::WARMUP_RATIO,
        lr_scheduler: schedule_code(defaults::LR_SCHEDULER) as i32,
        weight_decay: defaults::WEIGHT_DECAY,
        max_grad_norm: defaults::MAX_GRAD_NORM,
        max_seq_len: defaults::MAX_SEQ_LEN as u32,
        seed: defaults::SEED,
        gradient_checkpointing: false,
        save_steps: 0,
        val_dataset: std::ptr::null(),
        resume_from_checkpoint: std::ptr::null(),
    }
}

const fn schedule_code(s: Schedule) -> DyagLrScheduler {
    match s {
        Schedule::Cosine => DyagLrScheduler::Cosine,
        Schedule::Linear => DyagLrScheduler::Linear,
        Schedule::Constant => DyagLrScheduler::Constant,
    }
}

/// The parameters as the trainer's options (LoRA targets still as names:
/// they are resolved against the model), plus the optional paths.
struct Request<'a> {
    opts: TrainOptions,
    target_names: Vec<&'a str>,
    val_dataset: Option<&'a Path>,
    resume: Option<&'a Path>,
}

/// Checks `p` and reads its strings.
///
/// # Safety
/// The string fields of `p` (`target_modules`, `val_dataset`,
/// `resume_from_checkpoint`) are NULL or NUL-terminated strings that stay
/// valid and unchanged for `'a`.
unsafe fn request<'a>(p: &DyagTrainParams) -> FfiResult<Request<'a>> {
    let schedule = match p.lr_scheduler {
        x if x == DyagLrScheduler::Cosine as i32 => Schedule::Cosine,
        x if x == DyagLrScheduler::Linear as i32 => Schedule::Linear,
        x if x == DyagLrScheduler::Constant as i32 => Schedule::Constant,
        x => {
            return Err(FfiError::invalid(format!(
                "params.lr_scheduler: {x} is not a DyagLrScheduler value (0 cosine, 1 linear, 2 constant)"
            )))
        }
    };
    let names: Vec<&str> = match opt_str_arg(p.target_modules, "params.target_modules")? {
        Some(list) => list.split(',').map(str::trim).filter(|s| !s.is_empty()).collect(),
        None => Vec::new(),
    };
    let opts = TrainOptions {
        epochs: p.epochs as usize,
        batch_size: p.batch_size as usize,
        gradient_accumulation: p.gradient_accumulation as usize,
        lr: p.lr,
        warmup_ratio: p.warmup_ratio,
        schedule,
        weight_decay: p.weight_decay,
        max_grad_norm: p.max_grad_norm,
        seed: p.seed,
        max_seq_len: p.max_seq_len as usize,
        gradient_checkpointing: p.gradient_checkpointing,
        save_steps: (p.save_steps > 0).then_some(p.save_steps as usize),
        lora: LoraConfig {
            r: p.lora_rank as usize,
            alpha: p.lora_alpha,
            dropout: p.lora_dropout,
            use_rslora: p.use_rslora,
            targets: Vec::new(),
        },
    };
    Ok(Request {
        opts,
        target_names: names,
        val_dataset: opt_str_arg(p.val_dataset, "params.val_dataset")?.map(Path::new),
        resume: opt_str_arg(p.resume_from_checkpoint, "params.resume_from_checkpoint")?.map(Path::new),
    })
}

/// The caller's callback and its data, carried to the thread that runs the work.
struct ProgressSink {
    callback: DyagProgressCallback,
    user_data: *mut c_void,
}

// SAFETY: `user_data` is never dereferenced by Rust, only passed back to the
// callback, which dyag_train's caller allows to be called (with it) from the
// model's worker thread (# Safety there, and `DyagProgressCallback`).
unsafe impl Send for ProgressSink {}

impl ProgressSink {
    fn report(&mut self, p: &Progress) -> bool {
        let Some(cb) = self.callback else { return true };
        let checkpoint = p.checkpoint.as_ref().and_then(|c| CString::new(c.display().to_string()).ok());
        let progress = DyagTrainProgress {
            step: p.step,
            total_steps: p.total_steps,
            epoch: p.epoch,
            loss: p.loss,
            lr: p.lr,
            grad_norm: p.grad_norm,
            tokens_per_second: p.tokens_per_second,
            elapsed_seconds: p.elapsed_seconds,
            checkpoint: checkpoint.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
        };
        // SAFETY: a ProgressSink is only built by dyag_train from its
        // `on_progress` and `user_data`, whose caller guarantees the function
        // may be called as documented; `progress` and the checkpoint string it
        // points to live until the call returns.
        unsafe { cb(&progress, self.user_data) }
    }
}

/// Trains a LoRA adapter on the model's base (an attached adapter is not
/// used) with a chat dataset (JSONL, one {"messages": [...]} per line),
/// writing checkpoints under `output_dir` (created if needed;
/// OUTPUT/checkpoint-N/ as `dyag finetune` does). `params` may be NULL
/// (defaults); `on_progress` may be NULL. Everything is checked before
/// anything is written. On success `*out_adapter` is a new adapter handle
/// (save it with `dyag_adapter_save`, attach it with
/// `dyag_model_set_adapter`, free it with `dyag_adapter_free`) and
/// `*out_summary` (if not NULL) the figures of the run; on failure the
/// handle is null.
///
/// Errors: INVALID_HANDLE, NULL_POINTER (dataset_path, output_dir,
/// out_adapter), INVALID_UTF8, INVALID_ARGUMENT (parameters), IO, DATA
/// (a bad dataset line, named by file:line), CANCELLED (the callback
/// returned false).
///
/// Thread safety: safe from any thread; the model can generate in other
/// threads meanwhile. Adapter changes on this model wait for the training
/// to end.
///
/// # Safety
/// Strings are NUL-terminated; `params` and `out_summary` are NULL or
/// valid; `out_adapter` is valid for a write; `on_progress` is NULL or a
/// function that may be called as documented.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn dyag_train(
    model: DyagModel,
    dataset_path: *const c_char,
    output_dir: *const c_char,
    params: *const DyagTrainParams,
    on_progress: DyagProgressCallback,
    user_data: *mut c_void,
    out_adapter: *mut DyagAdapter,
    out_summary: *mut DyagTrainSummary,
) -> DyagStatus {
    guard(|| {
        let out = out_arg(out_adapter, "out_adapter")?;
        *out = DyagAdapter::default();
        let m = MODELS.get(model.id)?;
        let dataset = path_arg(dataset_path, "dataset_path")?;
        let output = path_arg(output_dir, "output_dir")?;
        let p = params.as_ref().copied().unwrap_or_else(|| dyag_train_default_params());
        let mut req = request(&p)?;
        let mut sink = ProgressSink { callback: on_progress, user_data };
        let (lora, record) = m.run(|| -> FfiResult<_> {
            let started = std::time::Instant::now();
            let state = m.read();
            let base = &state.base;
            req.opts.lora.targets = target_modules(&req.target_names, &base.model)?;
            let inputs = check_and_load(base, &req.opts, dataset, req.val_dataset)?;
            // One training per folder, until the final adapter is written.
            let _lock = crate::train::checkpoint::OutputLock::acquire(output)?;
            let job = TrainJob {
                model: &base.model,
                base_name: &base.base_model_name_or_path,
                data: &inputs.data,
                val: inputs.val.as_ref(),
                opts: &req.opts,
                output,
                resume: req.resume,
            };
            let (lora, metrics) = train(&job, &mut |pr| sink.report(pr))?;
            let record = TrainingRecord {
                base_model: base.spec.clone(),
                dataset: dataset.to_path_buf(),
                opts: req.opts.clone(),
                metrics,
                total_seconds: started.elapsed().as_secs_f64(),
                threads: rayon::current_num_threads(),
                system_prompt: inputs.system_prompt,
            };
            Ok((lora, record))
        })?;
        if let Some(s) = out_summary.as_mut() {
            *s = DyagTrainSummary::from(&record.metrics);
        }
        out.id = ADAPTERS.insert(AdapterObj { lora, model: m.clone(), record })?;
        Ok(())
    })
}
