//! Side-by-side comparison of evaluation runs (RAG, fine-tuned, hybrid):
//! every metric with its winner, the questions where one system is right and
//! another wrong, and recommendations drawn from the numbers and the original
//! tool's criteria. Reports: JSON ([`Comparison`] serialised), Markdown and a
//! self-contained HTML page with SVG charts.

pub mod charts;
pub mod html;
pub mod lang;
pub mod markdown;
pub mod metrics;
pub mod questions;
pub mod recommend;

pub use lang::Lang;
pub use questions::CorrectnessRule;

use crate::eval::results::{Aggregates, ResultsFile};
use metrics::{Direction, Group, Status, SystemFigures, Unit, METRICS};
use questions::{QuestionDifference, Unmatched};
use recommend::Recommendation;
use serde::Serialize;
use std::path::PathBuf;

/// Version of the comparison JSON report.
pub const COMPARISON_SCHEMA_VERSION: u64 = 1;

/// One compared run, as given on the command line.
pub struct Input {
    /// The role on the command line: "rag", "finetuned" or "hybrid".
    pub label: String,
    pub path: PathBuf,
    pub results: ResultsFile,
}

#[derive(Clone, Debug, Serialize)]
pub struct SystemInfo {
    pub label: String,
    pub display_name: String,
    pub file: String,
    /// `metadata.system` in the file.
    pub system: String,
    pub model: Option<String>,
    pub base_model: Option<String>,
    pub adapter: Option<String>,
    pub device: Option<String>,
    pub tool: Option<String>,
    pub questions: u64,
    pub retrieval_top_k: Option<u64>,
    pub retrieval_documents: Option<u64>,
    /// Answers that repeat their prompt (measured by dyag's judge).
    pub echoes: Option<u64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct MetricValue {
    pub system: String,
    /// `null` when the run did not measure it.
    pub value: Option<f64>,
    pub display: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct MetricComparison {
    pub key: String,
    pub name: String,
    pub group: Group,
    pub direction: Direction,
    pub unit: Unit,
    pub values: Vec<MetricValue>,
    /// Labels of the best systems (one for a winner, several for a tie).
    pub winners: Vec<String>,
    pub status: Status,
}

#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    pub schema_version: u64,
    pub kind: String,
    pub generated_at: String,
    pub lang: Lang,
    pub systems: Vec<SystemInfo>,
    pub correctness_rule: CorrectnessRule,
    pub metrics: Vec<MetricComparison>,
    /// Questions answered by every system.
    pub questions_compared: usize,
    pub question_differences: Vec<QuestionDifference>,
    pub unmatched_questions: Vec<Unmatched>,
    /// Right answers per kind of question (empty when no question has a kind).
    pub per_kind: Vec<KindRow>,
    pub recommendations: Vec<Recommendation>,
}

/// One kind of question across the systems.
#[derive(Clone, Debug, Serialize)]
pub struct KindRow {
    pub kind: String,
    pub values: Vec<KindValue>,
}

#[derive(Clone, Debug, Serialize)]
pub struct KindValue {
    pub system: String,
    pub questions: u64,
    pub correct_rate: Option<f64>,
    pub correct_ci95: Option<[f64; 2]>,
    pub echoes: u64,
}

impl KindValue {
    /// "63 % [55–71]", with the echoes when there are any.
    pub fn display(&self) -> String {
        let Some(r) = self.correct_rate else { return "—".into() };
        let ci = self.correct_ci95.map_or(String::new(), |[lo, hi]| format!(" [{:.0}–{:.0}]", lo * 100.0, hi * 100.0));
        let echo = if self.echoes > 0 { format!(" ({} echo)", self.echoes) } else { String::new() };
        format!("{:.0} %{ci}{echo}", r * 100.0)
    }
}

/// The per-kind rows, kinds in a fixed order (the benchmark's first, then others).
fn per_kind_rows(labels: &[String], aggregates: &[Aggregates]) -> Vec<KindRow> {
    let mut kinds: Vec<String> = aggregates.iter().flat_map(|a| a.per_kind.keys().cloned()).collect();
    let order = |k: &str| ["direct", "paraphrase", "multi", "negative"].iter().position(|x| *x == k).unwrap_or(usize::MAX);
    kinds.sort_by(|a, b| order(a).cmp(&order(b)).then(a.cmp(b)));
    kinds.dedup();
    kinds
        .into_iter()
        .map(|kind| KindRow {
            values: labels
                .iter()
                .zip(aggregates)
                .map(|(l, a)| {
                    let k = a.per_kind.get(&kind);
                    KindValue {
                        system: l.clone(),
                        questions: k.map_or(0, |k| k.questions),
                        correct_rate: k.and_then(|k| k.correct_rate),
                        correct_ci95: k.and_then(|k| k.correct_ci95),
                        echoes: k.map_or(0, |k| k.echoes),
                    }
                })
                .collect(),
            kind,
        })
        .collect()
}

impl Comparison {
    pub fn metric(&self, key: &str) -> Option<&MetricComparison> {
        self.metrics.iter().find(|m| m.key == key)
    }

