//! llm-based: an LLM (dyag's engine or an OpenAI-compatible endpoint, both
//! behind `ChatGenerator`) writes question/answer pairs for each record. Its
//! replies are parsed robustly, every pair is checked (the question names the
//! record, the answer is grounded in the record's facts, the question is new)
//! and every drop is counted with its reason. Failed calls are retried with
//! exponential back-off; repeated failures stop the run with the last error.

pub mod parse;
pub mod prompt;

use crate::data::catalogue::{Catalogue, Record};
use crate::data::example::{facts_in_answer, field_facts, Example};
use crate::data::grounding::{check, names_record, Grounding, RecordVocabulary};
use crate::data::select::{round_robin, Picker};
use crate::data::templates::{template_vocabulary, Lang};
use crate::data::text::{collapse_spaces, fold, is_stop_word, question_key, words};
use crate::infer::{ChatGenerator, SamplingParams};
use crate::util::rng::Rng;
use crate::{Error, Result};
use std::collections::HashSet;
use std::time::Duration;

/// How to drive the LLM.
#[derive(Clone, Debug)]
pub struct LlmOptions {
    /// Rounds over the records at most (a round asks each record still short of its share once).
    pub max_rounds: usize,
    /// Pairs asked per call at most.
    pub max_pairs_per_call: usize,
    /// Retries of a failed call, with back-off `backoff`, 2×`backoff`, 4×...
    pub retries: usize,
    pub backoff: Duration,
    /// Calls failing in a row (after their retries) that stop the run.
    pub max_consecutive_failures: usize,
    pub temperature: f32,
    pub max_tokens: usize,
    pub seed: u64,
}

impl Default for LlmOptions {
    fn default() -> Self {
        LlmOptions {
            max_rounds: 3,
            max_pairs_per_call: 8,
            retries: 3,
            backoff: Duration::from_millis(500),
            max_consecutive_failures: 3,
            temperature: 0.7,
            max_tokens: 768,
            seed: 42,
        }
    }
}

/// What happened to every call and every pair; nothing is dropped silently.
/// `pairs_parsed == kept + dropped_*` (all reasons) holds at the end.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct LlmStats {
    pub model: String,
    pub calls: usize,
    pub failed_calls: usize,
    pub retries: usize,
    /// Replies in which no pair could be read.
    pub unparseable_replies: usize,
    pub pairs_parsed: usize,
    pub dropped_malformed: usize,
    pub dropped_question_without_name: usize,
    pub dropped_ungrounded: usize,
    pub dropped_no_fact: usize,
    pub dropped_duplicate: usize,
    /// Grounded pairs beyond the requested count.
    pub dropped_over_count: usize,
    /// Kept pairs whose answer was cut to its first, grounded sentences
    /// (the sentences after them stated things not in the record).
    pub trimmed_to_grounded_sentences: usize,
    pub kept: usize,
    /// A few dropped answers with the words that are not in their record.
    pub ungrounded_samples: Vec<String>,
    /// The first replies, cut to 400 characters, to see what the model writes.
    pub reply_samples: Vec<String>,
    pub last_error: Option<String>,
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
}

impl LlmStats {
    pub fn dropped_total(&self) -> usize {
        self.dropped_malformed
            + self.dropped_question_without_name
            + self.dropped_ungrounded
            + self.dropped_no_fact
            + self.dropped_duplicate
            + self.dropped_over_count
    }
}

const MAX_QUESTION_CHARS: usize = 300;
const MAX_ANSWER_CHARS: usize = 800;
const MAX_SAMPLES: usize = 5;

