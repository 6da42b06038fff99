//! NF4 ("4-bit NormalFloat") as QLoRA defines it and bitsandbytes stores it:
//! blocks of 64 values, each with an absmax scale; each value is the index
//! (0..16) of the nearest entry of a fixed code table after division by the
//! block's absmax; two indices per byte, the first in the high nibble.
//! Optional double quantisation ("compress_statistics") stores the absmax
//! values themselves in 8 bits: their mean is subtracted, and they are
//! quantised in blocks of 256 with bitsandbytes' signed dynamic 8-bit map.
//!
//! This is the scalar CPU reference: it quantises (from f32, bf16, or any
//! GGUF type through exact dequantisation) and dequantises, and it is what
//! the CUDA dequant-matmul kernels are tested against. Expected values come
//! from `tests/data/nf4/make_reference.py` (numpy, bitsandbytes' definitions).
//!
//! Layout constraint: a tensor's rows must be whole blocks (`cols % 64 == 0`),
//! so that a block never straddles two rows; the GPU kernels rely on it. Every
//! model dyag supports satisfies it.

use crate::quant::tensor::QTensor;
use crate::{Error, Result};
use rayon::prelude::*;
use std::sync::OnceLock;

/// Values per NF4 block (QLoRA's blocksize).
pub const BLOCK: usize = 64;
/// Absmax values per second-level block in double quantisation.
pub const DQ_BLOCK: usize = 256;

/// The NF4 code table: bitsandbytes `get_4bit_type("nf4")`, the float32 values
/// published with QLoRA (arXiv:2305.14314, appendix E), digits as published.
#[allow(clippy::excessive_precision)]
pub const NF4_CODE: [f32; 16] = [
    -1.0,
    -0.696_192_800_998_687_7,
    -0.525_073_051_452_636_7,
    -0.394_917_488_098_144_53,
    -0.284_441_381_692_886_35,
    -0.184_773_430_228_233_34,
    -0.091_050_036_251_544_95,
    0.0,
    0.079_580_299_556_255_34,
    0.160_930_201_411_247_25,
    0.246_112_301_945_686_34,
    0.337_915_241_718_292_24,
    0.440_709_829_330_444_34,
    0.562_617_003_917_694_1,
    0.722_956_836_223_602_3,
    1.0,
];

/// Index of 0.0 in [`NF4_CODE`]: what an all-zero block stores.
const ZERO_CODE: u8 = 7;

/// bitsandbytes' `create_dynamic_map(signed=True, max_exponent_bits=7,
/// total_bits=8)`, sorted ascending. torch.linspace is evaluated with its
/// scalar float32 formula (its vectorised CPU path may differ by one ulp).
pub fn dynamic_map() -> &'static [f32; 256] {
    static MAP: OnceLock<[f32; 256]> = OnceLock::new();
    MAP.get_or_init(|| {
        let mut data: Vec<f32> = Vec::with_capacity(256);
        for i in 0..7i32 {
            let items = (1usize << i) + 1;
            let b = torch_linspace_f32(0.1, 1.0, items);
            let scale = 10f64.powi(i - 6) as f32;
            for w in b.windows(2) {
                let mean = (w[0] + w[1]) / 2.0;
                data.push(scale * mean);
                data.push(-scale * mean);
            }
        }
        data.push(0.0);
        data.push(1.0);
        debug_assert_eq!(data.len(), 256);
        data.sort_by(|a, b| a.total_cmp(b));
        let mut out = [0f32; 256];
        out.copy_from_slice(&data);
        out
    })
}

/// torch.linspace(start, end, steps, dtype=float32), scalar path.
fn torch_linspace_f32(start: f32, end: f32, steps: usize) -> Vec<f32> {
    let step = (end - start) / (steps - 1) as f32;
    let half = steps / 2;
    (0..steps).map(|i| if i < half { start + step * i as f32 } else { end - step * (steps - i - 1) as f32 }).collect()
}

/// How the per-block absmax scales are stored.
#[derive(Clone, Debug, PartialEq)]
pub enum Scales {
    /// One f32 per block of 64.
    F32(Vec<f32>),
    /// Double quantisation: absmax ≈ dyn[q] · absmax2[block / 256] + offset.
    Double { q: Vec<u8>, absmax2: Vec<f32>, offset: f32 },
}

/// A 2-D weight `[rows, cols]` in NF4.
#[derive(Clone, Debug, PartialEq)]
pub struct Nf4Tensor {
    pub name: String,
    pub rows: usize,
    pub cols: usize,
    /// rows·cols/2 bytes: element 2i in the high nibble of byte i, 2i+1 in the low one.
    pub packed: Vec<u8>,
    pub scales: Scales,
}

