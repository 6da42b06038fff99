//! GGUF (versions 2 and 3) on a memory map: metadata, tensor infos, and
//! tensors as [`QTensor`]s that borrow the map.
//!
//! Layout (ggml's docs/gguf.md), all little-endian:
//! `"GGUF"`, version u32, tensor count u64, metadata count u64, then the
//! metadata (key string, value type u32, value), the tensor infos (name
//! string, n_dims u32, dims u64 × n_dims innermost first, type u32, offset
//! u64), padding to `general.alignment` (default 32), and the data section.
//!
//! Nothing in the file is trusted: every count is checked against the bytes
//! left in the file *before* anything is allocated from it, every size and
//! offset with checked arithmetic, and each error names the key or tensor.

use crate::quant::tensor::{QTensor, TensorData};
use crate::quant::GgmlType;
use crate::{Error, Result};
use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// ggml's maximum number of tensor dimensions.
pub const MAX_DIMS: usize = 4;
/// Alignment of the data section when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: u64 = 32;
/// Deepest nesting of arrays accepted (the format allows nesting; real files
/// use none, and the limit keeps a hostile file from exhausting the stack).
const MAX_ARRAY_DEPTH: usize = 8;

/// A metadata value. Arrays are stored compactly, typed (see [`GgufArray`]):
/// a 262144-entry vocabulary is one `Vec<f32>` or one string buffer, not a
/// quarter of a million enum values.
#[derive(Clone, Debug, PartialEq)]
pub enum GgufValue {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    F32(f32),
    Bool(bool),
    String(String),
    Array(GgufArray),
    U64(u64),
    I64(i64),
    F64(f64),
}

/// A metadata array: one typed vector per element type; arrays of arrays nest.
#[derive(Clone, Debug, PartialEq)]
pub enum GgufArray {
    U8(Vec<u8>),
    I8(Vec<i8>),
    U16(Vec<u16>),
    I16(Vec<i16>),
    U32(Vec<u32>),
    I32(Vec<i32>),
    F32(Vec<f32>),
    Bool(Vec<bool>),
    String(GgufStrings),
    Array(Vec<GgufArray>),
    U64(Vec<u64>),
    I64(Vec<i64>),
    F64(Vec<f64>),
}

/// An array of strings kept in one buffer: `ends[i]` is where string `i` ends.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GgufStrings {
    text: String,
    ends: Vec<usize>,
}

impl GgufStrings {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// String `i`, if `i < len()`.
    pub fn get(&self, i: usize) -> Option<&str> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(&self.text[start..end])
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (0..self.len()).map(|i| self.get(i).expect("index in range"))
    }

    pub fn to_vec(&self) -> Vec<String> {
        self.iter().map(str::to_owned).collect()
    }

    fn push(&mut self, s: &str) {
        self.text.push_str(s);
        self.ends.push(self.text.len());
    }
}

impl<S: AsRef<str>> FromIterator<S> for GgufStrings {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        let mut out = GgufStrings::default();
        for s in iter {
            out.push(s.as_ref());
        }
        out
    }
}

/// GGUF value type ids.
mod type_id {
    pub const U8: u32 = 0;
    pub const I8: u32 = 1;
    pub const U16: u32 = 2;
    pub const I16: u32 = 3;
    pub const U32: u32 = 4;
    pub const I32: u32 = 5;
    pub const F32: u32 = 6;
    pub const BOOL: u32 = 7;
    pub const STRING: u32 = 8;
    pub const ARRAY: u32 = 9;
    pub const U64: u32 = 10;
    pub const I64: u32 = 11;
    pub const F64: u32 = 12;
}

/// The name of GGUF value type `t`, as the spec spells it.
fn value_type_name(t: u32) -> &'static str {
    use type_id::*;
    match t {
        U8 => "uint8",
        I8 => "int8",
        U16 => "uint16",
        I16 => "int16",
        U32 => "uint32",
        I32 => "int32",
        F32 => "float32",
        BOOL => "bool",
        STRING => "string",
        ARRAY => "array",
        U64 => "uint64",
        I64 => "int64",
        F64 => "float64",
        _ => "unknown",
    }
}

