//! BLEU as sacreBLEU computes it with its defaults: the `13a` tokenizer (the
//! one of mteval-v13a.pl used by WMT), no lower-casing, 4-gram precisions,
//! brevity penalty against the reference length, and `exp` smoothing.
//! Corpus BLEU sums the n-gram statistics over all segments first
//! (`sacrebleu.corpus_bleu`); sentence BLEU scores one segment with the
//! effective order (`sacrebleu.sentence_bleu`). Scores are in sacreBLEU's
//! 0–100 range here; the results file stores them divided by 100.

use std::collections::HashMap;

const MAX_ORDER: usize = 4;

/// Python's `str.isspace()`, which `str.split()` and `str.rstrip()` use: it
/// differs from Unicode White_Space by also counting U+001C..U+001F.
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Characters the first 13a rule surrounds with spaces:
/// `[\{-\~\[-\` -\&\(-\+\:-\@\/]`.
fn is_13a_symbol(c: char) -> bool {
    matches!(c, '{'..='~' | '['..='`' | ' '..='&' | '('..='+' | ':'..='@' | '/')
}

/// Applies a two-character regex rule `(A)(B)` → `pre A mid B post` the way
/// Python's `re.sub` does: scan left to right, replace non-overlapping matches.
fn sub_pairs(chars: &[char], first: impl Fn(char) -> bool, second: impl Fn(char) -> bool, pre: &str, mid: &str, post: &str) -> Vec<char> {
    let mut out = Vec::with_capacity(chars.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        if i + 1 < chars.len() && first(chars[i]) && second(chars[i + 1]) {
            out.extend(pre.chars());
            out.push(chars[i]);
            out.extend(mid.chars());
            out.push(chars[i + 1]);
            out.extend(post.chars());
            i += 2;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// sacreBLEU's `Tokenizer13a` (after `rstrip()`, as BLEU preprocesses each
/// segment): returns the tokens the n-grams are counted on.
pub fn tokenize_13a(line: &str) -> Vec<String> {
    let mut line = line.trim_end_matches(is_py_space).replace("<skipped>", "").replace("-\n", "").replace('\n', " ");
    if line.contains('&') {
        line = line.replace("&quot;", "\"").replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">");
    }
    let padded: Vec<char> = format!(" {line} ").chars().collect();
    // Rule 1: surround symbols with spaces (single-character matches).
    let mut chars = Vec::with_capacity(padded.len() * 2);
    for c in padded {
        if is_13a_symbol(c) {
            chars.extend([' ', c, ' ']);
        } else {
            chars.push(c);
        }
    }
    let digit = |c: char| c.is_ascii_digit();
    let dot_comma = |c: char| c == '.' || c == ',';
    // Rule 2: period and comma unless preceded by a digit: `([^0-9])([\.,])` → `\1 \2 `.
    let chars = sub_pairs(&chars, |c| !digit(c), dot_comma, "", " ", " ");
    // Rule 3: period and comma unless followed by a digit: `([\.,])([^0-9])` → ` \1 \2`.
    let chars = sub_pairs(&chars, dot_comma, |c| !digit(c), " ", " ", "");
    // Rule 4: dash preceded by a digit: `([0-9])(-)` → `\1 \2 `.
    let chars = sub_pairs(&chars, digit, |c| c == '-', "", " ", " ");
    let s: String = chars.into_iter().collect();
    s.split(is_py_space).filter(|t| !t.is_empty()).map(str::to_string).collect()
}

/// Sufficient statistics of BLEU for one or more segments.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BleuStats {
    pub hyp_len: usize,
    pub ref_len: usize,
    pub correct: [usize; MAX_ORDER],
    pub total: [usize; MAX_ORDER],
}

impl BleuStats {
    /// Statistics of one hypothesis against one reference.
    pub fn segment(hypothesis: &str, reference: &str) -> Self {
        let hyp = tokenize_13a(hypothesis);
        let reference = tokenize_13a(reference);
        let ref_counts = ngram_counts(&reference);
        let mut stats = BleuStats { hyp_len: hyp.len(), ref_len: reference.len(), ..Default::default() };
        for (gram, count) in ngram_counts(&hyp) {
            let n = gram.len() - 1;
            stats.total[n] += count;
            if let Some(r) = ref_counts.get(gram) {
                stats.correct[n] += count.min(*r);
            }
        }
        stats
    }

    pub fn add(&mut self, other: &BleuStats) {
        self.hyp_len += other.hyp_len;
        self.ref_len += other.ref_len;
        for n in 0..MAX_ORDER {
            self.correct[n] += other.correct[n];
            self.total[n] += other.total[n];
        }
    }

    /// `BLEU.compute_bleu` with `smooth_method="exp"`, in 0–100.
    pub fn score(&self, effective_order: bool) -> f64 {
        let bp = if self.hyp_len < self.ref_len {
            if self.hyp_len > 0 {
                (1.0 - self.ref_len as f64 / self.hyp_len as f64).exp()
            } else {
                0.0
            }
        } else {
            1.0
        };
        if self.correct.iter().all(|&c| c == 0) {
            return 0.0;
        }
        let mut precisions = [0.0f64; MAX_ORDER];
        let mut smooth_mteval = 1.0f64;
        let mut eff_order = MAX_ORDER;
        // Indexed like sacreBLEU's loop over orders, to keep the two easy to compare.
        #[allow(clippy::needless_range_loop)]
        for n in 0..MAX_ORDER {
            if self.total[n] == 0 {
                break;
            }
            if effective_order {
                eff_order = n + 1;
            }
            if self.correct[n] == 0 {
                smooth_mteval *= 2.0;
                precisions[n] = 100.0 / (smooth_mteval * self.total[n] as f64);
            } else {
                precisions[n] = 100.0 * self.correct[n] as f64 / self.total[n] as f64;
            }
        }
        // sacreBLEU's `my_log`: log(0) is a huge negative number, not -inf.
        let log_sum: f64 = precisions[..eff_order].iter().map(|&p| if p == 0.0 { -9_999_999_999.0 } else { p.ln() }).sum();
        bp * (log_sum / eff_order as f64).exp()
    }
}

/// Counts of every n-gram of orders 1..=4.
fn ngram_counts(tokens: &[String]) -> HashMap<&[String], usize> {
    let mut counts = HashMap::new();
    for n in 1..=MAX_ORDER {
        for gram in tokens.windows(n) {
            *counts.entry(gram).or_default() += 1;
        }
    }
    counts
}

/// `sacrebleu.sentence_bleu(hypothesis, [reference]).score` (0–100).
pub fn sentence_bleu(hypothesis: &str, reference: &str) -> f64 {
    BleuStats::segment(hypothesis, reference).score(true)
}

/// `sacrebleu.corpus_bleu(hypotheses, [references]).score` (0–100) over
/// (hypothesis, reference) pairs. `None` for an empty corpus.
pub fn corpus_bleu<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<f64> {
    let mut total = BleuStats::default();
    let mut any = false;
    for (h, r) in pairs {
        total.add(&BleuStats::segment(h, r));
        any = true;
    }
    any.then(|| total.score(false))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<String> {
        tokenize_13a(s)
    }

    #[test]
    fn tokenizer_13a_rules() {
        assert_eq!(toks("Hello, world."), vec!["Hello", ",", "world", "."]);
        // Digits keep their decimal point and thousands comma; a dash after a digit splits.
        assert_eq!(toks("It costs 3.5 or 1,000 - 2-3"), vec!["It", "costs", "3.5", "or", "1,000", "-", "2", "-", "3"]);
        // Apostrophes and hyphens between letters stay inside tokens; symbols split.
        assert_eq!(toks("l'été (2024) : « ok » a-b"), vec!["l'été", "(", "2024", ")", ":", "«", "ok", "»", "a-b"]);
        assert_eq!(toks("a &amp; b &lt;c&gt;"), vec!["a", "&", "b", "<", "c", ">"]);
        assert_eq!(toks("x..."), vec!["x", ".", ".", "."]);
    }

    #[test]
    fn sentence_bleu_known_values() {
        assert!((sentence_bleu("le chat est sur le tapis", "le chat est sur le tapis") - 100.0).abs() < 1e-9);
        assert_eq!(sentence_bleu("", "le chat"), 0.0);
        assert_eq!(sentence_bleu("un chien", "le chat"), 0.0);
        // hyp: "le chat dort" vs ref "le chat dort bien": 1-grams 3/3, 2-grams 2/2,
        // 3-grams 1/1, no 4-grams (effective order 3); BP = exp(1 - 4/3).
        let expected = (1.0f64 - 4.0 / 3.0).exp() * 100.0;
        assert!((sentence_bleu("le chat dort", "le chat dort bien") - expected).abs() < 1e-9);
        // One 1-gram match out of 2 and none above: precisions 50, then exp smoothing 100/(2*1).
        let expected = (((50.0f64).ln() + (50.0f64).ln()) / 2.0).exp();
        assert!((sentence_bleu("le chien", "le chat") - expected).abs() < 1e-9);
    }

    #[test]
    fn corpus_bleu_sums_statistics_before_scoring() {
        let pairs = [("le chat dort", "le chat dort"), ("un chien", "un chien noir")];
        let corpus = corpus_bleu(pairs.iter().map(|(h, r)| (*h, *r))).unwrap();
        // Totals: hyp 5, ref 6; 1-grams 5/5, 2-grams 3/3, 3-grams 1/1, 4-grams 0/0
        // → the loop stops at n = 4 with precision 0 → my_log(0) → score 0 without effective order.
        assert_eq!(corpus, 0.0);
        assert_eq!(corpus_bleu(std::iter::empty()), None);
    }
}
