//! SentencePiece BPE, the tokenizer of GGUF files whose `tokenizer.ggml.model` is
//! "llama" (Llama 2, TinyLlama, Gemma...).
//!
//! The algorithm is SentencePiece's `bpe_model.cc`, as ported by llama.cpp
//! (`llm_tokenizer_spm`): spaces become '▁', the text is cut into UTF-8 characters,
//! and the adjacent pair whose concatenation is the highest-scoring piece of the
//! vocabulary is merged, again and again (ties: leftmost pair first). A character
//! that is not a piece is written as its UTF-8 bytes with the `<0xXX>` byte tokens.
//!
//! As in SentencePiece, only normal, user-defined and unused pieces may be the result
//! of a merge: control tokens (`<bos>`, `<start_of_turn>`) and byte tokens never come
//! out of plain text, only out of the special-token split done before.

use super::special_split::{Fragment, SpecialSplitter};
use super::{TokenKind, Vocab};
use crate::{Error, Result};
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// SentencePiece's whitespace marker.
pub(crate) const SPACE_MARK: char = '\u{2581}';

pub(crate) struct SpmModel {
    scores: Vec<f32>,
    /// The token of each byte value, from the `<0xXX>` pieces.
    byte_tokens: [Option<u32>; 256],
    /// The byte each byte token stands for, by id (`None` for other tokens).
    byte_values: Vec<Option<u8>>,
    unk: Option<u32>,
    /// Whether a '▁' is put before the text (and before text that follows a special
    /// token), as SentencePiece's `add_dummy_prefix` does. Decoding removes it again.
    add_space_prefix: bool,
    splitter: SpecialSplitter,
}

/// A run of the escaped text; a linked list so merges are O(1).
#[derive(Clone, Copy)]
struct Symbol {
    start: u32,
    len: u32,
    prev: i32,
    next: i32,
}

/// A candidate merge of `left` with the symbol after it.
struct Bigram {
    score: f32,
    left: u32,
    right: u32,
    /// Byte length of the merged text, to detect stale entries after other merges.
    len: u32,
}

impl PartialEq for Bigram {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Bigram {}
impl PartialOrd for Bigram {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Bigram {
    /// Max-heap order: higher score first, then the leftmost pair.
    fn cmp(&self, other: &Self) -> Ordering {
        self.score.total_cmp(&other.score).then_with(|| other.left.cmp(&self.left))
    }
}

impl SpmModel {
    pub(crate) fn new(vocab: &Vocab, scores: Vec<f32>, unk: Option<u32>, add_space_prefix: bool) -> Result<SpmModel> {
        let mut byte_tokens = [None; 256];
        let mut byte_values = vec![None; vocab.pieces.len()];
        for (id, piece) in vocab.pieces.iter().enumerate() {
            if let Some(b) = parse_byte_piece(piece) {
                // llama.cpp finds byte tokens by their text, whatever their declared type.
                if byte_tokens[b as usize].is_none() {
                    byte_tokens[b as usize] = Some(id as u32);
                }
                byte_values[id] = Some(b);
            }
        }
        let splitter = SpecialSplitter::new(&vocab.pieces, &vocab.kinds)?;
        Ok(SpmModel { scores, byte_tokens, byte_values, unk, add_space_prefix, splitter })
    }

    pub(crate) fn encode(&self, vocab: &Vocab, text: &str, parse_special: bool) -> Result<Vec<u32>> {
        self.encode_literal(vocab, text, parse_special, &[])
    }

    /// [`encode`](Self::encode) with control-token text inside `literal` kept as text.
    pub(crate) fn encode_literal(
        &self,
        vocab: &Vocab,
        text: &str,
        parse_special: bool,
        literal: &[std::ops::Range<usize>],
    ) -> Result<Vec<u32>> {
        let mut out = Vec::with_capacity(text.len() / 3 + 1);
        // The first text run counts as following a special token: it gets the prefix.
        let mut after_special = true;
        for fragment in self.splitter.split_literal(text, parse_special, literal) {
            match fragment {
                Fragment::Token(id) => {
                    out.push(id);
                    after_special = true;
                }
                Fragment::Text(run) => {
                    self.encode_run(vocab, run, self.add_space_prefix && after_special, &mut out)?;
                    after_special = false;
                }
            }
        }
        Ok(out)
    }

