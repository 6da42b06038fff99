//! Text → tokens → text for every model family dyag supports, and chat templates.
//!
//! Two engines sit behind one [`Tokenizer`]:
//! - SentencePiece BPE with scores and byte fallback ([`spm`]), for GGUF files whose
//!   `tokenizer.ggml.model` is "llama" (Llama 2, TinyLlama, Gemma);
//! - the `tokenizers` crate ([`hf`]), for HF folders (`tokenizer.json`) and for GGUF
//!   "gpt2" byte-level BPE vocabularies (Llama 3, Qwen 2...), rebuilt from the GGUF's
//!   tokens and merges ([`gguf_bpe`]).
//!
//! `encode` never adds BOS/EOS; `encode_prompt` adds BOS when the model wants one
//! and the text does not already start with it.

pub mod chat_template;
mod gguf_bpe;
mod gguf_vocab;
mod hf;
mod hf_dir;
mod py_json;
mod special_split;
mod spm;
mod stream;
mod strftime;
mod template_fns;

pub use chat_template::{BuiltinTemplate, ChatTemplate};
pub use stream::StreamDecoder;

use crate::{Error, Result};
use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

/// Ids with a special meaning for generation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpecialTokens {
    pub bos: Option<u32>,
    pub eos: Option<u32>,
    pub pad: Option<u32>,
    pub unk: Option<u32>,
    /// Every id that ends generation: eos plus the end-of-turn tokens of the vocabulary
    /// (`<end_of_turn>`, `<|im_end|>`, `<|eot_id|>`, `<|end|>`, `<|endoftext|>`...).
    pub stop: Vec<u32>,
    /// Whether prompts start with BOS (`encode_prompt` adds it).
    pub add_bos: bool,
}

/// What a GGUF file carries about its tokenizer (`tokenizer.ggml.*` keys).
#[derive(Clone, Debug, Default)]
pub struct GgufVocab {
    /// `tokenizer.ggml.model`: "llama" (SentencePiece) or "gpt2" (byte-level BPE).
    pub model: String,
    /// `tokenizer.ggml.pre`: the pre-tokenizer of a "gpt2" vocabulary.
    pub pre: Option<String>,
    pub tokens: Vec<String>,
    pub scores: Option<Vec<f32>>,
    /// 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte.
    pub token_types: Option<Vec<i32>>,
    pub merges: Option<Vec<String>>,
    pub bos: Option<u32>,
    pub eos: Option<u32>,
    pub unk: Option<u32>,
    pub pad: Option<u32>,
    /// `tokenizer.ggml.eot_token_id`: end of turn, when the file names one.
    pub eot: Option<u32>,
    pub add_bos: Option<bool>,
    pub add_space_prefix: Option<bool>,
    pub chat_template: Option<String>,
    /// `general.architecture` (gemma3, llama, qwen2, phi3...).
    pub architecture: String,
}

/// What a token is, in GGUF's terms (`llama_token_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    Normal,
    Unknown,
    /// `<bos>`, `<eos>`, `<start_of_turn>`...: only parsed from text on request.
    Control,
    /// Always matched as a whole in text (Gemma's whitespace runs, `<table>`...).
    UserDefined,
    Unused,
    /// `<0xXX>`: one raw byte.
    Byte,
}

impl TokenKind {
    /// GGUF `tokenizer.ggml.token_type` value → kind (0, "undefined", counts as normal).
    pub fn from_gguf(value: i32) -> Option<TokenKind> {
        Some(match value {
            0 | 1 => TokenKind::Normal,
            2 => TokenKind::Unknown,
            3 => TokenKind::Control,
            4 => TokenKind::UserDefined,
            5 => TokenKind::Unused,
            6 => TokenKind::Byte,
            _ => return None,
        })
    }

    /// Whether BPE may produce this piece from plain text (SentencePiece's rule).
    fn is_mergeable(self) -> bool {
        matches!(self, TokenKind::Normal | TokenKind::UserDefined | TokenKind::Unused)
    }

    /// Whether the piece is matched as a whole in text before BPE.
    fn is_special_like(self) -> bool {
        matches!(self, TokenKind::Control | TokenKind::Unknown | TokenKind::UserDefined)
    }
}

/// Pieces by id and the reverse index, built once per tokenizer.
pub(crate) struct Vocab {
    pub(crate) pieces: Vec<String>,
    pub(crate) kinds: Vec<TokenKind>,
    index: HashMap<String, u32, ahash::RandomState>,
}

