//! The transformer's operations, each with its forward and backward side by
//! side: the CPU versions in `<op>.rs`, the CUDA launchers of `kernels/*.cu`
//! beside them in `<op>_cuda.rs` (feature `cuda`).

pub mod activation;
pub mod adamw;
pub mod attention;
pub mod linear;
pub mod lora;
pub mod loss;
pub mod norm;
pub mod rope;

#[cfg(feature = "cuda")]
pub mod activation_cuda;
#[cfg(feature = "cuda")]
pub mod adamw_cuda;
#[cfg(feature = "cuda")]
pub mod attention_cuda;
#[cfg(feature = "cuda")]
pub mod linear_cuda;
#[cfg(feature = "cuda")]
pub mod lora_cuda;
#[cfg(feature = "cuda")]
pub mod loss_cuda;
#[cfg(feature = "cuda")]
pub mod norm_cuda;
#[cfg(feature = "cuda")]
pub mod rope_cuda;
