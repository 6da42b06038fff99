//! Frozen base weights for the GPU: NF4 (QLoRA's 4-bit NormalFloat, with
//! double-quantised scales) or bf16, prepared on the host from whatever the
//! model file holds (any GGUF type, f32, f16, bf16) through exact
//! dequantisation, then uploaded.
//!
//! The host form also gives the *reference* tensor: an f32 tensor holding
//! exactly the values the tensor cores multiply (bf16-rounded). A CPU model
//! built from those runs the same network as the GPU, which is what the
//! GPU-versus-CPU tests compare.

use super::device::{ptr, ptr_at, Gpu, KArg};
use crate::quant::nf4::{Nf4Tensor, Scales};
use crate::quant::tensor::QTensor;
use crate::quant::Quantization;
use crate::{Error, Result};
use cudarc::driver::CudaSlice;
use rayon::prelude::*;

/// A weight `[rows, cols]` prepared on the host.
#[derive(Clone, Debug)]
pub enum HostWeight {
    Nf4(Nf4Tensor),
    /// Raw bf16 bits, row-major.
    Bf16 {
        name: String,
        rows: usize,
        cols: usize,
        bits: Vec<u16>,
    },
}

/// The rows of a 2-D tensor as f32, a panel at a time (never the whole tensor at once).
fn for_each_row_panel(t: &QTensor, mut f: impl FnMut(usize, &[f32]) -> Result<()>) -> Result<()> {
    const PANEL: usize = 256;
    let (rows, cols) = (t.rows(), t.cols());
    let rb = t.ty.row_bytes(cols).ok_or_else(|| Error::tensor(&t.name, "rows are not whole blocks"))?;
    let mut buf = vec![0f32; PANEL * cols];
    for r0 in (0..rows).step_by(PANEL) {
        let n = PANEL.min(rows - r0);
        let dst = &mut buf[..n * cols];
        dst.par_chunks_mut(cols)
            .zip(t.bytes()[r0 * rb..(r0 + n) * rb].par_chunks(rb))
            .try_for_each(|(d, s)| crate::quant::dequantize(t.ty, s, d))
            .map_err(|e| e.in_tensor(&t.name))?;
        f(r0, dst)?;
    }
    Ok(())
}

/// f32 → bf16 bits, rounding to nearest even.
pub fn bf16_bits(v: &[f32]) -> Vec<u16> {
    v.par_iter().map(|&x| half::bf16::from_f32(x).to_bits()).collect()
}

impl HostWeight {
    /// Prepares a 2-D model tensor in the chosen format.
    pub fn prepare(t: &QTensor, quant: Quantization) -> Result<Self> {
        if t.shape.len() != 2 {
            return Err(Error::tensor(&t.name, format!("expected a 2-D weight, found shape {:?}", t.shape)));
        }
        match quant {
            Quantization::Nf4 => Ok(HostWeight::Nf4(Nf4Tensor::from_qtensor(t, true)?)),
            Quantization::Bf16 => Self::bf16_of(t),
        }
    }

    /// bf16 whatever the quantisation (embeddings and the output layer stay in
    /// bf16, as QLoRA leaves them unquantised).
    pub fn bf16_of(t: &QTensor) -> Result<Self> {
        let (rows, cols) = (t.rows(), t.cols());
        let mut bits = vec![0u16; rows * cols];
        for_each_row_panel(t, |r0, vals| {
            bits[r0 * cols..r0 * cols + vals.len()]
                .par_iter_mut()
                .zip(vals.par_iter())
                .for_each(|(b, &v)| *b = half::bf16::from_f32(v).to_bits());
            Ok(())
        })?;
        Ok(HostWeight::Bf16 { name: t.name.clone(), rows, cols, bits })
    }

    pub fn name(&self) -> &str {
        match self {
            HostWeight::Nf4(t) => &t.name,
            HostWeight::Bf16 { name, .. } => name,
        }
    }

    pub fn shape(&self) -> (usize, usize) {
        match self {
            HostWeight::Nf4(t) => (t.rows, t.cols),
            HostWeight::Bf16 { rows, cols, .. } => (*rows, *cols),
        }
    }

    /// The values the GPU multiplies, as an f32 tensor for the CPU engine.
    pub fn reference(&self) -> Result<QTensor> {
        match self {
            HostWeight::Nf4(t) => t.to_reference_qtensor(),
            HostWeight::Bf16 { name, rows, cols, bits } => {
                let v: Vec<f32> = bits.par_iter().map(|&b| half::bf16::from_bits(b).to_f32()).collect();
                QTensor::from_f32(name.clone(), vec![*rows, *cols], &v)
            }
        }
    }

