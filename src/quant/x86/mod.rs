//! x86-64 SIMD kernels: AVX2 (+FMA, F16C) and AVX-512 (F, BW, VL).
//! `dispatch.rs` calls them only after checking the CPU's features.

pub mod avx2;
pub mod avx512;
