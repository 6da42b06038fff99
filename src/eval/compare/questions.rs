//! Per-question verdicts and the questions where the systems disagree.

use crate::eval::metrics::normalize;
use crate::eval::results::QuestionResult;
use serde::Serialize;
use std::collections::{HashMap, HashSet};

/// When an answer counts as right.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct CorrectnessRule {
    /// Key-fact recall at or above this is right.
    pub keyword_threshold: f64,
    /// Without keywords, token F1 at or above this is right.
    pub f1_threshold: f64,
}

impl Default for CorrectnessRule {
    fn default() -> Self {
        CorrectnessRule { keyword_threshold: 1.0, f1_threshold: 0.5 }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Correct,
    Wrong,
    /// Nothing to judge by (no expected answer, no keywords, no scores).
    Unknown,
}

/// Right or wrong: a failed or empty answer is wrong; the judge's verdict
/// (`scores.correct`: echoes and refusals counted, see `eval::judge`) decides
/// when the file has one; otherwise, by the rule, an exact match is right,
/// then key-fact recall decides, then token F1.
pub fn verdict(q: &QuestionResult, rule: &CorrectnessRule) -> Verdict {
    if !q.success {
        return Verdict::Wrong;
    }
    if let Some(c) = q.scores.correct {
        return if c { Verdict::Correct } else { Verdict::Wrong };
    }
    if q.scores.exact_match == Some(true) {
        return Verdict::Correct;
    }
    let pass = |ok: bool| if ok { Verdict::Correct } else { Verdict::Wrong };
    if let Some(kr) = q.scores.keyword_recall {
        return pass(kr >= rule.keyword_threshold);
    }
    if let Some(f1) = q.scores.f1 {
        return pass(f1 >= rule.f1_threshold);
    }
    if q.scores.exact_match == Some(false) {
        return Verdict::Wrong;
    }
    Verdict::Unknown
}

/// Share of judged answers that are right; `None` when none could be judged.
pub fn correct_rate(questions: &[QuestionResult], rule: &CorrectnessRule) -> Option<f64> {
    let verdicts: Vec<Verdict> = questions.iter().map(|q| verdict(q, rule)).filter(|v| *v != Verdict::Unknown).collect();
    (!verdicts.is_empty()).then(|| verdicts.iter().filter(|v| **v == Verdict::Correct).count() as f64 / verdicts.len() as f64)
}

/// One system's side of a question.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Outcome {
    pub system: String,
    pub verdict: Verdict,
    pub answer: String,
    pub error: Option<String>,
    pub keyword_recall: Option<f64>,
    pub f1: Option<f64>,
}

/// A question where at least one system is right and another wrong.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QuestionDifference {
    pub id: String,
    pub question: String,
    pub expected: Option<String>,
    pub outcomes: Vec<Outcome>,
}

/// A question found in one file but not in another.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Unmatched {
    pub system: String,
    pub id: String,
    pub question: String,
}

/// Matches the questions of every system to the first system's questions by
/// id, then by normalised question text (for files from tools with other ids).
pub struct Matching<'a> {
    /// For each question of the first system, the matching question of each system.
    pub rows: Vec<Vec<Option<&'a QuestionResult>>>,
    pub unmatched: Vec<Unmatched>,
}

pub fn match_questions<'a>(labels: &[String], systems: &[&'a [QuestionResult]]) -> Matching<'a> {
    let Some(first) = systems.first() else { return Matching { rows: Vec::new(), unmatched: Vec::new() } };
    let mut rows: Vec<Vec<Option<&QuestionResult>>> = first.iter().map(|q| vec![Some(q)]).collect();
    let mut unmatched = Vec::new();
    for (s, questions) in systems.iter().enumerate().skip(1) {
        let by_id: HashMap<&str, &QuestionResult> = questions.iter().map(|q| (q.id.as_str(), q)).collect();
        let by_text: HashMap<String, &QuestionResult> = questions.iter().map(|q| (normalize(&q.question), q)).collect();
        let mut used: HashSet<&str> = HashSet::new();
        for (base, row) in first.iter().zip(rows.iter_mut()) {
            let text = normalize(&base.question);
            // Same id and same question, else the same question under another id.
            let found = by_id.get(base.id.as_str()).filter(|q| normalize(&q.question) == text).or_else(|| by_text.get(&text)).copied();
            if let Some(q) = found {
                used.insert(q.id.as_str());
            }
            row.push(found);
        }
        for q in questions.iter().filter(|q| !used.contains(q.id.as_str())) {
            unmatched.push(Unmatched { system: labels[s].clone(), id: q.id.clone(), question: q.question.clone() });
        }
    }
    for (base, row) in first.iter().zip(&rows) {
        if row.iter().any(Option::is_none) {
            unmatched.push(Unmatched { system: labels[0].clone(), id: base.id.clone(), question: base.question.clone() });
        }
    }
    Matching { rows, unmatched }
}

