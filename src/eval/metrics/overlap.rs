//! Word-overlap scores on normalised text: exact match, key-fact recall and
//! token F1 (SQuAD-style bag-of-words F1, without SQuAD's English article removal
//! since the answers are mostly French).

use super::normalize::{normalize, normalized_tokens};
use std::collections::HashMap;

/// True when both texts are equal after [`normalize`].
pub fn exact_match(answer: &str, expected: &str) -> bool {
    normalize(answer) == normalize(expected)
}

/// Share of `keywords` found in the answer, both normalised. A keyword is found
/// when its words appear consecutively as whole words ("dsi" is not found in
/// "dsign"), so short keywords cannot match inside longer words.
/// `None` when there are no keywords to look for.
pub fn keyword_recall(answer: &str, keywords: &[String]) -> Option<f64> {
    if keywords.is_empty() {
        return None;
    }
    let haystack = format!(" {} ", normalize(answer));
    let found = keywords
        .iter()
        .filter(|k| {
            let needle = normalize(k);
            // An empty keyword would match everything; the questions reader
            // rejects those, this guard keeps the function honest on its own.
            !needle.is_empty() && haystack.contains(&format!(" {needle} "))
        })
        .count();
    Some(found as f64 / keywords.len() as f64)
}

/// Harmonic mean of word precision and recall, counting repeated words as
/// many times as they occur in both texts. Two empty texts score 1, one empty
/// text scores 0 (as in the SQuAD evaluation script).
pub fn token_f1(answer: &str, expected: &str) -> f64 {
    let pred = normalized_tokens(answer);
    let gold = normalized_tokens(expected);
    if pred.is_empty() || gold.is_empty() {
        return if pred.is_empty() && gold.is_empty() { 1.0 } else { 0.0 };
    }
    let mut gold_counts: HashMap<&str, usize> = HashMap::new();
    for t in &gold {
        *gold_counts.entry(t.as_str()).or_default() += 1;
    }
    let mut common = 0usize;
    for t in &pred {
        if let Some(c) = gold_counts.get_mut(t.as_str()) {
            if *c > 0 {
                *c -= 1;
                common += 1;
            }
        }
    }
    if common == 0 {
        return 0.0;
    }
    let precision = common as f64 / pred.len() as f64;
    let recall = common as f64 / gold.len() as f64;
    2.0 * precision * recall / (precision + recall)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kw(words: &[&str]) -> Vec<String> {
        words.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn exact_match_ignores_case_accents_punctuation_spaces() {
        assert!(exact_match("GIDAF est hébergé par la DSI.", "gidaf  est heberge par la dsi"));
        assert!(exact_match("« Oui » !", "oui"));
        assert!(exact_match("L’application", "l'application"));
        assert!(!exact_match("GIDAF est hébergé par la DSI", "GIDAF est hébergé par le CNES"));
        assert!(!exact_match("", "oui"));
    }

    #[test]
    fn keyword_recall_counts_whole_word_matches() {
        let a = "GIDAF est hébergé par la DSI à Toulouse.";
        assert_eq!(keyword_recall(a, &kw(&["DSI", "toulouse", "Paris"])), Some(2.0 / 3.0));
        assert_eq!(keyword_recall(a, &kw(&["hebergé par"])), Some(1.0));
        // "si" is inside "dsi" but is not a word of the answer.
        assert_eq!(keyword_recall(a, &kw(&["si"])), Some(0.0));
        assert_eq!(keyword_recall("Élève", &kw(&["ELEVE"])), Some(1.0));
        assert_eq!(keyword_recall(a, &[]), None);
    }

    #[test]
    fn token_f1_known_values() {
        // pred: le chat dort (3), gold: le chat mange bien (4); common 2.
        // p = 2/3, r = 1/2, f1 = 2*(1/3)/(7/6) = 4/7.
        let f = token_f1("Le chat dort.", "le chat mange bien");
        assert!((f - 4.0 / 7.0).abs() < 1e-12, "{f}");
        // Repeated words are clipped: pred "le le le", gold "le chat": common 1.
        // p = 1/3, r = 1/2, f1 = 0.4.
        assert!((token_f1("le le le", "le chat") - 0.4).abs() < 1e-12);
        assert_eq!(token_f1("Hébergé", "HEBERGE"), 1.0);
        assert_eq!(token_f1("", ""), 1.0);
        assert_eq!(token_f1("", "oui"), 0.0);
        assert_eq!(token_f1("non", "oui"), 0.0);
    }
}
