//! Model handles: open a base model (or a fine-tuned adapter with its base),
//! attach and detach adapters, describe, free.

use super::error::{guard, DyagStatus, FfiError, FfiResult};
use super::handles::Registry;
use super::strings::{opt_str_arg, out_arg, path_arg, str_arg, write_str_out};
use crate::infer::engine::{load_engine, Engine};
use crate::infer::ChatGenerator;
use crate::model::load::LoadedModel;
use crate::model::lora::LoraAdapter;
use crate::model::peft::{load_adapter_weights, read_adapter_config};
use crate::tokenizer::chat_template::TemplateLimits;
use crate::train::export::trained_system_prompt;
use crate::Result;
use std::ffi::c_char;
use std::ops::Deref;
use std::path::Path;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// An open model: a base model and, optionally, an attached LoRA adapter.
/// A zero id is the null handle.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DyagModel {
    pub id: u64,
}

/// Where the work runs (values of `DyagModelOptions.device`).
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DyagDevice {
    /// The best device this build can run the engine on (today: the CPU).
    Auto = 0,
    Cpu = 1,
    /// A CUDA GPU: refused with DYAG_STATUS_DEVICE while the engine runs on the CPU only.
    Cuda = 2,
}

/// How to open a model. Start from `dyag_model_default_options()`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct DyagModelOptions {
    /// A `DyagDevice` value.
    pub device: i32,
    /// Worker threads for this model's work; 0 shares one pool sized to the
    /// machine's cores among all models opened with 0.
    pub threads: u32,
    /// Instructions one rendering of the chat template may run (templates
    /// come from model files: a runaway loop ends in an error); 0: the
    /// default, 10 000 000 (about 0.1 s).
    pub template_fuel: u64,
    /// Bytes one rendering of the chat template may write; 0: the default,
    /// 16 MiB.
    pub template_max_bytes: u64,
}

/// An engine whose sessions run on the CPU. The C ABI never gives it a GPU
/// backend (`DYAG_DEVICE_CUDA` is refused: the GPU path is not verified on a
/// device yet), and exposes no `&mut Engine` through which one could be set.
pub(crate) struct CpuStepBackend(Engine);

// Handles are shared between threads: everything they hold must be Send + Sync.
const _: fn() = || {
    fn shared_between_threads<T: Send + Sync>() {}
    shared_between_threads::<Engine>();
    shared_between_threads::<LoadedModel>();
    shared_between_threads::<LoraAdapter>();
    shared_between_threads::<ModelObj>();
};

impl CpuStepBackend {
    pub fn new(engine: Engine) -> Self {
        CpuStepBackend(engine)
    }
}

impl Deref for CpuStepBackend {
    type Target = Engine;
    fn deref(&self) -> &Engine {
        &self.0
    }
}

/// A model handle's state: the engine, and the system prompt its adapter
/// was trained with (asked with by default, as query-finetuned does).
pub(crate) struct ModelState {
    pub engine: CpuStepBackend,
    pub trained_system_prompt: Option<String>,
}

impl Deref for ModelState {
    type Target = Engine;
    fn deref(&self) -> &Engine {
        &self.engine
    }
}

impl ModelState {
    /// Attaches (or, with `None`, removes) an adapter.
    pub(crate) fn set_adapter(&mut self, adapter: Option<(LoraAdapter, String)>, system_prompt: Option<String>) {
        let e = &mut self.engine.0;
        (e.adapter, e.adapter_path) = match adapter {
            Some((a, path)) => (Some(a), Some(path)),
            None => (None, None),
        };
        self.trained_system_prompt = system_prompt;
    }
}

/// What a model handle stands for.
pub(crate) struct ModelObj {
    /// Generations and trainings take the read lock (they run side by side);
    /// attaching or removing an adapter takes the write lock.
    state: RwLock<ModelState>,
    /// This model's own threads, or `None` for rayon's shared pool.
    pool: Option<rayon::ThreadPool>,
}

impl ModelObj {
    pub fn read(&self) -> RwLockReadGuard<'_, ModelState> {
        // A panic caught at the boundary may poison the lock; the state is
        // only changed by whole assignments, so it is still consistent.
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, ModelState> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `work` on this model's threads (on a worker of its pool when it
    /// has one, so callbacks are then called from that worker).
    pub fn run<R: Send>(&self, work: impl FnOnce() -> R + Send) -> R {
        match &self.pool {
            Some(pool) => pool.install(work),
            None => work(),
        }
    }
}

