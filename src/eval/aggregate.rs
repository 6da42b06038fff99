//! Whole-run figures computed from the per-question results.
//!
//! Percentiles use linear interpolation between closest ranks (Hyndman & Fan
//! type 7, numpy's default): for sorted values x₀..xₙ₋₁ and p in [0, 1],
//! h = (n−1)·p and P = x⌊h⌋ + (h−⌊h⌋)·(x⌊h⌋+1 − x⌊h⌋).
//! Latencies and speed are taken over answers produced without error; a failed
//! answer still counts in the quality means as an empty answer.

use crate::eval::judge::wilson95;
use crate::eval::metrics::bleu;
use crate::eval::results::{Aggregates, Distribution, KindAggregates, QuestionResult, ResultsFile};
use std::collections::BTreeMap;

/// Percentile `p` in [0, 1] of `sorted` values (ascending, not empty).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    debug_assert!(!sorted.is_empty());
    let h = (sorted.len() - 1) as f64 * p.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// Mean, p50 and p95 of the values; `None` for no values.
pub fn distribution(values: impl IntoIterator<Item = f64>) -> Option<Distribution> {
    let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    Some(Distribution { mean, p50: percentile(&v, 0.50), p95: percentile(&v, 0.95) })
}

fn mean(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values.into_iter().fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    (n > 0).then(|| sum / n as f64)
}

fn sum_present(values: impl IntoIterator<Item = Option<u64>>) -> Option<u64> {
    values.into_iter().flatten().fold(None, |acc, x| Some(acc.unwrap_or(0) + x))
}

impl ResultsFile {
    /// The aggregates, computed from the questions when the file had none.
    pub fn aggregates_or_computed(&self) -> Aggregates {
        self.aggregates.clone().unwrap_or_else(|| aggregate(&self.questions))
    }
}

/// Computes every aggregate from the per-question results.
pub fn aggregate(questions: &[QuestionResult]) -> Aggregates {
    let n = questions.len();
    let successes = questions.iter().filter(|q| q.success).count();
    let errors = questions.iter().filter(|q| q.error.is_some()).count();
    let answered: Vec<&QuestionResult> = questions.iter().filter(|q| q.error.is_none()).collect();

    let with_expected: Vec<&QuestionResult> = questions.iter().filter(|q| q.expected.is_some()).collect();
    let keywords_count = questions.iter().filter(|q| !q.keywords.is_empty()).count();

    let corpus_bleu = bleu::corpus_bleu(with_expected.iter().filter_map(|q| q.expected.as_deref().map(|e| (q.answer.as_str(), e))))
        .map(|b| (b / 100.0).min(1.0));

    let prompt_tokens = sum_present(questions.iter().map(|q| q.prompt_tokens));
    let completion_tokens = sum_present(questions.iter().map(|q| q.completion_tokens));
    let total_tokens = match (prompt_tokens, completion_tokens) {
        (None, None) => None,
        (p, c) => Some(p.unwrap_or(0) + c.unwrap_or(0)),
    };

    // Speed: completion tokens over generation time, both summed over the
    // answers where both were measured.
    let (tok, secs) = answered
        .iter()
        .filter_map(|q| Some((q.completion_tokens?, q.latency.as_ref()?.total_ms?)))
        .fold((0u64, 0.0f64), |(t, s), (ct, ms)| (t + ct, s + ms / 1000.0));
    let tokens_per_second = (secs > 0.0).then(|| tok as f64 / secs);

    let has_sources = questions.iter().any(|q| q.sources.is_some());
    let sourced_rate = (has_sources && n > 0)
        .then(|| questions.iter().filter(|q| q.sources.as_ref().is_some_and(|s| !s.is_empty())).count() as f64 / n as f64);

    let all: Vec<&QuestionResult> = questions.iter().collect();
    let overall = kind_figures(&all);
    let mut by_kind: BTreeMap<String, Vec<&QuestionResult>> = BTreeMap::new();
    for q in questions {
        if let Some(k) = &q.kind {
            by_kind.entry(k.clone()).or_default().push(q);
        }
    }
    let per_kind = by_kind.into_iter().map(|(k, qs)| (k, kind_figures(&qs))).collect();

    Aggregates {
        correct_rate: overall.correct_rate,
        correct_ci95: overall.correct_ci95,
        echoes: questions.iter().any(|q| q.scores.echo.is_some()).then_some(overall.echoes),
        refusal_rate: overall.refusal_rate,
        retrieval_hit_rate: overall.retrieval_hit_rate,
        per_kind,
        questions: n as u64,
        successes: Some(successes as u64),
        errors: Some(errors as u64),
        success_rate: (n > 0).then(|| successes as f64 / n as f64),
        exact_match_rate: mean(questions.iter().filter_map(|q| q.scores.exact_match.map(|b| if b { 1.0 } else { 0.0 }))),
        mean_keyword_recall: mean(questions.iter().filter_map(|q| q.scores.keyword_recall)),
        mean_f1: mean(questions.iter().filter_map(|q| q.scores.f1)),
        mean_rouge_l: mean(questions.iter().filter_map(|q| q.scores.rouge_l)),
        mean_bleu: mean(questions.iter().filter_map(|q| q.scores.bleu)),
        corpus_bleu,
        expected_count: Some(with_expected.len() as u64),
        keywords_count: Some(keywords_count as u64),
        latency_total_ms: distribution(answered.iter().filter_map(|q| q.latency.as_ref()?.total_ms)),
        latency_first_token_ms: distribution(answered.iter().filter_map(|q| q.latency.as_ref()?.time_to_first_token_ms)),
        tokens_per_second,
        prompt_tokens,
        completion_tokens,
        total_tokens,
        sourced_rate,
    }
}

