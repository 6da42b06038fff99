//! Block formats of quantised weights (ggml's Q*_0/Q*_1, K-quants; NF4 later):
//! `#[repr(C)]` block structs with compile-time size checks (`blocks`), a
//! scalar reference dequantiser for each that is bit-identical to ggml's
//! (`reference`), and SIMD kernels beside them (`x86`), picked at run time
//! (`dispatch`).
//!
//! Two operations matter to the engine:
//! - [`dequantize`]: unpack weights to f32 (weight panels for GEMM, small tensors);
//!   exact at every SIMD level.
//! - [`dot`] / [`dot_rows`]: Σ dequant(row)[i] · x[i] for one weight row (or
//!   each row of a matrix), the decode-time matrix-vector hot loop; the weights
//!   are the exact dequantised values and the products are accumulated in f32
//!   (only the summation order differs between levels).
//!
//! Levels ([`SimdLevel`]): the best the CPU supports is detected once
//! ([`cpu_features`]); `DYAG_SIMD=scalar|avx2|avx512` forces a lower one, and
//! the `*_with` functions take one explicitly (tests and benchmarks).
//! Weights may sit at any byte offset (GGUF alignment can be 1, safetensors
//! headers any length): every kernel reads them unaligned.

pub mod blocks;
mod dispatch;
pub mod nf4;
pub mod random;
mod reference;
mod scalar;
pub mod tensor;
#[cfg(target_arch = "x86_64")]
mod x86;

use crate::{Error, Result};
pub use dispatch::{available_levels, cpu_features, detected_level, simd_level, SimdLevel};

/// Element types of GGUF tensors, with ggml's numeric ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[allow(non_camel_case_types)]
#[repr(u32)]
pub enum GgmlType {
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    BF16 = 30,
}

impl GgmlType {
    /// The type with ggml id `id`, if dyag supports it.
    pub fn from_id(id: u32) -> Option<Self> {
        use GgmlType::*;
        Some(match id {
            0 => F32,
            1 => F16,
            2 => Q4_0,
            3 => Q4_1,
            6 => Q5_0,
            7 => Q5_1,
            8 => Q8_0,
            9 => Q8_1,
            10 => Q2_K,
            11 => Q3_K,
            12 => Q4_K,
            13 => Q5_K,
            14 => Q6_K,
            15 => Q8_K,
            30 => BF16,
            _ => return None,
        })
    }

    /// All the types dyag supports.
    pub const ALL: [GgmlType; 15] = {
        use GgmlType::*;
        [F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K]
    };

    /// ggml's numeric id.
    pub const fn id(self) -> u32 {
        self as u32
    }

    /// The name ggml and gguf-py print (`Q4_K`, `BF16`...).
    pub const fn name(self) -> &'static str {
        use GgmlType::*;
        match self {
            F32 => "F32",
            F16 => "F16",
            BF16 => "BF16",
            Q4_0 => "Q4_0",
            Q4_1 => "Q4_1",
            Q5_0 => "Q5_0",
            Q5_1 => "Q5_1",
            Q8_0 => "Q8_0",
            Q8_1 => "Q8_1",
            Q2_K => "Q2_K",
            Q3_K => "Q3_K",
            Q4_K => "Q4_K",
            Q5_K => "Q5_K",
            Q6_K => "Q6_K",
            Q8_K => "Q8_K",
        }
    }

    /// The type named `name` (case-insensitive), if dyag supports it.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name().eq_ignore_ascii_case(name))
    }

    /// Elements per block.
    pub const fn block_size(self) -> usize {
        use GgmlType::*;
        match self {
            F32 | F16 | BF16 => 1,
            Q4_0 | Q4_1 | Q5_0 | Q5_1 | Q8_0 | Q8_1 => 32,
            Q2_K | Q3_K | Q4_K | Q5_K | Q6_K | Q8_K => 256,
        }
    }

    /// Bytes per block.
    pub const fn block_bytes(self) -> usize {
        use GgmlType::*;
        match self {
            F32 => 4,
            F16 | BF16 => 2,
            Q4_0 => 18,
            Q4_1 => 20,
            Q5_0 => 22,
            Q5_1 => 24,
            Q8_0 => 34,
            Q8_1 => 36,
            Q2_K => 84,
            Q3_K => 110,
            Q4_K => 144,
            Q5_K => 176,
            Q6_K => 210,
            Q8_K => 292,
        }
    }

    /// Bytes of a row of `n` elements, or None if `n` is not a whole number of blocks.
    pub fn row_bytes(self, n: usize) -> Option<usize> {
        if !n.is_multiple_of(self.block_size()) {
            return None;
        }
        (n / self.block_size()).checked_mul(self.block_bytes())
    }

    /// Bytes of a whole tensor of this shape (row-major), None on overflow or partial blocks.
    pub fn tensor_bytes(self, shape: &[usize]) -> Option<usize> {
        let cols = *shape.last().unwrap_or(&1);
        let rows = shape[..shape.len().saturating_sub(1)].iter().try_fold(1usize, |a, &d| a.checked_mul(d))?;
        self.row_bytes(cols)?.checked_mul(rows)
    }
}

/// Checks that `src` is whole blocks of `ty` and that `dst` holds their values.
fn check_lengths(ty: GgmlType, src: &[u8], dst: &[f32]) -> Result<()> {
    let bb = ty.block_bytes();
    if !src.len().is_multiple_of(bb) {
        return Err(Error::invalid(format!("{ty}: {} bytes is not a whole number of {bb}-byte blocks", src.len())));
    }
    let n = src.len() / bb * ty.block_size();
    if dst.len() != n {
        return Err(Error::invalid(format!("{ty}: {} blocks hold {n} values but the output has room for {}", src.len() / bb, dst.len())));
    }
    Ok(())
}