pub(crate) static MODELS: Registry<ModelObj> = Registry::new(1, "model");

/// The default options: `DYAG_DEVICE_AUTO`, threads 0 (all cores, shared pool).
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn dyag_model_default_options() -> DyagModelOptions {
    DyagModelOptions { device: DyagDevice::Auto as i32, threads: 0, template_fuel: 0, template_max_bytes: 0 }
}

/// Checks the options and builds the model's thread pool.
///
/// # Safety
/// `options` is NULL or valid for reads of one `DyagModelOptions`.
unsafe fn pool_for(options: *const DyagModelOptions) -> FfiResult<Option<rayon::ThreadPool>> {
    let o = options.as_ref().copied().unwrap_or_else(|| dyag_model_default_options());
    match o.device {
        d if d == DyagDevice::Auto as i32 || d == DyagDevice::Cpu as i32 => {}
        d if d == DyagDevice::Cuda as i32 => {
            // Explains why CUDA is unusable when it is (build without CUDA, no GPU).
            crate::device::resolve(crate::device::DeviceChoice::Cuda, false)?;
            return Err(FfiError::new(
                DyagStatus::Device,
                "device CUDA: the C API runs the engine on the CPU only in this version; use DYAG_DEVICE_CPU",
            ));
        }
        d => return Err(FfiError::invalid(format!("options.device: {d} is not a DyagDevice value (0 auto, 1 cpu, 2 cuda)"))),
    }
    if o.threads == 0 {
        return Ok(None);
    }
    crate::util::check_threads(o.threads as usize).map_err(|e| FfiError::invalid(format!("options.threads: {}", e.reason())))?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(o.threads as usize)
        .thread_name(|i| format!("dyag-worker-{i}"))
        .build()
        .map_err(|e| FfiError::new(DyagStatus::Other, format!("cannot start {} threads: {e}", o.threads)))?;
    Ok(Some(pool))
}

/// The chat template's limits the options ask for (0: the default).
///
/// # Safety
/// `options` is NULL or valid for reads of one `DyagModelOptions`.
unsafe fn template_limits(options: *const DyagModelOptions) -> TemplateLimits {
    let o = options.as_ref().copied().unwrap_or_else(|| dyag_model_default_options());
    let d = TemplateLimits::default();
    TemplateLimits {
        fuel: if o.template_fuel == 0 { d.fuel } else { o.template_fuel },
        max_output_bytes: if o.template_max_bytes == 0 {
            d.max_output_bytes
        } else {
            usize::try_from(o.template_max_bytes).unwrap_or(usize::MAX)
        },
    }
}

/// Loads on the model's own threads and registers the handle.
///
/// # Safety
/// `options` is NULL or valid for reads; `out_model` is NULL or valid for
/// reads and writes of one `DyagModel`.
unsafe fn open_with(
    options: *const DyagModelOptions,
    out_model: *mut DyagModel,
    adapter_dir: Option<&Path>,
    load: impl FnOnce() -> Result<Engine> + Send,
) -> FfiResult {
    let out = out_arg(out_model, "out_model")?;
    *out = DyagModel::default();
    let pool = pool_for(options)?;
    let limits = template_limits(options);
    let load = || {
        load().map(|mut e| {
            e.base.template = e.base.template.clone().with_limits(limits);
            CpuStepBackend::new(e)
        })
    };
    let engine = match &pool {
        Some(p) => p.install(load),
        None => load(),
    }?;
    let state = ModelState { engine, trained_system_prompt: adapter_dir.and_then(trained_system_prompt) };
    out.id = MODELS.insert(ModelObj { state: RwLock::new(state), pool })?;
    Ok(())
}

/// Opens a base model: a name (`gemma3:270m`, `tinyllama`, `qwen2.5:0.5b`...,
/// found in the models folder, the Hugging Face cache or downloaded), a
/// Hugging Face repository id, a `.gguf` file or a Hugging Face model folder.
/// `options` may be NULL (defaults). On success `*out_model` is the new
/// handle; on failure it is the null handle.
///
/// Errors: NULL_POINTER (model or out_model NULL), INVALID_UTF8,
/// MODEL_NOT_FOUND (nothing at that path or name), FORMAT (not a model dyag
/// can read), IO, DEVICE, INVALID_ARGUMENT (options).
///
/// Thread safety: safe from any thread; each call loads its own copy.
///
/// # Safety
/// `model` is a NUL-terminated string; `options` is NULL or valid;
/// `out_model` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn dyag_model_open(model: *const c_char, options: *const DyagModelOptions, out_model: *mut DyagModel) -> DyagStatus {
    guard(|| {
        if !out_model.is_null() {
            *out_model = DyagModel::default();
        }
        let spec = str_arg(model, "model")?;
        open_with(options, out_model, None, || load_engine(Some(spec), None))
    })
}

