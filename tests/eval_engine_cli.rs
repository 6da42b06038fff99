//! evaluate-finetuned, evaluate-rag (plain and --hybrid) and compare-models
//! end to end with dyag's real engine, on the tiny Gemma 3 fixture model and
//! its PEFT adapter (tests/data/fixtures/gemma3: random weights, so the answers
//! are noise; what is checked is the pipeline: loading, measurements, sources,
//! files). The real-model run (gemma3:270m) belongs to the workflow test.

use dyag::eval::validate::read_results;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/fixtures");
const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/eval");

/// An HF model folder (fixture weights + fixture tokenizer) and an adapter
/// folder whose config points at it.
fn model_and_adapter(dir: &Path) -> (PathBuf, PathBuf) {
    let model = dir.join("model");
    let adapter = dir.join("adapter");
    std::fs::create_dir_all(&model).unwrap();
    std::fs::create_dir_all(&adapter).unwrap();
    for f in ["config.json", "generation_config.json", "model.safetensors"] {
        std::fs::copy(format!("{FIXTURES}/gemma3/model/{f}"), model.join(f)).unwrap();
    }
    std::fs::copy(format!("{FIXTURES}/tokenizer/tokenizer.json"), model.join("tokenizer.json")).unwrap();
    std::fs::copy(format!("{FIXTURES}/gemma3/peft_adapter/adapter_model.safetensors"), adapter.join("adapter_model.safetensors")).unwrap();
    let mut config: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{FIXTURES}/gemma3/peft_adapter/adapter_config.json")).unwrap()).unwrap();
    config["base_model_name_or_path"] = Value::from(model.to_str().unwrap());
    std::fs::write(adapter.join("adapter_config.json"), serde_json::to_vec(&config).unwrap()).unwrap();
    (model, adapter)
}

fn dyag(args: &[&str]) {
    let o = Command::new(env!("CARGO_BIN_EXE_dyag")).args(args).output().unwrap();
    assert!(o.status.success(), "dyag {args:?} failed:\n{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn evaluate_and_compare_with_the_engine() {
    let dir = tempfile::tempdir().unwrap();
    let (model, adapter) = model_and_adapter(dir.path());
    let (model, adapter) = (model.to_str().unwrap(), adapter.to_str().unwrap());
    let questions = format!("{DATA}/questions.jsonl");
    let out = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let common = ["--max-tokens", "8", "--device", "cpu", "--threads", "1", "--no-progress"];
    // The fixture model has a 256-token context: one short record per prompt.
    let small_rag = ["--top-k", "1", "--max-context-chars", "40", "--lang", "en", "--system-prompt", ""];

    // Fine-tuned: the base model comes from the adapter's config.
    dyag(&[&["evaluate-finetuned", &questions, "--model", adapter, "--output", &out("ft.json")][..], &common].concat());
    let ft = read_results(Path::new(&out("ft.json"))).unwrap();
    assert_eq!(ft.metadata.system, "finetuned");
    assert_eq!(ft.metadata.base_model.as_deref(), Some(model));
    assert_eq!(ft.metadata.adapter.as_deref(), Some(adapter));
    assert_eq!(ft.metadata.device.as_deref(), Some("cpu"));
    assert!(ft.metadata.model.as_deref().unwrap().contains("LoRA"), "{:?}", ft.metadata.model);
    assert_eq!(ft.questions.len(), 6);
    for q in &ft.questions {
        assert!(q.error.is_none(), "{}: {:?}", q.id, q.error);
        assert!(q.prompt_tokens.unwrap() > 10);
        assert!((1..=8).contains(&q.completion_tokens.unwrap()), "{}", q.id);
        assert!(q.latency.as_ref().unwrap().total_ms.unwrap() > 0.0);
        assert!(q.sources.is_none());
        assert!(q.scores.keyword_recall.is_some());
    }
    // Greedy decoding: a second run gives the same answers.
    dyag(&[&["evaluate-finetuned", &questions, "--model", adapter, "--output", &out("ft2.json")][..], &common].concat());
    let ft2 = read_results(Path::new(&out("ft2.json"))).unwrap();
    let answers = |r: &dyag::eval::results::ResultsFile| r.questions.iter().map(|q| q.answer.clone()).collect::<Vec<_>>();
    assert_eq!(answers(&ft), answers(&ft2));

    // RAG with the base model, and hybrid with the adapter.
    let corpus = format!("{DATA}/catalogue.md");
    // (the chat prompt: the completion prompt's worked example does not fit this tiny model's 256 positions)
    dyag(
        &[
            &[
                "evaluate-rag",
                &questions,
                "--corpus",
                &corpus,
                "--base-model",
                model,
                "--prompt-style",
                "chat",
                "--output",
                &out("rag.json"),
            ][..],
            &small_rag,
            &common,
        ]
        .concat(),
    );
    dyag(
        &[
            &[
                "evaluate-rag",
                &questions,
                "--corpus",
                &corpus,
                "--base-model",
                model,
                "--hybrid",
                "--model",
                adapter,
                "--output",
                &out("hy.json"),
            ][..],
            &small_rag,
            &common,
        ]
        .concat(),
    );
    let want = ["GIDAF", "GIDAF", "SIRH", "Portail Agents", "SIRH", "ArchivNum"];
    for (file, system) in [("rag.json", "rag"), ("hy.json", "hybrid")] {
        let r = read_results(Path::new(&out(file))).unwrap();
        assert_eq!(r.metadata.system, system);
        assert_eq!(r.metadata.retrieval.as_ref().unwrap().documents, Some(6));
        assert_eq!(r.metadata.adapter.is_some(), system == "hybrid");
        for (q, id) in r.questions.iter().zip(want) {
            assert!(q.error.is_none(), "{file} {}: {:?}", q.id, q.error);
            assert_eq!(q.sources.as_ref().unwrap()[0].id, id, "{file} {}", q.id);
        }
        assert_eq!(r.aggregates.unwrap().sourced_rate, Some(1.0));
    }

    // compare-models on the three runs: every format, and the measured prompt
    // sizes (retrieved context vs question alone) decide the tokens winner.
    let report = dir.path().join("report");
    dyag(&[
        "compare-models",
        "--rag-results",
        &out("rag.json"),
        "--finetuned-results",
        &out("ft.json"),
        "--hybrid-results",
        &out("hy.json"),
        "--output",
        report.to_str().unwrap(),
        "--format",
        "all",
    ]);
    for f in ["comparison.json", "comparison.md", "comparison.html"] {
        assert!(report.join(f).is_file(), "{f}");
    }
    let c: Value = serde_json::from_str(&std::fs::read_to_string(report.join("comparison.json")).unwrap()).unwrap();
    let m = c["metrics"].as_array().unwrap().iter().find(|m| m["key"] == "prompt_tokens_per_question").unwrap();
    let v = |s: &str| m["values"].as_array().unwrap().iter().find(|v| v["system"] == s).unwrap()["value"].as_f64().unwrap();
    assert!(v("rag") > v("finetuned"), "RAG prompts carry a record: {} vs {}", v("rag"), v("finetuned"));
    assert_eq!(m["winners"], serde_json::json!(["finetuned"]));
}
