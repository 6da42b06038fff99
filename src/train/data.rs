//! Chat examples → token ids and labels, as TRL's SFTTrainer does for
//! prompt–completion data: the prompt (everything up to the assistant's
//! turn, with the generation prompt) and the completion (the assistant's
//! text and the template's end-of-turn) are tokenised separately and
//! concatenated; only completion tokens carry labels.

use super::step::{Batch, IGNORE};
use crate::formats::chat::{ChatMessage, Conversation};
use crate::tokenizer::chat_template::ChatTemplate;
use crate::tokenizer::Tokenizer;
use crate::{Error, Result};
use std::path::Path;

/// One tokenised example; `labels[t]` is `tokens[t]` on completion tokens, IGNORE elsewhere.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Example {
    pub tokens: Vec<u32>,
    pub labels: Vec<i32>,
}

impl Example {
    /// Labelled positions that produce a loss (the first token never does).
    pub fn num_targets(&self) -> usize {
        self.labels.iter().skip(1).filter(|&&l| l != IGNORE).count()
    }
}

#[derive(Clone, Debug, Default)]
pub struct Prepared {
    pub examples: Vec<Example>,
    /// Examples cut at `max_seq_len`.
    pub truncated: usize,
    /// Examples left with no labelled token after truncation (not trained on).
    pub dropped: usize,
    /// Tokens of the longest example before truncation.
    pub longest: usize,
}

impl Prepared {
    /// SHA-256 of every example's tokens and labels, in hex: what a
    /// checkpoint was trained on, whatever the file was called.
    pub fn digest(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for e in &self.examples {
            h.update((e.tokens.len() as u64).to_le_bytes());
            h.update(bytemuck::cast_slice(&e.tokens));
            h.update(bytemuck::cast_slice(&e.labels));
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn total_tokens(&self) -> usize {
        self.examples.iter().map(|e| e.tokens.len()).sum()
    }
    pub fn total_targets(&self) -> usize {
        self.examples.iter().map(Example::num_targets).sum()
    }
}

/// `spans` of a text, relative to its part from byte `from` on.
fn shifted(spans: &[std::ops::Range<usize>], from: usize) -> Vec<std::ops::Range<usize>> {
    spans.iter().filter(|r| r.end > from).map(|r| r.start.max(from) - from..r.end - from).collect()
}

/// Tokenises one conversation. Every assistant turn is a completion.
pub fn tokenize_conversation(conv: &[ChatMessage], tokenizer: &Tokenizer, template: &ChatTemplate) -> Result<Example> {
    let mut tokens = Vec::new();
    let mut labels = Vec::new();
    let mut rendered = String::new(); // text already tokenised
    let mut any = false;
    for (i, m) in conv.iter().enumerate() {
        if m.role != "assistant" {
            continue;
        }
        any = true;
        let prompt = template.render(&conv[..i], true)?;
        let full = template.render(&conv[..=i], false)?;
        let completion = full.strip_prefix(prompt.as_str()).ok_or_else(|| {
            Error::msg(format!(
                "the chat template does not render turn {} as prompt + completion (the conversation text before it changes)",
                i + 1
            ))
        })?;
        let new_prompt = prompt
            .strip_prefix(rendered.as_str())
            .ok_or_else(|| Error::msg(format!("the chat template rewrites earlier turns at turn {}", i + 1)))?;
        // Control-token text inside the contents stays text (an answer that
        // writes `<eos>` must not teach the model to stop there).
        let prompt_literal = shifted(&tokenizer.literal_spans(template, &conv[..i], true, &prompt)?, rendered.len());
        let full_literal = shifted(&tokenizer.literal_spans(template, &conv[..=i], false, &full)?, prompt.len());
        let p = if tokens.is_empty() {
            tokenizer.encode_prompt_literal(new_prompt, &prompt_literal)?
        } else {
            tokenizer.encode_literal(new_prompt, &prompt_literal)?
        };
        labels.extend(std::iter::repeat_n(IGNORE, p.len()));
        tokens.extend(p);
        let c = tokenizer.encode_literal(completion, &full_literal)?;
        labels.extend(c.iter().map(|&t| t as i32));
        tokens.extend(c);
        rendered = full;
    }
    if !any {
        return Err(Error::msg("no assistant turn to learn from"));
    }
    Ok(Example { tokens, labels })
}

/// Tokenises a dataset; `lines[i]` is the line of `convs[i]` in `path` (for errors).
pub fn prepare(
    convs: &[Conversation],
    lines: &[usize],
    path: &Path,
    tokenizer: &Tokenizer,
    template: &ChatTemplate,
    max_seq_len: usize,
) -> Result<Prepared> {
    if max_seq_len < 2 {
        return Err(Error::invalid("--max-seq-len must be at least 2"));
    }
    let mut out = Prepared::default();
    for (i, conv) in convs.iter().enumerate() {
        let line = lines.get(i).copied().unwrap_or(i + 1);
        let mut ex = tokenize_conversation(&conv.messages, tokenizer, template).map_err(|e| Error::data(path, line, e.to_string()))?;
        out.longest = out.longest.max(ex.tokens.len());
        if ex.tokens.len() > max_seq_len {
            ex.tokens.truncate(max_seq_len);
            ex.labels.truncate(max_seq_len);
            out.truncated += 1;
        }
        if ex.num_targets() == 0 {
            out.dropped += 1;
            continue;
        }
        out.examples.push(ex);
    }
    Ok(out)
}

/// Packs examples into a batch.
pub fn batch_of<'a>(examples: impl IntoIterator<Item = &'a Example>) -> Batch {
    let mut b = Batch::default();
    for e in examples {
        b.push(&e.tokens, &e.labels);
    }
    b
}
