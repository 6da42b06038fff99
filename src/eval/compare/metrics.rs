//! The metrics compared side by side: how each is read from a results file,
//! which direction is better, and who wins.

use crate::eval::compare::lang::Lang;
use crate::eval::results::Aggregates;
use serde::Serialize;

/// Which way is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    HigherIsBetter,
    LowerIsBetter,
    /// Shown for information; no winner (e.g. answer length).
    Neutral,
}

/// How a value is displayed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// A share in [0, 1], shown as a percentage.
    Rate,
    /// A score in [0, 1].
    Score,
    /// BLEU stored in [0, 1], shown on sacreBLEU's 0–100 scale.
    Bleu,
    Milliseconds,
    TokensPerSecond,
    Tokens,
}

impl Unit {
    pub fn format(self, v: Option<f64>) -> String {
        let Some(v) = v else { return "—".to_string() };
        match self {
            Unit::Rate => format!("{:.1} %", v * 100.0),
            Unit::Score => format!("{v:.3}"),
            Unit::Bleu => format!("{:.2}", v * 100.0),
            Unit::Milliseconds => format!("{v:.0} ms"),
            Unit::TokensPerSecond => format!("{v:.1} tok/s"),
            Unit::Tokens => format!("{v:.1}"),
        }
    }
}

/// The family a metric belongs to, for grouping and recommendations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    Quality,
    Speed,
    Tokens,
    Traceability,
}

/// What can be read per system: the file's aggregates plus the share of
/// answers judged correct by the comparison's rule.
pub struct SystemFigures<'a> {
    pub aggregates: &'a Aggregates,
    pub correct_rate: Option<f64>,
}

pub struct MetricDef {
    pub key: &'static str,
    pub name_fr: &'static str,
    pub name_en: &'static str,
    pub group: Group,
    pub direction: Direction,
    pub unit: Unit,
    pub read: fn(&SystemFigures) -> Option<f64>,
}

impl MetricDef {
    pub fn name(&self, lang: Lang) -> &'static str {
        match lang {
            Lang::Fr => self.name_fr,
            Lang::En => self.name_en,
        }
    }
}

fn per_question(total: Option<u64>, a: &Aggregates) -> Option<f64> {
    (a.questions > 0).then_some(())?;
    total.map(|t| t as f64 / a.questions as f64)
}

/// Every compared metric, in display order.
pub const METRICS: &[MetricDef] = &[
    MetricDef {
        key: "success_rate",
        name_fr: "Taux de réponses",
        name_en: "Success rate",
        group: Group::Quality,
        direction: Direction::HigherIsBetter,
        unit: Unit::Rate,
        read: |s| s.aggregates.success_rate,
    },
    MetricDef {
        key: "correct_rate",
        name_fr: "Bonnes réponses (règle)",
        name_en: "Correct answers (rule)",
        group: Group::Quality,
        direction: Direction::HigherIsBetter,
        unit: Unit::Rate,
        read: |s| s.correct_rate,
    },
    MetricDef {
        key: "exact_match_rate",
        name_fr: "Correspondance exacte",
        name_en: "Exact match",
        group: Group::Quality,
        direction: Direction::HigherIsBetter,
        unit: Unit::Rate,
        read: |s| s.aggregates.exact_match_rate,
    },
    MetricDef {
        key: "mean_keyword_recall",
        name_fr: "Rappel des faits clés",
        name_en: "Key-fact recall",
        group: Group::Quality,
        direction: Direction::HigherIsBetter,
        unit: Unit::Score,
        read: |s| s.aggregates.mean_keyword_recall,
    },
    MetricDef {
        key: "mean_f1",
        name_fr: "F1 (mots)",
        name_en: "Token F1",
        group: Group::Quality,
        direction: Direction::HigherIsBetter,
        unit: Unit::Score,
        read: |s| s.aggregates.mean_f1,
    },
    MetricDef {
        key: "mean_rouge_l",
        name_fr: "ROUGE-L",
        name_en: "ROUGE-L",
        group: Group::Quality,
        direction: Direction::HigherIsBetter,
        unit: Unit::Score,
        read: |s| s.aggregates.mean_rouge_l,
    },
    MetricDef {
        key: "mean_bleu",
        name_fr: "BLEU (moyenne par phrase, 0–100)",
        name_en: "BLEU (sentence mean, 0–100)",
        group: Group::Quality,
        direction: Direction::HigherIsBetter,
        unit: Unit::Bleu,
        read: |s| s.aggregates.mean_bleu,
    },
    MetricDef {
        key: "corpus_bleu",
        name_fr: "BLEU (corpus, 0–100)",
        name_en: "BLEU (corpus, 0–100)",
        group: Group::Quality,
        direction: Direction::HigherIsBetter,
        unit: Unit::Bleu,
        read: |s| s.aggregates.corpus_bleu,
    },
    MetricDef {
        key: "latency_mean_ms",
        name_fr: "Latence moyenne",
        name_en: "Mean latency",
        group: Group::Speed,
        direction: Direction::LowerIsBetter,
        unit: Unit::Milliseconds,
        read: |s| s.aggregates.latency_total_ms.as_ref().map(|d| d.mean),
    },
    MetricDef {
        key: "latency_p50_ms",
        name_fr: "Latence p50",
        name_en: "Latency p50",
        group: Group::Speed,
        direction: Direction::LowerIsBetter,
        unit: Unit::Milliseconds,
        read: |s| s.aggregates.latency_total_ms.as_ref().map(|d| d.p50),
    },
    MetricDef {
        key: "latency_p95_ms",
        name_fr: "Latence p95",
        name_en: "Latency p95",
        group: Group::Speed,
        direction: Direction::LowerIsBetter,
        unit: Unit::Milliseconds,
        read: |s| s.aggregates.latency_total_ms.as_ref().map(|d| d.p95),
    },
    MetricDef {
        key: "first_token_mean_ms",
        name_fr: "Premier token (moyenne)",
        name_en: "First token (mean)",
        group: Group::Speed,
        direction: Direction::LowerIsBetter,
        unit: Unit::Milliseconds,
        read: |s| s.aggregates.latency_first_token_ms.as_ref().map(|d| d.mean),
    },
    MetricDef {
        key: "first_token_p95_ms",
        name_fr: "Premier token p95",
        name_en: "First token p95",
        group: Group::Speed,
        direction: Direction::LowerIsBetter,
        unit: Unit::Milliseconds,
        read: |s| s.aggregates.latency_first_token_ms.as_ref().map(|d| d.p95),
    },
    MetricDef {
        key: "tokens_per_second",
        name_fr: "Débit de génération",
        name_en: "Generation speed",
        group: Group::Speed,
        direction: Direction::HigherIsBetter,
        unit: Unit::TokensPerSecond,
        read: |s| s.aggregates.tokens_per_second,
    },
    MetricDef {
        key: "prompt_tokens_per_question",
        name_fr: "Tokens de prompt par question",
        name_en: "Prompt tokens per question",
        group: Group::Tokens,
        direction: Direction::LowerIsBetter,
        unit: Unit::Tokens,
        read: |s| per_question(s.aggregates.prompt_tokens, s.aggregates),
    },
    MetricDef {
        key: "completion_tokens_per_question",
        name_fr: "Tokens de réponse par question",
        name_en: "Answer tokens per question",
        group: Group::Tokens,
        direction: Direction::Neutral,
        unit: Unit::Tokens,
        read: |s| per_question(s.aggregates.completion_tokens, s.aggregates),
    },
    MetricDef {
        key: "total_tokens_per_question",
        name_fr: "Tokens consommés par question",
        name_en: "Tokens consumed per question",
        group: Group::Tokens,
        direction: Direction::LowerIsBetter,
        unit: Unit::Tokens,
        read: |s| per_question(s.aggregates.total_tokens, s.aggregates),
    },
    MetricDef {
        key: "sourced_rate",
        name_fr: "Réponses avec sources",
        name_en: "Answers with sources",
        group: Group::Traceability,
        direction: Direction::HigherIsBetter,
        unit: Unit::Rate,
        read: |s| s.aggregates.sourced_rate,
    },
];