    /// The display name of a system label.
    pub fn name_of(&self, label: &str) -> String {
        self.systems.iter().find(|s| s.label == label).map_or_else(|| label.to_string(), |s| s.display_name.clone())
    }
}

/// A readable name for a role label.
pub fn display_name(label: &str, lang: Lang) -> String {
    match label {
        "rag" => "RAG".to_string(),
        "finetuned" => lang.pick("Fine-tuné", "Fine-tuned").to_string(),
        "hybrid" => lang.pick("Hybride", "Hybrid").to_string(),
        other => other.to_string(),
    }
}

/// Compares the runs (at least two).
pub fn compare(inputs: &[Input], rule: CorrectnessRule, lang: Lang) -> crate::Result<Comparison> {
    if inputs.len() < 2 {
        return Err(crate::Error::invalid("a comparison needs at least two results files"));
    }
    let labels: Vec<String> = inputs.iter().map(|i| i.label.clone()).collect();
    let aggregates: Vec<Aggregates> = inputs.iter().map(|i| i.results.aggregates_or_computed()).collect();
    let correct: Vec<Option<f64>> = inputs.iter().map(|i| questions::correct_rate(&i.results.questions, &rule)).collect();

    let systems = inputs
        .iter()
        .zip(&aggregates)
        .map(|(i, a)| {
            let m = &i.results.metadata;
            SystemInfo {
                label: i.label.clone(),
                display_name: display_name(&i.label, lang),
                file: i.path.display().to_string(),
                system: m.system.clone(),
                model: m.model.clone(),
                base_model: m.base_model.clone(),
                adapter: m.adapter.clone(),
                device: m.device.clone(),
                tool: m.tool.clone(),
                questions: a.questions,
                retrieval_top_k: m.retrieval.as_ref().map(|r| r.top_k),
                retrieval_documents: m.retrieval.as_ref().and_then(|r| r.documents),
                echoes: a.echoes,
            }
        })
        .collect();

    let metrics = METRICS
        .iter()
        .map(|def| {
            let values: Vec<Option<f64>> =
                aggregates.iter().zip(&correct).map(|(a, c)| (def.read)(&SystemFigures { aggregates: a, correct_rate: *c })).collect();
            let (win, status) = metrics::winners(&values, def.direction);
            MetricComparison {
                key: def.key.to_string(),
                name: def.name(lang).to_string(),
                group: def.group,
                direction: def.direction,
                unit: def.unit,
                values: labels
                    .iter()
                    .zip(&values)
                    .map(|(l, v)| MetricValue { system: l.clone(), value: *v, display: def.unit.format(*v) })
                    .collect(),
                winners: win.iter().map(|&i| labels[i].clone()).collect(),
                status,
            }
        })
        .collect();

    let question_lists: Vec<&[crate::eval::results::QuestionResult]> = inputs.iter().map(|i| i.results.questions.as_slice()).collect();
    let matching = questions::match_questions(&labels, &question_lists);
    let questions_compared = matching.rows.iter().filter(|r| r.iter().all(Option::is_some)).count();
    let question_differences = questions::differences(&labels, &matching, &rule);

    let mut comparison = Comparison {
        schema_version: COMPARISON_SCHEMA_VERSION,
        kind: "dyag-comparison".to_string(),
        generated_at: crate::eval::runner::now_rfc3339(),
        lang,
        systems,
        correctness_rule: rule,
        metrics,
        questions_compared,
        question_differences,
        unmatched_questions: matching.unmatched,
        per_kind: per_kind_rows(&labels, &aggregates),
        recommendations: Vec::new(),
    };
    comparison.recommendations = recommend::recommend(&comparison);
    Ok(comparison)
}

/// Which reports to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Format {
    Json,
    Markdown,
    Html,
    /// JSON and Markdown (the original tool's "both").
    Both,
    /// JSON, Markdown and HTML.
    All,
}

