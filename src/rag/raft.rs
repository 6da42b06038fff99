//! Training examples with retrieved records in the prompt (RAFT: Zhang et
//! al. 2024, "Adapting Language Model to Domain Specific RAG"), so that the
//! adapter used by the hybrid learns to read the records it is given, to
//! pick the right one among look-alikes, and to refuse when the name asked
//! about is in none of them (the near-miss records retrieved for
//! `ESCALE-FIN` are ESCALE's: exactly the case to refuse).
//!
//! A share of the generated questions (never fiches: they teach facts, not
//! reading) gets the context block of [`crate::rag::context`] as its user
//! turn, built from BM25's top records for the question as at query time.
//! For a question about a record, that record is in the block
//! [`ORACLE_SHARE`] of the time (put there when retrieval missed it) and
//! left out otherwise (RAFT's "distractors only" examples: the answer then
//! comes from what the adapter learned, as the hybrid must when retrieval
//! fails). The records' order is shuffled so that the right one is not
//! always first.

use crate::data::catalogue::Catalogue;
use crate::data::example::Example;
use crate::rag::context::{context_message, ContextLang, MAX_CHARS_PER_DOCUMENT};
use crate::rag::{Bm25Index, Document};
use crate::util::rng::Rng;
use crate::{Error, Result};

/// Share of contextual questions about a record whose record is in the block.
pub const ORACLE_SHARE: f64 = 0.8;

#[derive(Clone, Copy, Debug)]
pub struct RaftOptions {
    /// Share of the questions that get records in their prompt, in [0, 1].
    pub ratio: f64,
    /// Records per prompt: evaluate-rag's `--top-k` (3 by default).
    pub top_k: usize,
    pub lang: ContextLang,
}

/// Puts records in the prompt of a share of `examples` (their `prompt`);
/// returns how many got one. Deterministic for a given `rng` state.
pub fn add_context(examples: &mut [Example], cat: &Catalogue, opts: &RaftOptions, rng: &mut Rng) -> Result<usize> {
    if !(0.0..=1.0).contains(&opts.ratio) {
        return Err(Error::invalid(format!("--context-ratio must be between 0 and 1, got {}", opts.ratio)));
    }
    if opts.ratio == 0.0 || cat.records.is_empty() {
        return Ok(0);
    }
    if opts.top_k == 0 {
        return Err(Error::invalid("--context-top-k must be at least 1"));
    }
    // Documents in record order: document i is record i.
    let docs: Vec<Document> = cat.records.iter().map(Document::from).collect();
    let index = Bm25Index::build(&docs)?;
    let mut n = 0;
    for ex in examples.iter_mut().filter(|e| e.intent != "fiche") {
        if rng.next_f64() >= opts.ratio {
            continue;
        }
        let mut picked: Vec<usize> = index.search(&ex.question, opts.top_k + 1)?.into_iter().map(|h| h.doc).collect();
        if let Some(r) = ex.record.filter(|_| ex.intent != "missing") {
            picked.retain(|&d| d != r);
            if rng.next_f64() < ORACLE_SHARE {
                picked.insert(0, r);
            }
        }
        picked.truncate(opts.top_k);
        rng.shuffle(&mut picked);
        let chosen: Vec<&Document> = picked.iter().map(|&d| &docs[d]).collect();
        ex.prompt = Some(context_message(&ex.question, &chosen, opts.lang, MAX_CHARS_PER_DOCUMENT));
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::catalogue::{Field, Record};

    fn cat() -> Catalogue {
        let rec = |name: &str, host: &str| Record {
            name: name.into(),
            fields: vec![Field::new("hébergement", host, None)],
            source: "c".into(),
            line: 1,
        };
        Catalogue {
            records: vec![rec("ESCALE", "Cloud privé"), rec("SIGAL", "Datacenter de Vichy"), rec("ARCADE", "OVHcloud")],
            ..Default::default()
        }
    }

    fn ex(record: Option<usize>, intent: &str, q: &str) -> Example {
        Example { record, intent: intent.into(), question: q.into(), answer: "a".into(), facts: vec![], prompt: None }
    }

    #[test]
    fn right_record_mostly_present_fiches_never_touched() {
        let c = cat();
        let mut examples: Vec<Example> =
            (0..400).map(|i| ex(Some(1), if i % 4 == 0 { "fiche" } else { "hosting" }, "Qui héberge SIGAL ?")).collect();
        let opts = RaftOptions { ratio: 0.5, top_k: 2, lang: ContextLang::French };
        let n = add_context(&mut examples, &c, &opts, &mut Rng::new(3)).unwrap();
        assert!((120..=180).contains(&n), "{n} of 300 questions");
        assert!(examples.iter().filter(|e| e.intent == "fiche").all(|e| e.prompt.is_none()));
        let with: Vec<&String> = examples.iter().filter_map(|e| e.prompt.as_ref()).collect();
        let oracle = with.iter().filter(|p| p.contains("] SIGAL\n")).count() as f64 / with.len() as f64;
        assert!((0.7..=0.9).contains(&oracle), "{oracle}");
        for p in &with {
            assert_eq!(p.matches("\n[").count(), 2, "{p}");
            assert!(p.contains("Question : Qui héberge SIGAL ?"), "{p}");
        }
        // The right record is not always first.
        assert!(with.iter().any(|p| p.contains("[2] SIGAL\n")));
    }

    #[test]
    fn negatives_get_retrieved_look_alikes_and_bad_ratios_are_refused() {
        let c = cat();
        let mut examples = vec![ex(None, "negative", "Qui héberge ESCALE-FIN ?")];
        let opts = RaftOptions { ratio: 1.0, top_k: 1, lang: ContextLang::French };
        add_context(&mut examples, &c, &opts, &mut Rng::new(1)).unwrap();
        assert!(examples[0].prompt.as_ref().unwrap().contains("[1] ESCALE\n"), "{:?}", examples[0].prompt);
        let bad = RaftOptions { ratio: 1.5, ..opts };
        assert!(add_context(&mut examples, &c, &bad, &mut Rng::new(1)).unwrap_err().to_string().contains("--context-ratio"));
    }
}
