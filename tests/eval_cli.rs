//! evaluate-finetuned / evaluate-rag refuse bad inputs with file:line before
//! any model is loaded, and write nothing.

use std::path::Path;
use std::process::Command;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/eval");

fn dyag(args: &[&str]) -> (Option<i32>, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_dyag")).args(args).output().unwrap();
    (o.status.code(), String::from_utf8(o.stderr).unwrap())
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn command_line_definition_is_consistent() {
    use clap::CommandFactory;
    dyag::cli::Cli::command().debug_assert();
}

#[test]
fn bad_question_line_is_reported_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let qs = write(
        dir.path(),
        "questions.jsonl",
        "{\"question\": \"Qui héberge GIDAF ?\"}\n\n{\"question\": \"Où ?\", \"keywords\": \"DSI\"}\n",
    );
    let out = dir.path().join("results.json");
    let (code, err) = dyag(&["evaluate-finetuned", &qs, "--model", "no-such-adapter", "--output", out.to_str().unwrap()]);
    assert_eq!(code, Some(1));
    assert!(err.contains(&format!("{qs}:3: \"keywords\" must be a list of strings, found a string")), "{err}");
    let qs2 = write(dir.path(), "q2.jsonl", "{\"question\": \"a\"}\n{\"question\": \"b\",}\n");
    let (code, err) = dyag(&[
        "evaluate-rag",
        &qs2,
        "--corpus",
        &format!("{DATA}/catalogue.jsonl"),
        "--base-model",
        "x",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1));
    assert!(err.contains(&format!("{qs2}:2: invalid JSON")), "{err}");
    assert!(!out.exists());
}

#[test]
fn bad_catalogue_and_arguments_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let qs = format!("{DATA}/questions.jsonl");
    let out = dir.path().join("results.json");
    let cat = write(dir.path(), "catalogue.jsonl", "{\"nom\": \"A\"}\n[1]\n");
    let (code, err) = dyag(&["evaluate-rag", &qs, "--corpus", &cat, "--base-model", "x", "--output", out.to_str().unwrap()]);
    assert_eq!(code, Some(1));
    assert!(err.contains(&format!("{cat}:2: expected a JSON object")), "{err}");
    let md = write(dir.path(), "catalogue.md", "# Titre\nPas de section.\n");
    let (_, err) = dyag(&["evaluate-rag", &qs, "--corpus", &md, "--base-model", "x", "--output", out.to_str().unwrap()]);
    assert!(err.contains(&format!("{md}:1: no '## ' section")), "{err}");
    // The adapter must be a folder.
    let (code, err) = dyag(&["evaluate-finetuned", &qs, "--model", "no-such-adapter", "--output", out.to_str().unwrap()]);
    assert_eq!(code, Some(1));
    assert!(err.contains("--model no-such-adapter: not a folder"), "{err}");
    let (code, err) = dyag(&[
        "evaluate-rag",
        &qs,
        "--corpus",
        &format!("{DATA}/catalogue.md"),
        "--base-model",
        "x",
        "--output",
        out.to_str().unwrap(),
        "--top-k",
        "0",
    ]);
    assert_eq!(code, Some(1));
    assert!(err.contains("--top-k must be at least 1"), "{err}");
    let (code, err) = dyag(&["evaluate-rag", &qs, "--corpus", &cat, "--base-model", "x", "--output", out.to_str().unwrap(), "--hybrid"]);
    assert_eq!(code, Some(2), "--hybrid needs --model: {err}");
    assert!(!out.exists());
}
