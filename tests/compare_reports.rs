//! compare-models on the committed sample results (tests/data/eval/compare):
//! every format is written, the winners and per-question differences are the
//! ones the samples were built to produce, missing metrics stay missing, and
//! bad inputs are refused with file:line.

mod eval_support;

use dyag::eval::prompt::{DirectPrompt, DEFAULT_SYSTEM_PROMPT};
use dyag::eval::questions::read_questions;
use dyag::eval::rag_prompt::RagPrompt;
use dyag::eval::results::Metadata;
use dyag::eval::runner::run_evaluation;
use dyag::infer::SamplingParams;
use dyag::rag::{load_catalogue, ContextLang};
use eval_support::{answer, Scripted, ScriptedGenerator, DATA};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn sample(name: &str) -> PathBuf {
    PathBuf::from(format!("{DATA}/compare/{name}"))
}

fn dyag(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_dyag")).args(args).output().expect("run dyag")
}

fn compare_all(out: &Path, extra: &[&str]) -> std::process::Output {
    let rag = sample("results_rag.json");
    let ft = sample("results_finetuned.json");
    let hy = sample("results_hybrid.json");
    let mut args = vec![
        "compare-models",
        "--rag-results",
        rag.to_str().unwrap(),
        "--finetuned-results",
        ft.to_str().unwrap(),
        "--hybrid-results",
        hy.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    dyag(&args)
}

fn metric<'a>(report: &'a Value, key: &str) -> &'a Value {
    report["metrics"].as_array().unwrap().iter().find(|m| m["key"] == key).unwrap_or_else(|| panic!("no metric {key}"))
}

