//! The parts of a fine-tuning run that every driver shares (the `finetune`
//! command and the C ABI): the default hyper-parameters, the checks and
//! dataset loading done before anything is written, and the final adapter
//! folder. Keeping them here means both drivers train the same way.

use super::data::{prepare, Prepared};
use super::trainer::TrainOptions;
use crate::formats::chat_jsonl::read_chat_dataset_with_lines;
use crate::model::load::LoadedModel;
use crate::model::lora::{LoraAdapter, LoraConfig};
use crate::model::{Model, Proj};
use crate::{Error, Result};
use std::path::Path;

/// Default hyper-parameters (the original tool's).
pub mod defaults {
    use crate::train::schedule::Schedule;
    pub const EPOCHS: usize = 3;
    pub const BATCH_SIZE: usize = 4;
    pub const GRADIENT_ACCUMULATION: usize = 1;
    pub const LORA_RANK: usize = 16;
    pub const LORA_ALPHA: f32 = 32.0;
    pub const LORA_DROPOUT: f32 = 0.05;
    pub const LR: f64 = 2e-4;
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

/// Reads and tokenises a chat dataset, with file:line errors.
pub fn load_dataset(path: &Path, loaded: &LoadedModel, max_seq_len: usize) -> Result<Prepared> {
    let (convs, lines) = read_chat_dataset_with_lines(path)?;
    if convs.is_empty() {
        return Err(Error::data(path, 1, "the dataset is empty"));
    }
    prepare(&convs, &lines, path, &loaded.tokenizer, &loaded.template, max_seq_len)
}

/// Everything checked before a run writes a file: the options, the LoRA
/// targets against the model, the training and validation sets.
pub fn check_and_load(loaded: &LoadedModel, opts: &TrainOptions, dataset: &Path, val_dataset: Option<&Path>) -> Result<(Prepared, Option<Prepared>)> {
    opts.validate()?;
    opts.lora.validate(&loaded.model)?;
    let data = load_dataset(dataset, loaded, opts.max_seq_len)?;
    let val = val_dataset.map(|p| load_dataset(p, loaded, opts.max_seq_len)).transpose()?;
    Ok((data, val))
}

/// Writes a trained adapter as a self-describing folder: the PEFT files and
/// the base model's tokenizer files.
pub fn save_final(dir: &Path, adapter: &LoraAdapter, loaded: &LoadedModel) -> Result<()> {
    crate::formats::peft::save_adapter(dir, adapter, &loaded.base_model_name_or_path)?;
    super::export::write_tokenizer_files(loaded, dir)
}
