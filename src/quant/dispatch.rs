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
        let (level, warning) = choose_level(std::env::var("DYAG_SIMD").ok().as_deref(), detected_level());
        if let Some(w) = warning {
            eprintln!("warning: {w}");
        }
        level
    })
}

/// The level for a `DYAG_SIMD` value on a CPU whose best level is `best`,
/// and a warning when the request cannot be honoured.
fn choose_level(request: Option<&str>, best: SimdLevel) -> (SimdLevel, Option<String>) {
    let Some(v) = request.filter(|v| !v.trim().is_empty()) else { return (best, None) };
    match SimdLevel::parse(v) {
        Some(l) if l <= best => (l, None),
        Some(l) => (best, Some(format!("DYAG_SIMD={v}: this CPU cannot run {l} kernels ({}); using {best}", cpu_features()))),
        None => (best, Some(format!("DYAG_SIMD={v} is not one of scalar, avx2, avx512; using {best}"))),
    }
}

/// A dequantisation kernel: `src` holds whole blocks, `dst` exactly their values.
type DequantKernel = unsafe fn(&[u8], &mut [f32]);

/// Dequantises whole blocks at `level` (lowered to what the CPU supports).
///
/// # Safety
/// `src` is a whole number of blocks of `ty` and `dst` holds exactly their
/// values (`check_lengths`): the kernels read and write by those counts.
pub(crate) unsafe fn dequantize_at(level: SimdLevel, ty: GgmlType, src: &[u8], dst: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        use super::x86::{avx2, avx512};
        use GgmlType::*;
        let level = level.min(detected_level());
        // SAFETY: `level` is at most what the CPU supports (lowered above); the
        // `Avx512` level also has AVX2, FMA and F16C (`detect`), so the AVX2
        // kernels in its arm may run too; the lengths are this function's
        // contract (its one caller, `dequantize_with`, ran `check_lengths`).
        unsafe {
            match level {
                SimdLevel::Avx512 => {
                    let k: Option<DequantKernel> = match ty {
                        F32 => Some(avx512::dequant_f32),
                        F16 => Some(avx512::dequant_f16),
                        BF16 => Some(avx512::dequant_bf16),
                        Q4_0 => Some(avx512::dequant_q4_0),
                        Q4_1 => Some(avx512::dequant_q4_1),
                        Q5_0 => Some(avx512::dequant_q5_0),
                        Q5_1 => Some(avx512::dequant_q5_1),
                        Q8_0 => Some(avx512::dequant_q8_0),
                        Q8_1 => Some(avx512::dequant_q8_1),
                        // The AVX2 kernels serve these at the AVX-512 level: for
                        // the K-quants they dequantised 10-30% faster than 16-lane
                        // versions (measured; the dot products are the other way).
                        Q4_K => Some(avx2::dequant_q4_k),
                        Q5_K => Some(avx2::dequant_q5_k),
                        Q6_K => Some(avx2::dequant_q6_k),
                        Q2_K => Some(avx2::dequant_q2_k),
                        Q3_K => Some(avx2::dequant_q3_k),
                        Q8_K => None,
                    };
                    if let Some(k) = k {
                        return k(src, dst);
                    }
                }
                SimdLevel::Avx2 => {
                    let k: Option<DequantKernel> = match ty {
                        F32 => Some(avx2::dequant_f32),
                        F16 => Some(avx2::dequant_f16),
                        BF16 => Some(avx2::dequant_bf16),
                        Q4_0 => Some(avx2::dequant_q4_0),
                        Q4_1 => Some(avx2::dequant_q4_1),
                        Q5_0 => Some(avx2::dequant_q5_0),
                        Q5_1 => Some(avx2::dequant_q5_1),
                        Q8_0 => Some(avx2::dequant_q8_0),
                        Q8_1 => Some(avx2::dequant_q8_1),
                        Q2_K => Some(avx2::dequant_q2_k),
                        Q3_K => Some(avx2::dequant_q3_k),
                        Q4_K => Some(avx2::dequant_q4_k),
                        Q5_K => Some(avx2::dequant_q5_k),
                        Q6_K => Some(avx2::dequant_q6_k),
                        Q8_K => None,
                    };
                    if let Some(k) = k {
                        return k(src, dst);
                    }
                }
                SimdLevel::Scalar => {}
            }
        }
    }
    let _ = level;
    reference::dequantize_blocks(ty, src, dst)
}

/// A dot-product kernel: `row` holds whole blocks and `x` at least their values.
pub(crate) type DotKernel = unsafe fn(&[u8], &[f32]) -> f32;

/// The SIMD dot kernel of `ty` at `level` (lowered to what the CPU supports),
/// or None for the portable path. Calling it is sound for whole-block rows with
/// a long enough `x`: the level was checked against the CPU here.
pub(crate) fn dot_kernel(level: SimdLevel, ty: GgmlType) -> Option<DotKernel> {
    let level = level.min(detected_level());
    #[cfg(target_arch = "x86_64")]
    {
        use super::x86::{avx2, avx512};
        use GgmlType::*;
        match level {
            SimdLevel::Avx512 => {
                return Some(match ty {
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
                })
            }
            SimdLevel::Avx2 => {
                return Some(match ty {
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
                })
            }
            SimdLevel::Scalar => {}
        }
    }
    let _ = (level, ty);
    None
}

/// Σ dequant(row)[i] * x[i] at `level` (lowered to what the CPU supports).
/// `row` and `x` are trimmed to the same whole number of blocks by the caller.
pub(crate) fn dot_at(level: SimdLevel, ty: GgmlType, row: &[u8], x: &[f32]) -> f32 {
    match dot_kernel(level, ty) {
        // SAFETY: `dot_kernel` lowered the level to what the CPU supports; the
        // only caller, `dot_with`, trimmed `row` and `x` to the same whole blocks
        // (`common_blocks`).
        Some(k) => unsafe { k(row, x) },
        None => scalar::dot_blocks(ty, row, x),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dyag_simd_selects_and_clamps() {
        use SimdLevel::*;
        assert_eq!(choose_level(None, Avx512), (Avx512, None));
        assert_eq!(choose_level(Some(""), Avx2), (Avx2, None));
        assert_eq!(choose_level(Some("scalar"), Avx512), (Scalar, None));
        assert_eq!(choose_level(Some(" AVX2 "), Avx512), (Avx2, None));
        let (l, w) = choose_level(Some("avx512"), Avx2);
        assert_eq!(l, Avx2);
        assert!(w.unwrap().contains("cannot run avx512"));
        let (l, w) = choose_level(Some("neon"), Scalar);
        assert_eq!(l, Scalar);
        assert!(w.unwrap().contains("not one of scalar, avx2, avx512"));
    }

    #[test]
    fn levels_are_ordered_and_named() {
        assert!(SimdLevel::Scalar < SimdLevel::Avx2 && SimdLevel::Avx2 < SimdLevel::Avx512);
        for l in SimdLevel::ALL {
            assert_eq!(SimdLevel::parse(l.name()), Some(l));
        }
        assert!(available_levels().contains(&SimdLevel::Scalar));
        assert_eq!(available_levels().last(), Some(&detected_level()));
    }
}
