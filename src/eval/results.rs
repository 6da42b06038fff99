//! The results file: one evaluation run (questions, answers, measurements,
//! scores and aggregates) as versioned JSON. docs/results-schema.md is its
//! reference; [`crate::eval::validate`] reads and checks it.
//!
//! Optional fields are `None` when a value was not measured: they are written
//! as `null` and read back from `null` or an absent field, never as zero, so a
//! results file from another tool that lacks, say, latencies still compares.

use serde::{Deserialize, Serialize};

/// The version this build writes. Version 2 added the question's `kind` and
/// `apps`, the `correct`/`echo`/`refusal` scores, `retrieval_hit` and the
/// per-kind aggregates; every one of them is optional, so version 1 files
/// (which lack them) are still read.
pub const SCHEMA_VERSION: u64 = 2;
/// The versions this build reads.
pub const READABLE_SCHEMA_VERSIONS: &[u64] = &[1, 2];

/// A whole results file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResultsFile {
    pub schema_version: u64,
    pub metadata: Metadata,
    /// Always written by dyag. [`crate::eval::validate::read_results`]
    /// recomputes it from `questions` (refusing a file whose stored figures
    /// disagree), so a file read that way always has the recomputed ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregates: Option<Aggregates>,
    pub questions: Vec<QuestionResult>,
}

/// What was evaluated, how and when.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    /// "finetuned", "rag", "hybrid", or any other name for a system.
    pub system: String,
    /// The program that wrote the file, e.g. "dyag 0.1.0".
    #[serde(default)]
    pub tool: Option<String>,
    #[serde(default)]
    pub dyag_version: Option<String>,
    /// The generator's own description of the model.
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub base_model: Option<String>,
    /// LoRA adapter folder, when one was used.
    #[serde(default)]
    pub adapter: Option<String>,
    #[serde(default)]
    pub device: Option<String>,
    #[serde(default)]
    pub sampling: Option<Sampling>,
    #[serde(default)]
    pub system_prompt: Option<String>,
    #[serde(default)]
    pub questions_file: Option<String>,
    /// Retrieval settings of a RAG or hybrid run.
    #[serde(default)]
    pub retrieval: Option<Retrieval>,
    /// RFC 3339, UTC.
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub finished_at: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Sampling {
    #[serde(default)]
    pub temperature: Option<f64>,
    #[serde(default)]
    pub top_k: Option<u64>,
    #[serde(default)]
    pub top_p: Option<f64>,
    #[serde(default)]
    pub max_tokens: Option<u64>,
    #[serde(default)]
    pub seed: Option<u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Retrieval {
    /// e.g. "bm25".
    pub method: String,
    #[serde(default)]
    pub library: Option<String>,
    #[serde(default)]
    pub analyzer: Option<String>,
    pub top_k: u64,
    #[serde(default)]
    pub corpus: Option<String>,
    #[serde(default)]
    pub documents: Option<u64>,
}

/// One question and everything measured about its answer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct QuestionResult {
    pub id: String,
    pub question: String,
    #[serde(default)]
    pub expected: Option<String>,
    #[serde(default)]
    pub keywords: Vec<String>,
    /// The question's kind (`direct`, `paraphrase`, `multi`, `negative`...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The catalogue records that hold the answer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub apps: Vec<String>,
    /// The answer text; empty when generation failed.
    #[serde(default)]
    pub answer: String,
    /// Why generation failed, when it did.
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub latency: Option<Latency>,
    #[serde(default)]
    pub prompt_tokens: Option<u64>,
    #[serde(default)]
    pub completion_tokens: Option<u64>,
    #[serde(default)]
    pub scores: Scores,
    /// Answered without error and not empty.
    pub success: bool,
    /// Records given to the model (RAG and hybrid); `None` for systems that
    /// retrieve nothing.
    #[serde(default)]
    pub sources: Option<Vec<Source>>,
    /// RAG/hybrid with `apps` known: one of the question's records is among the sources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retrieval_hit: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// From the request to the first generated token (prompt processing included).
    #[serde(default)]
    pub time_to_first_token_ms: Option<f64>,
    #[serde(default)]
    pub total_ms: Option<f64>,
}

/// Per-answer scores in [0, 1]; `None` when not computable (no expected
/// answer, no keywords) or not measured by the tool that wrote the file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    #[serde(default)]
    pub exact_match: Option<bool>,
    #[serde(default)]
    pub keyword_recall: Option<f64>,
    #[serde(default)]
    pub f1: Option<f64>,
    #[serde(default)]
    pub rouge_l: Option<f64>,
    /// sacreBLEU's sentence BLEU divided by 100.
    #[serde(default)]
    pub bleu: Option<f64>,
    /// The judge's verdict (see `eval::judge`): every key fact present and no
    /// echo, or for a negative question a refusal that invents nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correct: Option<bool>,
    /// The answer repeats its prompt (system prompt, question, context header
    /// or a record line): always wrong.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub echo: Option<bool>,
    /// The answer contains a refusal phrase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<bool>,
}

