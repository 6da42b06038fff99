//! Options shared by several commands: device choice and thread count.

use crate::{Error, Result};

/// `--device`: where the work runs.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceArg {
    /// The GPU if one is usable, else the CPU (with a warning).
    Auto,
    Cuda,
    Cpu,
}

/// The device that will actually run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Device {
    Cpu,
    Cuda,
}

/// Picks the device. `auto` without a usable GPU warns as the original tool
/// did, unless the user confirmed the CPU (`--force-cpu`).
pub fn resolve_device(arg: DeviceArg, force_cpu: bool) -> Result<Device> {
    if force_cpu || arg == DeviceArg::Cpu {
        return Ok(Device::Cpu);
    }
    let gpu = gpu_status();
    match (arg, gpu) {
        (_, Ok(())) => Ok(Device::Cuda),
        (DeviceArg::Cuda, Err(why)) => Err(Error::Device(format!("--device cuda: {why}"))),
        (_, Err(why)) => {
            eprintln!(
                "[AVERTISSEMENT] Pas de GPU détecté - utilisation du CPU ({why}). Ajoutez --force-cpu ou --device cpu pour confirmer."
            );
            Ok(Device::Cpu)
        }
    }
}

/// Ok if a CUDA GPU can be used, else why not.
fn gpu_status() -> std::result::Result<(), String> {
    #[cfg(feature = "cuda")]
    {
        crate::cuda::probe()
    }
    #[cfg(not(feature = "cuda"))]
    {
        Err("this dyag was built without CUDA support (rebuild with `cargo build --release --features cuda`)".into())
    }
}

/// `--quantization`: how the base model's linear layers are stored on the GPU
/// (the CPU always computes from the model file's own format).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuantizationArg {
    /// QLoRA's 4-bit NormalFloat, blocks of 64, double-quantised scales.
    Nf4,
    /// bfloat16.
    Bf16,
}

#[cfg(feature = "cuda")]
impl From<QuantizationArg> for crate::cuda::Quantization {
    fn from(q: QuantizationArg) -> Self {
        match q {
            QuantizationArg::Nf4 => crate::cuda::Quantization::Nf4,
            QuantizationArg::Bf16 => crate::cuda::Quantization::Bf16,
        }
    }
}

/// Runs `engine`'s generation on `device` (moving the model to the GPU for CUDA).
pub fn attach_device(engine: &mut crate::infer::engine::Engine, device: Device, quant: QuantizationArg) -> Result<()> {
    match device {
        Device::Cpu => Ok(()),
        #[cfg(feature = "cuda")]
        Device::Cuda => crate::cuda::session::attach(engine, quant.into()),
        #[cfg(not(feature = "cuda"))]
        Device::Cuda => {
            let _ = (engine, quant);
            Err(Error::Device(gpu_status().err().unwrap_or_default()))
        }
    }
}

/// Fine-tunes on `device`: the CPU trainer, or the GPU engine with the base
/// weights stored as `quant`.
pub fn train_on_device(
    device: Device,
    quant: QuantizationArg,
    job: &crate::train::trainer::TrainJob,
    on_step: &mut dyn FnMut(&crate::train::trainer::Progress) -> bool,
) -> Result<(crate::model::lora::LoraAdapter, crate::train::trainer::TrainSummary)> {
    match device {
        Device::Cpu => crate::train::trainer::train(job, on_step),
        #[cfg(feature = "cuda")]
        Device::Cuda => crate::cuda::train::train_gpu(quant.into(), job, on_step),
        #[cfg(not(feature = "cuda"))]
        Device::Cuda => {
            let _ = quant;
            Err(Error::Device(gpu_status().err().unwrap_or_default()))
        }
    }
}

/// Sizes rayon's global pool (default: all cores).
pub fn apply_threads(threads: Option<usize>) -> Result<()> {
    if let Some(n) = threads {
        if n == 0 {
            return Err(Error::invalid("--threads must be at least 1"));
        }
        rayon::ThreadPoolBuilder::new().num_threads(n).build_global().map_err(|e| Error::msg(format!("cannot start {n} threads: {e}")))?;
    }
    Ok(())
}
