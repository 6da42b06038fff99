//! The CUDA sources, embedded in the binary, and the entry points each one
//! defines (the launchers ask for them by these names; tests/cuda_nvrtc_compile.rs
//! checks that every one is in the compiled CUBIN).

/// `kernels/common.cuh`, given to NVRTC as the header "common.cuh".
pub const COMMON: &str = include_str!("../../kernels/common.cuh");

/// One `.cu` file.
#[derive(Debug)]
pub struct KernelSource {
    /// File name without extension (also the cache file prefix).
    pub name: &'static str,
    pub source: &'static str,
    /// `extern "C"` kernels it defines.
    pub entries: &'static [&'static str],
}

pub static NF4_MATMUL: KernelSource = KernelSource {
    name: "nf4_matmul",
    source: include_str!("../../kernels/nf4_matmul.cu"),
    entries: &["nf4_xwt", "bf16_xwt", "nf4_dyw", "bf16_dyw", "nf4_dequant_bf16"],
};

pub static LORA: KernelSource =
    KernelSource { name: "lora", source: include_str!("../../kernels/lora.cu"), entries: &["lora_fwd", "lora_bwd_dx", "lora_outer"] };

pub static RMSNORM: KernelSource =
    KernelSource { name: "rmsnorm", source: include_str!("../../kernels/rmsnorm.cu"), entries: &["rmsnorm_fwd", "rmsnorm_bwd"] };

pub static ROPE: KernelSource = KernelSource { name: "rope", source: include_str!("../../kernels/rope.cu"), entries: &["rope_rotate"] };

pub static GLU: KernelSource = KernelSource { name: "glu", source: include_str!("../../kernels/glu.cu"), entries: &["glu_fwd", "glu_bwd"] };

pub static ATTENTION: KernelSource = KernelSource {
    name: "attention",
    source: include_str!("../../kernels/attention.cu"),
    entries: &[
        "attn_bwd_dot",
        "attn_fwd_d1",
        "attn_fwd_d2",
        "attn_fwd_d3",
        "attn_fwd_d4",
        "attn_fwd_d5",
        "attn_fwd_d6",
        "attn_fwd_d7",
        "attn_fwd_d8",
        "attn_bwd_dkdv_d1",
        "attn_bwd_dkdv_d2",
        "attn_bwd_dkdv_d3",
        "attn_bwd_dkdv_d4",
        "attn_bwd_dkdv_d5",
        "attn_bwd_dkdv_d6",
        "attn_bwd_dkdv_d7",
        "attn_bwd_dkdv_d8",
        "attn_bwd_dq_d1",
        "attn_bwd_dq_d2",
        "attn_bwd_dq_d3",
        "attn_bwd_dq_d4",
        "attn_bwd_dq_d5",
        "attn_bwd_dq_d6",
        "attn_bwd_dq_d7",
        "attn_bwd_dq_d8",
    ],
};

pub static CROSS_ENTROPY: KernelSource = KernelSource {
    name: "cross_entropy",
    source: include_str!("../../kernels/cross_entropy.cu"),
    entries: &["ce_init", "ce_chunk_stats", "ce_chunk_grad"],
};

pub static ADAMW: KernelSource =
    KernelSource { name: "adamw", source: include_str!("../../kernels/adamw.cu"), entries: &["adamw_step", "sumsq_f64"] };

pub static ELEMENTWISE: KernelSource = KernelSource {
    name: "elementwise",
    source: include_str!("../../kernels/elementwise.cu"),
    entries: &["embed_bf16", "copy2d", "add_inplace", "gather_rows", "scatter_rows"],
};

/// Every kernel source, for the NVRTC compile test and warm-up.
pub static ALL: [&KernelSource; 9] = [&NF4_MATMUL, &LORA, &RMSNORM, &ROPE, &GLU, &ATTENTION, &CROSS_ENTROPY, &ADAMW, &ELEMENTWISE];
