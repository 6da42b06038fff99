//! The evaluation loop: ask every question, measure, score, aggregate.
//! It works with any [`ChatGenerator`] (dyag's engine, a remote endpoint, or
//! a test double) and any [`PromptBuilder`] (plain or retrieval-augmented).

use crate::eval::aggregate::aggregate;
use crate::eval::judge::{echo_markers, judge, Case};
use crate::eval::metrics::score_answer;
use crate::eval::prompt::PromptBuilder;
use crate::eval::questions::Question;
use crate::eval::results::{Latency, Metadata, QuestionResult, ResultsFile, Sampling, SCHEMA_VERSION};
use crate::infer::{ChatGenerator, SamplingParams};
use crate::{Error, Result};
use std::time::{Duration, Instant, SystemTime};

/// Current time as RFC 3339 UTC with seconds.
pub fn now_rfc3339() -> String {
    crate::util::time::rfc3339_utc(SystemTime::now())
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
fn ask_one(
    generator: &mut dyn ChatGenerator,
    q: &Question,
    prompts: &dyn PromptBuilder,
    sampling: &SamplingParams,
) -> Result<QuestionResult> {
    let mut r = QuestionResult {
        id: q.id.clone(),
        question: q.question.clone(),
        expected: q.expected.clone(),
        keywords: q.keywords.clone(),
        kind: q.kind.clone(),
        apps: q.apps.clone(),
        ..Default::default()
    };
    let prompt = match prompts.build(q) {
        Ok(p) => p,
        Err(e) => {
            r.error = Some(format!("building the prompt: {e}"));
            r.scores = score(q, "", &[]);
            return Ok(r);
        }
    };
    r.retrieval_hit = retrieval_hit(&q.apps, prompt.sources.as_deref());
    r.sources = prompt.sources;
    let system = prompt.messages.first().filter(|m| m.role == "system").map(|m| m.content.as_str());
    let markers = echo_markers(system, &q.question, prompt.echo_markers);
    let start = Instant::now();
    let generated = match &prompt.completion {
        Some(text) => generator.complete(text, sampling, &mut |_| true),
        None => generator.chat(&prompt.messages, sampling, &mut |_| true),
    };
    match generated {
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
    r.scores = score(q, &r.answer, &markers);
    Ok(r)
}

/// The metrics and the judge's verdict for one answer.
fn score(q: &Question, answer: &str, markers: &[String]) -> crate::eval::results::Scores {
    let mut s = score_answer(answer, q.expected.as_deref(), &q.keywords);
    let v =
        judge(answer, &Case { negative: q.is_negative(), keywords: &q.keywords, expected: q.expected.as_deref(), echo_markers: markers });
    s.correct = v.correct;
    s.echo = Some(v.echo);
    s.refusal = Some(v.refusal);
    s
}

/// Whether retrieval found one of the records that hold the answer (names
/// compared normalised); `None` without retrieval or without `apps`.
pub fn retrieval_hit(apps: &[String], sources: Option<&[crate::eval::results::Source]>) -> Option<bool> {
    let sources = sources?;
    if apps.is_empty() {
        return None;
    }
    let norm = crate::eval::metrics::normalize;
    let wanted: Vec<String> = apps.iter().map(|a| norm(a)).collect();
    Some(sources.iter().any(|s| wanted.contains(&norm(&s.id)) || s.title.as_deref().is_some_and(|t| wanted.contains(&norm(t)))))
}