/// The judged figures of a group of questions (a kind, or all of them).
fn kind_figures(qs: &[&QuestionResult]) -> KindAggregates {
    let judged = qs.iter().filter(|q| q.scores.correct.is_some()).count() as u64;
    let correct = qs.iter().filter(|q| q.scores.correct == Some(true)).count() as u64;
    let rate = |flags: Vec<bool>| mean(flags.into_iter().map(|b| if b { 1.0 } else { 0.0 }));
    KindAggregates {
        questions: qs.len() as u64,
        judged,
        correct,
        correct_rate: (judged > 0).then(|| correct as f64 / judged as f64),
        correct_ci95: wilson95(correct, judged).map(|(lo, hi)| [lo, hi]),
        mean_keyword_recall: mean(qs.iter().filter_map(|q| q.scores.keyword_recall)),
        echoes: qs.iter().filter(|q| q.scores.echo == Some(true)).count() as u64,
        refusal_rate: rate(qs.iter().filter_map(|q| q.scores.refusal).collect()),
        retrieval_hit_rate: rate(qs.iter().filter_map(|q| q.retrieval_hit).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::results::{Latency, Scores, Source};

    #[test]
    fn percentiles_interpolate_linearly() {
        let v = [10.0, 20.0, 30.0, 40.0];
        assert_eq!(percentile(&v, 0.5), 25.0);
        // h = 3 * 0.95 = 2.85 → 30 + 0.85 * 10.
        assert!((percentile(&v, 0.95) - 38.5).abs() < 1e-12);
        assert_eq!(percentile(&[7.0], 0.95), 7.0);
        let d = distribution([40.0, 10.0, 30.0, 20.0]).unwrap();
        assert_eq!(d.mean, 25.0);
        assert_eq!(d.p50, 25.0);
        assert!(distribution(std::iter::empty()).is_none());
    }

    fn q(
        id: &str,
        answer: &str,
        ok: bool,
        em: Option<bool>,
        kr: Option<f64>,
        ms: Option<f64>,
        tokens: Option<(u64, u64)>,
    ) -> QuestionResult {
        QuestionResult {
            id: id.into(),
            question: "?".into(),
            expected: em.map(|_| answer.to_string()),
            answer: answer.into(),
            error: if ok { None } else { Some("boom".into()) },
            latency: ms.map(|m| Latency { time_to_first_token_ms: Some(m / 10.0), total_ms: Some(m) }),
            prompt_tokens: tokens.map(|t| t.0),
            completion_tokens: tokens.map(|t| t.1),
            scores: Scores { exact_match: em, keyword_recall: kr, ..Default::default() },
            success: ok && !answer.is_empty(),
            ..Default::default()
        }
    }

    #[test]
    fn aggregates_skip_missing_values_instead_of_counting_zero() {
        let qs = vec![
            q("a", "oui", true, Some(true), Some(1.0), Some(1000.0), Some((10, 20))),
            q("b", "non", true, Some(false), None, Some(3000.0), Some((30, 40))),
            q("c", "", false, None, Some(0.0), Some(50.0), None),
        ];
        let a = aggregate(&qs);
        assert_eq!(a.questions, 3);
        assert_eq!(a.successes, Some(2));
        assert_eq!(a.errors, Some(1));
        assert!((a.success_rate.unwrap() - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(a.exact_match_rate, Some(0.5));
        assert_eq!(a.mean_keyword_recall, Some(0.5));
        assert_eq!(a.mean_f1, None);
        // The failed answer's latency is left out.
        assert_eq!(a.latency_total_ms.as_ref().unwrap().mean, 2000.0);
        assert_eq!(a.latency_first_token_ms.as_ref().unwrap().p50, 200.0);
        assert_eq!(a.prompt_tokens, Some(40));
        assert_eq!(a.total_tokens, Some(100));
        // 60 completion tokens in 4 s.
        assert_eq!(a.tokens_per_second, Some(15.0));
        assert_eq!(a.sourced_rate, None);
    }

    #[test]
    fn sourced_rate_counts_answers_with_sources() {
        let mut qs = vec![q("a", "x", true, None, None, None, None), q("b", "y", true, None, None, None, None)];
        qs[0].sources = Some(vec![Source { id: "r1".into(), ..Default::default() }]);
        qs[1].sources = Some(vec![]);
        assert_eq!(aggregate(&qs).sourced_rate, Some(0.5));
        assert_eq!(aggregate(&[]).success_rate, None);
    }

    #[test]
    fn judged_figures_per_kind() {
        let mk = |id: &str, kind: &str, correct: bool, echo: bool, refusal: bool, hit: Option<bool>| {
            let mut r = q(id, "x", true, None, None, None, None);
            r.kind = Some(kind.into());
            r.scores.correct = Some(correct);
            r.scores.echo = Some(echo);
            r.scores.refusal = Some(refusal);
            r.retrieval_hit = hit;
            r
        };
        let mut qs = vec![
            mk("a", "direct", true, false, false, Some(true)),
            mk("b", "direct", false, true, false, Some(false)),
            mk("c", "direct", true, false, false, Some(true)),
            mk("d", "negative", true, false, true, None),
        ];
        // A question without a verdict counts in `questions`, not in `judged`.
        qs.push(q("e", "y", true, None, None, None, None));
        let a = aggregate(&qs);
        assert_eq!(a.correct_rate, Some(0.75));
        assert_eq!(a.echoes, Some(1));
        assert_eq!(a.retrieval_hit_rate, Some(2.0 / 3.0));
        let d = &a.per_kind["direct"];
        assert_eq!((d.questions, d.judged, d.correct, d.echoes), (3, 3, 2, 1));
        assert_eq!(d.refusal_rate, Some(0.0));
        let (lo, hi) = wilson95(2, 3).unwrap();
        assert_eq!(d.correct_ci95, Some([lo, hi]));
        let n = &a.per_kind["negative"];
        assert_eq!((n.questions, n.correct, n.refusal_rate, n.retrieval_hit_rate), (1, 1, Some(1.0), None));
        assert_eq!(a.per_kind.len(), 2);
    }
}
