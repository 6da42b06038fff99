//! The evaluation loop: ask every question, measure, score, aggregate.
//! It works with any [`ChatGenerator`] (dyag's engine, a remote endpoint, or
//! a test double) and any [`PromptBuilder`] (plain or retrieval-augmented).

use crate::eval::aggregate::aggregate;
use crate::eval::metrics::score_answer;
use crate::eval::prompt::PromptBuilder;
use crate::eval::questions::Question;
use crate::eval::results::{Latency, Metadata, QuestionResult, ResultsFile, Sampling, SCHEMA_VERSION};
use crate::infer::{ChatGenerator, SamplingParams};
use crate::{Error, Result};
use std::time::{Duration, Instant, SystemTime};

/// Current time as RFC 3339 UTC with seconds.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Runs every question through `generator` and returns the complete results
/// (metadata filled in, aggregates computed). A failed generation is recorded
/// in its question's `error` and the loop goes on; only cancellation stops it.
pub fn run_evaluation(
    generator: &mut dyn ChatGenerator,
    questions: &[Question],
    prompts: &dyn PromptBuilder,
    sampling: &SamplingParams,
    mut metadata: Metadata,
    show_progress: bool,
) -> Result<ResultsFile> {
    metadata.tool = Some(format!("dyag {}", env!("CARGO_PKG_VERSION")));
    metadata.dyag_version = Some(env!("CARGO_PKG_VERSION").to_string());
    if metadata.model.is_none() {
        metadata.model = Some(generator.describe());
    }
    metadata.sampling = Some(Sampling {
        temperature: Some(f64::from(sampling.temperature)),
        top_k: Some(sampling.top_k as u64),
        top_p: Some(f64::from(sampling.top_p)),
        max_tokens: Some(sampling.max_tokens as u64),
        seed: Some(sampling.seed),
    });
    metadata.started_at = Some(now_rfc3339());

    let bar = crate::util::progress::bar(questions.len() as u64, "evaluate", "q");
    if !show_progress {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let mut results = Vec::with_capacity(questions.len());
    let mut answered = 0usize;
    for q in questions {
        let r = ask_one(generator, q, prompts, sampling)?;
        if let Some(e) = &r.error {
            // suspend (not println): println is dropped when the bar is hidden.
            bar.suspend(|| eprintln!("[warning] question {}: {e}", q.id));
        }
        answered += usize::from(r.success);
        results.push(r);
        bar.inc(1);
        bar.set_message(format!("{answered} answered"));
    }
    bar.finish_and_clear();
    metadata.finished_at = Some(now_rfc3339());
    let aggregates = aggregate(&results);
    Ok(ResultsFile { schema_version: SCHEMA_VERSION, metadata, aggregates: Some(aggregates), questions: results })
}

/// Asks one question and scores the answer.
fn ask_one(generator: &mut dyn ChatGenerator, q: &Question, prompts: &dyn PromptBuilder, sampling: &SamplingParams) -> Result<QuestionResult> {
    let mut r = QuestionResult {
        id: q.id.clone(),
        question: q.question.clone(),
        expected: q.expected.clone(),
        keywords: q.keywords.clone(),
        ..Default::default()
    };
    let prompt = match prompts.build(q) {
        Ok(p) => p,
        Err(e) => {
            r.error = Some(format!("building the prompt: {e}"));
            r.scores = score_answer("", q.expected.as_deref(), &q.keywords);
            return Ok(r);
        }
    };
    r.sources = prompt.sources;
    let start = Instant::now();
    match generator.chat(&prompt.messages, sampling, &mut |_| true) {
        Ok(g) => {
            r.answer = g.text.trim().to_string();
            r.prompt_tokens = Some(g.prompt_tokens as u64);
            r.completion_tokens = Some(g.completion_tokens as u64);
            r.latency = Some(Latency {
                // Without a generated token there is no first-token time to report.
                time_to_first_token_ms: (g.completion_tokens > 0).then(|| ms(g.time_to_first_token)),
                total_ms: Some(ms(g.total_time)),
            });
        }
        Err(Error::Cancelled) => return Err(Error::Cancelled),
        Err(e) => {
            r.error = Some(e.to_string());
            r.latency = Some(Latency { time_to_first_token_ms: None, total_ms: Some(ms(start.elapsed())) });
        }
    }
    r.success = r.error.is_none() && !r.answer.is_empty();
    // A failed answer is scored as the empty answer it is, so failures lower
    // the means instead of vanishing from them.
    r.scores = score_answer(&r.answer, q.expected.as_deref(), &q.keywords);
    Ok(r)
}
