//! Chat templates: a conversation → the prompt text the model was trained on.
//!
//! A model's own template (GGUF `tokenizer.chat_template`, HF `chat_template`) is
//! rendered with minijinja set up like transformers' Jinja environment
//! ([`super::template_fns`]). Models without one get a built-in template for their
//! family, written in the same Jinja and checked against the official templates.

use super::template_fns;
use crate::formats::chat::ChatMessage;
use crate::{Error, Result};
use minijinja::{context, Environment, Value};
use std::ops::Range;
use std::sync::Arc;

/// The families dyag has a built-in template for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BuiltinTemplate {
    /// `<start_of_turn>user\n…<end_of_turn>\n<start_of_turn>model\n` (Gemma 1–3).
    Gemma,
    /// `<|im_start|>role\n…<|im_end|>\n` (Qwen 2/2.5).
    ChatMl,
    /// `<|start_header_id|>role<|end_header_id|>\n\n…<|eot_id|>` (Llama 3).
    Llama3,
    /// `<|user|>\n…</s>\n` (TinyLlama-Chat, Zephyr).
    Zephyr,
    /// `<|user|>\n…<|end|>\n<|assistant|>\n` (Phi-3).
    Phi3,
    /// `<s>[INST] <<SYS>>\n…\n<</SYS>>\n\n… [/INST]` (Llama 2 chat, Mistral).
    Llama2,
}

impl BuiltinTemplate {
    pub const ALL: [BuiltinTemplate; 6] = [
        BuiltinTemplate::Gemma,
        BuiltinTemplate::ChatMl,
        BuiltinTemplate::Llama3,
        BuiltinTemplate::Zephyr,
        BuiltinTemplate::Phi3,
        BuiltinTemplate::Llama2,
    ];

    fn source(self) -> &'static str {
        match self {
            BuiltinTemplate::Gemma => include_str!("templates/gemma.jinja"),
            BuiltinTemplate::ChatMl => include_str!("templates/chatml.jinja"),
            BuiltinTemplate::Llama3 => include_str!("templates/llama3.jinja"),
            BuiltinTemplate::Zephyr => include_str!("templates/zephyr.jinja"),
            BuiltinTemplate::Phi3 => include_str!("templates/phi3.jinja"),
            BuiltinTemplate::Llama2 => include_str!("templates/llama2.jinja"),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            BuiltinTemplate::Gemma => "gemma",
            BuiltinTemplate::ChatMl => "chatml",
            BuiltinTemplate::Llama3 => "llama3",
            BuiltinTemplate::Zephyr => "zephyr",
            BuiltinTemplate::Phi3 => "phi3",
            BuiltinTemplate::Llama2 => "llama2",
        }
    }
}

const TEMPLATE_NAME: &str = "chat_template";

/// A rendering's output that refuses to grow beyond `cap` bytes.
struct CappedOutput {
    bytes: Vec<u8>,
    cap: usize,
    overflowed: bool,
}

impl std::io::Write for CappedOutput {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.bytes.len() + buf.len() > self.cap {
            self.overflowed = true;
            return Err(std::io::Error::other("output limit"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Bounds on one rendering. Templates come from model files: a loop of
/// 10^15 iterations or an output of gigabytes must end in an error, not a
/// hang or an abort.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TemplateLimits {
    /// minijinja instructions ("fuel") one rendering may run.
    pub fuel: u64,
    /// Bytes one rendering may write.
    pub max_output_bytes: usize,
}

impl Default for TemplateLimits {
    /// 10 M instructions (about 0.1 s; the built-in templates use about 40
    /// per message and real model templates a few hundred: see the tests)
    /// and 16 MiB (far beyond any context window: 1 M tokens are ~4 MB).
    fn default() -> Self {
        TemplateLimits { fuel: 10_000_000, max_output_bytes: 16 << 20 }
    }
}

/// A compiled chat template with the BOS/EOS texts it is rendered with.
#[derive(Clone)]
pub struct ChatTemplate {
    env: Arc<Environment<'static>>,
    source: Arc<str>,
    bos_token: String,
    eos_token: String,
    builtin: Option<BuiltinTemplate>,
    limits: TemplateLimits,
}

impl std::fmt::Debug for ChatTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatTemplate")
            .field("builtin", &self.builtin)
            .field("bos_token", &self.bos_token)
            .field("eos_token", &self.eos_token)
            .field("source_len", &self.source.len())
            .field("limits", &self.limits)
            .finish()
    }
}

impl ChatTemplate {
    /// Compiles an HF-style Jinja chat template.
    pub fn from_jinja(source: &str, bos_token: &str, eos_token: &str) -> Result<ChatTemplate> {
        Self::compile(source, bos_token, eos_token, None)
    }