impl Vocab {
    pub(crate) fn new(pieces: Vec<String>, kinds: Vec<TokenKind>) -> Vocab {
        debug_assert_eq!(pieces.len(), kinds.len());
        let mut index: HashMap<String, u32, ahash::RandomState> =
            HashMap::with_capacity_and_hasher(pieces.len(), ahash::RandomState::new());
        for (id, piece) in pieces.iter().enumerate() {
            if piece.is_empty() {
                continue;
            }
            match index.get_mut(piece.as_str()) {
                // A text listed twice keeps its first id, unless only the later one
                // can come out of BPE (then BPE must be able to find it).
                Some(existing) => {
                    if !kinds[*existing as usize].is_mergeable() && kinds[id].is_mergeable() {
                        *existing = id as u32;
                    }
                }
                None => {
                    index.insert(piece.clone(), id as u32);
                }
            }
        }
        Vocab { pieces, kinds, index }
    }

    pub(crate) fn id(&self, piece: &str) -> Option<u32> {
        self.index.get(piece).copied()
    }

    /// The id of `text` if BPE may produce it.
    #[inline]
    pub(crate) fn mergeable_id(&self, text: &str) -> Option<u32> {
        let id = *self.index.get(text)?;
        self.kinds[id as usize].is_mergeable().then_some(id)
    }

    pub(crate) fn kind(&self, id: u32) -> Option<TokenKind> {
        self.kinds.get(id as usize).copied()
    }

    /// Whether `id` is a control token (the only kind that may end a turn).
    fn is_control(&self, id: u32) -> bool {
        self.kind(id) == Some(TokenKind::Control)
    }
}

/// The engine that turns text into ids.
enum Backend {
    Spm(Box<spm::SpmModel>),
    Hf(Box<hf::HfBackend>),
}

/// A model's tokenizer: vocabulary, special tokens and chat template.
pub struct Tokenizer {
    vocab: Vocab,
    backend: Backend,
    special: SpecialTokens,
    chat_template: Option<ChatTemplate>,
    /// Why the model's own template could not be compiled, if it could not.
    chat_template_error: Option<String>,
    /// Finds control-token text (`<eos>`, `<|im_end|>`) in message contents;
    /// built on first use.
    control_text: std::sync::OnceLock<Option<aho_corasick::AhoCorasick>>,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let engine = match self.backend {
            Backend::Spm(_) => "sentencepiece-bpe",
            Backend::Hf(_) => "tokenizers",
        };
        f.debug_struct("Tokenizer")
            .field("engine", &engine)
            .field("vocab_size", &self.vocab_size())
            .field("special", &self.special)
            .field("has_chat_template", &self.chat_template.is_some())
            .finish()
    }
}

/// End-of-turn tokens that stop generation when the vocabulary has them as control tokens.
/// (Gemma's `</s>` is a user-defined HTML tag, not an end of sequence: kinds matter.)
const END_OF_TURN_PIECES: &[&str] =
    &["<end_of_turn>", "<|im_end|>", "<|eot_id|>", "<|eom_id|>", "<|end|>", "<|endoftext|>", "<|end_of_text|>"];

impl Tokenizer {
    /// Builds the tokenizer a GGUF file describes.
    pub fn from_gguf_vocab(v: GgufVocab) -> Result<Tokenizer> {
        gguf_vocab::build(v)
    }

    /// Loads an HF model folder: `tokenizer.json`, plus `tokenizer_config.json`,
    /// `special_tokens_map.json`, `generation_config.json`, `config.json` and
    /// `chat_template.jinja` when present.
    pub fn from_hf_dir(dir: &Path) -> Result<Tokenizer> {
        hf_dir::load(dir)
    }

    /// Text → ids. Never adds BOS/EOS. With `parse_special`, control tokens written in
    /// the text (`<start_of_turn>`, `<|im_end|>`) become their ids; without, they are
    /// encoded as plain text.
    pub fn encode(&self, text: &str, parse_special: bool) -> Result<Vec<u32>> {
        match &self.backend {
            Backend::Spm(m) => m.encode(&self.vocab, text, parse_special),
            Backend::Hf(h) => h.encode(text, parse_special),
        }
    }

