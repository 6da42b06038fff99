//! Evaluating a model on a questions file: every question answered, timed
//! and scored by the evaluation loop of `dyag evaluate-finetuned`, the
//! results file written, the whole-run figures returned.

use super::error::{guard, DyagStatus, FfiError, FfiResult};
use super::generate::{sampling_arg, DyagSamplingParams};
use super::model::{DyagModel, MODELS};
use super::strings::{opt_str_arg, path_arg};
use crate::eval::prompt::{DirectPrompt, DEFAULT_SYSTEM_PROMPT};
use crate::eval::questions::read_questions;
use crate::eval::results::{Aggregates, Metadata};
use crate::eval::runner::run_evaluation;
use crate::formats::chat::ChatMessage;
use crate::infer::engine::Engine;
use crate::infer::{ChatGenerator, Generation, SamplingParams};
use crate::{Error, Result};
use std::ffi::{c_char, c_void};

/// How to evaluate. Start from `dyag_eval_default_params()`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct DyagEvalParams {
    /// Sampling of every answer (default: greedy, 256 tokens, as `dyag evaluate-finetuned`).
    pub sampling: DyagSamplingParams,
    /// System prompt sent before each question: NULL for the default (as
    /// `dyag evaluate-finetuned`: the one the attached adapter was trained
    /// with, recorded in its training_summary.json, else generate-training's
    /// generic prompt), "" for none.
    pub system_prompt: *const c_char,
}

/// Called before each question with the number of questions already
/// answered and their total; return true to go on, false to cancel (the
/// evaluation then fails with DYAG_STATUS_CANCELLED and writes nothing).
/// Called on the thread that runs the model's work (see `DyagTokenCallback`).
pub type DyagEvalProgressCallback = Option<unsafe extern "C" fn(done: usize, total: usize, user_data: *mut c_void) -> bool>;

/// The whole-run figures (the results file's "aggregates"). Rates and means
/// are in [0, 1]; a figure that could not be measured (no question with an
/// expected answer, no keyword...) is NaN.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct DyagEvalSummary {
    pub questions: usize,
    /// Questions answered with a non-empty answer.
    pub successes: usize,
    /// Questions whose generation failed (their messages are in the results file).
    pub errors: usize,
    pub success_rate: f64,
    pub exact_match_rate: f64,
    pub mean_keyword_recall: f64,
    pub mean_f1: f64,
    pub mean_rouge_l: f64,
    pub mean_bleu: f64,
    pub corpus_bleu: f64,
    pub mean_latency_ms: f64,
    pub mean_first_token_ms: f64,
    pub tokens_per_second: f64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

impl From<&Aggregates> for DyagEvalSummary {
    fn from(a: &Aggregates) -> Self {
        let f = |v: Option<f64>| v.unwrap_or(f64::NAN);
        DyagEvalSummary {
            questions: a.questions as usize,
            successes: a.successes.unwrap_or(0) as usize,
            errors: a.errors.unwrap_or(0) as usize,
            success_rate: f(a.success_rate),
            exact_match_rate: f(a.exact_match_rate),
            mean_keyword_recall: f(a.mean_keyword_recall),
            mean_f1: f(a.mean_f1),
            mean_rouge_l: f(a.mean_rouge_l),
            mean_bleu: f(a.mean_bleu),
            corpus_bleu: f(a.corpus_bleu),
            mean_latency_ms: f(a.latency_total_ms.as_ref().map(|d| d.mean)),
            mean_first_token_ms: f(a.latency_first_token_ms.as_ref().map(|d| d.mean)),
            tokens_per_second: f(a.tokens_per_second),
            prompt_tokens: a.prompt_tokens.unwrap_or(0),
            completion_tokens: a.completion_tokens.unwrap_or(0),
        }
    }
}

/// `dyag evaluate-finetuned`'s defaults: greedy (temperature 0, top_k 0,
/// top_p 1, seed 0), 256 tokens per answer, the default system prompt.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn dyag_eval_default_params() -> DyagEvalParams {
    DyagEvalParams {
        sampling: DyagSamplingParams { temperature: 0.0, top_k: 0, top_p: 1.0, max_tokens: 256, seed: 0 },
        system_prompt: std::ptr::null(),
    }
}

/// The model as the evaluation loop sees it: a shared engine (generations
/// on other threads go on), and the caller's callback before each question.
struct EvalGenerator<'a> {
    engine: &'a Engine,
    callback: DyagEvalProgressCallback,
    user_data: *mut c_void,
    done: usize,
    total: usize,
}

