//! CPU kernels: the SIMD abstraction and f32 matrix multiplication. Ops in
//! `crate::ops` call these; quantised formats have their own kernels in
//! `crate::quant`.

pub mod gemm;
pub mod simd;
pub mod vecops;