/// The fewest bytes one value of type `t` takes in a file (0 if `t` is unknown).
fn min_value_bytes(t: u32) -> u64 {
    use type_id::*;
    match t {
        U8 | I8 | BOOL => 1,
        U16 | I16 => 2,
        U32 | I32 | F32 => 4,
        U64 | I64 | F64 | STRING => 8,
        ARRAY => 12,
        _ => 0,
    }
}

impl GgufValue {
    /// The spec's name of this value's type (`uint32`, `string`, `array`...).
    pub fn type_name(&self) -> &'static str {
        value_type_name(self.type_id())
    }

    fn type_id(&self) -> u32 {
        use type_id::*;
        match self {
            GgufValue::U8(_) => U8,
            GgufValue::I8(_) => I8,
            GgufValue::U16(_) => U16,
            GgufValue::I16(_) => I16,
            GgufValue::U32(_) => U32,
            GgufValue::I32(_) => I32,
            GgufValue::F32(_) => F32,
            GgufValue::Bool(_) => BOOL,
            GgufValue::String(_) => STRING,
            GgufValue::Array(_) => ARRAY,
            GgufValue::U64(_) => U64,
            GgufValue::I64(_) => I64,
            GgufValue::F64(_) => F64,
        }
    }

    /// Any integer that is not negative.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            GgufValue::U8(v) => Some(v as u64),
            GgufValue::U16(v) => Some(v as u64),
            GgufValue::U32(v) => Some(v as u64),
            GgufValue::U64(v) => Some(v),
            GgufValue::I8(v) => u64::try_from(v).ok(),
            GgufValue::I16(v) => u64::try_from(v).ok(),
            GgufValue::I32(v) => u64::try_from(v).ok(),
            GgufValue::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// Any integer that fits an i64.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            GgufValue::U8(v) => Some(v as i64),
            GgufValue::U16(v) => Some(v as i64),
            GgufValue::U32(v) => Some(v as i64),
            GgufValue::U64(v) => i64::try_from(v).ok(),
            GgufValue::I8(v) => Some(v as i64),
            GgufValue::I16(v) => Some(v as i64),
            GgufValue::I32(v) => Some(v as i64),
            GgufValue::I64(v) => Some(v),
            _ => None,
        }
    }

    /// Any number, as f64 (large 64-bit integers round).
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            GgufValue::F32(v) => Some(v as f64),
            GgufValue::F64(v) => Some(v),
            GgufValue::U64(v) => Some(v as f64),
            GgufValue::I64(v) => Some(v as f64),
            _ => self.as_i64().map(|v| v as f64),
        }
    }

    /// Any number, as f32.
    pub fn as_f32(&self) -> Option<f32> {
        match *self {
            GgufValue::F32(v) => Some(v),
            _ => self.as_f64().map(|v| v as f32),
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            GgufValue::Bool(v) => Some(v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            GgufValue::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&GgufArray> {
        match self {
            GgufValue::Array(a) => Some(a),
            _ => None,
        }
    }
}

impl GgufArray {
    pub fn len(&self) -> usize {
        match self {
            GgufArray::U8(v) => v.len(),
            GgufArray::I8(v) => v.len(),
            GgufArray::U16(v) => v.len(),
            GgufArray::I16(v) => v.len(),
            GgufArray::U32(v) => v.len(),
            GgufArray::I32(v) => v.len(),
            GgufArray::F32(v) => v.len(),
            GgufArray::Bool(v) => v.len(),
            GgufArray::String(v) => v.len(),
            GgufArray::Array(v) => v.len(),
            GgufArray::U64(v) => v.len(),
            GgufArray::I64(v) => v.len(),
            GgufArray::F64(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The spec's name of the element type.
    pub fn element_type_name(&self) -> &'static str {
        use type_id::*;
        value_type_name(match self {
            GgufArray::U8(_) => U8,
            GgufArray::I8(_) => I8,
            GgufArray::U16(_) => U16,
            GgufArray::I16(_) => I16,
            GgufArray::U32(_) => U32,
            GgufArray::I32(_) => I32,
            GgufArray::F32(_) => F32,
            GgufArray::Bool(_) => BOOL,
            GgufArray::String(_) => STRING,
            GgufArray::Array(_) => ARRAY,
            GgufArray::U64(_) => U64,
            GgufArray::I64(_) => I64,
            GgufArray::F64(_) => F64,
        })
    }

    /// Element `i` as a standalone value (clones; fine for small arrays).
    pub fn get(&self, i: usize) -> Option<GgufValue> {
        Some(match self {
            GgufArray::U8(v) => GgufValue::U8(*v.get(i)?),
            GgufArray::I8(v) => GgufValue::I8(*v.get(i)?),
            GgufArray::U16(v) => GgufValue::U16(*v.get(i)?),
            GgufArray::I16(v) => GgufValue::I16(*v.get(i)?),
            GgufArray::U32(v) => GgufValue::U32(*v.get(i)?),
            GgufArray::I32(v) => GgufValue::I32(*v.get(i)?),
            GgufArray::F32(v) => GgufValue::F32(*v.get(i)?),
            GgufArray::Bool(v) => GgufValue::Bool(*v.get(i)?),
            GgufArray::String(v) => GgufValue::String(v.get(i)?.to_owned()),
            GgufArray::Array(v) => GgufValue::Array(v.get(i)?.clone()),
            GgufArray::U64(v) => GgufValue::U64(*v.get(i)?),
            GgufArray::I64(v) => GgufValue::I64(*v.get(i)?),
            GgufArray::F64(v) => GgufValue::F64(*v.get(i)?),
        })
    }
}

/// Where a tensor is and what it holds, as the file declares it (validated).
#[derive(Clone, Debug, PartialEq)]
pub struct GgufTensorInfo {
    pub name: String,
    /// Row-major, outermost first: ggml's `ne` reversed (`[rows, cols]` for a matrix).
    pub shape: Vec<usize>,
    pub ty: GgmlType,
    /// Start of the tensor's bytes, relative to the data section.
    pub offset: u64,
    /// Size of the tensor's bytes.
    pub n_bytes: usize,
}

/// An open GGUF file.
pub struct GgufFile {
    pub path: PathBuf,
    pub version: u32,
    /// Tensor infos in file order.
    pub tensors: Vec<GgufTensorInfo>,
    /// Alignment of the data section and of every tensor in it.
    pub alignment: u64,
    /// Absolute file offset of the data section.
    pub data_offset: u64,
    metadata: Vec<(String, GgufValue)>,
    key_index: HashMap<String, usize>,
    tensor_index: HashMap<String, usize>,
    map: Arc<memmap2::Mmap>,
}

impl std::fmt::Debug for GgufFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GgufFile")
            .field("path", &self.path)
            .field("version", &self.version)
            .field("metadata", &self.metadata.len())
            .field("tensors", &self.tensors.len())
            .finish()
    }
}

impl GgufFile {
    /// Maps and parses `path`, validating the whole header and every tensor's
    /// place in the data section.
    pub fn open(path: &Path) -> Result<GgufFile> {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        if len < 24 {
            return Err(Error::format(path, format!("file is {len} bytes, too small for a GGUF header (24 bytes)")));
        }
        let map = super::mapping::map_model_file(&file, path)?;
        parse(path, Arc::new(map))
    }

    /// Metadata in file order.
    pub fn metadata(&self) -> &[(String, GgufValue)] {
        &self.metadata
    }

    pub fn get(&self, key: &str) -> Option<&GgufValue> {
        self.key_index.get(key).map(|&i| &self.metadata[i].1)
    }

    fn typed<'a, T>(&'a self, key: &str, want: &str, f: impl FnOnce(&'a GgufValue) -> Option<T>) -> Result<Option<T>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => f(v).map(Some).ok_or_else(|| {
                Error::format(&self.path, format!("metadata key '{key}' is {} {}, expected {want}", article(v), describe(v)))
            }),
        }
    }

    /// An integer that is not negative (any integer type).
    pub fn get_u64(&self, key: &str) -> Result<Option<u64>> {
        self.typed(key, "a non-negative integer", GgufValue::as_u64)
    }

    /// An integer (any integer type).
    pub fn get_i64(&self, key: &str) -> Result<Option<i64>> {
        self.typed(key, "an integer", GgufValue::as_i64)
    }

    /// A number (any numeric type).
    pub fn get_f32(&self, key: &str) -> Result<Option<f32>> {
        self.typed(key, "a number", GgufValue::as_f32)
    }

    pub fn get_str(&self, key: &str) -> Result<Option<&str>> {
        self.typed(key, "a string", GgufValue::as_str)
    }

    pub fn get_bool(&self, key: &str) -> Result<Option<bool>> {
        self.typed(key, "a bool", GgufValue::as_bool)
    }

    pub fn get_string_array(&self, key: &str) -> Result<Option<&GgufStrings>> {
        self.typed(key, "an array of strings", |v| match v {
            GgufValue::Array(GgufArray::String(s)) => Some(s),
            _ => None,
        })
    }

    /// An array of numbers as f32: borrowed when stored as float32, converted
    /// from other numeric element types.
    pub fn get_f32_array(&self, key: &str) -> Result<Option<Cow<'_, [f32]>>> {
        self.typed(key, "an array of numbers", |v| match v.as_array()? {
            GgufArray::F32(a) => Some(Cow::Borrowed(a.as_slice())),
            GgufArray::F64(a) => Some(Cow::Owned(a.iter().map(|&x| x as f32).collect())),
            a => numeric_array_to_i64(a).map(|v| Cow::Owned(v.into_iter().map(|x| x as f32).collect())),
        })
    }

    /// An array of integers as i32: borrowed when stored as int32, converted
    /// from other integer element types when every value fits.
    pub fn get_i32_array(&self, key: &str) -> Result<Option<Cow<'_, [i32]>>> {
        self.typed(key, "an array of 32-bit integers", |v| match v.as_array()? {
            GgufArray::I32(a) => Some(Cow::Borrowed(a.as_slice())),
            a => numeric_array_to_i64(a)?.into_iter().map(|x| i32::try_from(x).ok()).collect::<Option<Vec<_>>>().map(Cow::Owned),
        })
    }

    pub fn tensor_info(&self, name: &str) -> Option<&GgufTensorInfo> {
        self.tensor_index.get(name).map(|&i| &self.tensors[i])
    }

    /// The tensor `name`, borrowing the memory map.
    pub fn tensor(&self, name: &str) -> Result<QTensor> {
        let info = self.tensor_info(name).ok_or_else(|| Error::tensor(name, format!("not found in {}", self.path.display())))?;
        // In range: checked against the file size at open.
        let offset = (self.data_offset + info.offset) as usize;
        Ok(QTensor {
            name: info.name.clone(),
            ty: info.ty,
            shape: info.shape.clone(),
            data: TensorData::Mapped { map: Arc::clone(&self.map), offset, len: info.n_bytes },
        })
    }

    /// Size of the file in bytes.
    pub fn file_size(&self) -> u64 {
        self.map.len() as u64
    }
}