/// Generates up to `count` grounded examples. Fewer are returned when the LLM
/// does not produce enough good pairs within `max_rounds`; the stats say why.
pub fn generate(
    cat: &Catalogue,
    lang: Lang,
    count: usize,
    gen: &mut dyn ChatGenerator,
    opts: &LlmOptions,
    rng: &mut Rng,
) -> Result<(Vec<Example>, LlmStats)> {
    let n_rec = cat.records.len();
    let share = count.div_ceil(n_rec.max(1)).max(1);
    let mut stats = LlmStats { model: gen.describe(), ..Default::default() };
    let mut kept: Vec<Vec<Example>> = vec![Vec::new(); n_rec];
    let mut seen: HashSet<String> = HashSet::new();
    let vocabs: Vec<RecordVocabulary> = cat.records.iter().map(RecordVocabulary::new).collect();
    let mut order: Vec<usize> = (0..n_rec).collect();
    rng.shuffle(&mut order);
    let pb = crate::util::progress::bar((n_rec * opts.max_rounds) as u64, "llm-based", "calls");
    let mut consecutive_failures = 0;
    for _round in 0..opts.max_rounds {
        let before: usize = kept.iter().map(Vec::len).sum();
        let mut asked = false;
        for &r in &order {
            let missing = share.saturating_sub(kept[r].len());
            if missing == 0 {
                continue;
            }
            asked = true;
            let n_pairs = (missing + 1).clamp(2, opts.max_pairs_per_call.max(2));
            let messages = prompt::messages(&cat.records[r], n_pairs, lang);
            let params = SamplingParams {
                temperature: opts.temperature,
                top_k: 0,
                top_p: 0.95,
                max_tokens: opts.max_tokens,
                seed: opts.seed.wrapping_add(stats.calls as u64 * 7919),
                // The reply is a list of pairs, blank lines included.
                stop: Vec::new(),
                first_answer: false,
            };
            stats.calls += 1;
            pb.inc(1);
            let reply = call_with_retries(gen, &messages, &params, opts, &mut stats);
            let Some(text) = reply else {
                consecutive_failures += 1;
                if consecutive_failures >= opts.max_consecutive_failures {
                    pb.finish_and_clear();
                    return Err(Error::msg(format!(
                        "llm-based: {} calls in a row failed after {} retries each; last error: {}",
                        consecutive_failures,
                        opts.retries,
                        stats.last_error.as_deref().unwrap_or("unknown")
                    )));
                }
                continue;
            };
            consecutive_failures = 0;
            if stats.reply_samples.len() < MAX_SAMPLES {
                stats.reply_samples.push(text.chars().take(400).collect());
            }
            let pairs = parse::parse_pairs(&text);
            if pairs.is_empty() {
                stats.unparseable_replies += 1;
            }
            for p in pairs {
                stats.pairs_parsed += 1;
                if let Some(ex) = check_pair(r, &cat.records[r], &vocabs[r], &p, &mut seen, &mut stats) {
                    kept[r].push(ex);
                }
            }
            pb.set_message(format!("{} kept", kept.iter().map(Vec::len).sum::<usize>()));
        }
        let after: usize = kept.iter().map(Vec::len).sum();
        if !asked || after == before {
            break;
        }
    }
    pb.finish_and_clear();
    let collected: usize = kept.iter().map(Vec::len).sum();
    let mut picker = Picker::default();
    round_robin(&mut picker, kept, &order, count);
    stats.kept = picker.len();
    stats.dropped_over_count = collected - picker.len();
    Ok((picker.examples, stats))
}

fn call_with_retries(
    gen: &mut dyn ChatGenerator,
    messages: &[crate::formats::chat::ChatMessage],
    params: &SamplingParams,
    opts: &LlmOptions,
    stats: &mut LlmStats,
) -> Option<String> {
    for attempt in 0..=opts.retries {
        match gen.chat(messages, params, &mut |_| true) {
            Ok(g) => {
                stats.prompt_tokens += g.prompt_tokens;
                stats.completion_tokens += g.completion_tokens;
                return Some(g.text);
            }
            Err(e) => {
                stats.last_error = Some(e.to_string());
                if attempt < opts.retries {
                    stats.retries += 1;
                    std::thread::sleep(opts.backoff * (1u32 << attempt.min(10)));
                }
            }
        }
    }
    stats.failed_calls += 1;
    None
}

