//! Generation: from chat messages (through the model's chat template) or
//! from raw text, with sampling parameters and a streaming callback.

use super::error::{guard, DyagStatus, FfiError, FfiResult};
use super::model::{DyagModel, MODELS};
use super::strings::{array_out, free_array, free_text, slice_arg, str_arg, text_out};
use crate::formats::chat::ChatMessage;
use crate::infer::generate::TokenGeneration;
use crate::infer::{SamplingParams, StopReason};
use std::ffi::{c_char, c_void};

/// How to pick tokens. Start from `dyag_sampling_default_params()`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct DyagSamplingParams {
    /// 0 is greedy (always the most likely token).
    pub temperature: f32,
    /// Keep only the k most likely tokens; 0 is off.
    pub top_k: u32,
    /// Nucleus sampling: the smallest set of tokens holding this probability, in (0, 1]; 1 is off.
    pub top_p: f32,
    /// Largest number of generated tokens, at least 1.
    pub max_tokens: u32,
    /// Seed of the sampler's random numbers (same seed, same answer).
    pub seed: u64,
}

/// One chat turn: `role` is "system", "user" or "assistant"; both strings
/// are NUL-terminated UTF-8.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct DyagMessage {
    pub role: *const c_char,
    pub content: *const c_char,
}

/// Why a generation stopped (values of `DyagGeneration.stop_reason`).
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DyagStopReason {
    /// An end-of-sequence or end-of-turn token.
    Eos = 0,
    /// `max_tokens` reached (or the model's context is full).
    Length = 1,
    /// The token callback returned false.
    Cancelled = 2,
    /// The answer ended without an end-of-turn token: a blank line or a new
    /// question marker (the text stops before it).
    StopText = 3,
}

/// The result of a generation. Filled by dyag; every pointer in it is owned
/// by dyag: release them with `dyag_generation_free`. Do not modify it.
#[repr(C)]
#[derive(Debug)]
pub struct DyagGeneration {
    /// The generated text, UTF-8, NUL-terminated (NULL when nothing was generated).
    pub text: *mut c_char,
    /// Length of `text` in bytes, without the NUL.
    pub text_len: usize,
    /// The generated token ids (prompt excluded; NULL when none).
    pub tokens: *mut u32,
    pub n_tokens: usize,
    /// Number of prompt tokens (template and BOS included).
    pub prompt_tokens: usize,
    /// A `DyagStopReason` value.
    pub stop_reason: i32,
    /// From the call to the first generated token (prefill included).
    pub time_to_first_token_ms: f64,
    pub total_ms: f64,
}

impl DyagGeneration {
    const EMPTY: DyagGeneration = DyagGeneration {
        text: std::ptr::null_mut(),
        text_len: 0,
        tokens: std::ptr::null_mut(),
        n_tokens: 0,
        prompt_tokens: 0,
        stop_reason: DyagStopReason::Eos as i32,
        time_to_first_token_ms: 0.0,
        total_ms: 0.0,
    };

    fn from_result(tg: TokenGeneration) -> Self {
        let g = tg.generation;
        let (text, text_len) = if g.text.is_empty() { (std::ptr::null_mut(), 0) } else { text_out(&g.text) };
        let (tokens, n_tokens) = array_out(tg.tokens);
        DyagGeneration {
            text,
            text_len,
            tokens,
            n_tokens,
            prompt_tokens: g.prompt_tokens,
            stop_reason: match g.stop {
                StopReason::Eos => DyagStopReason::Eos,
                StopReason::Length => DyagStopReason::Length,
                StopReason::Cancelled => DyagStopReason::Cancelled,
                StopReason::StopText => DyagStopReason::StopText,
            } as i32,
            time_to_first_token_ms: g.time_to_first_token.as_secs_f64() * 1e3,
            total_ms: g.total_time.as_secs_f64() * 1e3,
        }
    }
}