/// The questions answered by every system where verdicts disagree.
pub fn differences(labels: &[String], matching: &Matching, rule: &CorrectnessRule) -> Vec<QuestionDifference> {
    let mut out = Vec::new();
    for row in &matching.rows {
        if row.iter().any(Option::is_none) {
            continue;
        }
        let qs: Vec<&QuestionResult> = row.iter().flatten().copied().collect();
        let verdicts: Vec<Verdict> = qs.iter().map(|q| verdict(q, rule)).collect();
        let any_right = verdicts.contains(&Verdict::Correct);
        let any_wrong = verdicts.contains(&Verdict::Wrong);
        if !(any_right && any_wrong) {
            continue;
        }
        let base = qs[0];
        out.push(QuestionDifference {
            id: base.id.clone(),
            question: base.question.clone(),
            expected: base.expected.clone(),
            outcomes: qs
                .iter()
                .zip(&verdicts)
                .zip(labels)
                .map(|((q, v), label)| Outcome {
                    system: label.clone(),
                    verdict: *v,
                    answer: q.answer.clone(),
                    error: q.error.clone(),
                    keyword_recall: q.scores.keyword_recall,
                    f1: q.scores.f1,
                })
                .collect(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::results::Scores;

    fn q(id: &str, question: &str, ok: bool, kr: Option<f64>, f1: Option<f64>) -> QuestionResult {
        QuestionResult {
            id: id.into(),
            question: question.into(),
            answer: if ok { "x".into() } else { String::new() },
            success: ok,
            scores: Scores { keyword_recall: kr, f1, ..Default::default() },
            ..Default::default()
        }
    }

    #[test]
    fn verdict_rules() {
        let rule = CorrectnessRule::default();
        assert_eq!(verdict(&q("a", "?", true, Some(1.0), Some(0.1)), &rule), Verdict::Correct);
        assert_eq!(verdict(&q("a", "?", true, Some(0.5), Some(0.9)), &rule), Verdict::Wrong);
        assert_eq!(verdict(&q("a", "?", true, None, Some(0.5)), &rule), Verdict::Correct);
        assert_eq!(verdict(&q("a", "?", false, Some(1.0), None), &rule), Verdict::Wrong);
        assert_eq!(verdict(&q("a", "?", true, None, None), &rule), Verdict::Unknown);
        let mut em = q("a", "?", true, Some(0.0), None);
        em.scores.exact_match = Some(true);
        assert_eq!(verdict(&em, &rule), Verdict::Correct);
    }

    #[test]
    fn matches_by_id_then_text_and_lists_disagreements() {
        let labels = vec!["rag".to_string(), "finetuned".to_string()];
        let a = vec![
            q("1", "Qui héberge GIDAF ?", true, Some(1.0), None),
            q("2", "Où ?", true, Some(1.0), None),
            q("3", "Seul ?", true, Some(1.0), None),
        ];
        // Same first question under another id and spelling; second question agrees.
        let b = vec![
            q("x9", "qui heberge gidaf", true, Some(0.0), None),
            q("2", "Où ?", true, Some(1.0), None),
            q("4", "Autre ?", true, None, None),
        ];
        let m = match_questions(&labels, &[&a, &b]);
        assert_eq!(m.rows.len(), 3);
        assert_eq!(m.rows[0][1].unwrap().id, "x9");
        assert!(m.rows[2][1].is_none());
        let unmatched: Vec<(&str, &str)> = m.unmatched.iter().map(|u| (u.system.as_str(), u.id.as_str())).collect();
        assert_eq!(unmatched, vec![("finetuned", "4"), ("rag", "3")]);
        let d = differences(&labels, &m, &CorrectnessRule::default());
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].id, "1");
        assert_eq!(d[0].outcomes[0].verdict, Verdict::Correct);
        assert_eq!(d[0].outcomes[1].verdict, Verdict::Wrong);
    }
}
