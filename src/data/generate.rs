//! The generation run: catalogue in, exactly `count` examples out (or fewer
//! with the reason), in a seeded order, with a report of what was made and
//! what was dropped.

use crate::data::augmented::{add_negatives, fill_variants};
use crate::data::catalogue::Catalogue;
use crate::data::example::Example;
use crate::data::llm::{self, LlmOptions, LlmStats};
use crate::data::rule_based::all_candidates;
use crate::data::select::{round_robin, Picker};
use crate::data::templates::{lang, Lang};
use crate::infer::ChatGenerator;
use crate::util::rng::Rng;
use crate::{Error, Result};
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    RuleBased,
    Augmented,
    LlmBased,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::RuleBased => "rule-based",
            Method::Augmented => "augmented",
            Method::LlmBased => "llm-based",
        }
    }
}

#[derive(Clone, Debug)]
pub struct GenerateOptions {
    pub method: Method,
    pub count: usize,
    pub seed: u64,
    pub lang: Lang,
    /// Share of negative examples (augmented only), in [0, 0.9].
    pub negative_ratio: f64,
    /// The answer to questions about unknown names; the language's default when `None`.
    pub refusal: Option<String>,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions { method: Method::RuleBased, count: 100, seed: 42, lang: Lang::Fr, negative_ratio: 0.1, refusal: None }
    }
}

/// Share of an augmented run given to the clean canonical question of each
/// field before random variants fill the rest.
const CANONICAL_SHARE: f64 = 0.4;

/// What a run produced and dropped; printed as the summary and written with `--report`.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Report {
    pub method: String,
    pub seed: u64,
    pub lang: String,
    pub inputs: Vec<String>,
    pub records_read: usize,
    /// Records skipped while reading, with the reason.
    pub records_dropped: Vec<String>,
    pub requested: usize,
    pub produced: usize,
    pub per_intent: BTreeMap<String, usize>,
    pub negatives: usize,
    pub duplicate_questions_dropped: usize,
    /// Why fewer examples than requested were produced.
    pub shortfall: Option<String>,
    pub records_without_examples: Vec<String>,
    pub llm: Option<LlmStats>,
    pub split: Option<BTreeMap<String, usize>>,
    pub outputs: Vec<String>,
}

pub struct Generated {
    pub examples: Vec<Example>,
    pub report: Report,
}

/// Runs rule-based or augmented generation. The result may hold fewer
/// examples than asked (even none): `report.shortfall` says why.
pub fn generate(cat: &Catalogue, opts: &GenerateOptions) -> Result<Generated> {
    generate_inner(cat, opts, None)
}

/// Runs llm-based generation with `gen`.
pub fn generate_with_llm(cat: &Catalogue, opts: &GenerateOptions, gen: &mut dyn ChatGenerator, llm_opts: &LlmOptions) -> Result<Generated> {
    generate_inner(cat, opts, Some((gen, llm_opts)))
}

