//! Helpers shared by the integration tests: where the reference data and
//! the real model live, and reading reference tensors.
#![allow(dead_code)]

pub mod gguf_writer;
pub mod hostile;
pub mod rust_source;

use std::collections::HashMap;
use std::path::PathBuf;

/// The reference data vendored in the repository (tests/data/README.md says
/// where each file came from).
pub fn reference_data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

pub fn fixture(family: &str) -> PathBuf {
    reference_data().join("fixtures").join(family)
}

/// The real Gemma 3 270M GGUF; fails with the fix when it is missing.
pub fn gemma_gguf() -> PathBuf {
    let name = "gemma-3-270m-q4_k_m.gguf";
    let mut candidates = Vec::new();
    if let Some(d) = std::env::var_os("DYAG_MODELS_DIR") {
        candidates.push(PathBuf::from(d).join(name));
    }
    candidates.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models").join(name));
    candidates
        .into_iter()
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{name} not found: run scripts/fetch-model.sh first (or set DYAG_MODELS_DIR)"))
}

/// A reference tensor of any dtype, as f64 values with its shape.
pub struct RefTensor {
    pub shape: Vec<usize>,
    pub values: Vec<f64>,
}

pub fn read_safetensors(path: &std::path::Path) -> HashMap<String, RefTensor> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut out = HashMap::new();
    for (name, view) in st.tensors() {
        let data = view.data();
        let values: Vec<f64> = match view.dtype() {
            safetensors::Dtype::F32 => data.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64).collect(),
            safetensors::Dtype::F64 => data.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect(),
            safetensors::Dtype::I64 => data.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap()) as f64).collect(),
            other => panic!("{name}: dtype {other:?}"),
        };
        out.insert(name.to_string(), RefTensor { shape: view.shape().to_vec(), values });
    }
    out
}

/// Max |a − b| over two slices.
pub fn max_abs_diff(a: &[f32], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter().zip(b).map(|(x, y)| (*x as f64 - y).abs()).fold(0.0, f64::max)
}

/// A tiny Hugging Face model folder in `dir`: the gemma3 fixture's weights
/// and config with the fixture tokenizer (byte-level BPE with Gemma's turn
/// tokens), so commands run end to end in milliseconds.
pub fn tiny_model_dir(dir: &std::path::Path) -> PathBuf {
    let model = dir.join("tiny-gemma3");
    std::fs::create_dir_all(&model).unwrap();
    for f in ["config.json", "model.safetensors", "generation_config.json"] {
        std::fs::copy(fixture("gemma3").join("model").join(f), model.join(f)).unwrap();
    }
    std::fs::copy(reference_data().join("fixtures/tokenizer/tokenizer.json"), model.join("tokenizer.json")).unwrap();
    model
}

/// Writes a small chat dataset (`n` conversations) and returns its path.
pub fn tiny_dataset(dir: &std::path::Path, n: usize) -> PathBuf {
    let p = dir.join("train.jsonl");
    let mut s = String::new();
    for i in 0..n {
        let v = serde_json::json!({"messages": [
            {"role": "system", "content": "Tu réponds sur les applications."},
            {"role": "user", "content": format!("Qu'est-ce que APP{i} ?")},
            {"role": "assistant", "content": format!("APP{i} est une application de gestion numéro {i}.")},
        ]});
        s.push_str(&v.to_string());
        s.push('\n');
    }
    std::fs::write(&p, s).unwrap();
    p
}
