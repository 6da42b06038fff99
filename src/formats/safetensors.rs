//! Hugging Face safetensors weights: one `.safetensors` file, or a folder with
//! `model.safetensors`, sharded `*.safetensors` listed by
//! `model.safetensors.index.json` (`weight_map`), or loose `*.safetensors`.
//!
//! Format: an 8-byte little-endian header length N, N bytes of JSON mapping
//! each tensor name to `{"dtype", "shape", "data_offsets": [begin, end]}`
//! (offsets relative to the byte after the header) plus an optional
//! `"__metadata__"` string map, then the data. Every file is memory-mapped and
//! its header checked in full at open: sizes against shapes and dtypes, every
//! range inside the file, the ranges covering the data exactly (no overlap, no
//! hole), no duplicate names. Tensors come out as [`QTensor`]s borrowing the map.

use crate::quant::tensor::{QTensor, TensorData};
use crate::quant::GgmlType;
use crate::{Error, Result};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Largest JSON header accepted (the reference implementation's limit).
const MAX_HEADER_BYTES: u64 = 100_000_000;
/// A sharded checkpoint's index (`model.safetensors.index.json`) larger than
/// this is refused unread: it names each tensor once, a few MiB at most.
const MAX_INDEX_BYTES: u64 = 64 << 20;
/// Name of the shard index in a sharded checkpoint folder.
pub const INDEX_FILE: &str = "model.safetensors.index.json";

/// Element size in bits of a safetensors dtype, if known.
fn dtype_bits(dtype: &str) -> Option<u64> {
    Some(match dtype {
        "BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" | "F8_E8M0" | "E8M0" => 8,
        "I16" | "U16" | "F16" | "BF16" => 16,
        "I32" | "U32" | "F32" => 32,
        "I64" | "U64" | "F64" => 64,
        "F4" => 4,
        "F6_E2M3" | "F6_E3M2" => 6,
        _ => return None,
    })
}

/// The engine's type for a safetensors dtype, when it has one.
fn ggml_type(dtype: &str) -> Option<GgmlType> {
    match dtype {
        "F32" => Some(GgmlType::F32),
        "F16" => Some(GgmlType::F16),
        "BF16" => Some(GgmlType::BF16),
        _ => None,
    }
}

struct Shard {
    path: PathBuf,
    map: Arc<memmap2::Mmap>,
    metadata: HashMap<String, String>,
}

struct Entry {
    shard: usize,
    dtype: String,
    shape: Vec<usize>,
    /// Absolute byte range in the shard's file.
    start: usize,
    len: usize,
}

/// The tensors of one safetensors checkpoint (one file or several shards).
pub struct SafetensorsSet {
    root: PathBuf,
    shards: Vec<Shard>,
    entries: HashMap<String, Entry>,
    /// Tensor names, sorted.
    names: Vec<String>,
}

impl fmt::Debug for SafetensorsSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SafetensorsSet")
            .field("root", &self.root)
            .field("files", &self.shards.len())
            .field("tensors", &self.names.len())
            .finish()
    }
}