pub fn metric(key: &str) -> Option<&'static MetricDef> {
    METRICS.iter().find(|m| m.key == key)
}

/// Who wins a metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// One system is strictly best.
    Winner,
    /// Several systems share the best value.
    Tie,
    /// Fewer than two systems have a value, or the metric has no direction.
    NotCompared,
}

/// Two values closer than this (relative) are equal: differences below it are
/// floating-point noise, not a measured difference.
fn same(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// Indices of the best values and the status.
pub fn winners(values: &[Option<f64>], direction: Direction) -> (Vec<usize>, Status) {
    let present: Vec<(usize, f64)> = values.iter().enumerate().filter_map(|(i, v)| v.map(|x| (i, x))).collect();
    if present.len() < 2 || direction == Direction::Neutral {
        return (Vec::new(), Status::NotCompared);
    }
    let better = |a: f64, b: f64| match direction {
        Direction::HigherIsBetter => a > b,
        _ => a < b,
    };
    let best = present.iter().map(|&(_, x)| x).fold(present[0].1, |acc, x| if better(x, acc) { x } else { acc });
    let idx: Vec<usize> = present.iter().filter(|&&(_, x)| same(x, best)).map(|&(i, _)| i).collect();
    let status = if idx.len() == 1 { Status::Winner } else { Status::Tie };
    (idx, status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn winner_follows_direction_and_ignores_missing() {
        assert_eq!(winners(&[Some(0.5), Some(0.7)], Direction::HigherIsBetter), (vec![1], Status::Winner));
        assert_eq!(winners(&[Some(500.0), Some(700.0)], Direction::LowerIsBetter), (vec![0], Status::Winner));
        assert_eq!(winners(&[Some(0.5), None, Some(0.5)], Direction::HigherIsBetter), (vec![0, 2], Status::Tie));
        assert_eq!(winners(&[Some(0.5), None], Direction::HigherIsBetter), (vec![], Status::NotCompared));
        assert_eq!(winners(&[Some(1.0), Some(2.0)], Direction::Neutral), (vec![], Status::NotCompared));
        // A missing value never wins, even against zero.
        assert_eq!(winners(&[None, Some(0.0), Some(0.0)], Direction::LowerIsBetter), (vec![1, 2], Status::Tie));
    }

    #[test]
    fn units_format_missing_as_dash() {
        assert_eq!(Unit::Rate.format(Some(0.8126)), "81.3 %");
        assert_eq!(Unit::Bleu.format(Some(0.1234)), "12.34");
        assert_eq!(Unit::Milliseconds.format(None), "—");
    }
}
