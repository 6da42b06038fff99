//! Text generation: KV cache, sampling, the generation loop.

pub mod openai;

use crate::formats::chat::ChatMessage;
use crate::Result;
use std::time::Duration;

/// How to pick the next token. `temperature == 0` means greedy.
#[derive(Clone, Debug)]
pub struct SamplingParams {
    pub temperature: f32,
    /// 0 disables top-k.
    pub top_k: usize,
    /// 1.0 disables top-p.
    pub top_p: f32,
    pub max_tokens: usize,
    pub seed: u64,
}

impl Default for SamplingParams {
    fn default() -> Self {
        SamplingParams { temperature: 0.7, top_k: 0, top_p: 1.0, max_tokens: 500, seed: 0 }
    }
}

impl SamplingParams {
    pub fn greedy(max_tokens: usize) -> Self {
        SamplingParams { temperature: 0.0, max_tokens, ..Default::default() }
    }
}

/// Why generation stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// End-of-sequence or end-of-turn token.
    Eos,
    /// `max_tokens` reached.
    Length,
    /// The caller's callback asked to stop.
    Cancelled,
}

/// The result of one generation, with its measurements.
#[derive(Clone, Debug)]
pub struct Generation {
    pub text: String,
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    /// From the start of the call to the first generated token (prefill included).
    pub time_to_first_token: Duration,
    pub total_time: Duration,
    pub stop: StopReason,
}

impl Generation {
    /// Decode speed, tokens generated after the first one per second.
    pub fn decode_tokens_per_second(&self) -> f64 {
        let decode = self.total_time.saturating_sub(self.time_to_first_token).as_secs_f64();
        if self.completion_tokens > 1 && decode > 0.0 {
            (self.completion_tokens - 1) as f64 / decode
        } else {
            0.0
        }
    }
}

/// Anything that answers a chat: dyag's own engine, or a remote
/// OpenAI-compatible endpoint. `on_text` receives text pieces as they are
/// generated and returns `false` to stop early.
pub trait ChatGenerator {
    fn chat(
        &mut self,
        messages: &[ChatMessage],
        params: &SamplingParams,
        on_text: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Generation>;

    /// A short description of the model behind it (for reports).
    fn describe(&self) -> String;
}

pub mod engine;
pub mod generate;
pub mod sampling;
pub mod session;
