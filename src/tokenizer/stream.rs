//! Incremental decoding for streaming output.
//!
//! A character may span several tokens (`<0xE2><0x82><0xAC>` is "€"), and some
//! decoders look at neighbours (the space a SentencePiece prefix adds is removed
//! from the first token only). So each new token is decoded together with the
//! previous one and only the new, complete text is returned — the method of
//! text-generation-inference's `decode_token`. Works the same for every engine.

use super::Tokenizer;

/// After this many tokens without a complete character the pending text is
/// released anyway (as U+FFFD): no UTF-8 character needs more than 4 bytes.
const MAX_PENDING: usize = 4;

pub struct StreamDecoder<'a> {
    tokenizer: &'a Tokenizer,
    ids: Vec<u32>,
    /// Start of the context window: the token before the unreleased ones.
    prefix_offset: usize,
    /// Start of the tokens whose text has not been released yet.
    read_offset: usize,
}

impl<'a> StreamDecoder<'a> {
    pub fn new(tokenizer: &'a Tokenizer) -> StreamDecoder<'a> {
        StreamDecoder { tokenizer, ids: Vec::new(), prefix_offset: 0, read_offset: 0 }
    }

    /// Adds a generated token; returns the text it completes, if any. Special tokens
    /// produce no text.
    pub fn push(&mut self, id: u32) -> Option<String> {
        self.ids.push(id);
        let pending = self.ids.len() - self.read_offset;
        let text = self.new_text()?;
        if text.ends_with('\u{FFFD}') && pending < MAX_PENDING {
            return None;
        }
        self.advance();
        Some(text)
    }

    /// Releases whatever is still held (an incomplete character becomes U+FFFD).
    pub fn finish(&mut self) -> Option<String> {
        if self.read_offset == self.ids.len() {
            return None;
        }
        let text = self.new_text();
        self.advance();
        text
    }

    /// Forgets everything (a new generation).
    pub fn reset(&mut self) {
        self.ids.clear();
        self.prefix_offset = 0;
        self.read_offset = 0;
    }

    /// The text the unreleased tokens add after the context token, if any.
    fn new_text(&self) -> Option<String> {
        let tok = self.tokenizer;
        let before = tok.decode(&self.ids[self.prefix_offset..self.read_offset], true);
        let after = tok.decode(&self.ids[self.prefix_offset..], true);
        if after.len() <= before.len() {
            return None;
        }
        match after.strip_prefix(before.as_str()) {
            Some(new) => Some(new.to_string()),
            // Not seen with any decoder, but never repeat or drop text if it happens.
            None => Some(tok.decode(&self.ids[self.read_offset..], true)),
        }
    }

    fn advance(&mut self) {
        self.prefix_offset = self.read_offset;
        self.read_offset = self.ids.len();
        // Keep only the context token(s): memory stays constant over long generations.
        if self.prefix_offset > 0 {
            self.ids.drain(..self.prefix_offset);
            self.read_offset -= self.prefix_offset;
            self.prefix_offset = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::tokenizer::{GgufVocab, Tokenizer};

    /// A SentencePiece vocabulary with every byte token, "▁", "a", "▁a" and a control token.
    fn toy(architecture: &str) -> Tokenizer {
        let mut tokens = vec!["<unk>".to_string(), "<s>".into(), "</s>".into()];
        let mut types = vec![2, 3, 3];
        for b in 0..=255u8 {
            tokens.push(format!("<0x{b:02X}>"));
            types.push(6);
        }
        for piece in ["▁", "a", "▁a"] {
            tokens.push(piece.into());
            types.push(1);
        }
        let scores = (0..tokens.len()).map(|i| -(i as f32)).collect();
        Tokenizer::from_gguf_vocab(GgufVocab {
            model: "llama".into(),
            tokens,
            scores: Some(scores),
            token_types: Some(types),
            bos: Some(1),
            eos: Some(2),
            unk: Some(0),
            architecture: architecture.into(),
            ..Default::default()
        })
        .unwrap()
    }

    const BYTE0: u32 = 3;
    const SPACE_A: u32 = 3 + 256 + 2;

    #[test]
    fn multi_byte_character_is_held_until_complete() {
        let tok = toy("llama");
        let euro: Vec<u32> = "€".bytes().map(|b| BYTE0 + b as u32).collect();
        assert_eq!(tok.encode("€", false).unwrap()[1..], euro[..]); // after the "▁" prefix
        let mut s = tok.stream_decoder();
        assert_eq!(s.push(euro[0]), None);
        assert_eq!(s.push(euro[1]), None);
        assert_eq!(s.push(euro[2]).as_deref(), Some("€"));
        assert_eq!(s.finish(), None);
    }

    #[test]
    fn prefix_space_is_removed_once_and_specials_are_silent() {
        let tok = toy("llama");
        let mut s = tok.stream_decoder();
        assert_eq!(s.push(1), None); // <s>
        assert_eq!(s.push(SPACE_A).as_deref(), Some("a"));
        assert_eq!(s.push(SPACE_A).as_deref(), Some(" a"));
        assert_eq!(s.push(2), None); // </s>
        assert_eq!(s.push(SPACE_A).as_deref(), Some(" a"));
        assert_eq!(tok.decode(&[1, SPACE_A, SPACE_A, 2, SPACE_A], true), "a a a");
    }

    #[test]
    fn invalid_bytes_are_released_after_four_tokens_or_at_finish() {
        let tok = toy("gemma3");
        let mut s = tok.stream_decoder();
        for _ in 0..3 {
            assert_eq!(s.push(BYTE0 + 0xFF), None);
        }
        assert_eq!(s.push(BYTE0 + 0xFF).as_deref(), Some("\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}"));
        assert_eq!(s.push(BYTE0 + 0xE2), None);
        assert_eq!(s.finish().as_deref(), Some("\u{FFFD}"));
        s.reset();
        assert_eq!(s.push(SPACE_A).as_deref(), Some(" a")); // Gemma: no prefix to remove
    }
}
