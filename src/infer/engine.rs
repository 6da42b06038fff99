//! dyag's own engine behind the [`ChatGenerator`] trait: a loaded base model,
//! an optional LoRA adapter, its tokenizer and chat template.

use super::generate::{generate, LogitsSource, TokenGeneration};
use super::session::Session;
use super::{ChatGenerator, Generation, SamplingParams};
use crate::formats::chat::ChatMessage;
use crate::model::load::{load_model, LoadedModel};
use crate::model::lora::LoraAdapter;
use crate::{Error, Result};
use std::path::Path;

pub struct Engine {
    pub base: LoadedModel,
    pub adapter: Option<LoraAdapter>,
    /// Where the adapter came from, for reports.
    pub adapter_path: Option<String>,
    /// Where sessions run when not on the CPU (the GPU, feature `cuda`).
    backend: Option<Box<dyn GenBackend>>,
}

/// Another device holding the engine's model and adapter; it opens the
/// sessions generation runs in.
pub trait GenBackend: Send + Sync {
    fn session(&self, cap: usize) -> Result<Box<dyn LogitsSource + '_>>;
    fn describe(&self) -> String;
}

impl Engine {
    pub fn new(base: LoadedModel, adapter: Option<LoraAdapter>, adapter_path: Option<String>) -> Self {
        Engine { base, adapter, adapter_path, backend: None }
    }

    /// Runs the sessions on `backend` from now on (it holds a copy of the model and adapter).
    pub fn set_backend(&mut self, backend: Box<dyn GenBackend>) {
        self.backend = Some(backend);
    }

    /// The device generation runs on.
    pub fn device(&self) -> String {
        self.backend.as_ref().map_or_else(|| format!("CPU ({} threads)", rayon::current_num_threads()), |b| b.describe())
    }

    /// The prompt's token ids for a chat: the template rendered with the
    /// generation prompt, BOS added only if the template did not write it.
    /// Control-token text inside the messages stays text.
    pub fn chat_prompt(&self, messages: &[ChatMessage]) -> Result<Vec<u32>> {
        let text = self.base.template.render(messages, true)?;
        self.check_prompt_bytes(&text)?;
        let tok = &self.base.tokenizer;
        let literal = tok.literal_spans(&self.base.template, messages, true, &text)?;
        tok.encode_prompt_literal(&text, &literal)
    }

    /// Refuses, before encoding it, a text too long for the context whatever
    /// its tokens: a 12 MB question would make millions of ids first.
    fn check_prompt_bytes(&self, text: &str) -> Result<()> {
        let max_ctx = self.base.model.config.max_position;
        let most = max_ctx.saturating_mul(self.base.tokenizer.longest_piece_bytes());
        if text.len() > most {
            return Err(Error::invalid(format!(
                "prompt of {} bytes does not fit the model's context of {max_ctx} tokens (at most {most} bytes of text)",
                text.len()
            )));
        }
        Ok(())
    }

    /// Ids that end an answer: EOS and the family's end-of-turn tokens.
    pub fn stop_tokens(&self) -> Vec<u32> {
        self.base.tokenizer.special().stop.clone()
    }

    /// Generates from token ids (no template).
    pub fn generate_tokens(
        &self,
        prompt: &[u32],
        params: &SamplingParams,
        on_text: &mut dyn FnMut(&str) -> bool,
    ) -> Result<TokenGeneration> {
        if prompt.is_empty() {
            return Err(Error::invalid("empty prompt"));
        }
        let max_ctx = self.base.model.config.max_position;
        if prompt.len() >= max_ctx {
            return Err(Error::invalid(format!("prompt of {} tokens does not fit the model's context of {max_ctx}", prompt.len())));
        }
        let cap = prompt.len().saturating_add(params.max_tokens.max(1)).min(max_ctx);
        let mut session: Box<dyn LogitsSource + '_> = match &self.backend {
            Some(b) => b.session(cap)?,
            None => Box::new(Session::new(&self.base.model, self.adapter.as_ref(), cap)?),
        };
        generate(session.as_mut(), &self.base.tokenizer, prompt, params, &self.stop_tokens(), on_text)
    }
}

impl ChatGenerator for Engine {
    fn chat(&mut self, messages: &[ChatMessage], params: &SamplingParams, on_text: &mut dyn FnMut(&str) -> bool) -> Result<Generation> {
        let prompt = self.chat_prompt(messages)?;
        Ok(self.generate_tokens(&prompt, params, on_text)?.generation)
    }

    fn complete(&mut self, prompt: &str, params: &SamplingParams, on_text: &mut dyn FnMut(&str) -> bool) -> Result<Generation> {
        self.check_prompt_bytes(prompt)?;
        let ids = self.base.tokenizer.encode_prompt(prompt)?;
        Ok(self.generate_tokens(&ids, params, on_text)?.generation)
    }

    fn describe(&self) -> String {
        match &self.adapter_path {
            Some(a) => format!("{} + LoRA {}", self.base.spec, a),
            None => self.base.spec.clone(),
        }
    }
}

/// Loads a base model (shortcut, repository id or path) and, optionally, a
/// LoRA adapter folder; `base_model` may be empty when the adapter names its base.
pub fn load_engine(base_model: Option<&str>, adapter: Option<&Path>) -> Result<Engine> {
    match adapter {
        None => {
            let spec = base_model.unwrap_or(crate::model::registry::DEFAULT_MODEL);
            Ok(Engine::new(load_model(spec)?, None, None))
        }
        Some(dir) => {
            let (base, lora) = crate::model::peft::load_adapter_with_base(dir, base_model)?;
            Ok(Engine::new(base, Some(lora), Some(dir.display().to_string())))
        }
    }
}

/// The engine as a boxed [`ChatGenerator`] (used by generate-training's
/// llm-based method and by the evaluations).
pub fn load_chat_generator(base_model: &str, adapter: Option<&Path>) -> Result<Box<dyn ChatGenerator>> {
    let base = if base_model.is_empty() { None } else { Some(base_model) };
    Ok(Box::new(load_engine(base, adapter)?))
}
