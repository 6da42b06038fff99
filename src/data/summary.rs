//! The human summary of a generation run (printed on stderr).

use crate::data::generate::Report;
use std::fmt::Write;

pub fn render(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "generate-training: {} (seed {}, lang {})", r.method, r.seed, r.lang);
    let _ = writeln!(s, "  records read: {} from {}", r.records_read, r.inputs.join(", "));
    for d in &r.records_dropped {
        let _ = writeln!(s, "  skipped: {d}");
    }
    let _ = writeln!(s, "  examples: {} of {} requested", r.produced, r.requested);
    let intents: Vec<String> = r.per_intent.iter().map(|(k, v)| format!("{k} {v}")).collect();
    let _ = writeln!(s, "  per intent ({}): {}", r.method, intents.join(", "));
    if r.negatives > 0 {
        let _ = writeln!(s, "  negative examples (unknown names): {}", r.negatives);
    }
    if r.with_context > 0 {
        let _ = writeln!(s, "  with retrieved records in the prompt (RAFT, for the hybrid): {}", r.with_context);
    }
    if let Some(split) = &r.split {
        let _ = writeln!(
            s,
            "  split: train {}, val {}, test {}",
            split.get("train").unwrap_or(&0),
            split.get("val").unwrap_or(&0),
            split.get("test").unwrap_or(&0)
        );
    }
    if let Some(split) = &r.split {
        if split.get("test").copied().unwrap_or(0) == 0 {
            let _ = writeln!(s, "  [WARNING] the test split is empty: too few examples for the --split-ratios");
        }
    }
    let _ = writeln!(s, "  dropped: {} duplicate questions", r.duplicate_questions_dropped);
    if let Some(e) = &r.exposures {
        let _ = writeln!(s, "  exposures per fact ({} facts): min {}, median {}, max {}", e.facts, e.min, e.median, e.max);
    }
    if let Some(a) = &r.advice {
        let _ = writeln!(s, "  [WARNING] {a}");
    }
    if let Some(l) = &r.llm {
        let _ = writeln!(
            s,
            "  llm ({}): {} calls ({} failed, {} retries), {} replies unreadable, {} pairs read, {} kept",
            l.model, l.calls, l.failed_calls, l.retries, l.unparseable_replies, l.pairs_parsed, l.kept
        );
        let _ = writeln!(
            s,
            "  llm dropped: {} ungrounded, {} without a fact of the record, {} question not naming the record, {} duplicates, {} malformed, {} over the count",
            l.dropped_ungrounded, l.dropped_no_fact, l.dropped_question_without_name, l.dropped_duplicate, l.dropped_malformed, l.dropped_over_count
        );
        if l.trimmed_to_grounded_sentences > 0 {
            let _ = writeln!(s, "  llm answers cut to their grounded first sentences: {}", l.trimmed_to_grounded_sentences);
        }
        for sample in &l.ungrounded_samples {
            let _ = writeln!(s, "    e.g. {sample}");
        }
        if let Some(e) = &l.last_error {
            let _ = writeln!(s, "  llm last error: {e}");
        }
    }
    if !r.records_without_examples.is_empty() {
        let why = if r.requested < r.records_read {
            format!(" (--count {} is below the {} records)", r.requested, r.records_read)
        } else {
            String::new()
        };
        let names: Vec<&str> = r.records_without_examples.iter().take(10).map(String::as_str).collect();
        let more = r.records_without_examples.len().saturating_sub(10);
        let more = if more > 0 { format!(" and {more} more") } else { String::new() };
        let _ = writeln!(s, "  [WARNING] {} records have no example{why}: {}{more}", r.records_without_examples.len(), names.join(", "));
    }
    if let Some(why) = &r.shortfall {
        let _ = writeln!(s, "  [WARNING] fewer examples than requested: {why}");
    }
    for o in &r.outputs {
        let _ = writeln!(s, "  written: {o}");
    }
    s
}
