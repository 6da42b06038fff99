//! Forward pass and greedy generation of the four tiny fixture models
//! (tests/data/fixtures, made with PyTorch + transformers + PEFT) against
//! their reference logits and ids.
//!
//! Tolerance: 1e-5 absolute on logits. The fixtures' float32-vs-float64
//! noise is ≤ 4.1e-7 and a reordered f32 sum moves logits by a few 1e-7;
//! the smallest injected bug (RoPE omitted) moves them by 5.8e-3. 1e-5 sits
//! far from both.

mod common;

use common::{fixture, max_abs_diff, read_safetensors};
use dyag::infer::sampling::argmax;
use dyag::infer::session::Session;
use dyag::model::load::load_hf_weights;
use dyag::model::peft::{load_adapter_weights, read_adapter_config};

const FAMILIES: [&str; 4] = ["llama", "qwen2", "gemma3", "phi3"];
const LOGIT_TOL: f64 = 1e-5;

fn row_ids(r: &common::RefTensor, row: usize) -> Vec<u32> {
    let cols = r.shape[1];
    r.values[row * cols..(row + 1) * cols].iter().map(|&v| v as u32).collect()
}

#[test]
fn base_and_lora_logits_match_references() {
    for family in FAMILIES {
        let dir = fixture(family);
        let model = load_hf_weights(&dir.join("model")).unwrap_or_else(|e| panic!("{family}: {e}"));
        let adapter_dir = dir.join("peft_adapter");
        let adapter = load_adapter_weights(&adapter_dir, &read_adapter_config(&adapter_dir).unwrap(), &model).unwrap();
        let refs = read_safetensors(&dir.join("reference.safetensors"));
        let ids = &refs["input_ids"];
        let vocab = model.config.vocab;
        for (name, lora) in [("logits", None), ("lora_logits", Some(&adapter))] {
            let want = &refs[name].values;
            for row in 0..2 {
                let tokens = row_ids(ids, row);
                let mut s = Session::new(&model, lora, tokens.len()).unwrap();
                let got = s.all_logits(&tokens).unwrap();
                let w = &want[row * tokens.len() * vocab..(row + 1) * tokens.len() * vocab];
                let d = max_abs_diff(&got, w);
                assert!(d < LOGIT_TOL, "{family} {name} row {row}: max |Δ| = {d:e}");
            }
        }
    }
}

#[test]
fn incremental_decoding_equals_full_forward() {
    // Prefill part of the sequence, then feed tokens one by one through the KV
    // cache: the last logits must match the full forward's.
    for family in FAMILIES {
        let dir = fixture(family);
        let model = load_hf_weights(&dir.join("model")).unwrap();
        let refs = read_safetensors(&dir.join("reference.safetensors"));
        let tokens = row_ids(&refs["input_ids"], 0);
        let mut s = Session::new(&model, None, tokens.len()).unwrap();
        s.feed(&tokens[..10]).unwrap();
        let mut last = Vec::new();
        for &t in &tokens[10..] {
            last = s.feed(&[t]).unwrap();
        }
        let vocab = model.config.vocab;
        let want = &refs["logits"].values[(tokens.len() - 1) * vocab..tokens.len() * vocab];
        let d = max_abs_diff(&last, want);
        assert!(d < LOGIT_TOL, "{family}: cached decode differs by {d:e}");
    }
}

#[test]
fn greedy_generation_matches_references() {
    for family in FAMILIES {
        let dir = fixture(family);
        let model = load_hf_weights(&dir.join("model")).unwrap();
        let adapter_dir = dir.join("peft_adapter");
        let adapter = load_adapter_weights(&adapter_dir, &read_adapter_config(&adapter_dir).unwrap(), &model).unwrap();
        let refs = read_safetensors(&dir.join("reference.safetensors"));
        let prompt = row_ids(&refs["gen_prompt"], 0);
        for (name, lora) in [("gen_base", None), ("gen_lora", Some(&adapter))] {
            let want = row_ids(&refs[name], 0);
            let mut s = Session::new(&model, lora, want.len()).unwrap();
            let mut ids = prompt.clone();
            let mut logits = s.feed(&prompt).unwrap();
            while ids.len() < want.len() {
                let next = argmax(&logits);
                ids.push(next);
                logits = s.feed(&[next]).unwrap();
            }
            assert_eq!(ids, want, "{family} {name}");
        }
    }
}