/// Dequantises `src` (a whole number of blocks) into `dst` with the fastest
/// kernels this CPU runs (or those `DYAG_SIMD` asks for). Bit-identical to
/// [`dequantize_reference`]. Errors (InvalidArgument) when the lengths do not match.
pub fn dequantize(ty: GgmlType, src: &[u8], dst: &mut [f32]) -> Result<()> {
    dequantize_with(simd_level(), ty, src, dst)
}

/// [`dequantize`] with the kernels of `level` (lowered to what the CPU runs).
pub fn dequantize_with(level: SimdLevel, ty: GgmlType, src: &[u8], dst: &mut [f32]) -> Result<()> {
    check_lengths(ty, src, dst)?;
    // SAFETY: check_lengths just verified dequantize_at's contract.
    unsafe { dispatch::dequantize_at(level, ty, src, dst) };
    Ok(())
}

/// The scalar reference dequantiser: ggml's `dequantize_row_*`, operation for operation.
pub fn dequantize_reference(ty: GgmlType, src: &[u8], dst: &mut [f32]) -> Result<()> {
    check_lengths(ty, src, dst)?;
    reference::dequantize_blocks(ty, src, dst);
    Ok(())
}

/// The whole blocks that `row` and `x` have in common.
fn common_blocks<'a, 'b>(ty: GgmlType, row: &'a [u8], x: &'b [f32]) -> (&'a [u8], &'b [f32]) {
    let (bb, bs) = (ty.block_bytes(), ty.block_size());
    debug_assert!(
        row.len().is_multiple_of(bb) && row.len() / bb * bs == x.len(),
        "dot {ty}: {} row bytes do not match {} values of x",
        row.len(),
        x.len()
    );
    let n = (row.len() / bb).min(x.len() / bs);
    (&row[..n * bb], &x[..n * bs])
}

/// Σ dequant(row)[i] · x[i] for one weight row, accumulated in f32, with the
/// fastest kernels this CPU runs. `row` must hold whole blocks and `x` their
/// number of values (checked in debug builds); if they do not, only the whole
/// blocks both cover are used, and nothing is ever read out of bounds.
pub fn dot(ty: GgmlType, row: &[u8], x: &[f32]) -> f32 {
    dot_with(simd_level(), ty, row, x)
}

/// [`dot`] with the kernels of `level` (lowered to what the CPU runs).
pub fn dot_with(level: SimdLevel, ty: GgmlType, row: &[u8], x: &[f32]) -> f32 {
    let (row, x) = common_blocks(ty, row, x);
    dispatch::dot_at(level, ty, row, x)
}

/// `y[r] = dot(row r, x)` for consecutive rows of `x.len()` values each: a
/// matrix-vector product over `rows` (`y.len()` rows of whole blocks), with the
/// kernel chosen once rather than per row (it matters for short rows and huge
/// matrices such as a 262144-row output head). Errors (InvalidArgument) when the
/// lengths do not fit.
pub fn dot_rows(ty: GgmlType, rows: &[u8], x: &[f32], y: &mut [f32]) -> Result<()> {
    dot_rows_with(simd_level(), ty, rows, x, y)
}

/// [`dot_rows`] with the kernels of `level` (lowered to what the CPU runs).
pub fn dot_rows_with(level: SimdLevel, ty: GgmlType, rows: &[u8], x: &[f32], y: &mut [f32]) -> Result<()> {
    let rb = ty
        .row_bytes(x.len())
        .ok_or_else(|| Error::invalid(format!("{ty}: x has {} values, not a whole number of {}-value blocks", x.len(), ty.block_size())))?;
    if y.len().checked_mul(rb) != Some(rows.len()) {
        return Err(Error::invalid(format!("{ty}: {} bytes of rows do not hold {} rows of {rb} bytes", rows.len(), y.len())));
    }
    if rb == 0 {
        y.fill(0.0);
        return Ok(());
    }
    match dispatch::dot_kernel(level, ty) {
        // SAFETY: `dot_kernel` checked the level against the CPU; each row is
        // `rb` bytes of whole blocks and `x` holds exactly their values.
        Some(k) => rows.chunks_exact(rb).zip(y.iter_mut()).for_each(|(r, out)| *out = unsafe { k(r, x) }),
        None => rows.chunks_exact(rb).zip(y.iter_mut()).for_each(|(r, out)| *out = scalar::dot_blocks(ty, r, x)),
    }
    Ok(())
}

/// The reference dot product: the reference weights times `x`, summed in f32
/// strictly in index order.
pub fn dot_reference(ty: GgmlType, row: &[u8], x: &[f32]) -> f32 {
    let (row, x) = common_blocks(ty, row, x);
    reference::dot_blocks(ty, row, x)
}

impl std::fmt::Display for GgmlType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How the base model's linear layers are stored on the GPU (`--quantization`;
/// the CPU always computes from the model file's own format).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Quantization {
    /// QLoRA's NF4 with double quantisation of the scales (4.127 bits per weight).
    Nf4,
    /// bf16 (16 bits per weight).
    Bf16,
}

impl Quantization {
    pub fn name(self) -> &'static str {
        match self {
            Quantization::Nf4 => "nf4",
            Quantization::Bf16 => "bf16",
        }
    }
}
