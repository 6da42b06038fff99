//! The original tool's tested workflow (docs/original/FINETUNING_WORKFLOW.md,
//! "Workflow Complet - Exemple Testé") on gemma3:270m on the CPU, through the
//! `dyag` binary: 10 examples, 1 epoch, batch 1; then enough epochs that the
//! greedy answers to the 10 training questions contain their key fact for
//! at least 8 of 10.

mod common;

use dyag::formats::chat::ChatMessage;
use dyag::formats::safetensors::SafetensorsSet;
use dyag::infer::engine::load_engine;
use dyag::infer::SamplingParams;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/seed_workflow")
}

fn finetune(out: &Path, extra: &[&str]) -> String {
    let models = common::gemma_gguf().parent().unwrap().to_path_buf();
    let o = Command::new(env!("CARGO_BIN_EXE_dyag"))
        .env("DYAG_MODELS_DIR", models)
        .args(["finetune", "--dataset"])
        .arg(data().join("train.jsonl"))
        .arg("--output")
        .arg(out)
        .args(["--base-model", "gemma3:270m", "--force-cpu"])
        .args(extra)
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&o.stdout).to_string(), String::from_utf8_lossy(&o.stderr).to_string());
    assert!(o.status.success(), "finetune failed:\n{stderr}");
    assert!(stderr.contains("TRAINING TERMINÉ"), "{stderr}");
    stdout
}

fn fold(s: &str) -> String {
    s.to_lowercase().replace(['é', 'è', 'ê'], "e").replace('à', "a")
}

#[test]
fn seed_workflow_on_gemma3_cpu() {
    let tmp = tempfile::tempdir().unwrap();

    // 1. The seed's test: 10 examples, 1 epoch, batch 1, on the CPU.
    let quick = tmp.path().join("test-gemma");
    let stdout = finetune(&quick, &["--epochs", "1", "--batch-size", "1"]);
    for key in ["duration:", "output_path:", "epochs: 1", "train_loss:", "mean_token_accuracy:", "train_samples_per_second:", "num_tokens:"]
    {
        assert!(stdout.contains(key), "missing '{key}' in:\n{stdout}");
    }
    let fin = quick.join("final");
    let cfg: Value = serde_json::from_str(&std::fs::read_to_string(fin.join("adapter_config.json")).unwrap()).unwrap();
    assert_eq!(cfg["peft_type"], "LORA");
    assert_eq!(cfg["task_type"], "CAUSAL_LM");
    assert_eq!(cfg["r"], 16);
    assert_eq!(cfg["lora_alpha"], 32.0);
    assert_eq!(cfg["lora_dropout"], 0.05);
    assert_eq!(cfg["bias"], "none");
    assert_eq!(cfg["base_model_name_or_path"], "google/gemma-3-270m");
    let st = SafetensorsSet::open(&fin.join("adapter_model.safetensors")).unwrap();
    // 18 layers × 7 projections × (A, B).
    assert_eq!(st.len(), 18 * 7 * 2);
    let a = st.tensor("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight").unwrap();
    assert_eq!(a.shape, vec![16, 640]);
    let b = st.tensor("base_model.model.model.layers.17.mlp.down_proj.lora_B.weight").unwrap();
    assert_eq!(b.shape, vec![640, 16]);
    assert!(fin.join("training_summary.json").is_file() && fin.join("tokenizer_config.json").is_file());
    assert!(quick.join("checkpoint-10").join("optimizer.safetensors").is_file(), "checkpoint after the epoch");

    // 2. More epochs until the model knows its 10 facts.
    let trained = tmp.path().join("trained");
    finetune(&trained, &["--epochs", "6", "--batch-size", "2", "--lr", "1e-3"]);
    let mut engine = load_engine(None, Some(&trained.join("final"))).unwrap();
    let questions = std::fs::read_to_string(data().join("questions.jsonl")).unwrap();
    let mut hits = 0;
    let mut report = String::new();
    for line in questions.lines() {
        let q: Value = serde_json::from_str(line).unwrap();
        let messages = [
            ChatMessage::system("Tu es un assistant qui répond aux questions sur les applications MYGUSI."),
            ChatMessage::user(q["question"].as_str().unwrap()),
        ];
        let g = dyag::infer::ChatGenerator::chat(&mut engine, &messages, &SamplingParams::greedy(40), &mut |_| true).unwrap();
        let key = q["keywords"][0].as_str().unwrap();
        let ok = fold(&g.text).contains(&fold(key));
        hits += ok as usize;
        report.push_str(&format!("{} {} -> {}\n", if ok { "OK " } else { "BAD" }, q["question"], g.text));
    }
    eprintln!("{report}{hits}/10 answers contain their key fact");
    assert!(hits >= 8, "only {hits}/10 answers contain their key fact:\n{report}");
}