fn article(v: &GgufValue) -> &'static str {
    match v {
        GgufValue::I8(_) | GgufValue::I16(_) | GgufValue::I32(_) | GgufValue::I64(_) | GgufValue::Array(_) => "an",
        _ => "a",
    }
}

/// `uint32 (7)`, `string "llama"`, `array of 3 float32`.
fn describe(v: &GgufValue) -> String {
    match v {
        GgufValue::String(s) if s.len() <= 40 => format!("string {s:?}"),
        GgufValue::String(s) => format!("string of {} bytes", s.len()),
        GgufValue::Array(a) => format!("array of {} {}", a.len(), a.element_type_name()),
        GgufValue::U8(x) => format!("uint8 ({x})"),
        GgufValue::I8(x) => format!("int8 ({x})"),
        GgufValue::U16(x) => format!("uint16 ({x})"),
        GgufValue::I16(x) => format!("int16 ({x})"),
        GgufValue::U32(x) => format!("uint32 ({x})"),
        GgufValue::I32(x) => format!("int32 ({x})"),
        GgufValue::U64(x) => format!("uint64 ({x})"),
        GgufValue::I64(x) => format!("int64 ({x})"),
        GgufValue::F32(x) => format!("float32 ({x})"),
        GgufValue::F64(x) => format!("float64 ({x})"),
        GgufValue::Bool(x) => format!("bool ({x})"),
    }
}

