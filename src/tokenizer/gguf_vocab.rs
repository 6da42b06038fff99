//! Checks a [`GgufVocab`] and builds the matching engine.

use super::{gguf_bpe, hf, spm, Backend, GgufVocab, SpecialTokens, TokenKind, Tokenizer, Vocab};
use crate::{Error, Result};

pub(super) fn build(mut v: GgufVocab) -> Result<Tokenizer> {
    let n = v.tokens.len();
    if n == 0 {
        return Err(Error::config("tokenizer.ggml.tokens", "is empty"));
    }
    let kinds = token_kinds(&v)?;
    let piece = |id: Option<u32>| id.and_then(|id| v.tokens.get(id as usize)).cloned().unwrap_or_default();
    let template = v.chat_template.take().map(|src| (src, piece(v.bos), piece(v.eos), "tokenizer.chat_template"));
    let tokens = std::mem::take(&mut v.tokens);
    let is_gemma = v.architecture.starts_with("gemma");

    let (backend, vocab, default_add_bos) = match v.model.as_str() {
        "llama" => {
            let scores = match &v.scores {
                Some(s) if s.len() == n => s.clone(),
                Some(s) => return Err(length_mismatch("tokenizer.ggml.scores", s.len(), n)),
                None => {
                    return Err(Error::config(
                        "tokenizer.ggml.scores",
                        "is missing: a SentencePiece ('llama') vocabulary needs the piece scores",
                    ))
                }
            };
            // Gemma never gets a space prefix. Its SentencePiece model has
            // add_dummy_prefix=false and HF's Gemma tokenizer adds none ("The capital"
            // → [818 'The', 5279 '▁capital']; the reference ids agree). convert_hf_to_gguf
            // writes add_space_prefix=false for Gemma — gemma-3-270m's GGUF says false —
            // but a file that says otherwise or nothing must still tokenize like the
            // model was trained, so the flag is not trusted for this family. Other
            // SentencePiece models follow the flag, defaulting to llama.cpp's true.
            let add_space_prefix = !is_gemma && v.add_space_prefix.unwrap_or(true);
            let vocab = Vocab::new(tokens, kinds);
            let model = spm::SpmModel::new(&vocab, scores, v.unk, add_space_prefix)?;
            (Backend::Spm(Box::new(model)), vocab, true)
        }
        "gpt2" => {
            let merges = v.merges.as_deref().ok_or_else(|| {
                Error::config("tokenizer.ggml.merges", "is missing: a byte-level BPE ('gpt2') vocabulary needs its merges")
            })?;
            let pre = v.pre.as_deref().unwrap_or("default");
            let built = gguf_bpe::build(&tokens, &kinds, merges, pre)?;
            let vocab = Vocab::new(tokens, kinds);
            // llama.cpp adds BOS by default only for the Llama 3 pre-tokenizer.
            let default_add_bos = gguf_bpe::is_llama3_pre(pre);
            (Backend::Hf(Box::new(hf::HfBackend::new(built))), vocab, default_add_bos)
        }
        other => {
            return Err(Error::config(
                "tokenizer.ggml.model",
                format!("'{other}' is not supported (supported: 'llama' SentencePiece, 'gpt2' byte-level BPE)"),
            ))
        }
    };

    let special =
        SpecialTokens { bos: v.bos, eos: v.eos, pad: v.pad, unk: v.unk, stop: Vec::new(), add_bos: v.add_bos.unwrap_or(default_add_bos) };
    let extra: Vec<u32> = v.eot.into_iter().collect();
    Tokenizer::assemble(vocab, backend, special, &extra, template)
}

fn token_kinds(v: &GgufVocab) -> Result<Vec<TokenKind>> {
    let n = v.tokens.len();
    match &v.token_types {
        None => Ok(vec![TokenKind::Normal; n]),
        Some(types) if types.len() != n => Err(length_mismatch("tokenizer.ggml.token_type", types.len(), n)),
        Some(types) => types
            .iter()
            .enumerate()
            .map(|(id, &t)| {
                TokenKind::from_gguf(t)
                    .ok_or_else(|| Error::config("tokenizer.ggml.token_type", format!("token {id} has unknown type {t} (expected 0..=6)")))
            })
            .collect(),
    }
}

fn length_mismatch(field: &str, got: usize, tokens: usize) -> Error {
    Error::config(field, format!("has {got} entries but tokenizer.ggml.tokens has {tokens}"))
}
