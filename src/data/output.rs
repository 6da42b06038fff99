//! Writing the dataset: chat JSONL lines (`{"messages": [...]}`), the split
//! files, and the test questions in `evaluate-finetuned`'s input format
//! (`{"id", "question", "expected", "keywords"}`), each file atomically.

use crate::data::example::Example;
use crate::data::split::Split;
use crate::formats::chat::{ChatMessage, Conversation};
use crate::util::write_atomic;
use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// One chat-dataset line per example; no system turn when `system` is empty.
pub fn dataset_jsonl(examples: &[Example], system: &str) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(examples.len() * 256);
    for ex in examples {
        let mut messages = Vec::with_capacity(3);
        if !system.trim().is_empty() {
            messages.push(ChatMessage::system(system.trim()));
        }
        messages.push(ChatMessage::user(ex.prompt.clone().unwrap_or_else(|| ex.question.clone())));
        messages.push(ChatMessage::assistant(ex.answer.clone()));
        serde_json::to_writer(&mut out, &Conversation { messages }).map_err(|e| Error::msg(format!("cannot serialise an example: {e}")))?;
        out.push(b'\n');
    }
    Ok(out)
}

/// One line of the test-questions file.
#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq, Eq)]
pub struct TestQuestion {
    pub id: String,
    pub question: String,
    pub expected: String,
    /// The key facts a correct answer must contain (empty for a question about an unknown name).
    pub keywords: Vec<String>,
    /// `direct`, `paraphrase`, `multi` or `negative` (see [`Example::kind`]).
    pub kind: String,
    /// The record the question is about (empty for a negative question, including one about a field the record lacks).
    pub apps: Vec<String>,
}

/// The questions of a split part (ids `PREFIX-0001`...); `names[r]` is record `r`'s name.
pub fn test_questions_jsonl(examples: &[Example], names: &[String], prefix: &str) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for (i, ex) in examples.iter().enumerate() {
        let q = TestQuestion {
            id: format!("{prefix}-{:04}", i + 1),
            question: ex.question.clone(),
            expected: ex.answer.clone(),
            keywords: ex.facts.clone(),
            kind: ex.kind().to_string(),
            // A refusal about a field the record lacks is judged as a negative, which names no record.
            apps: if ex.kind() == "negative" { Vec::new() } else { ex.record.and_then(|r| names.get(r)).cloned().into_iter().collect() },
        };
        serde_json::to_writer(&mut out, &q).map_err(|e| Error::msg(format!("cannot serialise a test question: {e}")))?;
        out.push(b'\n');
    }
    Ok(out)
}

/// `OUT_train.jsonl`, `OUT_val.jsonl`, `OUT_test.jsonl`, `OUT_val_questions.jsonl`
/// (for `finetune --eval-questions`), `OUT_test_questions.jsonl` beside `OUT.jsonl`.
pub struct SplitPaths {
    pub train: PathBuf,
    pub val: PathBuf,
    pub test: PathBuf,
    pub val_questions: PathBuf,
    pub test_questions: PathBuf,
}

pub fn split_paths(output: &Path) -> SplitPaths {
    let stem = output.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "dataset".into());
    let dir = output.parent().unwrap_or(Path::new(""));
    let p = |suffix: &str| dir.join(format!("{stem}_{suffix}.jsonl"));
    SplitPaths { train: p("train"), val: p("val"), test: p("test"), val_questions: p("val_questions"), test_questions: p("test_questions") }
}

/// Writes the split files; returns the paths written. `names[r]` is record `r`'s name.
pub fn write_split(output: &Path, split: &Split, system: &str, names: &[String]) -> Result<Vec<PathBuf>> {
    let paths = split_paths(output);
    // Serialise everything first, so that a failure writes nothing.
    let files = [
        (paths.train, dataset_jsonl(&split.train, system)?),
        (paths.val, dataset_jsonl(&split.val, system)?),
        (paths.test, dataset_jsonl(&split.test, system)?),
        (paths.val_questions, test_questions_jsonl(&split.val, names, "val")?),
        (paths.test_questions, test_questions_jsonl(&split.test, names, "test")?),
    ];
    let mut written = Vec::new();
    for (path, bytes) in files {
        write_atomic(&path, &bytes)?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_paths() {
        let ex = Example {
            record: Some(0),
            intent: "x".into(),
            question: "Qu'est-ce que GIDAF ?".into(),
            answer: "GIDAF est \"une\" app.".into(),
            facts: vec!["app".into()],
            prompt: None,
        };
        let s = String::from_utf8(dataset_jsonl(std::slice::from_ref(&ex), "Sys.").unwrap()).unwrap();
        assert_eq!(
            s,
            "{\"messages\":[{\"role\":\"system\",\"content\":\"Sys.\"},{\"role\":\"user\",\"content\":\"Qu'est-ce que GIDAF ?\"},{\"role\":\"assistant\",\"content\":\"GIDAF est \\\"une\\\" app.\"}]}\n"
        );
        let s = String::from_utf8(dataset_jsonl(std::slice::from_ref(&ex), "").unwrap()).unwrap();
        assert!(!s.contains("system"));
        let t = String::from_utf8(test_questions_jsonl(&[ex], &["GIDAF".to_string()], "test").unwrap()).unwrap();
        assert_eq!(
            t,
            "{\"id\":\"test-0001\",\"question\":\"Qu'est-ce que GIDAF ?\",\"expected\":\"GIDAF est \\\"une\\\" app.\",\"keywords\":[\"app\"],\"kind\":\"direct\",\"apps\":[\"GIDAF\"]}\n"
        );
        let p = split_paths(Path::new("data/ds_100.jsonl"));
        assert_eq!(p.train, Path::new("data/ds_100_train.jsonl"));
        assert_eq!(p.test_questions, Path::new("data/ds_100_test_questions.jsonl"));
    }
}