impl ChatGenerator for EvalGenerator<'_> {
    fn chat(&mut self, messages: &[ChatMessage], params: &SamplingParams, on_text: &mut dyn FnMut(&str) -> bool) -> Result<Generation> {
        if let Some(cb) = self.callback {
            // SAFETY: an EvalGenerator is only built by dyag_evaluate, from its
            // `on_progress` and `user_data`, whose caller guarantees (# Safety
            // there) that the function may be called as documented: with these
            // counts and `user_data`, on the thread that runs the model's work.
            if !unsafe { cb(self.done, self.total, self.user_data) } {
                return Err(Error::Cancelled);
            }
        }
        self.done += 1;
        // Engine's own ChatGenerator::chat, through its shared (&self) methods.
        let prompt = self.engine.chat_prompt(messages)?;
        Ok(self.engine.generate_tokens(&prompt, params, on_text)?.generation)
    }

    fn describe(&self) -> String {
        self.engine.describe()
    }
}

/// The callback's data, carried to the thread that runs the work.
struct SendPtr(*mut c_void);
// SAFETY: Rust never dereferences the pointer: it is only handed back to the
// caller's callback, which dyag_evaluate's caller allows to be called (with
// it) from the model's worker thread (see `DyagEvalProgressCallback`).
unsafe impl Send for SendPtr {}

/// Answers every question of `questions_path` (JSONL, one {"question",
/// "expected"?, "keywords"?, "id"?} per line) with the model (its attached
/// adapter included), scores the answers (exact match, key facts, F1,
/// ROUGE-L, BLEU) and, if `output_path` is not NULL, writes the results
/// file (JSON, docs/results-schema.md; atomically). `params` may be NULL
/// (defaults), `on_progress` may be NULL, `out_summary` may be NULL. A
/// question whose generation fails is recorded with its error and counted
/// in `errors`; the evaluation goes on.
///
/// Errors: INVALID_HANDLE, NULL_POINTER (questions_path), INVALID_UTF8,
/// INVALID_ARGUMENT (parameters, output_path is a folder), IO, DATA (a bad
/// questions line, named by file:line), CANCELLED (the callback returned false).
///
/// Thread safety: safe from any thread; other threads may use the model meanwhile.
///
/// # Safety
/// Strings are NUL-terminated; `params` and `out_summary` are NULL or
/// valid; `on_progress` is NULL or a function that may be called as documented.
#[no_mangle]
pub unsafe extern "C" fn dyag_evaluate(
    model: DyagModel,
    questions_path: *const c_char,
    output_path: *const c_char,
    params: *const DyagEvalParams,
    on_progress: DyagEvalProgressCallback,
    user_data: *mut c_void,
    out_summary: *mut DyagEvalSummary,
) -> DyagStatus {
    guard(|| -> FfiResult {
        let m = MODELS.get(model.id)?;
        let questions_file = path_arg(questions_path, "questions_path")?;
        let output = opt_str_arg(output_path, "output_path")?.map(std::path::Path::new);
        if let Some(o) = output.filter(|o| o.is_dir()) {
            return Err(FfiError::invalid(format!("output_path {} is a folder; give a file name such as results.json", o.display())));
        }
        let p = params.as_ref().copied().unwrap_or_else(|| dyag_eval_default_params());
        let sampling = sampling_arg(&p.sampling)?;
        // None: the model's default, known once its state is read.
        let chosen_prompt =
            if p.system_prompt.is_null() { None } else { Some(opt_str_arg(p.system_prompt, "params.system_prompt")?.unwrap_or("")) };
        let questions = read_questions(questions_file)?;
        let user = SendPtr(user_data);
        let results = m.run(|| -> Result<_> {
            let user = user;
            let engine = m.read();
            let system_prompt = match chosen_prompt {
                Some(s) => Some(s.to_string()),
                None => Some(engine.trained_system_prompt.clone().unwrap_or_else(|| DEFAULT_SYSTEM_PROMPT.to_string())),
            }
            .filter(|s| !s.trim().is_empty());
            let metadata = Metadata {
                system: if engine.adapter.is_some() { "finetuned" } else { "base" }.into(),
                base_model: Some(engine.base.spec.clone()),
                adapter: engine.adapter_path.clone(),
                device: Some(engine.device()),
                system_prompt: system_prompt.clone(),
                questions_file: Some(questions_file.display().to_string()),
                ..Default::default()
            };
            let mut generator =
                EvalGenerator { engine: &engine, callback: on_progress, user_data: user.0, done: 0, total: questions.len() };
            run_evaluation(&mut generator, &questions, &DirectPrompt { system_prompt }, &sampling, metadata, false)
        })?;
        if let Some(o) = output {
            results.write(o)?;
        }
        if let Some(s) = out_summary.as_mut() {
            *s = DyagEvalSummary::from(&results.aggregates_or_computed());
        }
        Ok(())
    })
}