impl SafetensorsSet {
    /// Opens a `.safetensors` file, or a folder (see the module docs).
    pub fn open(path: &Path) -> Result<Self> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if !meta.is_dir() {
            let shard = read_shard(path)?;
            return Ok(Self::from_shards(path, vec![shard], None));
        }
        let index = path.join(INDEX_FILE);
        if index.is_file() {
            return Self::open_index(path, &index);
        }
        let single = path.join("model.safetensors");
        if single.is_file() {
            let shard = read_shard(&single)?;
            return Ok(Self::from_shards(path, vec![shard], None));
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| Error::io(path, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "safetensors") && p.is_file())
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(Error::format(path, format!("no {INDEX_FILE}, model.safetensors or other .safetensors file in this folder")));
        }
        let shards = files.iter().map(|f| read_shard(f)).collect::<Result<Vec<_>>>()?;
        // Loose shards must not define a tensor twice.
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (i, s) in shards.iter().enumerate() {
            for name in header_names(s) {
                if let Some(j) = seen.insert(name, i) {
                    return Err(Error::format(
                        &s.0.path,
                        format!("tensor '{name}' is also in {}; without an index the shards must not overlap", shards[j].0.path.display()),
                    ));
                }
            }
        }
        Ok(Self::from_shards(path, shards, None))
    }

    /// A sharded checkpoint: the index names which file holds each tensor.
    fn open_index(dir: &Path, index: &Path) -> Result<Self> {
        let bytes = super::bounded::read_to_end(index, MAX_INDEX_BYTES)?;
        let text = String::from_utf8(bytes).map_err(|e| Error::format(index, format!("not UTF-8 text: {e}")))?;
        let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| Error::format(index, format!("invalid JSON: {e}")))?;
        if let Ok(Some(d)) = super::json::find_duplicate_key(&text) {
            return Err(Error::format(index, format!("line {}: {d}", d.line)));
        }
        let map = json.get("weight_map").and_then(|m| m.as_object()).ok_or_else(|| Error::format(index, "no \"weight_map\" object"))?;
        // Distinct shard files, in first-mention order.
        let mut files: Vec<String> = Vec::new();
        let mut wanted: Vec<(String, usize)> = Vec::with_capacity(map.len());
        for (name, file) in map {
            let file = file.as_str().ok_or_else(|| Error::format(index, format!("weight_map entry '{name}' is not a file name string")))?;
            if file.is_empty() || file.contains(['/', '\\']) || file == "." || file == ".." {
                return Err(Error::format(index, format!("weight_map entry '{name}': '{file}' is not a plain file name in this folder")));
            }
            let i = match files.iter().position(|f| f == file) {
                Some(i) => i,
                None => {
                    files.push(file.to_owned());
                    files.len() - 1
                }
            };
            wanted.push((name.clone(), i));
        }
        let mut shards = Vec::with_capacity(files.len());
        for file in &files {
            let p = dir.join(file);
            if !p.is_file() {
                let example = wanted.iter().find(|(_, i)| files[*i] == *file).map(|(n, _)| n.as_str()).unwrap_or("?");
                return Err(Error::format(
                    index,
                    format!("shard '{file}' (holding tensor '{example}' among others) is missing from {}", dir.display()),
                ));
            }
            shards.push(read_shard(&p)?);
        }
        let mut set = Self::from_shards(dir, shards, Some(&wanted));
        for (name, i) in &wanted {
            if !set.entries.contains_key(name) {
                return Err(Error::format(
                    &set.shards[*i].path,
                    format!("tensor '{name}' is listed in {INDEX_FILE} but not present in this shard"),
                ));
            }
        }
        set.root = dir.to_path_buf();
        Ok(set)
    }

    /// Builds the name table; with `only`, keeps just those (name, shard) pairs.
    fn from_shards(root: &Path, parsed: Vec<(Shard, Vec<(String, Entry)>)>, only: Option<&[(String, usize)]>) -> Self {
        let mut shards = Vec::with_capacity(parsed.len());
        let mut entries = HashMap::new();
        let wanted: Option<HashMap<&str, usize>> = only.map(|w| w.iter().map(|(n, i)| (n.as_str(), *i)).collect());
        for (i, (shard, list)) in parsed.into_iter().enumerate() {
            for (name, mut e) in list {
                if wanted.as_ref().is_some_and(|w| w.get(name.as_str()) != Some(&i)) {
                    continue;
                }
                e.shard = i;
                entries.insert(name, e);
            }
            shards.push(shard);
        }
        let mut names: Vec<String> = entries.keys().cloned().collect();
        names.sort();
        SafetensorsSet { root: root.to_path_buf(), shards, entries, names }
    }

    /// Tensor names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.entries.contains_key(name)
    }

    /// The dtype string (`F32`, `BF16`, `I64`...) and shape of `name`.
    pub fn info(&self, name: &str) -> Option<(&str, &[usize])> {
        self.entries.get(name).map(|e| (e.dtype.as_str(), e.shape.as_slice()))
    }

    /// The `__metadata__` of the file holding `name` (or of the first file with `None`).
    pub fn metadata(&self, name: Option<&str>) -> Option<&HashMap<String, String>> {
        let shard = match name {
            Some(n) => self.entries.get(n)?.shard,
            None => 0,
        };
        self.shards.get(shard).map(|s| &s.metadata)
    }

    /// The files that were opened.
    pub fn files(&self) -> impl Iterator<Item = &Path> {
        self.shards.iter().map(|s| s.path.as_path())
    }

    /// Tensor `name` as a QTensor over the memory map (F32, F16 and BF16 only).
    pub fn tensor(&self, name: &str) -> Result<QTensor> {
        let e = self.entries.get(name).ok_or_else(|| Error::tensor(name, format!("not found in {}", self.root.display())))?;
        let shard = &self.shards[e.shard];
        let ty = ggml_type(&e.dtype).ok_or_else(|| {
            Error::tensor(name, format!("dtype {} in {} is not supported (only F32, F16 and BF16)", e.dtype, shard.path.display()))
        })?;
        Ok(QTensor {
            name: name.to_owned(),
            ty,
            shape: e.shape.clone(),
            data: TensorData::Mapped { map: Arc::clone(&shard.map), offset: e.start, len: e.len },
        })
    }
}

