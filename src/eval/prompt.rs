//! How a question becomes chat messages. The evaluation loop only sees the
//! [`PromptBuilder`] trait: a fine-tuned model gets the question as is, a RAG
//! system (see [`crate::eval::rag_prompt`]) adds retrieved records first.

use crate::eval::questions::Question;
use crate::eval::results::Source;
use crate::formats::chat::ChatMessage;
use crate::Result;

/// The system prompt used when none is given: generate-training's default,
/// so that a model fine-tuned on its dataset is asked questions the way it
/// was trained. When the dataset used a catalogue-specific prompt, pass it
/// with `--system-prompt-from DATASET.jsonl`.
pub use crate::data::DEFAULT_SYSTEM_PROMPT;

/// The system message of a chat dataset's first example (`{"messages": [...]}`
/// JSONL), `None` when that example has no system message. Only the lines up
/// to the first example are read, within the dataset reader's line limit.
pub fn system_prompt_from_dataset(path: &std::path::Path) -> Result<Option<String>> {
    use crate::formats::chat_jsonl::{MAX_FILE_BYTES, MAX_LINE_BYTES};
    let limits = crate::formats::bounded::Limits { max_line: MAX_LINE_BYTES, max_total: MAX_FILE_BYTES };
    let mut lines = crate::formats::bounded::Lines::open(path, limits)?;
    while let Some(raw) = lines.next_line()? {
        if let Some(p) = raw.problem {
            return Err(crate::Error::data(path, raw.number, p));
        }
        let line = String::from_utf8_lossy(raw.bytes);
        if line.trim().is_empty() {
            continue;
        }
        let conv: crate::formats::chat::Conversation = serde_json::from_str(line.trim()).map_err(|e| {
            crate::Error::data(
                path,
                raw.number,
                format!("not a chat example ({{\"messages\": [...]}}): {}", crate::eval::questions::json_msg_in_line(&e)),
            )
        })?;
        crate::formats::json::reject_duplicate_keys(path, raw.number, line.trim())?;
        return Ok(conv.messages.first().filter(|m| m.role == "system").map(|m| m.content.clone()));
    }
    Err(crate::Error::format(path, "empty dataset: no example to take the system prompt from"))
}

/// The messages for one question, and the records they include (if any).
#[derive(Clone, Debug)]
pub struct BuiltPrompt {
    pub messages: Vec<ChatMessage>,
    /// `Some` for systems that retrieve (even when nothing was found).
    pub sources: Option<Vec<Source>>,
    /// Raw text to continue instead of `messages` (base models that do not
    /// follow a chat template); `messages` then only records what was asked.
    pub completion: Option<String>,
    /// Parts of the prompt, beyond the system prompt and the question, that an
    /// answer must not repeat (context header, instruction, record lines); see
    /// [`crate::eval::judge`].
    pub echo_markers: Vec<String>,
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
        Ok(BuiltPrompt {
            messages: with_system(self.system_prompt.as_deref(), question.question.clone()),
            sources: None,
            completion: None,
            echo_markers: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_prompt_comes_from_the_first_example() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("train.jsonl");
        std::fs::write(&p, "\n{\"messages\": [{\"role\": \"system\", \"content\": \"Tu es un assistant MYGUSI.\"}, {\"role\": \"user\", \"content\": \"Q\"}]}\n").unwrap();
        assert_eq!(system_prompt_from_dataset(&p).unwrap().as_deref(), Some("Tu es un assistant MYGUSI."));
        std::fs::write(&p, "{\"messages\": [{\"role\": \"user\", \"content\": \"Q\"}]}\n").unwrap();
        assert_eq!(system_prompt_from_dataset(&p).unwrap(), None);
        std::fs::write(&p, "\n{\"question\": \"Q\"}\n").unwrap();
        let e = system_prompt_from_dataset(&p).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{}:2: not a chat example", p.display())), "{e}");
    }
}