fn winners(report: &Value, key: &str) -> (Vec<String>, String) {
    let m = metric(report, key);
    let w = m["winners"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    (w, m["status"].as_str().unwrap().to_string())
}

fn value(report: &Value, key: &str, system: &str) -> Value {
    metric(report, key)["values"].as_array().unwrap().iter().find(|v| v["system"] == system).unwrap()["value"].clone()
}

#[test]
fn three_systems_every_format_and_the_right_winners() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("comparison");
    let o = compare_all(&out, &["--format", "all"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let listed = String::from_utf8(o.stdout).unwrap();
    for f in ["comparison.json", "comparison.md", "comparison.html"] {
        assert!(out.join(f).is_file(), "{f} missing");
        assert!(listed.contains(f), "{listed}");
    }

    let report: Value = serde_json::from_str(&std::fs::read_to_string(out.join("comparison.json")).unwrap()).unwrap();
    assert_eq!(report["schema_version"], 1);
    assert_eq!(report["lang"], "fr");
    let w = |k| winners(&report, k);
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(w("success_rate"), (s(&["rag", "hybrid"]), "tie".into()));
    assert_eq!(w("correct_rate"), (s(&["hybrid"]), "winner".into()));
    assert_eq!(w("exact_match_rate"), (s(&["hybrid"]), "winner".into()));
    assert_eq!(w("mean_keyword_recall"), (s(&["hybrid"]), "winner".into()));
    assert_eq!(w("latency_mean_ms"), (s(&["finetuned"]), "winner".into()));
    assert_eq!(w("latency_p95_ms"), (s(&["finetuned"]), "winner".into()));
    assert_eq!(w("total_tokens_per_question"), (s(&["finetuned"]), "winner".into()));
    assert_eq!(w("prompt_tokens_per_question"), (s(&["finetuned"]), "winner".into()));
    assert_eq!(w("sourced_rate"), (s(&["rag", "hybrid"]), "tie".into()));
    assert_eq!(w("completion_tokens_per_question"), (s(&[]), "not_compared".into()));
    assert_eq!(metric(&report, "latency_mean_ms")["direction"], "lower_is_better");
    assert_eq!(metric(&report, "mean_f1")["direction"], "higher_is_better");

    // The hybrid file (another tool's) has no latency or tokens: missing, not zero.
    assert_eq!(value(&report, "latency_mean_ms", "hybrid"), Value::Null);
    assert_eq!(value(&report, "total_tokens_per_question", "hybrid"), Value::Null);
    assert_eq!(value(&report, "sourced_rate", "finetuned"), Value::Null);
    assert!((value(&report, "mean_keyword_recall", "rag").as_f64().unwrap() - 5.0 / 6.0).abs() < 1e-12);
    assert!((value(&report, "correct_rate", "finetuned").as_f64().unwrap() - 0.5).abs() < 1e-12);

    // Per-question differences: one system right, another wrong.
    let diffs = report["question_differences"].as_array().unwrap();
    let ids: Vec<&str> = diffs.iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec!["q1", "q2", "q4", "q5"]);
    let q5 = &diffs[3]["outcomes"];
    assert_eq!(q5[1]["system"], "finetuned");
    assert_eq!(q5[1]["verdict"], "wrong");
    assert!(q5[1]["error"].as_str().unwrap().contains("NaN"));
    assert_eq!(report["questions_compared"], 6);

    // Recommendations quote the numbers and favour the measured winners.
    let recs = report["recommendations"].as_array().unwrap();
    let rec = |c: &str| recs.iter().find(|r| r["criterion"] == c).unwrap_or_else(|| panic!("no {c}"));
    assert_eq!(rec("overall")["favours"], "hybrid");
    assert_eq!(rec("quality")["favours"], "hybrid");
    assert_eq!(rec("latency")["favours"], "finetuned");
    assert_eq!(rec("tokens")["favours"], "finetuned");
    assert_eq!(rec("traceability")["favours"], "rag");
    assert_eq!(rec("data_freshness")["favours"], "rag");
    assert_eq!(rec("hybrid")["favours"], "hybrid");
    assert!(rec("latency")["text"].as_str().unwrap().contains("ms"));
    assert!(rec("traceability")["text"].as_str().unwrap().contains("Fine-tuné n'en donne aucune"));

    let md = std::fs::read_to_string(out.join("comparison.md")).unwrap();
    assert!(md.starts_with("# Comparaison RAG / fine-tuning\n"));
    assert!(md.contains("| Rappel des faits clés | ↑ plus haut = mieux | 0.833 | 0.667 | **1.000** | Hybride |"), "{md}");
    assert!(md.contains("| Latence moyenne | ↓ plus bas = mieux | "));
    assert!(md.contains("| — | Fine-tuné |"), "missing hybrid latency should show as —");
    assert!(
        md.contains("| Réponses avec sources | ↑ plus haut = mieux | **100.0 %** | — | **100.0 %** | égalité : RAG, Hybride |"),
        "{md}"
    );
    assert!(md.contains("### q5 — Qui est responsable de SIRH ?"));
    assert!(md.contains("## Recommandations"));

    let html = std::fs::read_to_string(out.join("comparison.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(html.matches("<svg").count(), 3);
    assert!(!html.contains("<script"));
    assert!(!html.contains("<?xml"));
    assert!(html.contains("Content-Security-Policy"));
    // Self-contained: nothing is loaded from elsewhere (the SVG namespace is a name, not a load).
    for attr in ["src=", "href=", "url("] {
        assert!(!html.contains(attr), "HTML references an outside resource via {attr}");
    }
    assert!(html.contains("Hybride"));
}

#[test]
fn format_selects_the_files() {
    for (format, want) in [
        ("json", vec!["comparison.json"]),
        ("markdown", vec!["comparison.md"]),
        ("html", vec!["comparison.html"]),
        ("both", vec!["comparison.json", "comparison.md"]),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("o");
        let o = compare_all(&out, &["--format", format]);
        assert!(o.status.success(), "{format}: {}", String::from_utf8_lossy(&o.stderr));
        let mut files: Vec<String> = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        files.sort();
        assert_eq!(files, want, "{format}");
    }
}

#[test]
fn two_systems_in_english() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    let (rag, ft) = (sample("results_rag.json"), sample("results_finetuned.json"));
    let o = dyag(&[
        "compare-models",
        "--rag-results",
        rag.to_str().unwrap(),
        "--finetuned-results",
        ft.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "--format",
        "both",
        "--lang",
        "en",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: Value = serde_json::from_str(&std::fs::read_to_string(out.join("comparison.json")).unwrap()).unwrap();
    assert_eq!(report["systems"].as_array().unwrap().len(), 2);
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(winners(&report, "success_rate"), (s(&["rag"]), "winner".into()));
    assert_eq!(winners(&report, "exact_match_rate"), (s(&["rag", "finetuned"]), "tie".into()));
    assert_eq!(winners(&report, "mean_keyword_recall"), (s(&["rag"]), "winner".into()));
    assert_eq!(winners(&report, "latency_mean_ms"), (s(&["finetuned"]), "winner".into()));
    let ids: Vec<&str> = report["question_differences"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec!["q1", "q2", "q4", "q5"]);
    let md = std::fs::read_to_string(out.join("comparison.md")).unwrap();
    assert!(md.starts_with("# RAG / fine-tuning comparison\n"));
    assert!(md.contains("| Key-fact recall | ↑ higher is better | **0.833** | 0.667 | RAG |"), "{md}");
    assert!(!md.contains("Hybrid |"));
}

#[test]
fn bad_results_files_are_refused_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("results_v9.json");
    let text = std::fs::read_to_string(sample("results_rag.json")).unwrap().replacen("\"schema_version\": 1", "\"schema_version\": 9", 1);
    std::fs::write(&bad, text).unwrap();
    let out = dir.path().join("o");
    let ft = sample("results_finetuned.json");
    let o = dyag(&[
        "compare-models",
        "--rag-results",
        bad.to_str().unwrap(),
        "--finetuned-results",
        ft.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let stderr = String::from_utf8(o.stderr).unwrap();
    assert!(stderr.contains(&format!("{}:2: schema_version 9 is not supported", bad.display())), "{stderr}");
    assert!(!out.exists(), "nothing is written on error");

    let o = dyag(&[
        "compare-models",
        "--rag-results",
        ft.to_str().unwrap(),
        "--finetuned-results",
        ft.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "--keyword-threshold",
        "1.5",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8(o.stderr).unwrap().contains("--keyword-threshold must be in [0, 1], got 1.5"));
}

/// Rebuilds the sample results files. Not a check: run it by hand after
/// changing the scripts below, then review and commit the files
/// (`cargo test --test compare_reports -- --ignored regenerate_sample_results`).
#[test]
#[ignore]
fn regenerate_sample_results() {
    let questions = read_questions(Path::new(&format!("{DATA}/questions.jsonl"))).unwrap();
    let q = [
        "Qu'est-ce que GIDAF ?",
        "Qui héberge GIDAF ?",
        "À quoi sert SIRH ?",
        "Quelles technologies utilise le Portail Agents ?",
        "Qui est responsable de SIRH ?",
        "Où sont archivés les documents signés ?",
    ];
    let rag_prompts = || {
        RagPrompt::new(
            load_catalogue(Path::new(&format!("{DATA}/catalogue.jsonl"))).unwrap(),
            3,
            Some(DEFAULT_SYSTEM_PROMPT.into()),
            ContextLang::French,
        )
        .unwrap()
    };
    let meta = |system: &str, adapter: Option<&str>| Metadata {
        system: system.into(),
        base_model: Some("gemma3:270m".into()),
        adapter: adapter.map(str::to_string),
        device: Some("cpu".into()),
        system_prompt: Some(DEFAULT_SYSTEM_PROMPT.into()),
        questions_file: Some("tests/data/eval/questions.jsonl".into()),
        ..Default::default()
    };
    let params = SamplingParams::greedy(256);

    // RAG: good facts except q4, slow, long prompts.
    let mut rag = ScriptedGenerator::new(vec![
        (q[0], answer("GIDAF est une application de gestion des dossiers administratifs et financiers.", 320, 15, 420, 1650)),
        (q[1], answer("GIDAF est hébergé par la DSI, au datacenter de Toulouse.", 310, 14, 400, 1500)),
        (q[2], answer("SIRH sert à gérer la paie et les congés des agents.", 330, 13, 450, 1580)),
        (q[3], answer("Le contexte ne précise pas les technologies du Portail Agents.", 300, 12, 390, 1400)),
        (q[4], answer("La DRH est responsable de SIRH.", 315, 9, 410, 1300)),
        (q[5], answer("Les documents signés sont archivés dans ArchivNum.", 305, 11, 380, 1450)),
    ]);
    let mut results = run_evaluation(&mut rag, &questions, &rag_prompts(), &params, meta("rag", None), false).unwrap();
    results.metadata.retrieval = Some(dyag::eval::results::Retrieval {
        method: "bm25".into(),
        library: Some("tantivy 0.25".into()),
        top_k: 3,
        corpus: Some("tests/data/eval/catalogue.jsonl".into()),
        documents: Some(6),
        analyzer: Some(dyag::rag::index::ANALYZER_DESCRIPTION.into()),
    });
    results.write(&sample("results_rag.json")).unwrap();

    // Fine-tuned: partial facts, one failure, fast, short prompts.
    let mut ft = ScriptedGenerator::new(vec![
        (q[0], answer("GIDAF est une application de gestion des dossiers.", 42, 10, 60, 520)),
        (q[1], answer("GIDAF est hébergé par la DSI.", 40, 8, 55, 430)),
        (q[2], answer("SIRH gère la paie, les congés et les carrières des agents.", 41, 13, 58, 610)),
        (q[3], answer("Le Portail Agents utilise Java et PostgreSQL.", 44, 10, 62, 540)),
        (q[4], Scripted::Fail("generation failed: NaN in logits".into())),
        (q[5], answer("ArchivNum archive les documents signés.", 43, 8, 57, 450)),
    ]);
    let prompts = DirectPrompt { system_prompt: Some(DEFAULT_SYSTEM_PROMPT.into()) };
    let results = run_evaluation(&mut ft, &questions, &prompts, &params, meta("finetuned", Some("runs/gemma-lora/final")), false).unwrap();
    results.write(&sample("results_finetuned.json")).unwrap();

    // Hybrid, as another tool would write it: no aggregates, latencies or tokens.
    let mut hy = ScriptedGenerator::new(vec![
        (q[0], answer("GIDAF est une application de gestion des dossiers administratifs et financiers.", 0, 0, 0, 0)),
        (q[1], answer("GIDAF est hébergé par la DSI, dans le datacenter de Toulouse.", 0, 0, 0, 0)),
        (q[2], answer("SIRH gère la paie et les congés des agents.", 0, 0, 0, 0)),
        (q[3], answer("Le Portail Agents utilise Java et PostgreSQL.", 0, 0, 0, 0)),
        (q[4], answer("La DRH est responsable de SIRH.", 0, 0, 0, 0)),
        (q[5], answer("Ils sont archivés dans ArchivNum.", 0, 0, 0, 0)),
    ]);
    let results =
        run_evaluation(&mut hy, &questions, &rag_prompts(), &params, meta("hybrid", Some("runs/gemma-lora/final")), false).unwrap();
    let mut v: Value = serde_json::to_value(&results).unwrap();
    v.as_object_mut().unwrap().remove("aggregates");
    let m = v["metadata"].as_object_mut().unwrap();
    m.insert("tool".into(), Value::from("external-rag-bench 0.3"));
    for k in ["dyag_version", "sampling", "model"] {
        m.remove(k);
    }
    for q in v["questions"].as_array_mut().unwrap() {
        let q = q.as_object_mut().unwrap();
        for k in ["latency", "prompt_tokens", "completion_tokens"] {
            q.remove(k);
        }
    }
    dyag::util::write_json_atomic(&sample("results_hybrid.json"), &v).unwrap();
}