/// Receives each piece of generated text as soon as it is complete UTF-8
/// (`piece` is NOT NUL-terminated: use `piece_len`; it is valid during the
/// call only). Return true to go on, false to stop the generation (it then
/// ends with `DYAG_STOP_REASON_CANCELLED` and status OK). Called on the
/// thread that runs the model's work: the caller's thread, or one of the
/// model's worker threads when it was opened with `threads > 0`.
pub type DyagTokenCallback = Option<unsafe extern "C" fn(piece: *const c_char, piece_len: usize, user_data: *mut c_void) -> bool>;

/// The library's default sampling: temperature 0.7, top_k 0 (off), top_p 1
/// (off), max_tokens 500, seed 0.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn dyag_sampling_default_params() -> DyagSamplingParams {
    let d = SamplingParams::default();
    DyagSamplingParams { temperature: d.temperature, top_k: d.top_k as u32, top_p: d.top_p, max_tokens: d.max_tokens as u32, seed: d.seed }
}

/// The sampling parameters at `params` (NULL: the defaults), checked.
///
/// # Safety
/// `params` is NULL or valid for reads of one `DyagSamplingParams`.
pub(crate) unsafe fn sampling_arg(params: *const DyagSamplingParams) -> FfiResult<SamplingParams> {
    let p = params.as_ref().copied().unwrap_or_else(|| dyag_sampling_default_params());
    if !(p.temperature.is_finite() && p.temperature >= 0.0) {
        return Err(FfiError::invalid(format!("params.temperature must be a finite number ≥ 0, got {}", p.temperature)));
    }
    if !(p.top_p > 0.0 && p.top_p <= 1.0) {
        return Err(FfiError::invalid(format!("params.top_p must be in (0, 1], got {}", p.top_p)));
    }
    if p.max_tokens == 0 {
        return Err(FfiError::invalid("params.max_tokens must be at least 1"));
    }
    Ok(SamplingParams {
        temperature: p.temperature,
        top_k: p.top_k as usize,
        top_p: p.top_p,
        max_tokens: p.max_tokens as usize,
        seed: p.seed,
        ..SamplingParams::default()
    })
}

/// The caller's callback and its data, carried to the thread that runs the
/// work (the caller promised they may be used from there; see the docs).
struct TokenSink {
    callback: DyagTokenCallback,
    user_data: *mut c_void,
    stopped: bool,
}

// SAFETY: `user_data` is never dereferenced by Rust, only passed back to the
// callback; the callers of dyag_generate_chat/_text guarantee (# Safety there)
// that the callback may be called as documented, i.e. also from one of the
// model's worker threads, so moving both to that thread is allowed.
unsafe impl Send for TokenSink {}

impl TokenSink {
    fn push(&mut self, piece: &str) -> bool {
        // Once the caller said stop, it hears nothing more (the decoder may
        // still flush the last bytes of a character).
        if self.stopped {
            return false;
        }
        if let Some(cb) = self.callback {
            // SAFETY: a TokenSink is only built by generate_with from the
            // `on_token` and `user_data` of dyag_generate_chat/_text, whose
            // callers guarantee the function may be called as documented; the
            // piece is a live &str of `piece.len()` bytes for the whole call.
            self.stopped = !unsafe { cb(piece.as_ptr().cast(), piece.len(), self.user_data) };
        }
        !self.stopped
    }
}

/// The shared tail of both entry points: run on the model's threads, fill `out`.
///
/// # Safety
/// `params` is NULL or valid for reads; `out` is NULL or valid for writes of a
/// `DyagGeneration` (overwritten without being read or freed); `on_token` is
/// NULL or a function that may be called with `user_data` as
/// `DyagTokenCallback` documents, also from the model's worker threads.
unsafe fn generate_with(
    model: DyagModel,
    params: *const DyagSamplingParams,
    on_token: DyagTokenCallback,
    user_data: *mut c_void,
    out: *mut DyagGeneration,
    first_answer: bool,
    prompt: impl FnOnce(&crate::infer::engine::Engine) -> crate::Result<Vec<u32>> + Send,
) -> FfiResult {
    if !out.is_null() {
        std::ptr::write(out, DyagGeneration::EMPTY);
    }
    let m = MODELS.get(model.id)?;
    let mut params = sampling_arg(params)?;
    params.first_answer = first_answer;
    let mut sink = TokenSink { callback: on_token, user_data, stopped: false };
    let tg = m.run(|| {
        let engine = m.read();
        let ids = prompt(&engine)?;
        engine.generate_tokens(&ids, &params, &mut |piece| sink.push(piece))
    })?;
    if let Some(out) = out.as_mut() {
        *out = DyagGeneration::from_result(tg);
    }
    Ok(())
}

