//! Deterministic chat generators for the evaluation tests. They test the
//! evaluation loop and scoring, not a model: one answers from a fixed script,
//! the other reads its answer out of the retrieved context.
#![allow(dead_code)]

use dyag::formats::chat::ChatMessage;
use dyag::infer::{ChatGenerator, Generation, SamplingParams, StopReason};
use dyag::{Error, Result};
use std::time::Duration;

pub const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/eval");

/// What the scripted generator does for one question.
#[derive(Clone, Debug)]
pub enum Scripted {
    Answer { text: String, prompt_tokens: usize, completion_tokens: usize, first_token_ms: u64, total_ms: u64 },
    Fail(String),
    Cancel,
}

pub fn answer(text: &str, prompt_tokens: usize, completion_tokens: usize, first_token_ms: u64, total_ms: u64) -> Scripted {
    Scripted::Answer { text: text.to_string(), prompt_tokens, completion_tokens, first_token_ms, total_ms }
}

/// Answers each question from a script keyed by the question text, which it
/// finds inside the last user message (a RAG prompt wraps the question).
pub struct ScriptedGenerator {
    pub script: Vec<(String, Scripted)>,
    /// Every message list received, in order.
    pub seen: Vec<Vec<ChatMessage>>,
}

impl ScriptedGenerator {
    pub fn new(script: Vec<(&str, Scripted)>) -> Self {
        ScriptedGenerator { script: script.into_iter().map(|(q, s)| (q.to_string(), s)).collect(), seen: Vec::new() }
    }
}

impl ChatGenerator for ScriptedGenerator {
    fn chat(&mut self, messages: &[ChatMessage], _params: &SamplingParams, on_text: &mut dyn FnMut(&str) -> bool) -> Result<Generation> {
        self.seen.push(messages.to_vec());
        let user = messages.last().map(|m| m.content.as_str()).unwrap_or("");
        // The longest matching question wins, so "Qui ?" never shadows "Qui héberge X ?".
        let step = self
            .script
            .iter()
            .filter(|(q, _)| user.contains(q.as_str()))
            .max_by_key(|(q, _)| q.len())
            .map(|(_, s)| s.clone())
            .ok_or_else(|| Error::msg(format!("no scripted answer for {user:?}")))?;
        match step {
            Scripted::Answer { text, prompt_tokens, completion_tokens, first_token_ms, total_ms } => {
                on_text(&text);
                Ok(Generation {
                    text,
                    prompt_tokens,
                    completion_tokens,
                    time_to_first_token: Duration::from_millis(first_token_ms),
                    total_time: Duration::from_millis(total_ms),
                    stop: StopReason::Eos,
                })
            }
            Scripted::Fail(msg) => Err(Error::msg(msg)),
            Scripted::Cancel => Err(Error::Cancelled),
        }
    }

    fn describe(&self) -> String {
        "scripted test generator".to_string()
    }
}

/// Answers with the first record of the context block ("[1] Title" and its
/// text), or "Je ne sais pas." when nothing was retrieved: its scores measure
/// retrieval alone.
pub struct ContextReader {
    pub seen: Vec<Vec<ChatMessage>>,
}

impl ChatGenerator for ContextReader {
    fn chat(&mut self, messages: &[ChatMessage], _params: &SamplingParams, _on_text: &mut dyn FnMut(&str) -> bool) -> Result<Generation> {
        self.seen.push(messages.to_vec());
        let user = messages.last().map(|m| m.content.as_str()).unwrap_or("");
        let first = user.split("\n[1] ").nth(1).and_then(|rest| rest.split("\n\n").next()).map(|s| s.replace('\n', " "));
        let text = first.unwrap_or_else(|| "Je ne sais pas.".to_string());
        let words = text.split_whitespace().count();
        Ok(Generation {
            text,
            prompt_tokens: user.split_whitespace().count(),
            completion_tokens: words,
            time_to_first_token: Duration::from_millis(5),
            total_time: Duration::from_millis(5 + words as u64),
            stop: StopReason::Eos,
        })
    }

    fn describe(&self) -> String {
        "context-reading test generator".to_string()
    }
}