/// Checks one pair; counts the reason when it is dropped.
fn check_pair(
    r: usize,
    rec: &Record,
    vocab: &RecordVocabulary,
    p: &parse::QaPair,
    seen: &mut HashSet<String>,
    stats: &mut LlmStats,
) -> Option<Example> {
    let question = collapse_spaces(&p.question);
    let answer = collapse_spaces(&p.answer);
    let qc = question.chars().count();
    let ac = answer.chars().count();
    if !(3..=MAX_QUESTION_CHARS).contains(&qc) || !(2..=MAX_ANSWER_CHARS).contains(&ac) || question_key(&question) == question_key(&answer)
    {
        stats.dropped_malformed += 1;
        return None;
    }
    if !names_record(&question, rec) {
        stats.dropped_question_without_name += 1;
        return None;
    }
    let answer = match check(&answer, vocab) {
        Grounding::Grounded { .. } => answer,
        Grounding::Ungrounded(words) => match grounded_prefix(&answer, vocab) {
            // Small models often state the facts, then ramble on: keep the grounded sentences.
            Some(prefix) => {
                stats.trimmed_to_grounded_sentences += 1;
                prefix
            }
            None => {
                stats.dropped_ungrounded += 1;
                if stats.ungrounded_samples.len() < MAX_SAMPLES {
                    stats.ungrounded_samples.push(format!("{}: \"{}\" (not in the record: {})", rec.name, answer, words.join(", ")));
                }
                return None;
            }
        },
        Grounding::NoFact => {
            stats.dropped_no_fact += 1;
            return None;
        }
    };
    if !seen.insert(question_key(&question)) {
        stats.dropped_duplicate += 1;
        return None;
    }
    // The intent is the kind of the first field whose facts the answer states.
    let mut intent = "other";
    let mut facts = Vec::new();
    for f in &rec.fields {
        let found = facts_in_answer(&answer, field_facts(f));
        if !found.is_empty() && facts.is_empty() {
            intent = f.kind.intent();
        }
        facts.extend(found);
    }
    if facts.is_empty() {
        facts = content_words_in_record(&answer, vocab_words(rec));
    }
    Some(Example { record: Some(r), intent: intent.to_string(), question, answer, facts, prompt: None })
}

/// The longest run of whole first sentences of `answer` that is grounded and
/// states a fact; `None` when even the first sentence is not.
fn grounded_prefix(answer: &str, vocab: &RecordVocabulary) -> Option<String> {
    let mut ends = Vec::new();
    let chars: Vec<(usize, char)> = answer.char_indices().collect();
    for w in chars.windows(2) {
        if matches!(w[0].1, '.' | '!' | '?') && w[1].1.is_whitespace() {
            ends.push(w[1].0);
        }
    }
    ends.iter().rev().map(|&e| answer[..e].trim()).find(|p| matches!(check(p, vocab), Grounding::Grounded { .. })).map(str::to_string)
}

fn vocab_words(rec: &Record) -> HashSet<String> {
    words(&rec.text()).into_iter().collect()
}

