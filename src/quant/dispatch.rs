//! Which kernels run: the CPU's features are detected once, `DYAG_SIMD`
//! (scalar | avx2 | avx512) may force a lower level for tests and benchmarks,
//! and each call is routed to the kernel of its type at that level.

use super::{reference, scalar, GgmlType};
use std::sync::OnceLock;

/// A family of kernels, from the portable one up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SimdLevel {
    /// Portable Rust, no explicit SIMD.
    Scalar,
    /// AVX2 + FMA + F16C (x86-64 since Haswell / Zen).
    Avx2,
    /// AVX-512 F + BW + VL, with FMA and F16C (Skylake-X, Ice Lake, Zen 4...).
    Avx512,
}

impl SimdLevel {
    pub const ALL: [SimdLevel; 3] = [SimdLevel::Scalar, SimdLevel::Avx2, SimdLevel::Avx512];

    pub fn name(self) -> &'static str {
        match self {
            SimdLevel::Scalar => "scalar",
            SimdLevel::Avx2 => "avx2",
            SimdLevel::Avx512 => "avx512",
        }
    }

    /// Parses a `DYAG_SIMD` value.
    pub fn parse(s: &str) -> Option<Self> {
        SimdLevel::ALL.into_iter().find(|l| l.name().eq_ignore_ascii_case(s.trim()))
    }
}

impl std::fmt::Display for SimdLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

struct Cpu {
    best: SimdLevel,
    features: String,
}

fn cpu() -> &'static Cpu {
    static CPU: OnceLock<Cpu> = OnceLock::new();
    CPU.get_or_init(detect)
}

#[cfg(target_arch = "x86_64")]
fn detect() -> Cpu {
    let mut names = Vec::new();
    macro_rules! probe {
        ($($f:tt),*) => { $( if is_x86_feature_detected!($f) { names.push($f); } )* };
    }
    probe!("avx512f", "avx512bw", "avx512vl", "avx2", "fma", "f16c");
    let has = |f: &str| names.contains(&f);
    let avx2 = has("avx2") && has("fma") && has("f16c");
    let best = if avx2 && has("avx512f") && has("avx512bw") && has("avx512vl") {
        SimdLevel::Avx512
    } else if avx2 {
        SimdLevel::Avx2
    } else {
        SimdLevel::Scalar
    };
    let features = if names.is_empty() { "none".to_string() } else { names.join("+") };
    Cpu { best, features }
}

#[cfg(not(target_arch = "x86_64"))]
fn detect() -> Cpu {
    Cpu { best: SimdLevel::Scalar, features: "none".to_string() }
}

/// The CPU features that matter to the kernels, as detected, e.g.
/// `avx512f+avx512bw+avx512vl+avx2+fma+f16c`.
pub fn cpu_features() -> &'static str {
    &cpu().features
}

/// The best level this CPU can run.
pub fn detected_level() -> SimdLevel {
    cpu().best
}

/// Every level this CPU can run, lowest first (for tests and benchmarks).
pub fn available_levels() -> Vec<SimdLevel> {
    SimdLevel::ALL.into_iter().filter(|l| *l <= detected_level()).collect()
}

/// The level `dequantize` and `dot` use: the detected one, or `DYAG_SIMD` if
/// set (lowered to what the CPU supports, with a warning on stderr).
pub fn simd_level() -> SimdLevel {
    static LEVEL: OnceLock<SimdLevel> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        let best = detected_level();
        let Ok(v) = std::env::var("DYAG_SIMD") else { return best };
        match SimdLevel::parse(&v) {
            Some(l) if l <= best => l,
            Some(l) => {
                eprintln!("warning: DYAG_SIMD={v}: this CPU cannot run {l} kernels ({}); using {best}", cpu_features());
                best
            }
            None => {
                eprintln!("warning: DYAG_SIMD={v} is not one of scalar, avx2, avx512; using {best}");
                best
            }
        }
    })
}

