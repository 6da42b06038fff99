//! Adapter handles: a LoRA adapter trained in this process, tied to the
//! model it was trained on; saved as a PEFT folder, freed.

use super::error::FfiError;
use super::error::{guard, DyagStatus, FfiResult};
use super::handles::Registry;
use super::model::{DyagModel, ModelObj, MODELS};
use super::strings::path_arg;
use crate::model::lora::LoraAdapter;
use crate::train::recipe::{save_final, write_summary, RunRecord};
use crate::train::trainer::{TrainOptions, TrainSummary};
use std::ffi::c_char;
use std::path::PathBuf;
use std::sync::Arc;

/// A trained LoRA adapter. A zero id is the null handle.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DyagAdapter {
    pub id: u64,
}

pub(crate) struct AdapterObj {
    pub lora: LoraAdapter,
    /// The model it was trained on: its base names the adapter's base and
    /// provides the tokenizer files written beside it.
    pub model: Arc<ModelObj>,
    pub record: TrainingRecord,
}

/// How the adapter was trained, for training_summary.json.
pub(crate) struct TrainingRecord {
    pub base_model: String,
    pub dataset: PathBuf,
    pub opts: TrainOptions,
    pub metrics: TrainSummary,
    pub total_seconds: f64,
    pub threads: usize,
    /// The training set's dominant system prompt.
    pub system_prompt: Option<String>,
}

pub(crate) static ADAPTERS: Registry<AdapterObj> = Registry::new(2, "adapter");

/// Writes the adapter as a folder `dir` (created if needed), as `dyag
/// finetune` writes OUTPUT/final: PEFT's adapter_config.json and
/// adapter_model.safetensors (loadable by Python PEFT,
/// `dyag_model_load_adapter`, `dyag_model_open_finetuned` and `dyag
/// query-finetuned --model`), the base model's tokenizer files and
/// training_summary.json (hyper-parameters, metrics, and the training set's
/// system prompt, which dyag then asks with by default). Each file is
/// written atomically.
///
/// Errors: INVALID_HANDLE, NULL_POINTER, INVALID_UTF8, IO.
///
/// Thread safety: safe from any thread; two saves to the same folder at
/// once leave one of the two complete versions.
///
/// # Safety
/// `dir` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn dyag_adapter_save(adapter: DyagAdapter, dir: *const c_char) -> DyagStatus {
    guard(|| {
        let a = ADAPTERS.get(adapter.id)?;
        let dir = path_arg(dir, "dir")?;
        let state = a.model.read();
        save_final(dir, &a.lora, &state.base)?;
        let r = &a.record;
        let run = RunRecord {
            base_model: &r.base_model,
            dataset: &r.dataset,
            opts: &r.opts,
            metrics: &r.metrics,
            total_seconds: r.total_seconds,
            threads: r.threads,
            system_prompt: r.system_prompt.as_deref(),
            eval: None,
        };
        Ok(write_summary(dir, &run)?)
    })
}

/// Frees an adapter handle. The null handle is accepted (nothing to do); a
/// handle already freed gives INVALID_HANDLE. A model it was attached to
/// keeps its own copy.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn dyag_adapter_free(adapter: DyagAdapter) -> DyagStatus {
    guard(|| -> FfiResult {
        if adapter.id != 0 {
            ADAPTERS.remove(adapter.id)?;
        }
        Ok(())
    })
}

/// Attaches an adapter trained by `dyag_train` on this same model handle
/// (the adapter is copied; freeing it later does not detach it). An adapter
/// trained on another handle gives INVALID_ARGUMENT: save it and use
/// `dyag_model_load_adapter`, which checks it against this model.
///
/// Thread safety: as `dyag_model_load_adapter`.
#[no_mangle]
pub extern "C" fn dyag_model_set_adapter(model: DyagModel, adapter: DyagAdapter) -> DyagStatus {
    guard(|| {
        let m = MODELS.get(model.id)?;
        let a = ADAPTERS.get(adapter.id)?;
        if !Arc::ptr_eq(&a.model, &m) {
            return Err(FfiError::invalid("this adapter was trained on another model handle: save it with dyag_adapter_save and attach the folder with dyag_model_load_adapter"));
        }
        let lora = a.lora.clone();
        m.write().set_adapter(Some((lora, format!("adapter {:#x} trained in this process", adapter.id))), a.record.system_prompt.clone());
        Ok(())
    })
}
