//! A tensor as stored in a model file: element type, shape and raw bytes,
//! either borrowed from a memory map or owned. Matmul kernels read the bytes
//! directly (dequantising on the fly), so quantised weights are never expanded
//! in memory.

use crate::quant::GgmlType;
use crate::{Error, Result};
use std::sync::Arc;

/// Where a tensor's bytes live.
#[derive(Clone)]
pub enum TensorData {
    /// A byte range of a shared memory map (GGUF, safetensors).
    Mapped { map: Arc<memmap2::Mmap>, offset: usize, len: usize },
    /// Bytes owned by the tensor (converted or permuted at load).
    Owned(Arc<Vec<u8>>),
}

impl TensorData {
    pub fn bytes(&self) -> &[u8] {
        match self {
            TensorData::Mapped { map, offset, len } => &map[*offset..*offset + *len],
            TensorData::Owned(v) => v,
        }
    }
}

/// A tensor in file layout. `shape` is row-major, outermost first: a linear
/// weight `[out_features, in_features]` has `shape == [out, in]`, and each
/// row is `ty.row_bytes(in)` bytes long.
#[derive(Clone)]
pub struct QTensor {
    pub name: String,
    pub ty: GgmlType,
    pub shape: Vec<usize>,
    pub data: TensorData,
}

impl std::fmt::Debug for QTensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "QTensor({} {:?} {:?})", self.name, self.ty, self.shape)
    }
}

impl QTensor {
    /// Builds an owned tensor, checking that the byte length matches the shape.
    pub fn owned(name: impl Into<String>, ty: GgmlType, shape: Vec<usize>, bytes: Vec<u8>) -> Result<Self> {
        let name = name.into();
        let expected =
            ty.tensor_bytes(&shape).ok_or_else(|| Error::tensor(&name, format!("shape {shape:?} is not valid for type {ty:?}")))?;
        if expected != bytes.len() {
            return Err(Error::tensor(&name, format!("{} bytes for shape {shape:?} of type {ty:?}, expected {expected}", bytes.len())));
        }
        Ok(QTensor { name, ty, shape, data: TensorData::Owned(Arc::new(bytes)) })
    }

    /// An owned f32 tensor.
    pub fn from_f32(name: impl Into<String>, shape: Vec<usize>, values: &[f32]) -> Result<Self> {
        Self::owned(name, GgmlType::F32, shape, bytemuck::cast_slice(values).to_vec())
    }

    pub fn bytes(&self) -> &[u8] {
        self.data.bytes()
    }

    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// Number of elements in the innermost dimension.
    pub fn cols(&self) -> usize {
        *self.shape.last().unwrap_or(&1)
    }

    /// Number of rows: the product of every dimension but the innermost.
    pub fn rows(&self) -> usize {
        self.shape[..self.shape.len().saturating_sub(1)].iter().product()
    }

    /// Bytes of row `r` (a row holds `cols()` elements).
    pub fn row_bytes(&self, r: usize) -> &[u8] {
        let rb = self.ty.row_bytes(self.cols()).expect("row size checked at load");
        &self.bytes()[r * rb..(r + 1) * rb]
    }

    /// Checks the shape against what the model expects, with a clear error.
    pub fn expect_shape(&self, shape: &[usize]) -> Result<()> {
        if self.shape != shape {
            return Err(Error::tensor(&self.name, format!("shape {:?}, expected {:?}", self.shape, shape)));
        }
        Ok(())
    }

    /// Dequantises the whole tensor to f32 (used for small tensors: norms, biases).
    pub fn to_f32(&self) -> Result<Vec<f32>> {
        let mut out = vec![0f32; self.numel()];
        crate::quant::dequantize(self.ty, self.bytes(), &mut out).map_err(|e| e.in_tensor(&self.name))?;
        Ok(out)
    }

    /// Dequantises row `r` into `out` (`out.len() == cols()`).
    pub fn dequantize_row(&self, r: usize, out: &mut [f32]) {
        crate::quant::dequantize(self.ty, self.row_bytes(r), out).expect("row size checked at load");
    }
}