    /// A built-in template.
    pub fn builtin(kind: BuiltinTemplate, bos_token: &str, eos_token: &str) -> ChatTemplate {
        // The built-in sources are part of the crate and covered by tests: they compile.
        Self::compile(kind.source(), bos_token, eos_token, Some(kind))
            .unwrap_or_else(|e| panic!("built-in chat template '{}' does not compile: {e}", kind.name()))
    }

    /// The built-in template for a model family (`general.architecture` in GGUF,
    /// `model_type` in HF configs). `has_token` tells whether the vocabulary has a
    /// control token, which separates Llama 3 (`<|start_header_id|>`) from Llama 2
    /// vocabularies; `model_name` (may be empty) picks Zephyr for TinyLlama/Zephyr chats.
    pub fn builtin_for_architecture(arch: &str, model_name: &str, has_token: &dyn Fn(&str) -> bool) -> BuiltinTemplate {
        let arch = arch.to_ascii_lowercase();
        let name = model_name.to_ascii_lowercase();
        let by_vocab = || {
            if has_token("<|start_header_id|>") {
                Some(BuiltinTemplate::Llama3)
            } else if has_token("<|im_start|>") {
                Some(BuiltinTemplate::ChatMl)
            } else if has_token("<start_of_turn>") {
                Some(BuiltinTemplate::Gemma)
            } else if has_token("<|assistant|>") && has_token("<|end|>") {
                Some(BuiltinTemplate::Phi3)
            } else {
                None
            }
        };
        match arch.as_str() {
            a if a.starts_with("gemma") => BuiltinTemplate::Gemma,
            a if a.starts_with("qwen") => BuiltinTemplate::ChatMl,
            "phi3" => BuiltinTemplate::Phi3,
            "llama" | "mistral" => match by_vocab() {
                Some(kind) => kind,
                None if name.contains("tinyllama") || name.contains("zephyr") => BuiltinTemplate::Zephyr,
                None => BuiltinTemplate::Llama2,
            },
            _ => by_vocab().unwrap_or(BuiltinTemplate::ChatMl),
        }
    }

    fn compile(source: &str, bos_token: &str, eos_token: &str, builtin: Option<BuiltinTemplate>) -> Result<ChatTemplate> {
        let mut env = template_fns::environment();
        let limits = TemplateLimits::default();
        env.set_fuel(Some(limits.fuel));
        let prepared = template_fns::rewrite_generation_tags(source).into_owned();
        env.add_template_owned(TEMPLATE_NAME, prepared)
            .map_err(|e| Error::msg(format!("chat template does not compile: {}", describe(&e))))?;
        Ok(ChatTemplate {
            env: Arc::new(env),
            source: Arc::from(source),
            bos_token: bos_token.to_string(),
            eos_token: eos_token.to_string(),
            builtin,
            limits,
        })
    }

    /// This template with other bounds on each rendering.
    pub fn with_limits(mut self, limits: TemplateLimits) -> ChatTemplate {
        Arc::make_mut(&mut self.env).set_fuel(Some(limits.fuel));
        self.limits = limits;
        self
    }

    pub fn limits(&self) -> TemplateLimits {
        self.limits
    }

    /// Renders a conversation. With `add_generation_prompt`, the text ends with the
    /// header of the assistant's turn, ready for generation.
    pub fn render(&self, messages: &[ChatMessage], add_generation_prompt: bool) -> Result<String> {
        self.render_with_tools(messages, None, add_generation_prompt)
    }

    /// As [`render`](Self::render), with OpenAI-style tool definitions for templates
    /// that have a tools section (Qwen 2.5, Llama 3.1...).
    pub fn render_with_tools(
        &self,
        messages: &[ChatMessage],
        tools: Option<&[serde_json::Value]>,
        add_generation_prompt: bool,
    ) -> Result<String> {
        self.check_messages(messages)?;
        let template = self.env.get_template(TEMPLATE_NAME).map_err(|e| Error::msg(format!("chat template: {}", describe(&e))))?;
        let tools = tools.map(Value::from_serialize).unwrap_or(Value::from(()));
        let ctx = context! {
            messages => Value::from_serialize(messages),
            add_generation_prompt => add_generation_prompt,
            bos_token => &self.bos_token,
            eos_token => &self.eos_token,
            tools => tools,
        };
        let mut out = CappedOutput { bytes: Vec::new(), cap: self.limits.max_output_bytes, overflowed: false };
        match template.render_captured_to(ctx, &mut out) {
            Ok(_) => String::from_utf8(out.bytes).map_err(|_| Error::msg("chat template: the output is not UTF-8")),
            Err(e) if e.kind() == minijinja::ErrorKind::OutOfFuel => Err(Error::invalid(format!(
                "chat template: stopped after {} instructions (a runaway loop?); the limit is settable (template fuel)",
                self.limits.fuel
            ))),
            Err(_) if out.overflowed => Err(Error::invalid(format!(
                "chat template: the output exceeds {} bytes; the limit is settable (template max output bytes)",
                out.cap
            ))),
            Err(e) => Err(Error::msg(format!("chat template: {}", describe(&e)))),
        }
    }