/// The elements of an integer array as i64 (None for other element types or u64 overflow).
fn numeric_array_to_i64(a: &GgufArray) -> Option<Vec<i64>> {
    Some(match a {
        GgufArray::U8(v) => v.iter().map(|&x| x as i64).collect(),
        GgufArray::I8(v) => v.iter().map(|&x| x as i64).collect(),
        GgufArray::U16(v) => v.iter().map(|&x| x as i64).collect(),
        GgufArray::I16(v) => v.iter().map(|&x| x as i64).collect(),
        GgufArray::U32(v) => v.iter().map(|&x| x as i64).collect(),
        GgufArray::I32(v) => v.iter().map(|&x| x as i64).collect(),
        GgufArray::I64(v) => v.clone(),
        GgufArray::U64(v) => v.iter().map(|&x| i64::try_from(x).ok()).collect::<Option<_>>()?,
        _ => return None,
    })
}

/// ggml's names of the tensor types dyag does not support, for error messages.
fn unsupported_type_name(id: u32) -> Option<&'static str> {
    Some(match id {
        4 => "Q4_2 (removed from ggml)",
        5 => "Q4_3 (removed from ggml)",
        16 => "IQ2_XXS",
        17 => "IQ2_XS",
        18 => "IQ3_XXS",
        19 => "IQ1_S",
        20 => "IQ4_NL",
        21 => "IQ3_S",
        22 => "IQ2_S",
        23 => "IQ4_XS",
        24 => "I8",
        25 => "I16",
        26 => "I32",
        27 => "I64",
        28 => "F64",
        29 => "IQ1_M",
        31..=33 => "Q4_0_4_4/Q4_0_4_8/Q4_0_8_8 (removed from ggml)",
        34 => "TQ1_0",
        35 => "TQ2_0",
        36..=38 => "IQ4_NL_4_4/IQ4_NL_4_8/IQ4_NL_8_8 (removed from ggml)",
        39 => "MXFP4",
        _ => return None,
    })
}

