//! LoRA fine-tuning: batching and masking, the training step, the loop,
//! checkpoints.

pub mod backend;
#[cfg(feature = "cuda")]
pub mod backend_cuda;
pub mod checkpoint;
pub mod data;
pub mod export;
pub mod recipe;
pub mod schedule;
pub mod step;
pub mod trainer;
