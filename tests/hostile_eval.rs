//! Hostile data files for the evaluation and dataset readers (findings 8, 9,
//! 10, 11 and part of 13 of the hardening review), run through the CLI under
//! `ulimit -v 8 GiB` and a 20 s limit (tests/common/hostile.rs). Each is
//! refused with exit status 1 and a message naming the file, the line or
//! field, and what is wrong; none loads a model. Inputs: tests/hostile/README.md.

mod common;

use common::hostile;
use std::path::{Path, PathBuf};

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_dyag"))
}

fn input(name: &str) -> String {
    hostile::dir().join(name).display().to_string()
}

/// `evaluate-finetuned QUESTIONS` reads the questions before anything else
/// (the adapter folder need not exist).
fn evaluate(questions: &str, out: &Path) -> hostile::Outcome {
    let output = out.join("results.json");
    hostile::run(bin(), &["evaluate-finetuned", questions, "--model", "no-such-adapter", "--output", output.to_str().unwrap()], None)
}

/// `compare-models`, RAG results first.
fn compare(rag: &str, finetuned: &str, out: &Path) -> hostile::Outcome {
    let output = out.join("report");
    hostile::run(
        bin(),
        &[
            "compare-models",
            "--rag-results",
            rag,
            "--finetuned-results",
            finetuned,
            "--output",
            output.to_str().unwrap(),
            "--format",
            "both",
        ],
        None,
    )
}

fn validate(dataset: &str) -> hostile::Outcome {
    hostile::run(bin(), &["validate-dataset", dataset], None)
}

const CONVERSATION: &str = r#"{"messages":[{"role":"user","content":"Qui ?"},{"role":"assistant","content":"La DSI."}]}"#;
const QUESTION: &str = r#"{"question": "Qui héberge GIDAF ?", "keywords": ["DSI"]}"#;

/// A file of `head` lines, then one line of `long` bytes of `x` (no line end).
fn with_long_line(dir: &Path, name: &str, head: &[&str], long: usize) -> PathBuf {
    let p = dir.join(name);
    let mut bytes = head.join("\n").into_bytes();
    bytes.push(b'\n');
    bytes.resize(bytes.len() + long, b'x');
    std::fs::write(&p, bytes).unwrap();
    p
}

// ---------------------------------------------------------------- finding 8

#[test]
fn f8_dev_zero_as_a_dataset_stops_at_the_line_limit() {
    validate("/dev/zero").refused(&["/dev/zero:1: line longer than 8 MiB"]);
}

#[test]
fn f8_dev_zero_as_questions_stops_at_the_line_limit() {
    let d = tempfile::tempdir().unwrap();
    evaluate("/dev/zero", d.path()).refused(&["/dev/zero:1: line longer than 16 MiB"]);
}

#[test]
fn f8_dev_zero_as_results_stops_at_the_size_limit() {
    let d = tempfile::tempdir().unwrap();
    compare("/dev/zero", &input("10-results-honest.json"), d.path()).refused(&["/dev/zero: the file is larger than 256 MiB"]);
}

#[test]
fn f8_a_huge_results_file_is_refused_unread() {
    let d = tempfile::tempdir().unwrap();
    let big = d.path().join("big.json");
    // Sparse: 300 MiB of size, no disk used; refused from its size alone.
    std::fs::File::create(&big).unwrap().set_len(300 << 20).unwrap();
    let o = compare(&input("10-results-honest.json"), big.to_str().unwrap(), d.path());
    o.refused(&["big.json: the file is larger than 256 MiB"]);
    assert!(o.elapsed.as_secs_f64() < 5.0, "{:?}", o.elapsed);
}

#[test]
fn f8_a_line_over_the_limit_names_its_line() {
    let d = tempfile::tempdir().unwrap();
    let p = with_long_line(d.path(), "long.jsonl", &[CONVERSATION, CONVERSATION], 9 << 20);
    validate(p.to_str().unwrap()).refused(&["long.jsonl:3: line longer than 8 MiB"]);
    let p = with_long_line(d.path(), "long-questions.jsonl", &[QUESTION], 17 << 20);
    evaluate(p.to_str().unwrap(), d.path()).refused(&["long-questions.jsonl:2: line longer than 16 MiB"]);
}

// ---------------------------------------------------------------- finding 9

