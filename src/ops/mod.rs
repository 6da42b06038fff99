//! The transformer's operations, each with its forward and backward side by
//! side (CPU versions here; CUDA launchers will sit beside them).

pub mod activation;
pub mod adamw;
pub mod attention;
pub mod linear;
pub mod loss;
pub mod lora;
pub mod norm;
pub mod rope;
