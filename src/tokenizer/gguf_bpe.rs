//! Rebuilds a byte-level BPE tokenizer (GPT-2 family: Llama 3, Qwen 2, Phi...) from
//! a GGUF "gpt2" vocabulary, on top of the `tokenizers` crate.
//!
//! The GGUF keeps the tokens (already in GPT-2's byte-to-unicode alphabet, `Ġthe`),
//! the merges ("Ġ t") and the name of the pre-tokenizer (`tokenizer.ggml.pre`); the
//! split regex for each name is the one llama.cpp uses (`llama-vocab.cpp`), which
//! is also the `Split` pattern of the model's own `tokenizer.json`.

use super::TokenKind;
use crate::{Error, Result};
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{Vocab as BpeVocab, BPE};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{AddedToken, PreTokenizerWrapper, SplitDelimiterBehavior};

/// Llama 3's split: contractions, letters with one leading non-letter, 1–3 digits,
/// punctuation runs, newlines, spaces.
const LLAMA3_REGEX: &str =
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// Qwen 2's split: as Llama 3's, but every digit on its own.
const QWEN2_REGEX: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// The pre-tokenizer names this module knows (for error messages).
const KNOWN_PRE: &str = "default, gpt2, gpt-2, llama-bpe, llama3, llama-v3, smaug-bpe, qwen2";

pub(super) fn is_llama3_pre(pre: &str) -> bool {
    matches!(pre, "llama-bpe" | "llama3" | "llama-v3" | "smaug-bpe")
}

pub(super) fn build(tokens: &[String], kinds: &[TokenKind], merges: &[String], pre: &str) -> Result<tokenizers::Tokenizer> {
    let pre_tokenizer = pre_tokenizer_for(pre)?;

    let vocab: BpeVocab = tokens.iter().enumerate().map(|(id, t)| (t.clone(), id as u32)).rev().collect();
    let mut pairs = Vec::with_capacity(merges.len());
    for (i, merge) in merges.iter().enumerate() {
        let (a, b) = merge.split_once(' ').ok_or_else(|| {
            Error::config("tokenizer.ggml.merges", format!("entry {i} ({merge:?}) is not two tokens separated by a space"))
        })?;
        pairs.push((a.to_string(), b.to_string()));
    }
    let model = BPE::builder()
        .vocab_and_merges(vocab, pairs)
        // Llama 3's tokenizer.json sets ignore_merges: a pre-token that is itself in
        // the vocabulary is taken whole (llama.cpp does the same for this pre-type).
        .ignore_merges(is_llama3_pre(pre))
        .build()
        .map_err(|e| Error::config("tokenizer.ggml.merges", format!("cannot build the BPE model: {e}")))?;

    let mut tk = tokenizers::Tokenizer::new(model);
    tk.with_pre_tokenizer(Some(pre_tokenizer));
    tk.with_decoder(Some(ByteLevelDecoder::default()));

    // Control tokens are special added tokens (parsed only on request, skipped when
    // decoding with skip_special); user-defined ones are always parsed. Their text is
    // raw (not byte-level encoded), as convert_hf_to_gguf stores added tokens.
    let added: Vec<AddedToken> = tokens
        .iter()
        .zip(kinds)
        .filter(|(t, k)| !t.is_empty() && matches!(k, TokenKind::Control | TokenKind::UserDefined | TokenKind::Unknown))
        .map(|(t, k)| AddedToken::from(t.clone(), *k != TokenKind::UserDefined).normalized(false))
        .collect();
    let (special, plain): (Vec<AddedToken>, Vec<AddedToken>) = added.into_iter().partition(|t| t.special);
    tk.add_special_tokens(&special);
    tk.add_tokens(&plain);
    Ok(tk)
}

fn pre_tokenizer_for(pre: &str) -> Result<PreTokenizerWrapper> {
    let split_then_bytes = |regex: &str| -> Result<PreTokenizerWrapper> {
        let split = Split::new(SplitPattern::Regex(regex.to_string()), SplitDelimiterBehavior::Isolated, false)
            .map_err(|e| Error::msg(format!("pre-tokenizer regex for '{pre}' does not compile: {e}")))?;
        Ok(PreTokenizerWrapper::Sequence(Sequence::new(vec![
            PreTokenizerWrapper::Split(split),
            PreTokenizerWrapper::ByteLevel(ByteLevel::new(false, false, false)),
        ])))
    };
    match pre {
        // GPT-2's regex is built into the ByteLevel pre-tokenizer.
        "default" | "gpt2" | "gpt-2" => Ok(PreTokenizerWrapper::ByteLevel(ByteLevel::new(false, false, true))),
        p if is_llama3_pre(p) => split_then_bytes(LLAMA3_REGEX),
        "qwen2" => split_then_bytes(QWEN2_REGEX),
        other => Err(Error::config("tokenizer.ggml.pre", format!("pre-tokenizer '{other}' is not supported (supported: {KNOWN_PRE})"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_pre_tokenizer_is_a_clear_error() {
        let e = pre_tokenizer_for("falcon").unwrap_err().to_string();
        assert!(e.contains("tokenizer.ggml.pre") && e.contains("falcon") && e.contains("qwen2"), "{e}");
    }

    #[test]
    fn every_known_regex_compiles() {
        for pre in ["default", "gpt2", "llama-bpe", "llama3", "qwen2"] {
            pre_tokenizer_for(pre).unwrap();
        }
    }

    #[test]
    fn bad_merge_line_names_the_entry() {
        let tokens = vec!["a".to_string(), "b".to_string(), "ab".to_string()];
        let kinds = vec![TokenKind::Normal; 3];
        let e = build(&tokens, &kinds, &["ab".to_string()], "gpt2").unwrap_err().to_string();
        assert!(e.contains("entry 0"), "{e}");
    }
}