#[test]
fn f9_markup_in_results_is_text_in_comparison_md() {
    let d = tempfile::tempdir().unwrap();
    compare(&input("9-results-markup-rag.json"), &input("9-results-markup-finetuned.json"), d.path()).succeeded();
    let md = std::fs::read_to_string(d.path().join("report/comparison.md")).unwrap();
    for tag in ["<script", "<img", "<iframe", "<b>", "</"] {
        assert!(!md.contains(tag), "comparison.md passes {tag:?} through:\n{md}");
    }
    for shown in [
        "&lt;script&gt;alert(1)&lt;/script&gt; Qui héberge GIDAF ?",
        "&lt;img src=x onerror=alert(1)&gt; La \\*\\*DSI\\*\\* \\| \\`rm\\` \\[lien\\](javascript:alert(1))",
        // A literal "&lt;" in the question stays "&lt;" on screen.
        "Où est \\_SIRH\\_ ? \\~\\~barré\\~\\~ &amp;lt;b&amp;gt;",
        "Paris \\| \\# titre",
        "Seulement ici &lt;svg onload=alert(1)&gt; ?",
        // An id with backticks, in a code span that holds them.
        "RAG `` q`3` `` —",
    ] {
        assert!(md.contains(shown), "comparison.md lacks {shown:?}:\n{md}");
    }
    // Every row of each question's table still has its 5 cells.
    for line in md.lines().filter(|l| l.starts_with("| RAG") || l.starts_with("| Fine")) {
        let cells = line.replace("\\|", "").matches('|').count() - 1;
        assert_eq!(cells, 5, "{line:?}");
    }
}

// --------------------------------------------------------------- finding 10

#[test]
fn f10_stored_aggregates_that_disagree_with_the_questions_are_refused() {
    let d = tempfile::tempdir().unwrap();
    compare(&input("10-results-honest.json"), &input("10-results-forged-aggregates.json"), d.path()).refused(&[
        "10-results-forged-aggregates.json: aggregates.success_rate: the file says 1.0, but its questions give 0.0",
        "beyond rounding",
    ]);
    // The honest file, compared with itself, passes.
    compare(&input("10-results-honest.json"), &input("10-results-honest.json"), d.path()).succeeded();
}

// --------------------------------------------------------------- finding 11

#[test]
fn f11_duplicate_keys_in_a_dataset_are_refused() {
    let o = validate(&input("11-dataset-duplicate-content.jsonl"));
    o.refused(&["11-dataset-duplicate-content.jsonl:3: 1 problems"]);
    assert!(o.stdout.contains("11-dataset-duplicate-content.jsonl:3: duplicate key \"content\" in messages[1] (column"), "{}", o.stdout);
}

#[test]
fn f11_duplicate_keys_in_questions_are_refused() {
    let d = tempfile::tempdir().unwrap();
    evaluate(&input("11-questions-duplicate-key.jsonl"), d.path())
        .refused(&["11-questions-duplicate-key.jsonl:3: duplicate key \"kind\" (column"]);
}

#[test]
fn f11_duplicate_keys_in_results_are_refused() {
    let d = tempfile::tempdir().unwrap();
    compare(&input("10-results-honest.json"), &input("11-results-duplicate-key.json"), d.path())
        .refused(&["11-results-duplicate-key.json:32: duplicate key \"success\" in questions[1] (column"]);
}

// ------------------------------------------------------------ finding 13

#[test]
fn f13_cr_only_line_ends_are_named() {
    let d = tempfile::tempdir().unwrap();
    let o = validate(&input("13-dataset-cr-only.jsonl"));
    o.refused(&["13-dataset-cr-only.jsonl:1"]);
    assert!(o.stdout.contains("13-dataset-cr-only.jsonl:1: carriage return (CR) without a line feed at byte"), "{}", o.stdout);
    evaluate(&input("13-questions-cr-only.jsonl"), d.path())
        .refused(&["13-questions-cr-only.jsonl:1: carriage return (CR) without a line feed", "CR-only line ends"]);
    compare(&input("10-results-honest.json"), &input("13-results-cr-only.json"), d.path())
        .refused(&["13-results-cr-only.json:1: carriage return (CR) without a line feed", "CR-only line ends"]);
}

#[test]
fn f13_a_bom_after_the_start_is_named() {
    let d = tempfile::tempdir().unwrap();
    let o = validate(&input("13-dataset-mid-bom.jsonl"));
    o.refused(&["13-dataset-mid-bom.jsonl:2"]);
    assert!(o.stdout.contains("13-dataset-mid-bom.jsonl:2: byte order mark (U+FEFF) at byte 1"), "{}", o.stdout);
    evaluate(&input("13-questions-mid-bom.jsonl"), d.path()).refused(&["13-questions-mid-bom.jsonl:2: byte order mark (U+FEFF) at byte 1"]);
}
