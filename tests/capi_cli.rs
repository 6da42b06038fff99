//! The CLI and the C ABI agree, on the tiny Gemma 3 fixture:
//! `query-finetuned --json` gives the ABI's greedy tokens, and an adapter
//! written by `dyag finetune` (through the shared recipe) answers the same
//! through `dyag_model_open_finetuned` as through the CLI.

mod capi_support;

use capi_support::*;
use dyag::ffi::error::DyagStatus as S;
use dyag::ffi::generate::*;
use dyag::ffi::model::*;
use std::path::Path;
use std::process::Command;
use std::ptr::null_mut;

/// `dyag query-finetuned ... --json`: (tokens, prompt_tokens, answer).
fn cli_answer(args: &[&str]) -> (Vec<u32>, usize, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_dyag")).arg("query-finetuned").args(args).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let tokens = v["tokens"].as_array().unwrap().iter().map(|t| t.as_u64().unwrap() as u32).collect();
    (tokens, v["prompt_tokens"].as_u64().unwrap() as usize, v["answer"].as_str().unwrap().to_string())
}

/// The same question through the ABI, with the CLI's default system prompt.
fn abi_answer(model: DyagModel, question: &str, max_tokens: u32) -> (Vec<u32>, usize, String) {
    let system = c(dyag::data::DEFAULT_SYSTEM_PROMPT);
    let q = c(question);
    let msgs =
        [DyagMessage { role: c"system".as_ptr(), content: system.as_ptr() }, DyagMessage { role: c"user".as_ptr(), content: q.as_ptr() }];
    let p = DyagSamplingParams { temperature: 0.0, max_tokens, ..dyag_sampling_default_params() };
    unsafe {
        let mut g = std::mem::zeroed::<DyagGeneration>();
        expect(dyag_generate_chat(model, msgs.as_ptr(), 2, &p, None, null_mut(), &mut g), S::Ok);
        let tokens = std::slice::from_raw_parts(g.tokens, g.n_tokens).to_vec();
        let text = std::ffi::CStr::from_ptr(g.text).to_str().unwrap().to_string();
        let prompt = g.prompt_tokens;
        dyag_generation_free(&mut g);
        (tokens, prompt, text)
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn the_cli_and_the_abi_give_the_same_tokens_before_and_after_finetuning() {
    let dir = tempfile::tempdir().unwrap();
    let tiny = tiny_model(dir.path());
    let q = "Qui gère Kubi ?";
    let model = open(&tiny);
    let cli = cli_answer(&["--base-model", s(&tiny), "--device", "cpu", "--temperature", "0", "--max-tokens", "10", "--json", q]);
    assert_eq!(abi_answer(model, q, 10), cli);
    expect(dyag_model_free(model), S::Ok);

    let out = dir.path().join("run");
    let data = data("train.jsonl");
    let o = Command::new(env!("CARGO_BIN_EXE_dyag"))
        .args(["finetune", "--dataset", s(&data), "--output", s(&out), "--base-model", s(&tiny), "--force-cpu", "--threads", "1"])
        .args([
            "--epochs",
            "3",
            "--batch-size",
            "4",
            "--lora-rank",
            "4",
            "--lora-alpha",
            "8",
            "--lora-dropout",
            "0",
            "--lr",
            "1e-2",
            "--warmup-ratio",
            "0",
            "--max-seq-len",
            "128",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let final_dir = out.join("final");
    for f in ["adapter_config.json", "adapter_model.safetensors", "tokenizer.json", "training_summary.json"] {
        assert!(final_dir.join(f).is_file(), "{f} missing");
    }
    let cli = cli_answer(&[
        "--model",
        s(&final_dir),
        "--base-model",
        s(&tiny),
        "--device",
        "cpu",
        "--temperature",
        "0",
        "--max-tokens",
        "10",
        "--json",
        q,
    ]);
    let mut tuned = DyagModel::default();
    let o1 = DyagModelOptions { threads: 1, ..dyag_model_default_options() };
    unsafe { expect(dyag_model_open_finetuned(cpath(&final_dir).as_ptr(), cpath(&tiny).as_ptr(), &o1, &mut tuned), S::Ok) };
    assert_eq!(abi_answer(tuned, q, 10), cli);
    expect(dyag_model_free(tuned), S::Ok);
}