/// The tensor names in a parsed shard.
fn header_names(parsed: &(Shard, Vec<(String, Entry)>)) -> impl Iterator<Item = &str> {
    parsed.1.iter().map(|(n, _)| n.as_str())
}

// ------------------------------------------------------------------ parsing

/// Maps and validates one file.
fn read_shard(path: &Path) -> Result<(Shard, Vec<(String, Entry)>)> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    if len < 8 {
        return Err(Error::format(path, format!("file is {len} bytes, too small for a safetensors header length (8 bytes)")));
    }
    let map = super::mapping::map_model_file(&file, path)?;
    let (metadata, entries) = parse_header(path, &map)?;
    Ok((Shard { path: path.to_path_buf(), map: Arc::new(map), metadata }, entries))
}

/// A file's `__metadata__` and its tensors (with absolute byte ranges).
type Header = (HashMap<String, String>, Vec<(String, Entry)>);

fn parse_header(path: &Path, bytes: &[u8]) -> Result<Header> {
    let n = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
    let file_len = bytes.len() as u64;
    if n > file_len - 8 {
        return Err(Error::format(path, format!("header length {n} runs past the end of the file ({file_len} bytes)")));
    }
    if n > MAX_HEADER_BYTES {
        return Err(Error::format(path, format!("header length {n} is larger than the {MAX_HEADER_BYTES} bytes allowed")));
    }
    let header =
        std::str::from_utf8(&bytes[8..8 + n as usize]).map_err(|e| Error::format(path, format!("header is not valid UTF-8: {e}")))?;
    let fields = parse_object(path, header)?;
    let data_start = 8 + n;
    let data_len = file_len - data_start;

    let mut metadata = HashMap::new();
    let mut entries = Vec::with_capacity(fields.len());
    for (name, value) in fields {
        if name == "__metadata__" {
            let obj = value.as_object().ok_or_else(|| Error::format(path, "\"__metadata__\" is not an object"))?;
            for (k, v) in obj {
                let v = v.as_str().ok_or_else(|| Error::format(path, format!("\"__metadata__\" entry '{k}' is not a string")))?;
                metadata.insert(k.clone(), v.to_owned());
            }
            continue;
        }
        let e = parse_entry(path, &name, &value, data_len)?;
        entries.push((name, Entry { start: (data_start + e.0) as usize, ..e.1 }));
    }
    check_coverage(path, &entries, data_start, data_len)?;
    Ok((metadata, entries))
}

/// Parses `{"dtype", "shape", "data_offsets"}`; returns the relative begin and the entry.
fn parse_entry(path: &Path, name: &str, v: &serde_json::Value, data_len: u64) -> Result<(u64, Entry)> {
    let field = |k: &str| v.get(k).ok_or_else(|| Error::format(path, format!("tensor '{name}': no \"{k}\" field")));
    if !v.is_object() {
        return Err(Error::format(path, format!("tensor '{name}': entry is not an object")));
    }
    let dtype = field("dtype")?.as_str().ok_or_else(|| Error::format(path, format!("tensor '{name}': \"dtype\" is not a string")))?;
    let bits = dtype_bits(dtype).ok_or_else(|| Error::format(path, format!("tensor '{name}': unknown dtype {dtype:?}")))?;
    let shape: Vec<u64> = field("shape")?
        .as_array()
        .and_then(|a| a.iter().map(|d| d.as_u64()).collect::<Option<_>>())
        .ok_or_else(|| Error::format(path, format!("tensor '{name}': \"shape\" is not a list of non-negative integers")))?;
    let offsets: Vec<u64> = field("data_offsets")?
        .as_array()
        .and_then(|a| a.iter().map(|d| d.as_u64()).collect::<Option<_>>())
        .filter(|o: &Vec<u64>| o.len() == 2)
        .ok_or_else(|| Error::format(path, format!("tensor '{name}': \"data_offsets\" is not a pair of non-negative integers")))?;
    let (begin, end) = (offsets[0], offsets[1]);
    if begin > end {
        return Err(Error::format(path, format!("tensor '{name}': data_offsets [{begin}, {end}] end before they begin")));
    }
    if end > data_len {
        return Err(Error::format(
            path,
            format!("tensor '{name}': data_offsets [{begin}, {end}] extend past the end of the file (data holds {data_len} bytes)"),
        ));
    }
    let numel = shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d));
    let expected_bits = numel.and_then(|n| n.checked_mul(bits)).filter(|b| b % 8 == 0);
    let expected = expected_bits
        .map(|b| b / 8)
        .ok_or_else(|| Error::format(path, format!("tensor '{name}': shape {shape:?} of {dtype} has no whole byte size")))?;
    if end - begin != expected {
        return Err(Error::format(
            path,
            format!(
                "tensor '{name}': {} bytes in data_offsets [{begin}, {end}], but shape {shape:?} of {dtype} needs {expected}",
                end - begin
            ),
        ));
    }
    let shape = shape
        .iter()
        .map(|&d| usize::try_from(d))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| Error::format(path, format!("tensor '{name}': shape too large")))?;
    Ok((begin, Entry { shard: 0, dtype: dtype.to_owned(), shape, start: 0, len: (end - begin) as usize }))
}