impl Format {
    /// (JSON, Markdown, HTML).
    pub fn outputs(self) -> (bool, bool, bool) {
        match self {
            Format::Json => (true, false, false),
            Format::Markdown => (false, true, false),
            Format::Html => (false, false, true),
            Format::Both => (true, true, false),
            Format::All => (true, true, true),
        }
    }
}

/// Writes the requested reports into `dir` (created if needed), each file
/// atomically, and returns their paths. Everything is rendered before the
/// first file is written, so a rendering error leaves no partial set.
pub fn write_reports(c: &Comparison, dir: &std::path::Path, format: Format) -> crate::Result<Vec<PathBuf>> {
    let (json, md, html) = format.outputs();
    let mut files: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    if json {
        let mut bytes = serde_json::to_vec_pretty(c).map_err(|e| crate::Error::msg(format!("cannot serialise the comparison: {e}")))?;
        bytes.push(b'\n');
        files.push((dir.join("comparison.json"), bytes));
    }
    if md {
        files.push((dir.join("comparison.md"), markdown::render(c).into_bytes()));
    }
    if html {
        files.push((dir.join("comparison.html"), html::render(c)?.into_bytes()));
    }
    for (path, bytes) in &files {
        crate::util::write_atomic(path, bytes)?;
    }
    Ok(files.into_iter().map(|(p, _)| p).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::results::{Metadata, QuestionResult};

    fn input(label: &str, answered: bool) -> Input {
        let q = QuestionResult {
            id: "q1".into(),
            question: "?".into(),
            answer: if answered { "x".into() } else { String::new() },
            success: answered,
            ..Default::default()
        };
        let results = ResultsFile {
            schema_version: 1,
            metadata: Metadata { system: label.into(), ..Default::default() },
            aggregates: None,
            questions: vec![q],
        };
        Input { label: label.into(), path: PathBuf::from(format!("{label}.json")), results }
    }

    #[test]
    fn unmeasured_metrics_are_not_compared_and_say_so() {
        let c = compare(&[input("rag", true), input("finetuned", true)], CorrectnessRule::default(), Lang::Fr).unwrap();
        let f1 = c.metric("mean_f1").unwrap();
        assert_eq!(f1.status, Status::NotCompared);
        assert!(f1.values.iter().all(|v| v.value.is_none() && v.display == "—"));
        // Only the success rate is measured, and it is a tie.
        let quality = c.recommendations.iter().find(|r| r.criterion == "quality").unwrap();
        assert_eq!(quality.favours, None);
        let latency = c.recommendations.iter().find(|r| r.criterion == "latency").unwrap();
        assert!(latency.text.starts_with("Pas de gagnant mesurable"), "{}", latency.text);
        let overall = c.recommendations.iter().find(|r| r.criterion == "overall").unwrap();
        assert_eq!(overall.favours, None);
        assert!(compare(&[input("rag", true)], CorrectnessRule::default(), Lang::Fr).is_err());
    }

    #[test]
    fn success_rate_alone_can_decide_quality() {
        let c = compare(&[input("rag", true), input("finetuned", false)], CorrectnessRule::default(), Lang::En).unwrap();
        assert_eq!(c.metric("success_rate").unwrap().winners, vec!["rag".to_string()]);
        let overall = c.recommendations.iter().find(|r| r.criterion == "overall").unwrap();
        assert_eq!(overall.favours.as_deref(), Some("rag"));
    }
}
