//! The numbers that the CUDA kernels and their launchers must agree on:
//! threads per block, tile shapes, limits. Written once, here: NVRTC receives
//! them as `-D` defines ([`DEFINES`], added by `nvrtc::options`, so they are
//! part of the kernel cache key), the launchers size their grids and shared
//! memory with these constants, and the Python simulators of
//! `scripts/cuda_sim` read this file.

/// Threads per block of every kernel.
pub const THREADS: usize = 256;

/// NF4/bf16 matmul (`nf4_matmul.cu`): output tile rows and columns, reduction step.
pub const MM_BM: usize = 64;
pub const MM_BN: usize = 128;
pub const MM_BK: usize = 64;

/// LoRA (`lora.cu`): rows of x per block of the fused forward/backward,
/// reduction chunk, largest rank, and ranks per block of the outer products
/// (whose blocks own `THREADS` columns each).
pub const LORA_TM: usize = 16;
pub const LORA_TK: usize = 128;
pub const LORA_MAX_RANK: usize = 256;
pub const LORA_OUTER_RANKS: usize = 16;

/// Attention (`attention.cu`): query and key tiles of the forward pass, of
/// the dK/dV backward pass, and of the dQ backward pass; heads per block of
/// the D = dO·O step (one warp each); the largest head dimension.
pub const ATTN_FQ: usize = 32;
pub const ATTN_FK: usize = 32;
pub const ATTN_BQT: usize = 16;
pub const ATTN_BKT: usize = 16;
pub const ATTN_QQT: usize = 16;
pub const ATTN_QKT: usize = 32;
pub const ATTN_DOT_HEADS: usize = THREADS / 32;
pub const ATTN_MAX_HEAD_DIM: usize = 256;

/// Every constant above as `(name, value)`, passed to NVRTC as `-DDYAG_<name>=<value>`.
pub const DEFINES: [(&str, usize); 16] = [
    ("THREADS", THREADS),
    ("MM_BM", MM_BM),
    ("MM_BN", MM_BN),
    ("MM_BK", MM_BK),
    ("LORA_TM", LORA_TM),
    ("LORA_TK", LORA_TK),
    ("LORA_MAX_RANK", LORA_MAX_RANK),
    ("LORA_OUTER_RANKS", LORA_OUTER_RANKS),
    ("ATTN_FQ", ATTN_FQ),
    ("ATTN_FK", ATTN_FK),
    ("ATTN_BQT", ATTN_BQT),
    ("ATTN_BKT", ATTN_BKT),
    ("ATTN_QQT", ATTN_QQT),
    ("ATTN_QKT", ATTN_QKT),
    ("ATTN_DOT_HEADS", ATTN_DOT_HEADS),
    ("ATTN_MAX_HEAD_DIM", ATTN_MAX_HEAD_DIM),
];