    /// Encodes one run of plain text (no special token inside).
    fn encode_run(&self, vocab: &Vocab, run: &str, prefix: bool, out: &mut Vec<u32>) -> Result<()> {
        let mut escaped = String::with_capacity(run.len() + run.len() / 2 + 3);
        if prefix {
            escaped.push(SPACE_MARK);
        }
        for ch in run.chars() {
            escaped.push(if ch == ' ' { SPACE_MARK } else { ch });
        }

        let mut symbols: Vec<Symbol> = Vec::with_capacity(escaped.len());
        for (start, ch) in escaped.char_indices() {
            let index = symbols.len() as i32;
            symbols.push(Symbol { start: start as u32, len: ch.len_utf8() as u32, prev: index - 1, next: index + 1 });
        }
        let Some(last) = symbols.last_mut() else { return Ok(()) };
        last.next = -1;

        let mut queue = BinaryHeap::with_capacity(symbols.len());
        for left in 1..symbols.len() {
            self.push_bigram(vocab, &escaped, &symbols, left as i32 - 1, left as i32, &mut queue);
        }
        while let Some(bigram) = queue.pop() {
            let (l, r) = (bigram.left as usize, bigram.right as usize);
            // Stale entry: one side was merged into something else since it was queued.
            if symbols[l].len == 0 || symbols[r].len == 0 || symbols[l].len + symbols[r].len != bigram.len {
                continue;
            }
            symbols[l].len += symbols[r].len;
            symbols[r].len = 0;
            let after = symbols[r].next;
            symbols[l].next = after;
            if after >= 0 {
                symbols[after as usize].prev = l as i32;
            }
            self.push_bigram(vocab, &escaped, &symbols, symbols[l].prev, l as i32, &mut queue);
            self.push_bigram(vocab, &escaped, &symbols, l as i32, symbols[l].next, &mut queue);
        }

        let mut i = 0i32;
        while i >= 0 {
            let sym = symbols[i as usize];
            let text = &escaped[sym.start as usize..(sym.start + sym.len) as usize];
            match vocab.mergeable_id(text) {
                Some(id) => out.push(id),
                None => {
                    for &b in text.as_bytes() {
                        match self.byte_tokens[b as usize].or(self.unk) {
                            Some(id) => out.push(id),
                            None => {
                                return Err(Error::msg(format!(
                                    "cannot encode {text:?}: the vocabulary has no byte token <0x{b:02X}> and no unknown token"
                                )))
                            }
                        }
                    }
                }
            }
            i = sym.next;
        }
        Ok(())
    }

    fn push_bigram(&self, vocab: &Vocab, escaped: &str, symbols: &[Symbol], left: i32, right: i32, queue: &mut BinaryHeap<Bigram>) {
        if left < 0 || right < 0 {
            return;
        }
        let (l, r) = (symbols[left as usize], symbols[right as usize]);
        let len = l.len + r.len;
        let text = &escaped[l.start as usize..(l.start + len) as usize];
        if let Some(id) = vocab.mergeable_id(text) {
            queue.push(Bigram { score: self.scores[id as usize], left: left as u32, right: right as u32, len });
        }
    }