/// A retrieved record placed in the prompt.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Source {
    pub id: String,
    #[serde(default)]
    pub title: Option<String>,
    /// Retrieval score (BM25 for dyag).
    #[serde(default)]
    pub score: Option<f64>,
}

/// Mean, median and 95th percentile of a set of values.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Distribution {
    pub mean: f64,
    pub p50: f64,
    pub p95: f64,
}

/// Whole-run figures. Means are over the questions where the metric exists;
/// the `*_count` fields say how many that was.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Aggregates {
    pub questions: u64,
    #[serde(default)]
    pub successes: Option<u64>,
    #[serde(default)]
    pub errors: Option<u64>,
    #[serde(default)]
    pub success_rate: Option<f64>,
    #[serde(default)]
    pub exact_match_rate: Option<f64>,
    #[serde(default)]
    pub mean_keyword_recall: Option<f64>,
    #[serde(default)]
    pub mean_f1: Option<f64>,
    #[serde(default)]
    pub mean_rouge_l: Option<f64>,
    /// Mean of the per-question sentence BLEU (÷100).
    #[serde(default)]
    pub mean_bleu: Option<f64>,
    /// sacreBLEU corpus BLEU over the questions with an expected answer (÷100).
    #[serde(default)]
    pub corpus_bleu: Option<f64>,
    /// Questions with an expected answer (exact match, F1, ROUGE-L, BLEU).
    #[serde(default)]
    pub expected_count: Option<u64>,
    /// Questions with keywords (key-fact recall).
    #[serde(default)]
    pub keywords_count: Option<u64>,
    #[serde(default)]
    pub latency_total_ms: Option<Distribution>,
    #[serde(default)]
    pub latency_first_token_ms: Option<Distribution>,
    /// Completion tokens per second of generation time, over all answers.
    #[serde(default)]
    pub tokens_per_second: Option<f64>,
    #[serde(default)]
    pub prompt_tokens: Option<u64>,
    #[serde(default)]
    pub completion_tokens: Option<u64>,
    #[serde(default)]
    pub total_tokens: Option<u64>,
    /// Share of answers that came with at least one source (traceability).
    #[serde(default)]
    pub sourced_rate: Option<f64>,
    /// Share of judged answers that are right (see `Scores::correct`), with
    /// its 95 % Wilson interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correct_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correct_ci95: Option<[f64; 2]>,
    /// Answers that repeat their prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub echoes: Option<u64>,
    /// Share of answers that are refusals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal_rate: Option<f64>,
    /// Share of questions with `apps` whose sources include one of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retrieval_hit_rate: Option<f64>,
    /// The same figures per question kind (only when questions have a kind).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub per_kind: std::collections::BTreeMap<String, KindAggregates>,
}

/// The figures of one kind of question.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KindAggregates {
    pub questions: u64,
    /// Judged answers and right ones.
    #[serde(default)]
    pub judged: u64,
    #[serde(default)]
    pub correct: u64,
    #[serde(default)]
    pub correct_rate: Option<f64>,
    #[serde(default)]
    pub correct_ci95: Option<[f64; 2]>,
    #[serde(default)]
    pub mean_keyword_recall: Option<f64>,
    #[serde(default)]
    pub echoes: u64,
    #[serde(default)]
    pub refusal_rate: Option<f64>,
    #[serde(default)]
    pub retrieval_hit_rate: Option<f64>,
}

impl ResultsFile {
    /// Writes the file atomically as pretty JSON.
    pub fn write(&self, path: &std::path::Path) -> crate::Result<()> {
        crate::util::write_json_atomic(path, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Measured values (latencies) are arbitrary f64s: written and read back,
    /// they must be the same numbers (serde_json's `float_roundtrip`; without
    /// it, 0.0016769999999999999 came back as another f64 and a test of the
    /// results file failed now and then).
    #[test]
    fn measured_floats_round_trip_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        for v in [0.0016769999999999999, 0.1 + 0.2, 1.0 / 3.0, 123.456789e-7, f64::MIN_POSITIVE] {
            let d = Distribution { mean: v, p50: v * 7.0, p95: v / 3.0 };
            crate::util::write_json_atomic(&path, &d).unwrap();
            let back: Distribution = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            assert_eq!(back, d, "{v:e}");
        }
    }
}
