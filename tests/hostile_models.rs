//! Hostile model files (hardening findings 1, 2, 3, 12): one value of a
//! tiny, complete Gemma 3 GGUF model changed at a time. The files are
//! committed in tests/hostile/models (the C test in bindings/c feeds each
//! through dyag_model_open and dyag_generate_chat) and rebuilt here byte for
//! byte, so this file is how they are made (`DYAG_UPDATE_HOSTILE=1` writes
//! them). The CLI must refuse each with a clear message, under
//! `ulimit -v 8 GiB` and a time limit, and run the unmodified model.

mod common;

use common::gguf_writer::*;
use common::hostile;
use std::path::{Path, PathBuf};

fn models_dir() -> PathBuf {
    hostile::dir().join("models")
}

/// (file name, what is changed, words the refusal must contain).
fn variants() -> Vec<(&'static str, Builder, Vec<&'static str>)> {
    let u64v = |v: u64| v.to_le_bytes().to_vec();
    let f32v = |v: f32| v.to_le_bytes().to_vec();
    let t = tiny_gemma3;
    vec![
        ("ok-tiny.gguf", t(), vec![]),
        ("refuse-block-count-2e40.gguf", t().set("gemma3.block_count", T_U64, u64v(1 << 40)), vec!["gemma3.block_count", "out of range"]),
        ("refuse-head-count-kv-huge.gguf", t().set("gemma3.attention.head_count_kv", T_U64, u64v(1 << 33)), vec!["head_count_kv", "out of range"]),
        ("refuse-sliding-window-0.gguf", t().set("gemma3.attention.sliding_window", T_U32, u32_le(0)), vec!["sliding_window", "out of range"]),
        ("refuse-context-2e50.gguf", t().set("gemma3.context_length", T_U64, u64v(1 << 50)), vec!["context_length", "out of range"]),
        ("refuse-rope-nan.gguf", t().set("gemma3.rope.freq_base", T_F32, f32v(f32::NAN)), vec!["rope_theta", "NaN"]),
        ("refuse-rope-zero.gguf", t().set("gemma3.rope.freq_base", T_F32, f32v(0.0)), vec!["rope_theta", "not a positive"]),
        ("refuse-bos-id-u64.gguf", t().set("tokenizer.ggml.bos_token_id", T_U64, u64v((1 << 32) + 2)), vec!["bos_token_id", "not a token id"]),
        ("refuse-chat-template-empty.gguf", t().set("tokenizer.chat_template", T_STRING, gguf_str(b"")), vec!["chat template is empty"]),
        ("refuse-vocab-beyond-embedding.gguf", {
            let mut b = t();
            let extra = gguf_str(b"<extra>");
            // One more token than embedding rows: its id would index past the table.
            if let Some(kv) = b.kvs.iter_mut().find(|(k, _, _)| k == b"tokenizer.ggml.tokens") {
                let n = u64::from_le_bytes(kv.2[4..12].try_into().unwrap()) + 1;
                kv.2[4..12].copy_from_slice(&n.to_le_bytes());
                kv.2.extend_from_slice(&extra);
            }
            for key in [&b"tokenizer.ggml.scores"[..], b"tokenizer.ggml.token_type"] {
                if let Some(kv) = b.kvs.iter_mut().find(|(k, _, _)| k == key) {
                    let n = u64::from_le_bytes(kv.2[4..12].try_into().unwrap()) + 1;
                    kv.2[4..12].copy_from_slice(&n.to_le_bytes());
                    kv.2.extend_from_slice(&1i32.to_le_bytes());
                }
            }
            b
        }, vec!["tokenizer.ggml.tokens has 263 tokens", "262 rows"]),
        (
            "chat-template-loops.gguf",
            t().set(
                "tokenizer.chat_template",
                T_STRING,
                gguf_str(b"{% for a in range(100000) %}{% for b in range(100000) %}{% for c in range(100000) %}x{% endfor %}{% endfor %}{% endfor %}"),
            ),
            vec!["chat template", "instructions"],
        ),
        (
            "chat-template-grows.gguf",
            t().set("tokenizer.chat_template", T_STRING, gguf_str(b"{% for a in range(100000) %}{{ 'x' * 100000 }}{% endfor %}")),
            vec!["chat template", "exceeds"],
        ),
    ]
}

