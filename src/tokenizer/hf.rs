//! The `tokenizers`-crate engine: HF `tokenizer.json` files and GGUF "gpt2" vocabularies.

use super::{TokenKind, Vocab};
use crate::{Error, Result};
use std::sync::OnceLock;

pub(crate) struct HfBackend {
    /// Parses special tokens written in the text.
    tk: tokenizers::Tokenizer,
    /// A copy that treats special tokens as plain text (`encode_special_tokens`).
    /// The flag lives in the tokenizer, not in the call, so the copy is made the
    /// first time `parse_special = false` is asked for, and kept.
    tk_plain: OnceLock<tokenizers::Tokenizer>,
}

impl HfBackend {
    pub(crate) fn new(mut tk: tokenizers::Tokenizer) -> HfBackend {
        // Truncation/padding in a tokenizer.json are for batch training; ids must be exact here.
        tk.with_truncation(None).ok();
        tk.with_padding(None);
        tk.set_encode_special_tokens(false);
        HfBackend { tk, tk_plain: OnceLock::new() }
    }

    pub(crate) fn encode(&self, text: &str, parse_special: bool) -> Result<Vec<u32>> {
        let tk = if parse_special {
            &self.tk
        } else {
            self.tk_plain.get_or_init(|| {
                let mut plain = self.tk.clone();
                plain.set_encode_special_tokens(true);
                plain
            })
        };
        let encoding = tk.encode_fast(text, false).map_err(|e| Error::msg(format!("tokenizer: {e}")))?;
        Ok(encoding.get_ids().to_vec())
    }

    pub(crate) fn decode(&self, vocab: &Vocab, ids: &[u32], skip_special: bool) -> String {
        // The crate silently drops unknown ids; do the same for unknown ones only, so a
        // decoder failure (never seen in practice) still shows the raw pieces.
        match self.tk.decode(ids, skip_special) {
            Ok(text) => text,
            Err(_) => ids
                .iter()
                .filter(|&&id| !(skip_special && matches!(vocab.kind(id), Some(TokenKind::Control | TokenKind::Unknown))))
                .filter_map(|&id| vocab.pieces.get(id as usize).map(String::as_str))
                .collect(),
        }
    }
}

/// Pieces and kinds by id, from a loaded `tokenizers` tokenizer: added special tokens
/// are control tokens, other added tokens user-defined, the model's unk token unknown.
pub(crate) fn vocab_of(tk: &tokenizers::Tokenizer, unk_piece: Option<&str>) -> Vocab {
    let map = tk.get_vocab(true);
    let size = map.values().map(|&id| id as usize + 1).max().unwrap_or(0);
    let mut pieces = vec![String::new(); size];
    for (piece, id) in map {
        pieces[id as usize] = piece;
    }
    let mut kinds = vec![TokenKind::Normal; size];
    for (id, token) in tk.get_added_tokens_decoder() {
        if let Some(kind) = kinds.get_mut(id as usize) {
            *kind = if token.special { TokenKind::Control } else { TokenKind::UserDefined };
        }
    }
    if let Some(unk) = unk_piece.and_then(|p| tk.token_to_id(p)) {
        kinds[unk as usize] = TokenKind::Unknown;
    }
    Vocab::new(pieces, kinds)
}
