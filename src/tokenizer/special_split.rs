//! Splits text on special tokens before the SentencePiece model sees it.
//!
//! As in llama.cpp (`tokenizer_st_partition`) and HF tokenizers (`AddedVocabulary`),
//! control, unknown and user-defined tokens written in the text become whole tokens
//! and the text around them is encoded separately. Control/unknown tokens are only
//! recognised when the caller asks for it (`parse_special`); user-defined tokens
//! (Gemma's whitespace runs, `<table>`...) always are, because SentencePiece itself
//! matches them before its BPE.
//!
//! Matching is leftmost-longest, the rule HF tokenizers uses: at each position the
//! longest special token wins, and the scan resumes after it.

use super::TokenKind;
use crate::{Error, Result};
use aho_corasick::{AhoCorasick, MatchKind};

/// A run of the input: plain text to encode, or one special token already resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fragment<'a> {
    Text(&'a str),
    Token(u32),
}

/// One automaton over the tokens to recognise, with the id of each pattern.
struct Matcher {
    automaton: AhoCorasick,
    ids: Vec<u32>,
    /// Per pattern: a control or unknown token (not user-defined).
    control: Vec<bool>,
}

impl Matcher {
    fn build(patterns: Vec<(&str, u32, bool)>) -> Result<Option<Matcher>> {
        if patterns.is_empty() {
            return Ok(None);
        }
        let ids = patterns.iter().map(|&(_, id, _)| id).collect();
        let control = patterns.iter().map(|&(_, _, c)| c).collect();
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(patterns.iter().map(|&(text, _, _)| text))
            .map_err(|e| Error::msg(format!("cannot index the special tokens of the vocabulary: {e}")))?;
        Ok(Some(Matcher { automaton, ids, control }))
    }
}

/// Both automata are built once per vocabulary: one with every special token (for
/// `parse_special = true`), one with the user-defined tokens only.
pub(crate) struct SpecialSplitter {
    with_control: Option<Matcher>,
    user_defined_only: Option<Matcher>,
}

impl SpecialSplitter {
    pub(crate) fn new(pieces: &[String], kinds: &[TokenKind]) -> Result<SpecialSplitter> {
        let mut all = Vec::new();
        let mut user = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (id, (piece, kind)) in pieces.iter().zip(kinds).enumerate() {
            // An empty pattern would match everywhere; a duplicate text keeps its first id.
            if piece.is_empty() || !kind.is_special_like() || !seen.insert(piece.as_str()) {
                continue;
            }
            let id = id as u32;
            match kind {
                TokenKind::Control | TokenKind::Unknown => all.push((piece.as_str(), id, true)),
                TokenKind::UserDefined => {
                    all.push((piece.as_str(), id, false));
                    user.push((piece.as_str(), id, false));
                }
                _ => {}
            }
        }
        Ok(SpecialSplitter { with_control: Matcher::build(all)?, user_defined_only: Matcher::build(user)? })
    }

    /// Cuts `text` into plain runs and special tokens, in order. Empty runs are dropped.
    #[cfg(test)]
    pub(crate) fn split<'a>(&self, text: &'a str, parse_special: bool) -> Vec<Fragment<'a>> {
        self.split_literal(text, parse_special, &[])
    }

    /// [`split`](Self::split) where control tokens written inside the byte
    /// ranges `literal` (message contents) stay plain text: only the chat
    /// template's own markup becomes control tokens.
    pub(crate) fn split_literal<'a>(&self, text: &'a str, parse_special: bool, literal: &[std::ops::Range<usize>]) -> Vec<Fragment<'a>> {
        let matcher = if parse_special { &self.with_control } else { &self.user_defined_only };
        let Some(matcher) = matcher else {
            return if text.is_empty() { Vec::new() } else { vec![Fragment::Text(text)] };
        };
        let mut out = Vec::new();
        let mut last = 0;
        for m in matcher.automaton.find_iter(text) {
            if matcher.control[m.pattern().as_usize()] && literal.iter().any(|r| m.start() < r.end && r.start < m.end()) {
                continue;
            }
            if m.start() > last {
                out.push(Fragment::Text(&text[last..m.start()]));
            }
            out.push(Fragment::Token(matcher.ids[m.pattern().as_usize()]));
            last = m.end();
        }
        if last < text.len() {
            out.push(Fragment::Text(&text[last..]));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn splitter() -> SpecialSplitter {
        let pieces: Vec<String> = ["<bos>", "a", "<start_of_turn>", "\n", "\n\n", "  "].iter().map(|s| s.to_string()).collect();
        let kinds = [
            TokenKind::Control,
            TokenKind::Normal,
            TokenKind::Control,
            TokenKind::UserDefined,
            TokenKind::UserDefined,
            TokenKind::UserDefined,
        ];
        SpecialSplitter::new(&pieces, &kinds).unwrap()
    }

    #[test]
    fn control_tokens_only_when_parsing_special() {
        let s = splitter();
        let text = "<bos><start_of_turn>user\n\n\nhi";
        assert_eq!(
            s.split(text, true),
            vec![
                Fragment::Token(0),
                Fragment::Token(2),
                Fragment::Text("user"),
                Fragment::Token(4),
                Fragment::Token(3),
                Fragment::Text("hi")
            ]
        );
        assert_eq!(
            s.split(text, false),
            vec![Fragment::Text("<bos><start_of_turn>user"), Fragment::Token(4), Fragment::Token(3), Fragment::Text("hi")]
        );
    }

    #[test]
    fn empty_and_plain_text() {
        let s = splitter();
        assert!(s.split("", true).is_empty());
        assert_eq!(s.split("abc", true), vec![Fragment::Text("abc")]);
        assert_eq!(s.split("a   b", true), vec![Fragment::Text("a"), Fragment::Token(5), Fragment::Text(" b")]);
    }
}
