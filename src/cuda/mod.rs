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
//! - `tiles`: the block and tile sizes that kernels and launchers share;
//! - `weights`: base weights on the GPU (NF4 or bf16), `elementwise`: copies,
//!   gathers and sums on the GPU.
//!
//! This folder is the runtime only. What runs on it sits beside the CPU code
//! it mirrors: each op's launchers in `ops::*_cuda`, the GPU model and its
//! forward/backward in `model::{cuda, lora_cuda, forward_cuda, backward_cuda}`,
//! the training step backend in `train::backend_cuda` and the generation session in
//! `infer::session_cuda`.

pub mod cache;
pub mod device;
pub mod elementwise;
pub mod kernels;
pub mod loader;
pub mod nvrtc;
pub mod tiles;
pub mod weights;

pub use device::Gpu;

/// Ok if a CUDA GPU can be used by dyag (driver, device of compute capability
/// 8.0 or newer, NVRTC), else a sentence saying why not. Opens the device.
pub fn probe() -> crate::Result<()> {
    Gpu::global().map(|_| ())
}