/// Opens a fine-tuned model: a LoRA adapter folder (PEFT layout, as
/// `dyag_adapter_save` and `dyag finetune` write it) and its base model,
/// `base_model` if not NULL, else the one named in the adapter's
/// adapter_config.json.
///
/// Errors: as `dyag_model_open`, plus FORMAT/IO for the adapter files.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `adapter_dir` is a NUL-terminated string; `base_model` is NULL or one;
/// `options` is NULL or valid; `out_model` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn dyag_model_open_finetuned(
    adapter_dir: *const c_char,
    base_model: *const c_char,
    options: *const DyagModelOptions,
    out_model: *mut DyagModel,
) -> DyagStatus {
    guard(|| {
        if !out_model.is_null() {
            *out_model = DyagModel::default();
        }
        let dir = path_arg(adapter_dir, "adapter_dir")?;
        let base = opt_str_arg(base_model, "base_model")?;
        open_with(options, out_model, Some(dir), || load_engine(base, Some(dir)))
    })
}

/// Frees a model handle. The null handle is accepted (nothing to do); a
/// handle already freed gives INVALID_HANDLE. Adapters trained on the model
/// keep its memory alive until they are freed too. A call running on the
/// model in another thread finishes normally; the memory is released then.
///
/// Thread safety: safe from any thread, also while other threads use the model.
#[no_mangle]
pub extern "C" fn dyag_model_free(model: DyagModel) -> DyagStatus {
    guard(|| {
        if model.id != 0 {
            MODELS.remove(model.id)?;
        }
        Ok(())
    })
}

/// Attaches the LoRA adapter in `adapter_dir` (PEFT layout) to the model,
/// replacing any adapter attached before. Every matrix is checked against
/// the model's shapes.
///
/// Errors: INVALID_HANDLE, NULL_POINTER, INVALID_UTF8, IO, FORMAT.
///
/// Thread safety: safe from any thread; waits for the generations and
/// trainings running on this model to finish before it swaps the adapter.
///
/// # Safety
/// `adapter_dir` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn dyag_model_load_adapter(model: DyagModel, adapter_dir: *const c_char) -> DyagStatus {
    guard(|| {
        let m = MODELS.get(model.id)?;
        let dir = path_arg(adapter_dir, "adapter_dir")?;
        let lora = m.run(|| -> Result<_> {
            let cfg = read_adapter_config(dir)?;
            load_adapter_weights(dir, &cfg, &m.read().base.model)
        })?;
        m.write().set_adapter(Some((lora, dir.display().to_string())), trained_system_prompt(dir));
        Ok(())
    })
}

/// Removes the attached adapter (the model answers as its base again); does
/// nothing when none is attached.
///
/// Thread safety: as `dyag_model_load_adapter`.
#[no_mangle]
pub extern "C" fn dyag_model_remove_adapter(model: DyagModel) -> DyagStatus {
    guard(|| {
        let m = MODELS.get(model.id)?;
        m.write().set_adapter(None, None);
        Ok(())
    })
}

/// Writes a one-line description of the model ("gemma3:270m + LoRA
/// /path/to/adapter") into `buf` (`buf_len` bytes, NUL-terminated, cut on
/// a UTF-8 character boundary if too small). `*out_len`, if `out_len` is
/// not NULL, receives the full length without the NUL: call with
/// `buf = NULL, buf_len = 0` to ask for it (BUFFER_TOO_SMALL is then
/// returned with the length set).
///
/// Errors: INVALID_HANDLE, NULL_POINTER (buf NULL with buf_len > 0),
/// BUFFER_TOO_SMALL.
///
/// Thread safety: safe from any thread.
///
/// # Safety
/// `buf` is NULL or valid for `buf_len` bytes; `out_len` is NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn dyag_model_describe(model: DyagModel, buf: *mut c_char, buf_len: usize, out_len: *mut usize) -> DyagStatus {
    guard(|| {
        let m = MODELS.get(model.id)?;
        let text = m.read().describe();
        write_str_out(&text, buf, buf_len, out_len)
    })
}