    /// Encodes a prompt (special tokens parsed) and prepends BOS when the model wants
    /// one and the text does not already start with it: a chat template that writes
    /// `<bos>` never gets a second one.
    pub fn encode_prompt(&self, text: &str) -> Result<Vec<u32>> {
        self.encode_prompt_literal(text, &[])
    }

    /// Encodes `text` with control tokens parsed, except those written inside
    /// the byte ranges `literal` (message contents, [`literal_spans`]): a
    /// question that writes `<end_of_turn><start_of_turn>model` stays text
    /// and cannot open a turn of its own.
    pub fn encode_literal(&self, text: &str, literal: &[Range<usize>]) -> Result<Vec<u32>> {
        if literal.is_empty() {
            return self.encode(text, true);
        }
        match &self.backend {
            Backend::Spm(m) => m.encode_literal(&self.vocab, text, true, literal),
            // The tokenizers crate cannot mask ranges: encode the pieces apart.
            Backend::Hf(h) => {
                let mut ids = Vec::new();
                let mut at = 0;
                for r in literal {
                    ids.extend(h.encode(&text[at..r.start], true)?);
                    ids.extend(h.encode(&text[r.clone()], false)?);
                    at = r.end;
                }
                ids.extend(h.encode(&text[at..], true)?);
                Ok(ids)
            }
        }
    }

    /// [`encode_prompt`](Self::encode_prompt) with [`encode_literal`](Self::encode_literal)'s ranges.
    pub fn encode_prompt_literal(&self, text: &str, literal: &[Range<usize>]) -> Result<Vec<u32>> {
        let mut ids = self.encode_literal(text, literal)?;
        if let (true, Some(bos)) = (self.special.add_bos, self.special.bos) {
            if ids.first() != Some(&bos) {
                ids.insert(0, bos);
            }
        }
        Ok(ids)
    }

    /// Bytes of the longest vocabulary entry: no token covers more text, so
    /// a text of n bytes makes at least n / this many tokens.
    pub fn longest_piece_bytes(&self) -> usize {
        self.vocab.pieces.iter().map(String::len).max().unwrap_or(1).max(1)
    }