    /// Where the message contents lie in `rendered`, this template's
    /// rendering of `messages`, as byte ranges. Found by rendering again with
    /// each content between two private-use markers: the text outside the
    /// markers is the template's own, and `rendered` must be that text with
    /// each content (or the content trimmed, as templates often do) in the
    /// marked places, so a content cannot pass for markup. Errors when the
    /// template changes contents in other ways.
    pub fn content_spans(&self, messages: &[ChatMessage], add_generation_prompt: bool, rendered: &str) -> Result<Vec<Range<usize>>> {
        const OPEN: char = '\u{E000}';
        const CLOSE: char = '\u{E001}';
        let unfollowable =
            |why: &str| Error::invalid(format!("chat template: cannot tell the message contents from the template's markup ({why})"));
        if messages.iter().any(|m| m.content.contains([OPEN, CLOSE])) {
            return Err(unfollowable("a content holds the private-use characters U+E000/U+E001"));
        }
        let marked: Vec<ChatMessage> =
            messages.iter().map(|m| ChatMessage { role: m.role.clone(), content: format!("{OPEN}{}{CLOSE}", m.content) }).collect();
        let with_marks = self.render(&marked, add_generation_prompt)?;
        // template text, content, template text, content, ..., template text
        let mut parts: Vec<(&str, Option<&str>)> = Vec::new();
        let mut rest = with_marks.as_str();
        while let Some(open) = rest.find(OPEN) {
            let after = &rest[open + OPEN.len_utf8()..];
            let close = after.find(CLOSE).ok_or_else(|| unfollowable("a content was cut"))?;
            parts.push((&rest[..open], Some(&after[..close])));
            rest = &after[close + CLOSE.len_utf8()..];
        }
        parts.push((rest, None));
        let mut spans = Vec::new();
        let mut at = 0;
        for (i, (markup, content)) in parts.iter().enumerate() {
            if !rendered[at..].starts_with(markup) {
                return Err(unfollowable("the template branches on the contents"));
            }
            at += markup.len();
            let Some(content) = content else { continue };
            let next = parts.get(i + 1).map_or("", |p| p.0);
            let fits = |c: &&str| rendered[at..].starts_with(*c) && rendered[at + c.len()..].starts_with(next);
            let c = [*content, content.trim(), content.trim_start(), content.trim_end()]
                .into_iter()
                .find(|c| fits(c))
                .ok_or_else(|| unfollowable("the template rewrites a content"))?;
            spans.push(at..at + c.len());
            at += c.len();
        }
        if at != rendered.len() {
            return Err(unfollowable("the renderings differ"));
        }
        Ok(spans)
    }

    fn check_messages(&self, messages: &[ChatMessage]) -> Result<()> {
        if messages.is_empty() {
            return Err(Error::invalid("chat template: the conversation is empty"));
        }
        // Model templates may know tool turns; the built-in ones do not.
        let allowed: &[&str] =
            if self.builtin.is_some() { &["system", "user", "assistant"] } else { &["system", "user", "assistant", "tool"] };
        for (i, m) in messages.iter().enumerate() {
            if !allowed.contains(&m.role.as_str()) {
                return Err(Error::invalid(format!(
                    "chat template: message {i} has unknown role '{}' (expected one of: {})",
                    m.role,
                    allowed.join(", ")
                )));
            }
        }
        Ok(())
    }

    /// The Jinja source, as given (before the `{% generation %}` rewrite).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Which built-in this is, if it is one.
    pub fn builtin_kind(&self) -> Option<BuiltinTemplate> {
        self.builtin
    }

    pub fn bos_token(&self) -> &str {
        &self.bos_token
    }

    pub fn eos_token(&self) -> &str {
        &self.eos_token
    }
}

/// A minijinja error with its cause chain and the template line, on one line.
fn describe(e: &minijinja::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