/// The committed files are what this test builds (or are written with
/// DYAG_UPDATE_HOSTILE=1), and no other file sits beside them.
#[test]
fn committed_files_are_these_variants() {
    let update = std::env::var_os("DYAG_UPDATE_HOSTILE").is_some_and(|v| v == "1");
    let dir = models_dir();
    let mut names = Vec::new();
    for (name, b, _) in variants() {
        let bytes = b.build();
        let path = dir.join(name);
        if update {
            std::fs::write(&path, &bytes).unwrap();
        }
        let on_disk = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (DYAG_UPDATE_HOSTILE=1 writes it)", path.display()));
        assert!(on_disk == bytes, "{} differs from what this test builds (DYAG_UPDATE_HOSTILE=1 rewrites it)", path.display());
        names.push(name.to_string());
    }
    let mut found: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".gguf"))
        .collect();
    found.sort();
    names.sort();
    assert_eq!(found, names);
}

fn ask(model: &Path) -> hostile::Outcome {
    let m = model.to_str().unwrap();
    hostile::run(
        Path::new(env!("CARGO_BIN_EXE_dyag")),
        &["query-finetuned", "--base-model", m, "--temperature", "0", "--max-tokens", "4", "--threads", "1", "Bonjour"],
        None,
    )
}

/// Every hostile file is refused with its reason; the unmodified one answers.
#[test]
fn the_cli_refuses_each_hostile_model() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, b, needles) in variants() {
        // Built here rather than read: this test does not depend on the update step.
        let path = tmp.path().join(name);
        std::fs::write(&path, b.build()).unwrap();
        let o = ask(&path);
        if needles.is_empty() {
            o.succeeded();
        } else {
            o.refused(&needles);
        }
    }
}

/// Finding 4: a step whose loss or gradient is not finite stops the
/// training before the update, with the step named (it went on and wrote
/// an all-NaN adapter).
#[test]
fn a_diverging_step_stops_the_training() {
    use dyag::model::lora::LoraConfig;
    use dyag::train::data::{Example, Prepared};
    use dyag::train::trainer::{train, TrainJob, TrainOptions};
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("tiny.gguf");
    std::fs::write(&path, tiny_gemma3().build()).unwrap();
    let (mut model, _) = dyag::model::load::load_gguf(&path).unwrap();
    model.final_norm[0] = f32::INFINITY; // every logit becomes inf or NaN
    let tokens: Vec<u32> = (10..26).collect();
    let labels: Vec<i32> = tokens.iter().map(|&t| t as i32).collect();
    let data = Prepared { examples: vec![Example { tokens, labels }], ..Default::default() };
    let opts = TrainOptions {
        epochs: 1,
        batch_size: 1,
        gradient_accumulation: 1,
        lr: 1e-3,
        warmup_ratio: 0.0,
        schedule: dyag::train::schedule::Schedule::Constant,
        weight_decay: 0.0,
        max_grad_norm: 1.0,
        seed: 1,
        max_seq_len: 64,
        gradient_checkpointing: false,
        save_steps: None,
        lora: LoraConfig { r: 2, alpha: 4.0, dropout: 0.0, use_rslora: false, targets: LoraConfig::all_linear(&model) },
    };
    let out = tmp.path().join("run");
    let job = TrainJob { model: &model, base_name: "tiny", data: &data, val: None, opts: &opts, output: &out, resume: None };
    let e = train(&job, &mut |_| true).expect_err("trained on NaN").to_string();
    assert!(e.contains("training diverged at step 1"), "{e}");
    assert!(!out.join("checkpoint-1").exists());
}
