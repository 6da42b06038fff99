//! How a question becomes chat messages. The evaluation loop only sees the
//! [`PromptBuilder`] trait: a fine-tuned model gets the question as is, a RAG
//! system (see [`crate::eval::rag`]) adds retrieved records first.

use crate::eval::questions::Question;
use crate::eval::results::Source;
use crate::formats::chat::ChatMessage;
use crate::Result;

/// The system prompt used when none is given: the original tool's training
/// prompt without its organisation name, so that a model fine-tuned on a
/// generate-training dataset is asked questions the way it was trained.
pub const DEFAULT_SYSTEM_PROMPT: &str = "Tu es un assistant qui répond aux questions sur les applications.";

/// The messages for one question, and the records they include (if any).
#[derive(Clone, Debug)]
pub struct BuiltPrompt {
    pub messages: Vec<ChatMessage>,
    /// `Some` for systems that retrieve (even when nothing was found).
    pub sources: Option<Vec<Source>>,
}

pub trait PromptBuilder {
    fn build(&self, question: &Question) -> Result<BuiltPrompt>;
}

/// The question alone, after an optional system prompt.
pub struct DirectPrompt {
    /// `None` or empty: no system message.
    pub system_prompt: Option<String>,
}

/// A system message when there is a non-empty prompt, then `user`.
pub fn with_system(system_prompt: Option<&str>, user: String) -> Vec<ChatMessage> {
    let mut messages = Vec::with_capacity(2);
    if let Some(s) = system_prompt.filter(|s| !s.trim().is_empty()) {
        messages.push(ChatMessage::system(s));
    }
    messages.push(ChatMessage::user(user));
    messages
}

impl PromptBuilder for DirectPrompt {
    fn build(&self, question: &Question) -> Result<BuiltPrompt> {
        Ok(BuiltPrompt { messages: with_system(self.system_prompt.as_deref(), question.question.clone()), sources: None })
    }
}
