//! The generation run: catalogue in, exactly `count` examples out (or fewer
//! with the reason), in a seeded order, with a report of what was made and
//! what was dropped.

use crate::data::catalogue::Catalogue;
use crate::data::example::Example;
use crate::data::knowledge::{self, Exposures};
use crate::data::llm::{self, LlmOptions, LlmStats};
use crate::data::rule_based::all_candidates;
use crate::data::select::{round_robin, Picker};
use crate::data::templates::{lang, Lang};
use crate::infer::ChatGenerator;
use crate::util::rng::Rng;
use crate::{Error, Result};
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
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

/// Share of refusals about unknown names in augmented data: 0.1 left most
/// near-miss names (`ESCALE-FIN` when only ESCALE exists) answered as the
/// real application on the benchmark (dev 27 % right refusals).
pub const DEFAULT_NEGATIVE_RATIO: f64 = 0.2;

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
        GenerateOptions {
            method: Method::RuleBased,
            count: 100,
            seed: 42,
            lang: Lang::Fr,
            negative_ratio: DEFAULT_NEGATIVE_RATIO,
            refusal: None,
        }
    }
}

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
    /// Questions with retrieved records in their prompt (`--context-ratio`).
    pub with_context: usize,
    pub duplicate_questions_dropped: usize,
    /// Why fewer examples than requested were produced.
    pub shortfall: Option<String>,
    pub records_without_examples: Vec<String>,
    pub llm: Option<LlmStats>,
    /// How often each fact of the catalogue appears in the dataset (augmented).
    pub exposures: Option<Exposures>,
    /// What the catalogue needs when the dataset is too small to teach its
    /// facts in `finetune`'s default epochs.
    pub advice: Option<String>,
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
            let refusal = opts.refusal.clone().unwrap_or_else(|| lang(opts.lang).refusal.to_string());
            knowledge::fill(&mut picker, cat, opts.lang, &refusal, opts.negative_ratio, opts.count, &mut rng);
            report.negatives = picker.examples.iter().filter(|e| e.intent == "negative").count();
            if picker.len() < opts.count {
                shortfall_reason = Some(format!(
                    "augmented found only {} distinct questions about the {} records (a whole round brought no new question): add fields or records, or lower --count",
                    picker.len(),
                    cat.records.len()
                ));
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
        (Method::LlmBased, None) => {
            return Err(Error::invalid("llm-based generation needs an LLM (--llm-model, and --llm-url for a server)"))
        }
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
    if opts.method != Method::LlmBased {
        let e = knowledge::exposures(cat, &examples);
        report.advice = advice(&e, cat, opts);
        report.exposures = Some(e);
    }
    Ok(Generated { examples, report })
}

/// Says what the catalogue needs when its facts appear too rarely for
/// `finetune`'s default epochs to teach them (training sees 80 % of the
/// examples). Judged on the median fact: the least-seen ones are in the
/// message, but a few of them are always below (the last round is partial,
/// and repeated questions are dropped).
fn advice(e: &Exposures, cat: &Catalogue, opts: &GenerateOptions) -> Option<String> {
    let per_epoch = e.median as f64 * 0.8;
    if e.facts == 0 || per_epoch * knowledge::PLANNED_EPOCHS as f64 >= knowledge::TARGET_EXPOSURES as f64 * 0.9 {
        return None;
    }
    let epochs = (knowledge::TARGET_EXPOSURES as f64 / per_epoch.max(0.1)).ceil() as usize;
    let count = knowledge::auto_count(cat, opts.lang, opts.negative_ratio);
    let more_data = if opts.method == Method::Augmented && opts.count >= count {
        String::new()
    } else {
        format!(", or generate --method augmented --count {count} for finetune's default {} epochs", knowledge::PLANNED_EPOCHS)
    };
    Some(format!(
        "a fact of the catalogue is in {} examples (median of {} facts; {} for the least seen): a model needs about {} exposures per fact to answer about it in other words, so train at least {epochs} epochs (finetune --epochs {epochs}){more_data}",
        e.median,
        e.facts,
        e.min,
        knowledge::TARGET_EXPOSURES,
    ))
}
