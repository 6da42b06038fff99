//! Replays every committed fuzz input through the fuzz targets' own code
//! (fuzz/harness.rs), with the normal test build: the seed corpora in
//! `fuzz/corpus/<target>/` and the reproducers of past findings in
//! `fuzz/findings/<target>/` (fuzz/findings/README.md says what each one
//! found). This is the fuzzing step of CI (`scripts/fuzz-ci.sh`); the
//! campaigns themselves run with `scripts/fuzz.sh`.
//!
//! A finding whose bug is not fixed yet is listed in [`OPEN_FINDINGS`] and
//! skipped (it would panic, hang or exhaust memory); once the fix lands,
//! delete its entry so that the reproducer guards against a regression.

#[path = "../fuzz/harness.rs"]
mod harness;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Findings not fixed yet: (target, file name in fuzz/findings/<target>/).
/// Each panics, hangs or runs out of memory today; remove its line with the fix.
const OPEN_FINDINGS: &[(&str, &str)] = &[];

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut out: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).filter(|p| p.is_file()).collect();
    out.sort();
    out
}

fn replay(target: &str) {
    let run = harness::TARGETS.iter().find(|(name, _)| *name == target).map(|(_, f)| *f).expect("a harness target");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let corpus = files(&root.join("corpus").join(target));
    assert!(!corpus.is_empty(), "no seed corpus in fuzz/corpus/{target}");
    let findings = files(&root.join("findings").join(target));
    for (t, name) in OPEN_FINDINGS.iter().filter(|(t, _)| *t == target) {
        assert!(
            findings.iter().any(|p| p.file_name().is_some_and(|n| n == *name)),
            "OPEN_FINDINGS names {t}/{name}, which is not in fuzz/findings"
        );
    }
    let mut failures = Vec::new();
    let started = Instant::now();
    let mut replayed = 0;
    for path in corpus.iter().chain(&findings) {
        let name = path.file_name().unwrap().to_string_lossy();
        if path.starts_with(root.join("findings")) && OPEN_FINDINGS.contains(&(target, &*name)) {
            continue;
        }
        let data = std::fs::read(path).unwrap();
        let t0 = Instant::now();
        if catch_unwind(AssertUnwindSafe(|| run(&data))).is_err() {
            failures.push(path.strip_prefix(&root).unwrap().display().to_string());
        }
        let took = t0.elapsed().as_secs_f64();
        if took > 1.0 {
            eprintln!("{target}: {} took {took:.1} s", path.display());
        }
        replayed += 1;
    }
    eprintln!("{target}: {replayed} inputs in {:.2} s", started.elapsed().as_secs_f64());
    assert!(
        failures.is_empty(),
        "{target}: inputs that panic (fuzz/findings/README.md; reproduce with scripts/fuzz.sh --replay {target} FILE):\n{}",
        failures.join("\n")
    );
}

#[test]
fn gguf() {
    replay("gguf");
}

#[test]
fn safetensors() {
    replay("safetensors");
}

#[test]
fn hf_config() {
    replay("hf_config");
}

#[test]
fn peft() {
    replay("peft");
}

#[test]
fn chat_jsonl() {
    replay("chat_jsonl");
}

#[test]
fn questions() {
    replay("questions");
}

#[test]
fn results() {
    replay("results");
}

#[test]
fn catalogue_md() {
    replay("catalogue_md");
}

#[test]
fn catalogue_jsonl() {
    replay("catalogue_jsonl");
}

#[test]
fn chat_template() {
    replay("chat_template");
}

#[test]
fn every_target_has_a_test_and_a_fuzz_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let this = std::fs::read_to_string(root.join("tests/fuzz_corpora.rs")).unwrap();
    for (name, _) in harness::TARGETS {
        assert!(this.contains(&format!("fn {name}()")), "no test replays target {name}");
        let target = root.join("fuzz/fuzz_targets").join(format!("{name}.rs"));
        assert!(target.is_file(), "no fuzz target {}", target.display());
    }
}
