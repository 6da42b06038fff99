//! Options shared by several commands: device choice, GPU weight storage and
//! thread count. The choices themselves are the library's (`crate::device`);
//! these are their command-line spellings.

use crate::device::DeviceChoice;
use crate::quant::Quantization;
use crate::{Error, Result};

/// `--device`: where the work runs.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceArg {
    /// The GPU if one is usable, else the CPU (with a warning).
    Auto,
    Cuda,
    Cpu,
}

impl From<DeviceArg> for DeviceChoice {
    fn from(d: DeviceArg) -> Self {
        match d {
            DeviceArg::Auto => DeviceChoice::Auto,
            DeviceArg::Cuda => DeviceChoice::Cuda,
            DeviceArg::Cpu => DeviceChoice::Cpu,
        }
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

impl From<QuantizationArg> for Quantization {
    fn from(q: QuantizationArg) -> Self {
        match q {
            QuantizationArg::Nf4 => Quantization::Nf4,
            QuantizationArg::Bf16 => Quantization::Bf16,
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