// ------------------------------------------------------------------ parsing

/// A bounds-checked little-endian reader over the mapped file.
struct Cursor<'a> {
    path: &'a Path,
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// A format error naming the file.
    fn err(&self, msg: impl Into<String>) -> Error {
        Error::format(self.path, msg)
    }

    #[inline]
    fn remaining(&self) -> u64 {
        (self.buf.len() - self.pos) as u64
    }

    #[inline]
    fn bytes(&mut self, n: u64, what: &dyn Fn() -> String) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(self.err(format!(
                "{}: needs {n} bytes at offset {} but the file ends {} bytes later (truncated?)",
                what(),
                self.pos,
                self.remaining()
            )));
        }
        let s = &self.buf[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(s)
    }

    #[inline]
    fn array<const N: usize>(&mut self, what: &dyn Fn() -> String) -> Result<[u8; N]> {
        Ok(self.bytes(N as u64, what)?.try_into().expect("N bytes"))
    }

    fn u32(&mut self, what: &dyn Fn() -> String) -> Result<u32> {
        self.array(what).map(u32::from_le_bytes)
    }

    fn u64(&mut self, what: &dyn Fn() -> String) -> Result<u64> {
        self.array(what).map(u64::from_le_bytes)
    }

    /// A length-prefixed UTF-8 string.
    fn str(&mut self, what: &dyn Fn() -> String) -> Result<&'a str> {
        let n = self.u64(what)?;
        if n > self.remaining() {
            return Err(self.err(format!(
                "{}: string length {n} at offset {} is larger than the {} bytes left in the file",
                what(),
                self.pos - 8,
                self.remaining()
            )));
        }
        let b = self.bytes(n, what)?;
        std::str::from_utf8(b).map_err(|e| self.err(format!("{}: string is not valid UTF-8 ({e})", what())))
    }

    /// Checks that `n` items of at least `min_bytes` each can fit in the rest of the file.
    fn check_count(&self, n: u64, min_bytes: u64, what: &dyn Fn() -> String) -> Result<usize> {
        if n.checked_mul(min_bytes).is_none_or(|b| b > self.remaining()) {
            return Err(self.err(format!(
                "{}: count {n} cannot fit in the {} bytes left in the file (at least {min_bytes} bytes each)",
                what(),
                self.remaining()
            )));
        }
        Ok(n as usize)
    }
}