/// Dequantises whole blocks at `level` (lowered to what the CPU supports).
/// Lengths are checked by the caller.
pub(crate) fn dequantize_at(level: SimdLevel, ty: GgmlType, src: &[u8], dst: &mut [f32]) {
    let level = level.min(detected_level());
    #[cfg(target_arch = "x86_64")]
    {
        use super::x86::{avx2, avx512};
        use GgmlType::*;
        // SAFETY: `level` is at most what the CPU supports (checked above),
        // and the caller passes whole blocks with `dst` sized to match.
        unsafe {
            match level {
                SimdLevel::Avx512 => {
                    let k: Option<unsafe fn(&[u8], &mut [f32])> = match ty {
                        F32 => Some(avx512::dequant_f32),
                        F16 => Some(avx512::dequant_f16),
                        BF16 => Some(avx512::dequant_bf16),
                        Q4_0 => Some(avx512::dequant_q4_0),
                        Q4_1 => Some(avx512::dequant_q4_1),
                        Q5_0 => Some(avx512::dequant_q5_0),
                        Q5_1 => Some(avx512::dequant_q5_1),
                        Q8_0 => Some(avx512::dequant_q8_0),
                        Q4_K => Some(avx512::dequant_q4_k),
                        Q5_K => Some(avx512::dequant_q5_k),
                        Q6_K => Some(avx512::dequant_q6_k),
                        Q8_1 | Q2_K | Q3_K | Q8_K => None,
                    };
                    if let Some(k) = k {
                        return k(src, dst);
                    }
                }
                SimdLevel::Avx2 => {
                    let k: Option<unsafe fn(&[u8], &mut [f32])> = match ty {
                        F32 => Some(avx2::dequant_f32),
                        F16 => Some(avx2::dequant_f16),
                        BF16 => Some(avx2::dequant_bf16),
                        Q4_0 => Some(avx2::dequant_q4_0),
                        Q4_1 => Some(avx2::dequant_q4_1),
                        Q5_0 => Some(avx2::dequant_q5_0),
                        Q5_1 => Some(avx2::dequant_q5_1),
                        Q8_0 => Some(avx2::dequant_q8_0),
                        Q4_K => Some(avx2::dequant_q4_k),
                        Q5_K => Some(avx2::dequant_q5_k),
                        Q6_K => Some(avx2::dequant_q6_k),
                        Q8_1 | Q2_K | Q3_K | Q8_K => None,
                    };
                    if let Some(k) = k {
                        return k(src, dst);
                    }
                }
                SimdLevel::Scalar => {}
            }
        }
    }
    reference::dequantize_blocks(ty, src, dst)
}

/// Σ dequant(row)[i] * x[i] at `level` (lowered to what the CPU supports).
/// `row` and `x` are trimmed to the same whole number of blocks by the caller.
pub(crate) fn dot_at(level: SimdLevel, ty: GgmlType, row: &[u8], x: &[f32]) -> f32 {
    let level = level.min(detected_level());
    #[cfg(target_arch = "x86_64")]
    {
        use super::x86::{avx2, avx512};
        use GgmlType::*;
        // SAFETY: as in `dequantize_at`; `x` holds as many elements as `row`.
        unsafe {
            match level {
                SimdLevel::Avx512 => {
                    let k: unsafe fn(&[u8], &[f32]) -> f32 = match ty {
                        F32 => avx512::dot_f32,
                        F16 => avx512::dot_f16,
                        BF16 => avx512::dot_bf16,
                        Q4_0 => avx512::dot_q4_0,
                        Q4_1 => avx512::dot_q4_1,
                        Q5_0 => avx512::dot_q5_0,
                        Q5_1 => avx512::dot_q5_1,
                        Q8_0 => avx512::dot_q8_0,
                        Q8_1 => avx512::dot_q8_1,
                        Q2_K => avx512::dot_q2_k,
                        Q3_K => avx512::dot_q3_k,
                        Q4_K => avx512::dot_q4_k,
                        Q5_K => avx512::dot_q5_k,
                        Q6_K => avx512::dot_q6_k,
                        Q8_K => avx512::dot_q8_k,
                    };
                    return k(row, x);
                }
                SimdLevel::Avx2 => {
                    let k: unsafe fn(&[u8], &[f32]) -> f32 = match ty {
                        F32 => avx2::dot_f32,
                        F16 => avx2::dot_f16,
                        BF16 => avx2::dot_bf16,
                        Q4_0 => avx2::dot_q4_0,
                        Q4_1 => avx2::dot_q4_1,
                        Q5_0 => avx2::dot_q5_0,
                        Q5_1 => avx2::dot_q5_1,
                        Q8_0 => avx2::dot_q8_0,
                        Q8_1 => avx2::dot_q8_1,
                        Q2_K => avx2::dot_q2_k,
                        Q3_K => avx2::dot_q3_k,
                        Q4_K => avx2::dot_q4_k,
                        Q5_K => avx2::dot_q5_k,
                        Q6_K => avx2::dot_q6_k,
                        Q8_K => avx2::dot_q8_k,
                    };
                    return k(row, x);
                }
                SimdLevel::Scalar => {}
            }
        }
    }
    scalar::dot_blocks(ty, row, x)
}