    /// Appends the bytes token `id` stands for. Returns false for a skipped token.
    pub(crate) fn token_bytes(&self, vocab: &Vocab, id: u32, skip_special: bool, out: &mut Vec<u8>) -> bool {
        let Some(piece) = vocab.pieces.get(id as usize) else { return false };
        match vocab.kinds[id as usize] {
            TokenKind::Byte => match self.byte_values[id as usize] {
                Some(b) => out.push(b),
                None => out.extend_from_slice(piece.as_bytes()),
            },
            TokenKind::Control | TokenKind::Unknown => {
                if skip_special {
                    return false;
                }
                out.extend_from_slice(piece.as_bytes());
            }
            // User-defined pieces are stored as the text they match (Gemma's whitespace
            // runs are real spaces in the GGUF), so they are copied as they are.
            TokenKind::UserDefined => out.extend_from_slice(piece.as_bytes()),
            TokenKind::Normal | TokenKind::Unused => {
                for ch in piece.chars() {
                    let ch = if ch == SPACE_MARK { ' ' } else { ch };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        true
    }

    pub(crate) fn decode(&self, vocab: &Vocab, ids: &[u32], skip_special: bool) -> String {
        let mut bytes = Vec::with_capacity(ids.len() * 4);
        let mut first = true;
        for &id in ids {
            let before = bytes.len();
            if !self.token_bytes(vocab, id, skip_special, &mut bytes) {
                continue;
            }
            // Undo the prefix encoding added: the first emitted token loses one leading
            // space (llama.cpp's `remove_space`, HF's `Strip` decoder for Llama).
            if first && self.add_space_prefix && bytes.get(before) == Some(&b' ') {
                bytes.remove(before);
            }
            first = false;
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// `<0xE2>` → 0xE2.
fn parse_byte_piece(piece: &str) -> Option<u8> {
    let hex = piece.strip_prefix("<0x")?.strip_suffix('>')?;
    if hex.len() != 2 {
        return None;
    }
    u8::from_str_radix(hex, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A toy vocabulary: bytes for 'é' only, pieces that force a choice between merges.
    fn toy(add_space_prefix: bool) -> (Vocab, SpmModel) {
        let entries: &[(&str, f32, TokenKind)] = &[
            ("<unk>", 0.0, TokenKind::Unknown),
            ("<s>", 0.0, TokenKind::Control),
            ("</s>", 0.0, TokenKind::Control),
            ("<0xC3>", 0.0, TokenKind::Byte),
            ("<0xA9>", 0.0, TokenKind::Byte),
            ("▁", -1.0, TokenKind::Normal),
            ("a", -1.0, TokenKind::Normal),
            ("b", -1.0, TokenKind::Normal),
            ("c", -1.0, TokenKind::Normal),
            ("ab", -5.0, TokenKind::Normal),
            ("bc", -2.0, TokenKind::Normal),
            ("▁a", -3.0, TokenKind::Normal),
            ("cab", -4.0, TokenKind::Normal),
        ];
        let vocab = Vocab::new(entries.iter().map(|e| e.0.to_string()).collect(), entries.iter().map(|e| e.2).collect());
        let model = SpmModel::new(&vocab, entries.iter().map(|e| e.1).collect(), Some(0), add_space_prefix).unwrap();
        (vocab, model)
    }

    #[test]
    fn merges_follow_scores_not_position() {
        let (v, m) = toy(false);
        // "bc" (-2) beats "ab" (-5), then "a"+"bc" is not a piece: [a, bc].
        assert_eq!(m.encode(&v, "abc", false).unwrap(), vec![6, 10]);
        // Merges chain: "ab", then "c"+"ab" = "cab".
        assert_eq!(m.encode(&v, "cab", false).unwrap(), vec![12]);
        // " a" → "▁a" (-3).
        assert_eq!(m.encode(&v, "c a", false).unwrap(), vec![8, 11]);
    }

    #[test]
    fn unknown_characters_fall_back_to_bytes_then_unk() {
        let (v, m) = toy(false);
        assert_eq!(m.encode(&v, "é", false).unwrap(), vec![3, 4]);
        // 'z' has no piece and no byte token: <unk> for its byte.
        assert_eq!(m.encode(&v, "z", false).unwrap(), vec![0]);
        assert_eq!(m.decode(&v, &[3, 4, 6], false), "éa");
    }

    #[test]
    fn space_prefix_is_added_after_specials_and_removed_on_decode() {
        let (v, m) = toy(true);
        assert_eq!(m.encode(&v, "a", false).unwrap(), vec![11]);
        assert_eq!(m.encode(&v, "<s>a", true).unwrap(), vec![1, 11]);
        assert_eq!(m.decode(&v, &[11, 5, 6], true), "a a");
        assert_eq!(m.decode(&v, &[1, 11], true), "a");
        assert_eq!(m.decode(&v, &[1, 11], false), "<s> a");
    }
}