fn parse(path: &Path, map: Arc<memmap2::Mmap>) -> Result<GgufFile> {
    let mut c = Cursor { path, buf: &map[..], pos: 0 };
    let header = || "header".to_string();
    let magic = c.array::<4>(&header)?;
    if &magic != b"GGUF" {
        return Err(Error::format(path, format!("not a GGUF file: starts with {:?}, expected \"GGUF\"", String::from_utf8_lossy(&magic))));
    }
    let version = c.u32(&header)?;
    match version {
        2 | 3 => {}
        1 => {
            return Err(Error::format(
                path,
                "GGUF version 1 is not supported (only versions 2 and 3); convert the model again with a recent llama.cpp",
            ))
        }
        v if (1..=3).contains(&v.swap_bytes()) => {
            return Err(Error::format(path, format!("GGUF version {v} looks byte-swapped: big-endian GGUF files are not supported")))
        }
        v => return Err(Error::format(path, format!("unsupported GGUF version {v} (only versions 2 and 3)"))),
    }
    let n_tensors = c.u64(&header)?;
    let n_kv = c.u64(&header)?;
    // Smallest possible metadata entry: key length + type + 1-byte value.
    let n_kv = c.check_count(n_kv, 8 + 4 + 1, &|| "metadata count".into())?;

    let mut metadata = Vec::with_capacity(n_kv);
    let mut key_index = HashMap::with_capacity(n_kv);
    for i in 0..n_kv {
        let key = c.str(&|| format!("metadata key #{i}"))?;
        if key.is_empty() {
            return Err(Error::format(path, format!("metadata key #{i} is empty")));
        }
        let what = || format!("metadata key '{key}'");
        let t = c.u32(&what)?;
        let value = read_value(&mut c, t, 0, &what)?;
        if let Some(j) = key_index.insert(key.to_owned(), i) {
            return Err(Error::format(path, format!("metadata key '{key}' appears twice (#{j} and #{i})")));
        }
        metadata.push((key.to_owned(), value));
    }

    let alignment = match key_index.get("general.alignment").map(|&i| &metadata[i].1) {
        None => DEFAULT_ALIGNMENT,
        Some(GgufValue::U32(a)) if a.is_power_of_two() => *a as u64,
        Some(GgufValue::U32(a)) => {
            return Err(Error::format(path, format!("metadata key 'general.alignment' is {a}, which is not a power of two")))
        }
        Some(v) => return Err(Error::format(path, format!("metadata key 'general.alignment' must be a uint32, found {}", describe(v)))),
    };

    // Smallest possible tensor info: name length + 1-byte name + n_dims + type + offset.
    let n_tensors = c.check_count(n_tensors, 8 + 1 + 4 + 4 + 8, &|| "tensor count".into())?;
    let mut tensors = Vec::with_capacity(n_tensors);
    let mut tensor_index = HashMap::with_capacity(n_tensors);
    for i in 0..n_tensors {
        let info = read_tensor_info(&mut c, i, alignment)?;
        if let Some(j) = tensor_index.insert(info.name.clone(), i) {
            return Err(Error::format(path, format!("tensor '{}' appears twice (#{j} and #{i})", info.name)));
        }
        tensors.push(info);
    }

    let file_len = map.len() as u64;
    let data_offset = (c.pos as u64).next_multiple_of(alignment);
    if !tensors.is_empty() && data_offset > file_len {
        return Err(Error::format(
            path,
            format!("the data section would start at offset {data_offset}, past the end of the file ({file_len} bytes)"),
        ));
    }
    check_tensor_placement(path, &tensors, data_offset, file_len)?;

    Ok(GgufFile { path: path.to_path_buf(), version, tensors, alignment, data_offset, metadata, key_index, tensor_index, map })
}

/// Reads a value of type `t`; `depth` counts enclosing arrays.
fn read_value(c: &mut Cursor, t: u32, depth: usize, what: &dyn Fn() -> String) -> Result<GgufValue> {
    use type_id::*;
    Ok(match t {
        U8 => GgufValue::U8(c.array::<1>(what)?[0]),
        I8 => GgufValue::I8(c.array::<1>(what)?[0] as i8),
        U16 => GgufValue::U16(u16::from_le_bytes(c.array(what)?)),
        I16 => GgufValue::I16(i16::from_le_bytes(c.array(what)?)),
        U32 => GgufValue::U32(u32::from_le_bytes(c.array(what)?)),
        I32 => GgufValue::I32(i32::from_le_bytes(c.array(what)?)),
        F32 => GgufValue::F32(f32::from_le_bytes(c.array(what)?)),
        BOOL => {
            let b = c.array::<1>(what)?[0];
            GgufValue::Bool(read_bool(c, b, what)?)
        }
        STRING => GgufValue::String(c.str(what)?.to_owned()),
        ARRAY => GgufValue::Array(read_array(c, depth, what)?),
        U64 => GgufValue::U64(u64::from_le_bytes(c.array(what)?)),
        I64 => GgufValue::I64(i64::from_le_bytes(c.array(what)?)),
        F64 => GgufValue::F64(f64::from_le_bytes(c.array(what)?)),
        t => return Err(c.err(format!("{}: unknown value type {t}", what()))),
    })
}

