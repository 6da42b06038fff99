//! The CUDA backend (feature `cuda`): hand-written kernels (`kernels/*.cu`,
//! embedded in the binary) compiled at run time by NVRTC, launched through
//! cudarc. Nothing is linked at build time: libcuda and libnvrtc are opened
//! when first needed (`loader`), so the same binary builds without a CUDA
//! toolkit and runs on machines without a GPU, where [`probe`] explains why
//! the GPU cannot be used.
//!
//! - `loader`: finds and opens libcuda / libnvrtc, with a reason when absent;
//! - `nvrtc`, `cache`, `kernels`: compiling the embedded sources to CUBIN for
//!   the device's architecture, cached on disk by source hash, architecture and
//!   NVRTC version;
//! - `device`: the context, stream, buffers and launches ([`Gpu`]);
//! - `weights`, `model`: base weights on the GPU (NF4 or bf16) and the CPU
//!   model holding exactly the same values, for comparisons;
//! - `forward`, `backward`, `train`, `session`: the GPU forward/backward pass
//!   mirroring `model::forward`, `model::backward` and `train::step`, the
//!   training engine and the generation session.
//!
//! The launchers of each op sit beside its CPU version (`ops::*_cuda`).

pub mod adapter;
pub mod backward;
pub mod cache;
pub mod device;
pub mod elementwise;
pub mod forward;
pub mod kernels;
pub mod loader;
pub mod model;
pub mod nvrtc;
pub mod session;
pub mod train;
pub mod weights;

pub use device::Gpu;
pub use weights::Quantization;

/// Ok if a CUDA GPU can be used by dyag (driver, device of compute capability
/// 8.0 or newer, NVRTC), else a sentence saying why not. Opens the device.
pub fn probe() -> std::result::Result<(), String> {
    Gpu::global().map(|_| ())
}
