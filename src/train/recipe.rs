//! The parts of a fine-tuning run that every driver shares (the `finetune`
//! command and the C ABI): the default hyper-parameters, the checks and
//! dataset loading done before anything is written, and the final adapter
//! folder with its training summary. Keeping them here means both drivers
//! train the same way and write the same files.

use super::data::{prepare, Prepared};
use super::export::{dominant_system_prompt, write_tokenizer_files, SUMMARY_FILE};
use super::trainer::{TrainOptions, TrainSummary};
use crate::formats::chat_jsonl::read_chat_dataset_with_lines;
use crate::model::load::LoadedModel;
use crate::model::lora::{LoraAdapter, LoraConfig};
use crate::model::{Model, Proj};
use crate::{Error, Result};
use std::path::Path;

/// Default hyper-parameters: the original tool's, except the learning rate
/// (measured on benches/quality: 5e-4 stores the facts the original 2e-4
/// does not in 3 epochs; dev set 77/37/7/27 % against 40/13/3/13 % per kind).
pub mod defaults {
    use crate::train::schedule::Schedule;
    pub const EPOCHS: usize = 3;
    pub const BATCH_SIZE: usize = 4;
    pub const GRADIENT_ACCUMULATION: usize = 1;
    pub const LORA_RANK: usize = 16;
    pub const LORA_ALPHA: f32 = 32.0;
    pub const LORA_DROPOUT: f32 = 0.05;
    pub const LR: f64 = 5e-4;
    pub const WARMUP_RATIO: f64 = 0.03;
    pub const LR_SCHEDULER: Schedule = Schedule::Cosine;
    pub const WEIGHT_DECAY: f64 = 0.0;
    pub const MAX_GRAD_NORM: f64 = 1.0;
    pub const MAX_SEQ_LEN: usize = 512;
    pub const SEED: u64 = 42;
}

/// The projections named by `names` (module names such as `q_proj`); every
/// linear layer of the block when `names` is empty.
pub fn target_modules<S: AsRef<str>>(names: &[S], model: &Model) -> Result<Vec<Proj>> {
    if names.is_empty() {
        return Ok(LoraConfig::all_linear(model));
    }
    names
        .iter()
        .map(|t| {
            let t = t.as_ref().trim();
            Proj::from_module_name(t).ok_or_else(|| Error::invalid(format!("unknown target module '{t}' (e.g. q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj, qkv_proj, gate_up_proj)")))
        })
        .collect()
}

/// Reads and tokenises a chat dataset, with file:line errors; also returns
/// its dominant system prompt (the one the model learns to answer under).
pub fn load_dataset(path: &Path, loaded: &LoadedModel, max_seq_len: usize) -> Result<(Prepared, Option<String>)> {
    let (convs, lines) = read_chat_dataset_with_lines(path)?;
    if convs.is_empty() {
        return Err(Error::data(path, 1, "the dataset is empty"));
    }
    let system = dominant_system_prompt(&convs);
    Ok((prepare(&convs, &lines, path, &loaded.tokenizer, &loaded.template, max_seq_len)?, system))
}

/// What a run trains on, read and checked.
pub struct Inputs {
    pub data: Prepared,
    pub val: Option<Prepared>,
    /// The training set's dominant system prompt.
    pub system_prompt: Option<String>,
}

/// Everything checked before a run writes a file: the options, the LoRA
/// targets against the model, the training and validation sets.
pub fn check_and_load(loaded: &LoadedModel, opts: &TrainOptions, dataset: &Path, val_dataset: Option<&Path>) -> Result<Inputs> {
    opts.validate()?;
    opts.lora.validate(&loaded.model)?;
    let (data, system_prompt) = load_dataset(dataset, loaded, opts.max_seq_len)?;
    let val = val_dataset.map(|p| load_dataset(p, loaded, opts.max_seq_len)).transpose()?.map(|(v, _)| v);
    Ok(Inputs { data, val, system_prompt })
}

/// Writes a trained adapter as a self-describing folder: the PEFT files and
/// the base model's tokenizer files.
pub fn save_final(dir: &Path, adapter: &LoraAdapter, loaded: &LoadedModel) -> Result<()> {
    crate::model::peft::save_adapter(dir, adapter, &loaded.base_model_name_or_path)?;
    write_tokenizer_files(loaded, dir)
}

/// What `training_summary.json` records about a run.
pub struct RunRecord<'a> {
    /// The base model as the user named it.
    pub base_model: &'a str,
    pub dataset: &'a Path,
    pub opts: &'a TrainOptions,
    pub metrics: &'a TrainSummary,
    pub total_seconds: f64,
    /// Threads that ran the training.
    pub threads: usize,
    /// query-finetuned and evaluate-finetuned ask with this prompt by default.
    pub system_prompt: Option<&'a str>,
    /// The in-loop evaluation (`--eval-questions`): each epoch's score and
    /// the checkpoint that became `final/`.
    pub eval: Option<serde_json::Value>,
}

/// Writes `training_summary.json` into an adapter folder.
pub fn write_summary(dir: &Path, run: &RunRecord) -> Result<()> {
    let o = run.opts;
    let v = serde_json::json!({
        "dyag_version": env!("CARGO_PKG_VERSION"),
        "system_prompt": run.system_prompt,
        "base_model": run.base_model,
        "dataset": run.dataset.display().to_string(),
        "total_seconds": run.total_seconds,
        "hyperparameters": {
            "epochs": o.epochs, "batch_size": o.batch_size, "gradient_accumulation": o.gradient_accumulation,
            "lora_rank": o.lora.r, "lora_alpha": o.lora.alpha, "lora_dropout": o.lora.dropout, "use_rslora": o.lora.use_rslora,
            "lr": o.lr, "warmup_ratio": o.warmup_ratio, "lr_scheduler": o.schedule, "weight_decay": o.weight_decay,
            "max_grad_norm": o.max_grad_norm, "max_seq_len": o.max_seq_len, "seed": o.seed,
            "gradient_checkpointing": o.gradient_checkpointing, "threads": run.threads,
        },
        "metrics": run.metrics,
        "eval": run.eval,
    });
    crate::util::write_json_atomic(&dir.join(SUMMARY_FILE), &v)
}