/// Index of the code nearest to `x` (|x − code| in f32; the first on ties, as torch.argmin).
fn nearest(code: &[f32], x: f32) -> u8 {
    let mut best = 0usize;
    let mut best_d = (x - code[0]).abs();
    for (i, &c) in code.iter().enumerate().skip(1) {
        let d = (x - c).abs();
        if d < best_d {
            best = i;
            best_d = d;
        }
    }
    best as u8
}

/// bitsandbytes' blockwise quantiser: absmax per block, then the nearest code
/// of clamp(x · (1/absmax), −1, 1). A zero block stores `zero` everywhere.
fn quantize_blocks(x: &[f32], code: &[f32], block: usize, zero: u8, q: &mut [u8], absmax: &mut [f32]) {
    for ((xb, qb), a) in x.chunks(block).zip(q.chunks_mut(block)).zip(absmax.iter_mut()) {
        let m = xb.iter().fold(0f32, |m, v| m.max(v.abs()));
        *a = m;
        if m == 0.0 {
            qb.fill(zero);
            continue;
        }
        let inv = 1.0 / m;
        for (qv, &v) in qb.iter_mut().zip(xb) {
            *qv = nearest(code, (v * inv).clamp(-1.0, 1.0));
        }
    }
}

impl Nf4Tensor {
    /// Quantises `values` (`[rows, cols]`, row-major). `double_quant` also
    /// compresses the absmax scales as QLoRA's `bnb_4bit_use_double_quant`.
    pub fn quantize(name: impl Into<String>, rows: usize, cols: usize, values: &[f32], double_quant: bool) -> Result<Self> {
        let name = name.into();
        check_shape(&name, rows, cols)?;
        if values.len() != rows * cols {
            return Err(Error::tensor(&name, format!("{} values for shape [{rows}, {cols}]", values.len())));
        }
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(Error::tensor(&name, format!("value {} at index {i} is not finite; NF4 cannot store it", values[i])));
        }
        let n_blocks = rows * cols / BLOCK;
        let mut absmax = vec![0f32; n_blocks];
        let mut packed = vec![0u8; rows * cols / 2];
        // Blocks are independent: quantise 64 blocks (one 2 KiB panel of bytes) per task.
        const BLOCKS_PER_TASK: usize = 64;
        packed.par_chunks_mut(BLOCK / 2 * BLOCKS_PER_TASK).zip(absmax.par_chunks_mut(BLOCKS_PER_TASK)).enumerate().for_each(
            |(t, (pk, am))| {
                let x = &values[t * BLOCK * BLOCKS_PER_TASK..][..am.len() * BLOCK];
                let mut q = vec![0u8; x.len()];
                quantize_blocks(x, &NF4_CODE, BLOCK, ZERO_CODE, &mut q, am);
                for (byte, pair) in pk.iter_mut().zip(q.chunks_exact(2)) {
                    *byte = (pair[0] << 4) | pair[1];
                }
            },
        );
        let scales = if double_quant { double_quantize(&absmax) } else { Scales::F32(absmax) };
        Ok(Nf4Tensor { name, rows, cols, packed, scales })
    }

    /// Quantises bf16 values (converted to f32 exactly first, as torch promotes them).
    pub fn from_bf16(name: impl Into<String>, rows: usize, cols: usize, values: &[half::bf16], double_quant: bool) -> Result<Self> {
        let f: Vec<f32> = values.par_iter().map(|v| v.to_f32()).collect();
        Self::quantize(name, rows, cols, &f, double_quant)
    }

    /// Quantises a 2-D model tensor of any supported GGUF/safetensors type
    /// through its exact dequantisation to f32.
    pub fn from_qtensor(t: &QTensor, double_quant: bool) -> Result<Self> {
        if t.shape.len() != 2 {
            return Err(Error::tensor(&t.name, format!("NF4 needs a 2-D tensor, this one has shape {:?}", t.shape)));
        }
        let (rows, cols) = (t.rows(), t.cols());
        check_shape(&t.name, rows, cols)?;
        let mut f = vec![0f32; rows * cols];
        let rb = t.ty.row_bytes(cols).ok_or_else(|| Error::tensor(&t.name, "rows are not whole blocks"))?;
        f.par_chunks_mut(cols)
            .zip(t.bytes().par_chunks(rb))
            .try_for_each(|(dst, src)| super::dequantize(t.ty, src, dst))
            .map_err(|e| e.in_tensor(&t.name))?;
        Self::quantize(t.name.clone(), rows, cols, &f, double_quant)
    }

    pub fn n_blocks(&self) -> usize {
        self.rows * self.cols / BLOCK
    }

    /// Bytes this tensor occupies (codes and scales).
    pub fn storage_bytes(&self) -> usize {
        self.packed.len()
            + match &self.scales {
                Scales::F32(a) => 4 * a.len(),
                Scales::Double { q, absmax2, .. } => q.len() + 4 * absmax2.len() + 4,
            }
    }

    /// The absmax of every block (dequantised when double-quantised).
    pub fn absmax(&self) -> Vec<f32> {
        match &self.scales {
            Scales::F32(a) => a.clone(),
            Scales::Double { q, absmax2, offset } => {
                let map = dynamic_map();
                q.iter().enumerate().map(|(i, &c)| map[c as usize] * absmax2[i / DQ_BLOCK] + offset).collect()
            }
        }
    }

    /// The code index (0..16) of element `i` (row-major).
    pub fn code_index(&self, i: usize) -> u8 {
        let b = self.packed[i / 2];
        if i.is_multiple_of(2) {
            b >> 4
        } else {
            b & 0x0F
        }
    }

    /// Every value as bitsandbytes' dequantize_4bit computes it: code · absmax in f32.
    pub fn dequantize(&self) -> Vec<f32> {
        let absmax = self.absmax();
        let mut out = vec![0f32; self.rows * self.cols];
        out.par_chunks_mut(BLOCK).zip(self.packed.par_chunks(BLOCK / 2)).zip(absmax.par_iter()).for_each(|((o, p), &a)| {
            for (pair, &byte) in o.chunks_exact_mut(2).zip(p) {
                pair[0] = NF4_CODE[(byte >> 4) as usize] * a;
                pair[1] = NF4_CODE[(byte & 0x0F) as usize] * a;
            }
        });
        out
    }

    /// The values the tensor cores multiply: each dequantised value rounded
    /// to bf16 (round to nearest even), as the CUDA kernels do before their MMA.
    pub fn dequantize_bf16_rounded(&self) -> Vec<f32> {
        let mut v = self.dequantize();
        v.par_iter_mut().for_each(|x| *x = half::bf16::from_f32(*x).to_f32());
        v
    }

    /// An F32 [`QTensor`] holding [`Self::dequantize_bf16_rounded`]: the CPU
    /// engine then computes with exactly the weights the GPU sees.
    pub fn to_reference_qtensor(&self) -> Result<QTensor> {
        QTensor::from_f32(self.name.clone(), vec![self.rows, self.cols], &self.dequantize_bf16_rounded())
    }
}

