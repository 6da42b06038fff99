//! ROUGE-L F-measure exactly as Google's `rouge-score` package computes it
//! (`RougeScorer(["rougeL"])`, no stemmer, no summary splitting).
//!
//! Its default tokenizer lower-cases the text and keeps only runs of ASCII
//! letters and digits: every other character, accented letters included,
//! separates tokens ("hébergé" → "h", "berg"). That is unkind to French, but
//! it is what makes the number comparable with anyone else's ROUGE-L; the
//! accent-aware overlap is measured by token F1 instead.

/// `rouge_score.tokenize.tokenize(text, stemmer=None)`.
pub fn rouge_tokens(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    lower.split(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit())).filter(|t| !t.is_empty()).map(str::to_string).collect()
}

/// Length of the longest common subsequence of two token lists
/// (dynamic programming over two rows).
fn lcs_len(a: &[String], b: &[String]) -> usize {
    let mut prev = vec![0usize; b.len() + 1];
    let mut cur = vec![0usize; b.len() + 1];
    for x in a {
        for (j, y) in b.iter().enumerate() {
            cur[j + 1] = if x == y { prev[j] + 1 } else { prev[j + 1].max(cur[j]) };
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// ROUGE-L F-measure of `prediction` against `target`, in [0, 1].
/// Zero when either side has no tokens, as in `rouge_scorer._score_lcs`.
pub fn rouge_l(prediction: &str, target: &str) -> f64 {
    let pred = rouge_tokens(prediction);
    let targ = rouge_tokens(target);
    if pred.is_empty() || targ.is_empty() {
        return 0.0;
    }
    let lcs = lcs_len(&targ, &pred) as f64;
    let precision = lcs / pred.len() as f64;
    let recall = lcs / targ.len() as f64;
    if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizer_keeps_ascii_alphanumeric_runs_only() {
        assert_eq!(rouge_tokens("Hébergé par la DSI, v2.0!"), vec!["h", "berg", "par", "la", "dsi", "v2", "0"]);
        assert_eq!(rouge_tokens("« l’été »"), vec!["l", "t"]);
        assert!(rouge_tokens("éé ?").is_empty());
    }

    #[test]
    fn known_values() {
        // target: the cat sat on the mat (6); pred: the cat on the mat (5); LCS 5.
        // p = 1, r = 5/6, f = 2*(5/6)/(11/6) = 10/11.
        let f = rouge_l("The cat on the mat.", "the cat sat on the mat");
        assert!((f - 10.0 / 11.0).abs() < 1e-12, "{f}");
        // pred: a b c d, target: d c b a → LCS 1, p = r = 1/4.
        assert!((rouge_l("a b c d", "d c b a") - 0.25).abs() < 1e-12);
        assert_eq!(rouge_l("", "x"), 0.0);
        assert_eq!(rouge_l("x", "y"), 0.0);
        assert_eq!(rouge_l("Même chose", "même chose"), 1.0);
    }
}