    pub fn upload(&self, gpu: &Gpu) -> Result<GpuWeight> {
        let (rows, cols) = self.shape();
        let data = match self {
            HostWeight::Nf4(t) => {
                let packed = gpu.upload(&t.packed)?;
                match &t.scales {
                    Scales::F32(a) => WeightData::Nf4 { packed, absmax: Some(gpu.upload(a)?), qabsmax: None, absmax2: None, offset: 0.0 },
                    Scales::Double { q, absmax2, offset } => WeightData::Nf4 {
                        packed,
                        absmax: None,
                        qabsmax: Some(gpu.upload(q)?),
                        absmax2: Some(gpu.upload(absmax2)?),
                        offset: *offset,
                    },
                }
            }
            HostWeight::Bf16 { bits, .. } => WeightData::Bf16(gpu.upload(bits)?),
        };
        Ok(GpuWeight { name: self.name().to_string(), rows, cols, data })
    }
}

/// A weight `[rows, cols]` in GPU memory.
pub struct GpuWeight {
    pub name: String,
    pub rows: usize,
    pub cols: usize,
    pub data: WeightData,
}

pub enum WeightData {
    Nf4 {
        packed: CudaSlice<u8>,
        absmax: Option<CudaSlice<f32>>,
        qabsmax: Option<CudaSlice<u8>>,
        absmax2: Option<CudaSlice<f32>>,
        offset: f32,
    },
    Bf16(CudaSlice<u16>),
}

impl GpuWeight {
    pub fn is_nf4(&self) -> bool {
        matches!(self.data, WeightData::Nf4 { .. })
    }

    /// Bytes of GPU memory.
    pub fn bytes(&self) -> usize {
        match &self.data {
            WeightData::Nf4 { packed, absmax, qabsmax, absmax2, .. } => {
                packed.len()
                    + absmax.as_ref().map_or(0, |a| 4 * a.len())
                    + qabsmax.as_ref().map_or(0, |q| q.len())
                    + absmax2.as_ref().map_or(0, |a| 4 * a.len())
            }
            WeightData::Bf16(w) => 2 * w.len(),
        }
    }

    /// The whole weight as a kernel operand.
    pub fn view(&self, gpu: &Gpu) -> Result<WeightRef<'_>> {
        self.rows_view(gpu, 0, self.rows)
    }

    /// Rows r0..r0+n as a kernel operand (a vocabulary chunk of the output
    /// layer). For NF4 the first row must start a group of 256 scale blocks,
    /// so that the second-level scales stay aligned.
    pub fn rows_view(&self, gpu: &Gpu, r0: usize, n: usize) -> Result<WeightRef<'_>> {
        if r0 + n > self.rows {
            return Err(Error::tensor(&self.name, format!("rows {r0}..{} of {}", r0 + n, self.rows)));
        }
        let e0 = r0 * self.cols; // first element
        let args = match &self.data {
            WeightData::Nf4 { packed, absmax, qabsmax, absmax2, offset } => {
                let b0 = e0 / crate::quant::nf4::BLOCK;
                if qabsmax.is_some() && !b0.is_multiple_of(crate::quant::nf4::DQ_BLOCK) {
                    return Err(Error::tensor(&self.name, format!("row {r0} does not start a group of 256 NF4 blocks")));
                }
                vec![
                    KArg::Ptr(ptr_at(packed, e0 / 2)),
                    KArg::Ptr(absmax.as_ref().map_or(0, |a| ptr_at(a, b0))),
                    KArg::Ptr(qabsmax.as_ref().map_or(0, |q| ptr_at(q, b0))),
                    KArg::Ptr(absmax2.as_ref().map_or(0, |a| ptr_at(a, b0 / crate::quant::nf4::DQ_BLOCK))),
                    KArg::Ptr(ptr(gpu.dynamic_map()?)),
                    KArg::F32(*offset),
                ]
            }
            WeightData::Bf16(w) => vec![KArg::Ptr(ptr_at(w, e0))],
        };
        Ok(WeightRef { name: &self.name, rows: n, cols: self.cols, nf4: self.is_nf4(), args })
    }

    /// The bf16 buffer (embeddings, output layer).
    pub fn bf16(&self) -> Result<&CudaSlice<u16>> {
        match &self.data {
            WeightData::Bf16(w) => Ok(w),
            WeightData::Nf4 { .. } => Err(Error::tensor(&self.name, "expected a bf16 weight on the GPU")),
        }
    }
}

/// A weight (or a range of its rows) as the matmul kernels take it.
pub struct WeightRef<'a> {
    pub name: &'a str,
    pub rows: usize,
    pub cols: usize,
    pub nf4: bool,
    /// NF4: packed, absmax, qabsmax, absmax2, code2, offset; bf16: the pointer.
    pub args: Vec<KArg>,
}