    /// The first control-token text (`<eos>`, `<|im_end|>`...) written in `s`.
    pub fn control_text_in<'s>(&self, s: &'s str) -> Option<&'s str> {
        let automaton = self.control_text.get_or_init(|| {
            let pieces: Vec<&str> = (0..self.vocab.pieces.len() as u32)
                .filter(|&id| self.is_special(id))
                .filter_map(|id| self.vocab.pieces.get(id as usize).map(String::as_str))
                .filter(|p| !p.is_empty())
                .collect();
            aho_corasick::AhoCorasick::new(pieces).ok()
        });
        automaton.as_ref()?.find(s).map(|m| &s[m.range()])
    }

    /// Where `rendered` (`template`'s rendering of `messages`) holds message
    /// contents that write control-token text, as byte ranges for
    /// [`encode_literal`](Self::encode_literal); empty when no content does
    /// (then nothing changes).
    pub fn literal_spans(
        &self,
        template: &ChatTemplate,
        messages: &[crate::formats::chat::ChatMessage],
        add_generation_prompt: bool,
        rendered: &str,
    ) -> Result<Vec<Range<usize>>> {
        if messages.iter().all(|m| self.control_text_in(&m.content).is_none()) {
            return Ok(Vec::new());
        }
        template.content_spans(messages, add_generation_prompt, rendered)
    }

    /// Ids → text. Invalid UTF-8 (an incomplete byte sequence) becomes U+FFFD; ids
    /// outside the vocabulary are skipped.
    pub fn decode(&self, ids: &[u32], skip_special: bool) -> String {
        match &self.backend {
            Backend::Spm(m) => m.decode(&self.vocab, ids, skip_special),
            Backend::Hf(h) => h.decode(&self.vocab, ids, skip_special),
        }
    }

    /// The vocabulary entry of `id`, as stored (`▁capital`, `Ġthe`, `<0xE2>`).
    pub fn token_to_piece(&self, id: u32) -> Option<&str> {
        // Empty entries are holes in an HF vocabulary's id range, not tokens.
        self.vocab.pieces.get(id as usize).map(String::as_str).filter(|p| !p.is_empty())
    }

    /// The id of a vocabulary entry, as stored.
    pub fn token_id(&self, piece: &str) -> Option<u32> {
        self.vocab.id(piece)
    }

    pub fn token_kind(&self, id: u32) -> Option<TokenKind> {
        self.vocab.kind(id)
    }

    /// Whether `id` is a control/unknown token (skipped by `decode(.., true)`).
    pub fn is_special(&self, id: u32) -> bool {
        matches!(self.vocab.kind(id), Some(TokenKind::Control | TokenKind::Unknown))
    }

    pub fn vocab_size(&self) -> usize {
        self.vocab.pieces.len()
    }

    pub fn special(&self) -> &SpecialTokens {
        &self.special
    }

    /// The model's own chat template, if it carries one that compiles.
    pub fn chat_template(&self) -> Option<&ChatTemplate> {
        self.chat_template.as_ref()
    }

    /// Why the model's own chat template was rejected, if it was.
    pub fn chat_template_error(&self) -> Option<&str> {
        self.chat_template_error.as_deref()
    }

    /// The model's template, or the built-in one for its family when it has none.
    /// `model_name` (may be empty) helps tell Llama-2-style from TinyLlama/Zephyr models.
    pub fn chat_template_or_builtin(&self, architecture: &str, model_name: &str) -> Result<ChatTemplate> {
        if let Some(t) = &self.chat_template {
            return Ok(t.clone());
        }
        if let Some(e) = &self.chat_template_error {
            return Err(Error::config("chat_template", e.clone()));
        }
        let kind = ChatTemplate::builtin_for_architecture(architecture, model_name, &|p| {
            self.token_id(p).is_some_and(|id| self.vocab.is_control(id))
        });
        Ok(ChatTemplate::builtin(kind, self.special_piece(self.special.bos), self.special_piece(self.special.eos)))
    }

    /// An incremental decoder for streaming output.
    pub fn stream_decoder(&self) -> StreamDecoder<'_> {
        StreamDecoder::new(self)
    }

    fn special_piece(&self, id: Option<u32>) -> &str {
        id.and_then(|id| self.token_to_piece(id)).unwrap_or("")
    }

    /// Assembles a tokenizer, checking the special ids and filling `stop`.
    fn assemble(
        vocab: Vocab,
        backend: Backend,
        mut special: SpecialTokens,
        extra_stops: &[u32],
        template: Option<(String, String, String, &str)>,
    ) -> Result<Tokenizer> {
        let n = vocab.pieces.len();
        for (name, id) in [("bos", special.bos), ("eos", special.eos), ("pad", special.pad), ("unk", special.unk)] {
            if let Some(id) = id {
                if id as usize >= n {
                    return Err(Error::config(format!("{name} token id"), format!("{id} is outside the vocabulary ({n} tokens)")));
                }
            }
        }
        if special.add_bos && special.bos.is_none() {
            special.add_bos = false;
        }
        let mut stop: Vec<u32> = Vec::new();
        let candidates = special
            .eos
            .into_iter()
            .chain(extra_stops.iter().copied().filter(|&id| (id as usize) < n))
            .chain(END_OF_TURN_PIECES.iter().filter_map(|p| vocab.id(p).filter(|&id| vocab.is_control(id))));
        for id in candidates {
            if !stop.contains(&id) {
                stop.push(id);
            }
        }
        special.stop = stop;

        let (chat_template, chat_template_error) = match template {
            None => (None, None),
            Some((source, _, _, origin)) if source.trim().is_empty() => (None, Some(format!("{origin}: the chat template is empty"))),
            Some((source, bos, eos, origin)) => match ChatTemplate::from_jinja(&source, &bos, &eos) {
                Ok(t) => (Some(t), None),
                Err(e) => (None, Some(format!("{origin}: {e}"))),
            },
        };
        Ok(Tokenizer { vocab, backend, special, chat_template, chat_template_error, control_text: std::sync::OnceLock::new() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizer_and_template_can_be_shared_between_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<Tokenizer>();
        shared::<ChatTemplate>();
        shared::<StreamDecoder<'static>>();
    }

    #[test]
    fn gguf_token_types() {
        assert_eq!(TokenKind::from_gguf(0), Some(TokenKind::Normal));
        assert_eq!(TokenKind::from_gguf(3), Some(TokenKind::Control));
        assert_eq!(TokenKind::from_gguf(6), Some(TokenKind::Byte));
        assert_eq!(TokenKind::from_gguf(7), None);
    }
}