/// QLoRA's double quantisation of the absmax values.
fn double_quantize(absmax: &[f32]) -> Scales {
    // Mean in f64, rounded once (torch's float32 sum order is machine-dependent).
    let offset = (absmax.iter().map(|&a| a as f64).sum::<f64>() / absmax.len().max(1) as f64) as f32;
    let centred: Vec<f32> = absmax.iter().map(|&a| a - offset).collect();
    let mut q = vec![0u8; centred.len()];
    let mut absmax2 = vec![0f32; centred.len().div_ceil(DQ_BLOCK)];
    let map = dynamic_map();
    let zero = map.iter().position(|&v| v == 0.0).expect("the dynamic map holds 0") as u8;
    quantize_blocks(&centred, map, DQ_BLOCK, zero, &mut q, &mut absmax2);
    Scales::Double { q, absmax2, offset }
}

fn check_shape(name: &str, rows: usize, cols: usize) -> Result<()> {
    if rows == 0 || cols == 0 {
        return Err(Error::tensor(name, "NF4 needs a non-empty tensor"));
    }
    if !cols.is_multiple_of(BLOCK) {
        return Err(Error::tensor(name, format!("{cols} columns is not a multiple of the NF4 block size {BLOCK}; this tensor cannot be stored in NF4 (use --quantization bf16)")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_table_is_sorted_and_symmetric_at_the_ends() {
        assert!(NF4_CODE.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(NF4_CODE[ZERO_CODE as usize], 0.0);
        let map = dynamic_map();
        assert!(map.windows(2).all(|w| w[0] < w[1]), "dynamic map must be strictly increasing");
        assert_eq!(map[255], 1.0);
        assert!((map[0] + 0.99297).abs() < 1e-4, "{}", map[0]);
    }

    #[test]
    fn rejects_bad_shapes_and_values() {
        assert!(Nf4Tensor::quantize("w", 2, 48, &[0.0; 96], false).unwrap_err().to_string().contains("multiple of the NF4 block size"));
        assert!(Nf4Tensor::quantize("w", 1, 64, &[0.0; 63], false).is_err());
        let mut v = vec![0.5f32; 64];
        v[3] = f32::NAN;
        let e = Nf4Tensor::quantize("w", 1, 64, &v, false).unwrap_err().to_string();
        assert!(e.contains("index 3") && e.contains("'w'"), "{e}");
    }

    #[test]
    fn exact_code_values_survive() {
        let v: Vec<f32> = (0..64).map(|i| NF4_CODE[i % 16] * 0.25).collect();
        let t = Nf4Tensor::quantize("w", 1, 64, &v, false).unwrap();
        assert_eq!(t.dequantize(), v);
        for i in 0..64 {
            assert_eq!(t.code_index(i) as usize, i % 16);
        }
    }
}