fn read_bool(c: &Cursor, b: u8, what: &dyn Fn() -> String) -> Result<bool> {
    match b {
        0 => Ok(false),
        1 => Ok(true),
        b => Err(c.err(format!("{}: bool value is {b}, expected 0 or 1", what()))),
    }
}

/// Reads an array header (element type, count) and its elements.
fn read_array(c: &mut Cursor, depth: usize, what: &dyn Fn() -> String) -> Result<GgufArray> {
    use type_id::*;
    if depth >= MAX_ARRAY_DEPTH {
        return Err(c.err(format!("{}: arrays nested more than {MAX_ARRAY_DEPTH} deep", what())));
    }
    let t = c.u32(what)?;
    let n = c.u64(what)?;
    let min = min_value_bytes(t);
    if min == 0 {
        return Err(c.err(format!("{}: array of unknown value type {t}", what())));
    }
    let n = c.check_count(n, min, &|| format!("{}: array of {}", what(), value_type_name(t)))?;
    // Fixed-size elements: one bounds check for the whole array.
    macro_rules! fixed {
        ($ty:ty, $variant:ident) => {{
            const W: usize = std::mem::size_of::<$ty>();
            let raw = c.bytes((n * W) as u64, what)?;
            GgufArray::$variant(raw.chunks_exact(W).map(|b| <$ty>::from_le_bytes(b.try_into().expect("W bytes"))).collect())
        }};
    }
    Ok(match t {
        U8 => GgufArray::U8(c.bytes(n as u64, what)?.to_vec()),
        I8 => GgufArray::I8(c.bytes(n as u64, what)?.iter().map(|&b| b as i8).collect()),
        U16 => fixed!(u16, U16),
        I16 => fixed!(i16, I16),
        U32 => fixed!(u32, U32),
        I32 => fixed!(i32, I32),
        F32 => fixed!(f32, F32),
        U64 => fixed!(u64, U64),
        I64 => fixed!(i64, I64),
        F64 => fixed!(f64, F64),
        BOOL => GgufArray::Bool(c.bytes(n as u64, what)?.iter().map(|&b| read_bool(c, b, what)).collect::<Result<_, _>>()?),
        STRING => GgufArray::String(read_strings(c, n, what)?),
        ARRAY => {
            let mut v = Vec::with_capacity(n);
            for i in 0..n {
                v.push(read_array(c, depth + 1, &|| format!("{}: element #{i}", what()))?);
            }
            GgufArray::Array(v)
        }
        _ => unreachable!("unknown types rejected above"),
    })
}

/// `n` length-prefixed strings into one buffer. Validating UTF-8 once over the
/// whole buffer (plus a char-boundary check per string) rather than string by
/// string made a 262144-token vocabulary load three times faster.
fn read_strings(c: &mut Cursor, n: usize, what: &dyn Fn() -> String) -> Result<GgufStrings> {
    let mut text: Vec<u8> = Vec::new();
    let mut ends = Vec::with_capacity(n);
    for i in 0..n {
        let item = || format!("{}: string #{i}", what());
        let len = c.u64(&item)?;
        if len > c.remaining() {
            return Err(c.err(format!(
                "{}: string length {len} at offset {} is larger than the {} bytes left in the file",
                item(),
                c.pos - 8,
                c.remaining()
            )));
        }
        text.extend_from_slice(c.bytes(len, &item)?);
        ends.push(text.len());
    }
    // Valid as a whole with every end on a char boundary means every string is valid.
    match String::from_utf8(text) {
        Ok(text) if ends.iter().all(|&e| text.is_char_boundary(e)) => Ok(GgufStrings { text, ends }),
        Ok(text) => Err(c.err(bad_string(text.as_bytes(), &ends, what))),
        Err(e) => Err(c.err(bad_string(e.as_bytes(), &ends, what))),
    }
}

