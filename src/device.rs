//! Which device runs the engine, chosen in one place for the CLI and the C
//! ABI: what the user asked for ([`DeviceChoice`]), what will run
//! ([`Device`]), and the two jobs that differ by device (generation and
//! fine-tuning). The CUDA side exists only with the `cuda` feature; without
//! it, asking for CUDA says how to get it.

use crate::infer::engine::Engine;
use crate::model::lora::LoraAdapter;
use crate::quant::Quantization;
use crate::train::trainer::{Progress, TrainJob, TrainSummary};
use crate::{Error, Result};

/// What the user asked for (`--device`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum DeviceChoice {
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

/// Picks the device. `Auto` without a usable GPU warns as the original tool
/// did, unless the user confirmed the CPU (`force_cpu`, `--force-cpu`).
pub fn resolve(choice: DeviceChoice, force_cpu: bool) -> Result<Device> {
    if force_cpu || choice == DeviceChoice::Cpu {
        return Ok(Device::Cpu);
    }
    match (choice, gpu_status().map_err(|e| e.reason())) {
        (_, Ok(())) => Ok(Device::Cuda),
        (DeviceChoice::Cuda, Err(why)) => Err(Error::Device(format!("--device cuda: {why}"))),
        (_, Err(why)) => {
            eprintln!(
                "[AVERTISSEMENT] Pas de GPU détecté - utilisation du CPU ({why}). Ajoutez --force-cpu ou --device cpu pour confirmer."
            );
            Ok(Device::Cpu)
        }
    }
}

/// Ok if a CUDA GPU can be used, else why not.
fn gpu_status() -> Result<()> {
    #[cfg(feature = "cuda")]
    {
        crate::cuda::probe()
    }
    #[cfg(not(feature = "cuda"))]
    {
        Err(Error::Device("this dyag was built without CUDA support (rebuild with `cargo build --release --features cuda`)".into()))
    }
}

/// Runs `engine`'s generation on `device` (moving the model to the GPU for
/// CUDA, its linear layers stored as `quant`).
pub fn attach(engine: &mut Engine, device: Device, quant: Quantization) -> Result<()> {
    match device {
        Device::Cpu => Ok(()),
        #[cfg(feature = "cuda")]
        Device::Cuda => crate::infer::session_cuda::attach(engine, quant),
        #[cfg(not(feature = "cuda"))]
        Device::Cuda => {
            let _ = (engine, quant);
            gpu_status()
        }
    }
}

/// Fine-tunes on `device`: the CPU trainer, or the GPU step backend with the base
/// weights stored as `quant`.
pub fn train(
    device: Device,
    quant: Quantization,
    job: &TrainJob,
    on_step: &mut dyn FnMut(&Progress) -> bool,
) -> Result<(LoraAdapter, TrainSummary)> {
    match device {
        Device::Cpu => crate::train::trainer::train(job, on_step),
        #[cfg(feature = "cuda")]
        Device::Cuda => crate::train::backend_cuda::train_gpu(quant, job, on_step),
        #[cfg(not(feature = "cuda"))]
        Device::Cuda => {
            let _ = (quant, job, on_step);
            Err(gpu_status().err().unwrap_or_else(|| Error::Device("CUDA is not available".into())))
        }
    }
}