/// Answers a chat: the messages go through the model's chat template (with
/// the generation prompt), then tokens are generated with `params` (NULL:
/// defaults) and streamed to `on_token` (may be NULL). `out` (may be NULL)
/// receives the whole result; it must not hold a previous result (free that
/// first), and it is zeroed when the call fails.
///
/// Errors: INVALID_HANDLE, NULL_POINTER (messages NULL with n_messages > 0,
/// a NULL role or content), INVALID_UTF8, INVALID_ARGUMENT (no message,
/// parameters out of range, prompt longer than the context), OTHER
/// (template errors). A callback that stops the generation is not an error.
///
/// Thread safety: safe from any thread; several threads may generate with
/// the same model at once.
///
/// # Safety
/// `messages` is valid for `n_messages` items whose strings are
/// NUL-terminated; `params` and `out` are NULL or valid; `on_token` is
/// NULL or a function that may be called as documented above.
#[no_mangle]
pub unsafe extern "C" fn dyag_generate_chat(
    model: DyagModel,
    messages: *const DyagMessage,
    n_messages: usize,
    params: *const DyagSamplingParams,
    on_token: DyagTokenCallback,
    user_data: *mut c_void,
    out: *mut DyagGeneration,
) -> DyagStatus {
    guard(|| {
        if !out.is_null() {
            std::ptr::write(out, DyagGeneration::EMPTY);
        }
        let items = slice_arg(messages, n_messages, "messages")?;
        if items.is_empty() {
            return Err(FfiError::invalid("no messages (n_messages is 0)"));
        }
        let mut chat = Vec::with_capacity(items.len());
        for (i, m) in items.iter().enumerate() {
            let role = str_arg(m.role, &format!("messages[{i}].role"))?;
            let content = str_arg(m.content, &format!("messages[{i}].content"))?;
            chat.push(ChatMessage::new(role, content));
        }
        // An answer ends at the end of the first answer (a blank line, a new question), as in the CLI.
        generate_with(model, params, on_token, user_data, out, true, |e| e.chat_prompt(&chat))
    })
}

/// Continues raw text: `prompt` is tokenised as is (BOS added if the model
/// wants one, no chat template), for base models.
///
/// Errors, thread safety: as `dyag_generate_chat`.
///
/// # Safety
/// `prompt` is a NUL-terminated string; the rest as `dyag_generate_chat`.
#[no_mangle]
pub unsafe extern "C" fn dyag_generate_text(
    model: DyagModel,
    prompt: *const c_char,
    params: *const DyagSamplingParams,
    on_token: DyagTokenCallback,
    user_data: *mut c_void,
    out: *mut DyagGeneration,
) -> DyagStatus {
    guard(|| {
        if !out.is_null() {
            std::ptr::write(out, DyagGeneration::EMPTY);
        }
        let text = str_arg(prompt, "prompt")?;
        // Raw text is continued as it is: no end-of-answer rule.
        generate_with(model, params, on_token, user_data, out, false, |e| e.base.tokenizer.encode_prompt(text))
    })
}

/// Releases what a `DyagGeneration` holds and zeroes it, so freeing twice
/// is harmless. NULL is accepted (nothing to do).
///
/// Thread safety: safe from any thread, for distinct results.
///
/// # Safety
/// `generation` is NULL, zeroed, or a result filled by dyag and not modified.
#[no_mangle]
pub unsafe extern "C" fn dyag_generation_free(generation: *mut DyagGeneration) -> DyagStatus {
    guard(|| {
        let Some(g) = generation.as_mut() else { return Ok(()) };
        free_text(g.text, g.text_len);
        free_array(g.tokens, g.n_tokens);
        std::ptr::write(g, DyagGeneration::EMPTY);
        Ok(())
    })
}