fn generate_inner(cat: &Catalogue, opts: &GenerateOptions, llm: Option<(&mut dyn ChatGenerator, &LlmOptions)>) -> Result<Generated> {
    if opts.count == 0 {
        return Err(Error::invalid("--count must be at least 1"));
    }
    if !(0.0..=0.9).contains(&opts.negative_ratio) {
        return Err(Error::invalid(format!("--negative-ratio must be between 0 and 0.9, got {}", opts.negative_ratio)));
    }
    let mut rng = Rng::new(opts.seed);
    let mut report = Report {
        method: opts.method.name().to_string(),
        seed: opts.seed,
        lang: format!("{:?}", opts.lang).to_lowercase(),
        inputs: cat.files.iter().map(|p| p.display().to_string()).collect(),
        records_read: cat.records.len(),
        records_dropped: cat.dropped.clone(),
        requested: opts.count,
        ..Default::default()
    };
    let mut picker = Picker::default();
    let mut shortfall_reason = None;
    match (opts.method, llm) {
        (Method::RuleBased, _) => {
            let (lists, order) = all_candidates(cat, opts.lang, &mut rng);
            let pool: usize = lists.iter().map(Vec::len).sum();
            round_robin(&mut picker, lists, &order, opts.count);
            if picker.len() < opts.count {
                let fields: usize = cat.records.iter().map(|r| r.fields.len()).sum();
                shortfall_reason = Some(format!(
                    "rule-based can only make {} distinct questions from {} records ({} fields, 2 phrasings each; {} candidates before de-duplication): use --method augmented for more, or a lower --count",
                    picker.len(),
                    cat.records.len(),
                    fields,
                    pool
                ));
            }
        }
        (Method::Augmented, _) => {
            let n_neg = (opts.count as f64 * opts.negative_ratio).round() as usize;
            let n_pos = opts.count - n_neg;
            let canonical_target = ((n_pos as f64 * CANONICAL_SHARE).ceil() as usize).max(cat.records.len().min(n_pos));
            let (lists, order) = all_candidates(cat, opts.lang, &mut rng);
            // Only the first (canonical) phrasing of each field here: the rest comes as variants.
            let firsts: Vec<_> = lists
                .into_iter()
                .zip(&cat.records)
                .map(|(l, rec)| l.into_iter().take(rec.fields.len()).collect())
                .collect();
            round_robin(&mut picker, firsts, &order, canonical_target.min(n_pos));
            fill_variants(&mut picker, cat, opts.lang, n_pos, &mut rng);
            let pos = picker.len();
            let refusal = opts.refusal.clone().unwrap_or_else(|| lang(opts.lang).refusal.to_string());
            report.negatives = add_negatives(&mut picker, cat, opts.lang, &refusal, n_neg, &mut rng);
            if pos < n_pos {
                shortfall_reason = Some(format!(
                    "augmented found only {pos} distinct questions about the {} records (every record gave no new question in {} tries in a row): add fields or records, or lower --count",
                    cat.records.len(),
                    crate::data::augmented::MAX_MISSES
                ));
            } else if report.negatives < n_neg {
                shortfall_reason = Some(format!("only {} of {n_neg} negative examples could be made (no more unused names found)", report.negatives));
            }
        }
        (Method::LlmBased, Some((gen, llm_opts))) => {
            let (examples, stats) = llm::generate(cat, opts.lang, opts.count, gen, llm_opts, &mut rng)?;
            for ex in examples {
                picker.add(ex);
            }
            if picker.len() < opts.count {
                shortfall_reason = Some(format!(
                    "the LLM gave {} usable pairs in {} calls ({} pairs read, {} unparseable replies, {} failed calls; dropped: {} ungrounded, {} without a fact, {} not naming the record, {} duplicates, {} malformed)",
                    picker.len(),
                    stats.calls,
                    stats.pairs_parsed,
                    stats.unparseable_replies,
                    stats.failed_calls,
                    stats.dropped_ungrounded,
                    stats.dropped_no_fact,
                    stats.dropped_question_without_name,
                    stats.dropped_duplicate,
                    stats.dropped_malformed
                ));
            }
            report.llm = Some(stats);
        }
        (Method::LlmBased, None) => return Err(Error::invalid("llm-based generation needs an LLM (--llm-model, and --llm-url for a server)")),
    }
    report.duplicate_questions_dropped = picker.duplicates + report.llm.as_ref().map_or(0, |s| s.dropped_duplicate);
    let mut examples = picker.examples;
    rng.shuffle(&mut examples);
    report.produced = examples.len();
    report.shortfall = shortfall_reason;
    for ex in &examples {
        *report.per_intent.entry(ex.intent.clone()).or_default() += 1;
    }
    let mut covered = vec![false; cat.records.len()];
    for ex in &examples {
        if let Some(r) = ex.record {
            covered[r] = true;
        }
    }
    report.records_without_examples = cat.records.iter().zip(&covered).filter(|(_, c)| !**c).map(|(r, _)| r.name.clone()).collect();
    Ok(Generated { examples, report })
}
