//! JSON read strictly: a key that appears twice in one object is refused.
//!
//! serde_json (like most JSON libraries) silently keeps the last of two equal
//! keys, so `{"role": "user", "content": "Q", "content": ""}` reads as an
//! empty answer or, the other way round, slips an empty content past the
//! check; two tools reading the same file may see different data. Every data
//! reader calls [`reject_duplicate_keys`] (or [`find_duplicate_key`]) on the
//! text it has parsed, at any depth, so such a file is refused with its line,
//! the key and where it is.

use crate::{Error, Result};
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;
use std::path::Path;

/// A key that appears twice in one JSON object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DuplicateKey {
    /// The key, unescaped.
    pub key: String,
    /// The JSON path of the object holding it, e.g. `messages[1]`; empty for
    /// the top-level object.
    pub at: String,
    /// Line and column (1-based, in bytes) of the second occurrence: of its
    /// opening quote, or of its closing quote when the key has escapes.
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for DuplicateKey {
    /// `duplicate key "content" in messages[1] (column 62): ...`, without the line
    /// (the caller's `file:line:` prefix says it).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "duplicate key {:?}", self.key)?;
        if !self.at.is_empty() {
            write!(f, " in {}", self.at)?;
        }
        write!(f, " (column {}): a key may appear only once in an object (JSON readers differ on which one they keep)", self.column)
    }
}

/// Refuses JSON text with a key repeated in one object, at any depth.
///
/// `text` is one JSON value (a JSONL line, or a whole document); `first_line`
/// is the line of the file where `text` starts (1 for a whole document), so
/// the error reads `file:line: duplicate key "role" in messages[0] (column 40): ...`.
/// Invalid JSON is refused too (`file:line: invalid JSON: ... (column c)`),
/// but readers are expected to have parsed `text` first and reported syntax
/// errors in their own words.
pub fn reject_duplicate_keys(path: &Path, first_line: usize, text: &str) -> Result<()> {
    match find_duplicate_key(text) {
        Ok(None) => Ok(()),
        Ok(Some(d)) => Err(Error::data(path, first_line + d.line.max(1) - 1, d.to_string())),
        Err(e) => {
            let full = e.to_string();
            let suffix = format!(" at line {} column {}", e.line(), e.column());
            let msg = full.strip_suffix(&suffix).unwrap_or(&full);
            Err(Error::data(path, first_line + e.line().max(1) - 1, format!("invalid JSON: {msg} (column {})", e.column())))
        }
    }
}

/// The first key repeated in one object of `text` (one JSON value), if any;
/// `Err` when `text` is not valid JSON.
pub fn find_duplicate_key(text: &str) -> serde_json::Result<Option<DuplicateKey>> {
    let found = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_str(text);
    let res = Walk { found: &found }.deserialize(&mut de).and_then(|()| de.end());
    match (res, found.into_inner()) {
        (Err(e), Some(f)) => {
            let mut at = String::new();
            for seg in f.segments.iter().rev() {
                match seg {
                    Seg::Index(i) => at.push_str(&format!("[{i}]")),
                    Seg::Key(k) if !at.is_empty() => at.push_str(&format!(".{k}")),
                    Seg::Key(k) => at.push_str(k),
                }
            }
            // serde_json points at the key's closing quote.
            let column = match f.raw_len {
                Some(n) => (e.column() + 1).saturating_sub(n + 2).max(1),
                None => e.column(),
            };
            Ok(Some(DuplicateKey { key: f.key, at, line: e.line(), column }))
        }
        (Err(e), None) => Err(e),
        (Ok(()), _) => Ok(None),
    }
}

enum Seg {
    Key(String),
    Index(usize),
}

/// What the walk found: the key, and the path to its object, innermost first
/// (each level adds its own segment as the error goes up, so that nothing is
/// built while the text is clean).
struct Found {
    key: String,
    /// Its length in the text, when it has no escape.
    raw_len: Option<usize>,
    segments: Vec<Seg>,
}

/// Visits every value, checking the keys of each object.
#[derive(Clone, Copy)]
struct Walk<'a> {
    found: &'a RefCell<Option<Found>>,
}

impl Walk<'_> {
    fn note(&self, seg: Seg) {
        if let Some(f) = self.found.borrow_mut().as_mut() {
            f.segments.push(seg);
        }
    }
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        let mut i = 0;
        loop {
            match seq.next_element_seed(self) {
                Ok(Some(())) => i += 1,
                Ok(None) => return Ok(()),
                Err(e) => {
                    self.note(Seg::Index(i));
                    return Err(e);
                }
            }
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        let mut seen: HashSet<Cow<'de, str>> = HashSet::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            if seen.contains(&key) {
                let raw_len = matches!(key, Cow::Borrowed(_)).then_some(key.len());
                *self.found.borrow_mut() = Some(Found { key: key.into_owned(), raw_len, segments: Vec::new() });
                return Err(serde::de::Error::custom("duplicate key"));
            }
            if let Err(e) = map.next_value_seed(self) {
                self.note(Seg::Key(key.into_owned()));
                return Err(e);
            }
            seen.insert(key);
        }
        Ok(())
    }
}

/// A key, borrowed from the text when it has no escape.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string key")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> std::result::Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E>(self, v: &str) -> std::result::Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dup(text: &str) -> Option<DuplicateKey> {
        find_duplicate_key(text).unwrap()
    }

    #[test]
    fn finds_repeated_keys_at_any_depth() {
        assert_eq!(dup(r#"{"a": 1, "b": [1, {"c": 2}], "d": {"a": 1}}"#), None);
        assert_eq!(dup("[1, \"x\", null, true, 2.5, -3]"), None);
        let d = dup(r#"{"messages": 1, "messages": 2}"#).unwrap();
        assert_eq!((d.key.as_str(), d.at.as_str(), d.line, d.column), ("messages", "", 1, 17));
        let d = dup(r#"{"messages":[{"role":"user","content":"Q"},{"role":"assistant","content":"A","content":""}]}"#).unwrap();
        assert_eq!((d.key.as_str(), d.at.as_str()), ("content", "messages[1]"));
        let d = dup("{\"a\": {\"b\": [0, 1, {\"x\": 1,\n \"x\": 2}]}}").unwrap();
        assert_eq!((d.key.as_str(), d.at.as_str(), d.line), ("x", "a.b[2]", 2));
        // Escapes are compared unescaped.
        assert_eq!(dup(r#"{"role": 1, "r\u006fle": 2}"#).unwrap().key, "role");
        assert!(find_duplicate_key("{\"a\": ").is_err());
        assert!(find_duplicate_key("{} {}").is_err());
    }

    #[test]
    fn refusal_names_file_line_and_key() {
        let e = reject_duplicate_keys(Path::new("d.jsonl"), 7, r#"{"question": "a", "question": "b"}"#).unwrap_err().to_string();
        assert!(e.starts_with("d.jsonl:7: duplicate key \"question\" (column 19)"), "{e}");
        let e = reject_duplicate_keys(Path::new("r.json"), 1, "{\n\"x\": {\n\"y\": 1, \"y\": 2}}").unwrap_err().to_string();
        assert!(e.starts_with("r.json:3: duplicate key \"y\" in x (column"), "{e}");
        assert!(reject_duplicate_keys(Path::new("r.json"), 1, "{\"y\": [1, 1]}").is_ok());
        let e = reject_duplicate_keys(Path::new("r.json"), 4, "{\"y\": ").unwrap_err().to_string();
        assert!(e.starts_with("r.json:4: invalid JSON: EOF while parsing"), "{e}");
    }
}
