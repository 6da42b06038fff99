//! Answer quality metrics. Every score is in [0, 1] except where said.
//!
//! - [`normalize`]: the normalisation behind exact match, key facts and F1.
//! - [`overlap`]: exact match, key-fact recall, token F1.
//! - [`rouge`]: ROUGE-L as `rouge-score` computes it.
//! - [`bleu`]: BLEU as sacreBLEU computes it (0–100 there).
//!
//! [`score_answer`] puts them together for one answer.

pub mod bleu;
pub mod normalize;
pub mod overlap;
pub mod rouge;

pub use normalize::normalize;

use crate::eval::results::Scores;

/// Scores one answer. Metrics that need a reference are `None` when the
/// question has no expected answer; key-fact recall is `None` without keywords.
/// A missing metric is never reported as zero.
pub fn score_answer(answer: &str, expected: Option<&str>, keywords: &[String]) -> Scores {
    Scores {
        exact_match: expected.map(|e| overlap::exact_match(answer, e)),
        keyword_recall: overlap::keyword_recall(answer, keywords),
        f1: expected.map(|e| overlap::token_f1(answer, e)),
        rouge_l: expected.map(|e| rouge::rouge_l(answer, e)),
        // sacreBLEU's own rounding can exceed 100 by an ulp (100.00000000000004).
        bleu: expected.map(|e| (bleu::sentence_bleu(answer, e) / 100.0).min(1.0)),
        // The verdict needs the prompt: the evaluation loop adds it (eval::judge).
        ..Scores::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_reference_gives_missing_scores() {
        let s = score_answer("GIDAF est hébergé par la DSI.", None, &[]);
        assert_eq!(s, Scores::default());
        let s = score_answer("GIDAF est hébergé par la DSI.", None, &["dsi".to_string()]);
        assert_eq!(s.keyword_recall, Some(1.0));
        assert_eq!(s.f1, None);
    }

    #[test]
    fn perfect_answer_scores_one_everywhere() {
        let e = "GIDAF est hébergé par la DSI.";
        let s = score_answer(e, Some(e), &["GIDAF".to_string()]);
        assert_eq!(s.exact_match, Some(true));
        assert_eq!(s.keyword_recall, Some(1.0));
        assert_eq!(s.f1, Some(1.0));
        assert_eq!(s.rouge_l, Some(1.0));
        assert!((s.bleu.unwrap() - 1.0).abs() < 1e-12);
    }
}
