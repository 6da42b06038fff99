//! The summary table printed on stderr at the end of an evaluation.

use crate::eval::results::{Aggregates, Distribution, ResultsFile};

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "—".to_string(), |x| format!("{:.1} %", 100.0 * x))
}

fn num(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "—".to_string(), |x| format!("{x:.decimals$}"))
}

fn dist(d: Option<&Distribution>) -> String {
    d.map_or_else(|| "—".to_string(), |d| format!("mean {:.0} ms, p50 {:.0} ms, p95 {:.0} ms", d.mean, d.p50, d.p95))
}

fn count(v: Option<u64>) -> String {
    v.map_or_else(|| "—".to_string(), |x| x.to_string())
}

/// The table as text, one metric per line ("—" for what was not measured).
pub fn summary_table(results: &ResultsFile) -> String {
    let a: Aggregates = results.aggregates_or_computed();
    let over = |n: Option<u64>| n.map_or_else(String::new, |n| format!("  (over {n})"));
    let rows: Vec<(&str, String)> = vec![
        ("success rate", format!("{}  ({}/{})", pct(a.success_rate), count(a.successes), a.questions)),
        ("exact match rate", format!("{}{}", pct(a.exact_match_rate), over(a.expected_count))),
        ("key-fact recall", format!("{}{}", num(a.mean_keyword_recall, 3), over(a.keywords_count))),
        ("token F1", num(a.mean_f1, 3)),
        ("ROUGE-L", num(a.mean_rouge_l, 3)),
        ("BLEU (sentence mean)", num(a.mean_bleu.map(|b| b * 100.0), 2)),
        ("BLEU (corpus)", num(a.corpus_bleu.map(|b| b * 100.0), 2)),
        ("latency", dist(a.latency_total_ms.as_ref())),
        ("first token", dist(a.latency_first_token_ms.as_ref())),
        ("speed", a.tokens_per_second.map_or_else(|| "—".into(), |t| format!("{t:.1} tokens/s"))),
        (
            "tokens",
            format!("prompt {}, completion {}, total {}", count(a.prompt_tokens), count(a.completion_tokens), count(a.total_tokens)),
        ),
        ("answers with sources", pct(a.sourced_rate)),
    ];
    let mut out = format!("Evaluation summary — system: {}, {} questions\n", results.metadata.system, a.questions);
    for (name, value) in rows {
        out.push_str(&format!("  {name:<22} {value}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::results::{Metadata, QuestionResult, Scores};

    #[test]
    fn table_shows_values_and_dashes_for_missing() {
        let q = QuestionResult {
            id: "q1".into(),
            question: "?".into(),
            answer: "oui".into(),
            success: true,
            keywords: vec!["oui".into()],
            scores: Scores { keyword_recall: Some(1.0), ..Default::default() },
            ..Default::default()
        };
        let file = ResultsFile {
            schema_version: 1,
            metadata: Metadata { system: "rag".into(), ..Default::default() },
            aggregates: None,
            questions: vec![q],
        };
        let t = summary_table(&file);
        assert!(t.starts_with("Evaluation summary — system: rag, 1 questions\n"), "{t}");
        assert!(t.contains("  success rate           100.0 %  (1/1)\n"), "{t}");
        assert!(t.contains("  key-fact recall        1.000  (over 1)\n"), "{t}");
        assert!(t.contains("  token F1               —\n"), "{t}");
        assert!(t.contains("  latency                —\n"), "{t}");
    }
}