/// The answer's content words that are words of the record (up to four).
fn content_words_in_record(answer: &str, rec_words: HashSet<String>) -> Vec<String> {
    let tv = template_vocabulary();
    let mut out: Vec<String> = Vec::new();
    for w in answer.split(|c: char| !c.is_alphanumeric()).filter(|w| w.chars().count() >= 4) {
        let f = fold(w);
        if rec_words.contains(&f) && !is_stop_word(&f) && !tv.contains(&f) && !out.iter().any(|o| fold(o) == f) {
            out.push(w.to_string());
        }
        if out.len() == 4 {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::catalogue::Field;
    use crate::formats::chat::ChatMessage;
    use crate::infer::{Generation, StopReason};

    /// A scripted generator: unit tests of the loop's accounting. (The real
    /// end-to-end tests use a real server and the real engine.)
    struct Scripted {
        replies: Vec<Result<String>>,
        calls: usize,
    }

    impl ChatGenerator for Scripted {
        fn chat(&mut self, _m: &[ChatMessage], _p: &SamplingParams, _cb: &mut dyn FnMut(&str) -> bool) -> Result<Generation> {
            let i = self.calls;
            self.calls += 1;
            match self.replies.get(i) {
                Some(Ok(t)) => Ok(Generation {
                    text: t.clone(),
                    prompt_tokens: 10,
                    completion_tokens: 5,
                    time_to_first_token: Duration::ZERO,
                    total_time: Duration::ZERO,
                    stop: StopReason::Eos,
                }),
                Some(Err(e)) => Err(Error::msg(e.to_string())),
                None => Ok(Generation {
                    text: String::new(),
                    prompt_tokens: 0,
                    completion_tokens: 0,
                    time_to_first_token: Duration::ZERO,
                    total_time: Duration::ZERO,
                    stop: StopReason::Eos,
                }),
            }
        }
        fn describe(&self) -> String {
            "scripted".into()
        }
    }

    fn cat() -> Catalogue {
        Catalogue {
            records: vec![Record {
                name: "GIDAF".into(),
                fields: vec![Field::new("hebergement", "la DSI de Rennes", None), Field::new("statut", "en production", None)],
                source: "x".into(),
                line: 1,
            }],
            ..Default::default()
        }
    }

    #[test]
    fn accounting_and_retries() {
        let reply = r#"```json
[{"question": "Qui héberge GIDAF ?", "reponse": "GIDAF est hébergé par la DSI de Rennes."},
 {"question": "Qui héberge GIDAF ?", "reponse": "La DSI de Rennes."},
 {"question": "Quel est le statut ?", "reponse": "En production."},
 {"question": "GIDAF tourne sous quoi ?", "reponse": "GIDAF tourne sous Linux."},
 {"question": "Où en est GIDAF ?", "reponse": "GIDAF est en production. Il sert à gérer les congés."},
 {"question": "GIDAF est-il utile ?", "reponse": "Je ne sais pas."},
 {"question": "Quel est le statut de GIDAF ?", "reponse": "GIDAF est en production."}]
```"#;
        let mut g = Scripted { replies: vec![Err(Error::msg("boom")), Ok(reply.into()), Ok("nothing".into())], calls: 0 };
        let opts = LlmOptions { backoff: Duration::from_millis(1), max_rounds: 2, ..Default::default() };
        let (ex, s) = generate(&cat(), Lang::Fr, 4, &mut g, &opts, &mut Rng::new(1)).unwrap();
        assert_eq!(s.retries, 1);
        assert_eq!(s.failed_calls, 0);
        assert_eq!(s.pairs_parsed, 7);
        assert_eq!(s.trimmed_to_grounded_sentences, 1);
        assert_eq!(s.dropped_duplicate, 1);
        assert_eq!(s.dropped_question_without_name, 1);
        assert_eq!(s.dropped_ungrounded, 1);
        assert_eq!(s.dropped_no_fact, 1);
        assert_eq!(s.kept, 3);
        assert_eq!(s.pairs_parsed, s.kept + s.dropped_total());
        assert_eq!(ex.len(), 3);
        assert!(ex.iter().any(|e| e.answer == "GIDAF est en production."), "{ex:?}");
        assert_eq!(ex[0].intent, "hosting");
        assert_eq!(ex[0].facts, ["la DSI de Rennes"]);
        // Round 2 got an unparseable reply and nothing new: the loop stopped there.
        assert_eq!(s.calls, 2);
        assert_eq!(s.unparseable_replies, 1);
    }

    #[test]
    fn repeated_failures_stop_with_the_last_error() {
        let mut g = Scripted { replies: (0..20).map(|i| Err(Error::msg(format!("down {i}")))).collect(), calls: 0 };
        let opts = LlmOptions { backoff: Duration::from_millis(1), retries: 1, max_consecutive_failures: 1, ..Default::default() };
        let e = generate(&cat(), Lang::Fr, 3, &mut g, &opts, &mut Rng::new(1)).unwrap_err().to_string();
        assert!(e.contains("1 calls in a row failed") && e.contains("down 1"), "{e}");
    }
}
