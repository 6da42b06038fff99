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
    /// Strings that end generation (not included in the text).
    pub stop: Vec<String>,
    /// End at the end of the first answer (a blank line, a new question or
    /// turn marker: [`stop::FIRST_ANSWER_MARKERS`]), for models that do not
    /// emit their end-of-turn token. On for answers; off for free text.
    pub first_answer: bool,
}

/// Most tokens one generation may ask for: beyond any context window (the
/// engine stops at the model's context anyway); bounds what is reserved.
pub const MAX_TOKENS: usize = 1 << 24;

impl Default for SamplingParams {
    fn default() -> Self {
        SamplingParams { temperature: 0.7, top_k: 0, top_p: 1.0, max_tokens: 500, seed: 0, stop: Vec::new(), first_answer: true }
    }
}

impl SamplingParams {
    /// Checks the values (NaN fails every range test here).
    pub fn validate(&self) -> crate::Result<()> {
        let bad = |what: &str, v: String, range: &str| Err(crate::Error::invalid(format!("{what} {v} is out of range {range}")));
        if !(0.0..=100.0).contains(&self.temperature) {
            return bad("temperature", self.temperature.to_string(), "[0, 100]");
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return bad("top_p", self.top_p.to_string(), "(0, 1]");
        }
        if self.max_tokens == 0 || self.max_tokens > MAX_TOKENS {
            return bad("max_tokens", self.max_tokens.to_string(), &format!("1..={MAX_TOKENS}"));
        }
        Ok(())
    }

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
    /// A stop string or the end of the first answer.
    StopText,
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
    fn chat(&mut self, messages: &[ChatMessage], params: &SamplingParams, on_text: &mut dyn FnMut(&str) -> bool) -> Result<Generation>;

    /// Continues raw text (no chat template): the prompt style of base,
    /// non-instruct models. Not every generator can.
    fn complete(&mut self, prompt: &str, params: &SamplingParams, on_text: &mut dyn FnMut(&str) -> bool) -> Result<Generation> {
        let _ = (prompt, params, on_text);
        Err(crate::Error::invalid(format!("{} cannot continue raw text (use a chat prompt)", self.describe())))
    }

    /// A short description of the model behind it (for reports).
    fn describe(&self) -> String;
}

pub mod engine;
pub mod generate;
pub mod sampling;
pub mod session;
#[cfg(feature = "cuda")]
pub mod session_cuda;
pub mod stop;
