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
            eprintln!("[AVERTISSEMENT] Pas de GPU détecté - utilisation du CPU ({why}). Ajoutez --force-cpu ou --device cpu pour confirmer.");
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