/// The tensors must tile the data section exactly: from 0, no overlap, no hole, to the end.
fn check_coverage(path: &Path, entries: &[(String, Entry)], data_start: u64, data_len: u64) -> Result<()> {
    let mut order: Vec<(&str, u64, u64)> =
        entries.iter().map(|(n, e)| (n.as_str(), e.start as u64 - data_start, e.start as u64 - data_start + e.len as u64)).collect();
    order.sort_by_key(|&(_, b, e)| (b, e));
    let mut pos = 0u64;
    let mut prev: Option<&str> = None;
    let after = |prev: Option<&str>| prev.map_or("the start of the data".to_string(), |p| format!("tensor '{p}'"));
    for &(name, begin, end) in &order {
        if begin < pos {
            let p = prev.unwrap_or_default();
            return Err(Error::format(path, format!("tensors '{p}' and '{name}' overlap (bytes {begin}..{pos} of the data)")));
        }
        if begin > pos {
            return Err(Error::format(
                path,
                format!("{} unused bytes (a hole in the data) between {} and tensor '{name}'", begin - pos, after(prev)),
            ));
        }
        pos = end;
        prev = Some(name);
    }
    if pos != data_len {
        return Err(Error::format(
            path,
            format!("the tensors cover {pos} bytes but the data section holds {data_len} (trailing bytes after {})", after(prev)),
        ));
    }
    Ok(())
}

/// Parses a JSON object keeping its entries in order and refusing duplicate keys
/// at any depth (serde_json's map would silently keep the last one).
fn parse_object(path: &Path, text: &str) -> Result<Vec<(String, serde_json::Value)>> {
    use serde::de::{Deserializer, MapAccess, Visitor};
    struct Entries;
    impl<'de> Visitor<'de> for Entries {
        type Value = Vec<(String, serde_json::Value)>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out: Vec<(String, serde_json::Value)> = Vec::new();
            while let Some((k, v)) = map.next_entry::<String, serde_json::Value>()? {
                out.push((k, v));
            }
            Ok(out)
        }
    }
    let text = text.trim_end_matches(' ');
    // Syntax errors are left to the parse below, which says them in this reader's words.
    match super::json::find_duplicate_key(text) {
        Ok(Some(d)) if d.at.is_empty() && d.key != "__metadata__" => {
            return Err(Error::format(path, format!("header is not a valid JSON object: tensor '{}' appears twice", d.key)));
        }
        Ok(Some(d)) => return Err(Error::format(path, format!("header is not a valid JSON object: {d}"))),
        Ok(None) | Err(_) => {}
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let out = de.deserialize_map(Entries).map_err(|e| Error::format(path, format!("header is not a valid JSON object: {e}")))?;
    de.end().map_err(|e| Error::format(path, format!("header has trailing characters after the JSON object: {e}")))?;
    Ok(out)
}

// ------------------------------------------------------------------ writing

/// An f32 tensor borrowed for serialisation.
struct F32View<'a> {
    shape: &'a [usize],
    data: &'a [f32],
}

impl safetensors::View for F32View<'_> {
    fn dtype(&self) -> safetensors::Dtype {
        safetensors::Dtype::F32
    }
    fn shape(&self) -> &[usize] {
        self.shape
    }
    fn data(&self) -> std::borrow::Cow<'_, [u8]> {
        std::borrow::Cow::Borrowed(bytemuck::cast_slice(self.data))
    }
    fn data_len(&self) -> usize {
        self.data.len() * 4
    }
}

/// The bytes of a safetensors file holding these f32 tensors and metadata.
pub fn serialize_f32(tensors: &[(String, Vec<usize>, &[f32])], metadata: &[(&str, &str)]) -> Result<Vec<u8>> {
    for (name, shape, data) in tensors {
        if shape.iter().product::<usize>() != data.len() {
            return Err(Error::tensor(name, format!("{} values for shape {shape:?}", data.len())));
        }
    }
    let views = tensors.iter().map(|(n, s, d)| (n.as_str(), F32View { shape: s, data: d }));
    let meta: HashMap<String, String> = metadata.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    safetensors::tensor::serialize(views, Some(meta)).map_err(|e| Error::msg(format!("cannot serialise safetensors: {e}")))
}