/// The error for the first string of `ends` that is not valid UTF-8 on its own.
fn bad_string(text: &[u8], ends: &[usize], what: &dyn Fn() -> String) -> String {
    let mut start = 0;
    for (i, &end) in ends.iter().enumerate() {
        if let Err(e) = std::str::from_utf8(&text[start..end]) {
            return format!("{}: string #{i}: string is not valid UTF-8 ({e})", what());
        }
        start = end;
    }
    format!("{}: strings are not valid UTF-8", what())
}

fn read_tensor_info(c: &mut Cursor, i: usize, alignment: u64) -> Result<GgufTensorInfo> {
    let name = c.str(&|| format!("tensor #{i} name"))?;
    if name.is_empty() {
        return Err(c.err(format!("tensor #{i} has an empty name")));
    }
    let what = || format!("tensor '{name}'");
    let n_dims = c.u32(&what)? as usize;
    if n_dims > MAX_DIMS {
        return Err(c.err(format!("tensor '{name}' has {n_dims} dimensions, more than ggml's {MAX_DIMS}")));
    }
    let mut ne = [1u64; MAX_DIMS];
    for (d, slot) in ne.iter_mut().enumerate().take(n_dims) {
        *slot = c.u64(&what)?;
        if *slot > i64::MAX as u64 {
            return Err(c.err(format!("tensor '{name}' dimension {d} is {} (negative as ggml's int64)", *slot as i64)));
        }
    }
    let dims = &ne[..n_dims];
    let numel = dims.iter().try_fold(1u64, |a, &d| a.checked_mul(d));
    if numel.is_none_or(|n| n > i64::MAX as u64 || n > usize::MAX as u64) {
        return Err(c.err(format!("tensor '{name}' has shape {dims:?} (ggml order), whose element count overflows")));
    }
    let type_id = c.u32(&what)?;
    let ty = GgmlType::from_id(type_id).ok_or_else(|| {
        c.err(match unsupported_type_name(type_id) {
            Some(n) => format!("tensor '{name}' has type {n} (id {type_id}), which dyag does not support"),
            None => format!("tensor '{name}' has unknown type id {type_id}"),
        })
    })?;
    let offset = c.u64(&what)?;
    let shape: Vec<usize> = dims.iter().rev().map(|&d| d as usize).collect();
    if ne[0] % ty.block_size() as u64 != 0 {
        return Err(c.err(format!(
            "tensor '{name}' of type {ty} has rows of {} elements, not a multiple of the block size {}",
            ne[0],
            ty.block_size()
        )));
    }
    let n_bytes = ty
        .tensor_bytes(&shape)
        .ok_or_else(|| c.err(format!("tensor '{name}' with shape {shape:?} of type {ty} has a byte size that overflows")))?;
    if offset % alignment != 0 {
        return Err(c.err(format!("tensor '{name}' has offset {offset}, not a multiple of the alignment {alignment}")));
    }
    Ok(GgufTensorInfo { name: name.to_owned(), shape, ty, offset, n_bytes })
}

/// Every tensor lies inside the file, and no two overlap.
fn check_tensor_placement(path: &Path, tensors: &[GgufTensorInfo], data_offset: u64, file_len: u64) -> Result<()> {
    let data_len = file_len.saturating_sub(data_offset);
    for t in tensors {
        let end = t.offset.checked_add(t.n_bytes as u64);
        if end.is_none_or(|e| e > data_len) {
            return Err(Error::format(
                path,
                format!(
                    "tensor '{}' ({} bytes at data offset {}) extends past the end of the file (data section holds {data_len} bytes)",
                    t.name, t.n_bytes, t.offset
                ),
            ));
        }
    }
    let mut order: Vec<&GgufTensorInfo> = tensors.iter().filter(|t| t.n_bytes > 0).collect();
    order.sort_by_key(|t| t.offset);
    for pair in order.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if a.offset + a.n_bytes as u64 > b.offset {
            return Err(Error::format(
                path,
                format!(
                    "tensors '{}' (data bytes {}..{}) and '{}' (from {}) overlap",
                    a.name,
                    a.offset,
                    a.offset + a.n_bytes as u64,
                    b.name,
                    b.offset
                ),
            ));
        }
    }
    Ok(())
}
