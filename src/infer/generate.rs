//! The generation loop: prefill the prompt, then sample one token at a time
//! until an end-of-sequence/end-of-turn token, `max_tokens`, or the caller
//! says stop; text is streamed as soon as it is whole UTF-8.

use super::sampling::Sampler;
use super::session::Session;
use super::stop::TextStop;
use super::{Generation, SamplingParams, StopReason};
use crate::tokenizer::{StreamDecoder, Tokenizer};
use crate::Result;
use std::time::Instant;

/// What the generation loop needs from a model: append tokens to its context
/// and get the logits after the last one. The CPU [`Session`] and the CUDA
/// session (feature `cuda`) implement it.
pub trait LogitsSource {
    fn feed(&mut self, tokens: &[u32]) -> Result<Vec<f32>>;
    /// Positions filled so far.
    fn position(&self) -> usize;
    /// Positions the context can hold.
    fn capacity(&self) -> usize;
}

impl LogitsSource for Session<'_> {
    fn feed(&mut self, tokens: &[u32]) -> Result<Vec<f32>> {
        Session::feed(self, tokens)
    }
    fn position(&self) -> usize {
        Session::position(self)
    }
    fn capacity(&self) -> usize {
        Session::capacity(self)
    }
}

/// Generated token ids with the measurements.
pub struct TokenGeneration {
    pub generation: Generation,
    pub tokens: Vec<u32>,
}

/// Generates from `prompt` (token ids, BOS included if the model wants one).
/// `stop` lists the ids that end generation. `on_text` gets text pieces and
/// returns false to stop.
pub fn generate(
    session: &mut dyn LogitsSource,
    tokenizer: &Tokenizer,
    prompt: &[u32],
    params: &SamplingParams,
    stop: &[u32],
    on_text: &mut dyn FnMut(&str) -> bool,
) -> Result<TokenGeneration> {
    params.validate()?;
    let start = Instant::now();
    let mut sampler = Sampler::new(params);
    let mut decoder = StreamDecoder::new(tokenizer);
    let mut text_stop = TextStop::new(&params.stop, params.first_answer);
    let mut tokens = Vec::new();
    let mut text = String::new();
    let mut ttft = None;
    let mut logits = session.feed(prompt)?;
    let mut reason = StopReason::Length;
    while tokens.len() < params.max_tokens {
        let next = sampler.sample(&logits);
        if ttft.is_none() {
            ttft = Some(start.elapsed());
        }
        if stop.contains(&next) {
            reason = StopReason::Eos;
            break;
        }
        tokens.push(next);
        if let Some(piece) = decoder.push(next) {
            let (out, stop_here) = text_stop.push(&piece);
            text.push_str(&out);
            if !out.is_empty() && !on_text(&out) {
                reason = StopReason::Cancelled;
                break;
            }
            if stop_here {
                reason = StopReason::StopText;
                break;
            }
        }
        if tokens.len() == params.max_tokens {
            break;
        }
        if session.position() >= session.capacity() {
            break; // context full: stop as if max_tokens was reached
        }
        logits = session.feed(&[next])?;
    }
    if reason != StopReason::StopText {
        let mut rest = decoder.finish().map(|r| text_stop.push(&r).0).unwrap_or_default();
        rest.push_str(&text_stop.finish());
        if !rest.is_empty() {
            text.push_str(&rest);
            on_text(&rest);
        }
    }
    let total = start.elapsed();
    Ok(TokenGeneration {
        generation: Generation {
            text,
            prompt_tokens: prompt.len(),
            completion_tokens: tokens.len(),
            time_to_first_token: ttft.unwrap_or(total),
            total_time: total,
            stop: reason,
        },
        tokens,
    })
}
