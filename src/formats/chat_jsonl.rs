//! The chat dataset format (JSONL, one `{"messages": [{"role", "content"}...]}`
//! per line), read strictly. `read_chat_dataset` stops at the first problem
//! (for `finetune`); `validate_chat_dataset` collects every problem with its
//! line (for `validate-dataset`).
//!
//! A valid conversation: an optional system message first, then user and
//! assistant messages alternating, starting with a user message and ending
//! with an assistant answer; every role known, every content a non-empty
//! string, no key twice in one object. Blank lines are skipped (with a
//! warning); a UTF-8 BOM at the start and CRLF line ends are accepted, a BOM
//! further on and CR-only line ends are refused.
//!
//! The file is read one line at a time ([`crate::formats::bounded::Lines`]):
//! a line longer than [`MAX_LINE_BYTES`] or a file larger than
//! [`MAX_FILE_BYTES`] stops the reading with an error naming the file and the
//! line, so that `/dev/zero` or a runaway FIFO cannot fill the memory.

use crate::formats::bounded::{Limits, Lines};
use crate::formats::chat::{ChatMessage, Conversation};
use crate::{Error, Result};
use serde_json::Value;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

/// One line longer than this is refused (a dataset line is one conversation).
pub const MAX_LINE_BYTES: usize = 8 << 20;

/// A dataset larger than this is refused: `read_chat_dataset` holds every
/// conversation in memory (and fine-tuning then their tokens), and 1 GiB of
/// text is some 250 million tokens, far beyond a fine-tuning run here.
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// `validate_chat_dataset` lists at most this many problems, and as many
/// warnings; the others are counted (a file of a billion blank lines must
/// not make a billion warnings).
pub const MAX_LISTED: usize = 1000;

const LIMITS: Limits = Limits { max_line: MAX_LINE_BYTES, max_total: MAX_FILE_BYTES };

/// A problem (or a warning) at a line.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    pub line: usize,
    pub msg: String,
}

/// Everything `validate_chat_dataset` found.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ValidationReport {
    pub path: PathBuf,
    pub lines: usize,
    /// Valid conversations.
    pub conversations: usize,
    pub with_system: usize,
    pub messages: usize,
    /// The first [`MAX_LISTED`] problems.
    pub problems: Vec<Problem>,
    /// Not errors: blank lines, repeated examples (the first [`MAX_LISTED`]).
    pub warnings: Vec<Problem>,
    /// Problems and warnings found beyond the first [`MAX_LISTED`] of each.
    pub problems_not_listed: usize,
    pub warnings_not_listed: usize,
}

impl ValidationReport {
    pub fn is_valid(&self) -> bool {
        self.problems.is_empty()
    }

    /// Every problem found, listed or not.
    pub fn problem_count(&self) -> usize {
        self.problems.len() + self.problems_not_listed
    }

    /// Every warning found, listed or not.
    pub fn warning_count(&self) -> usize {
        self.warnings.len() + self.warnings_not_listed
    }

    fn problem(&mut self, line: usize, msg: String) {
        if self.problems.len() < MAX_LISTED {
            self.problems.push(Problem { line, msg });
        } else {
            self.problems_not_listed += 1;
        }
    }

    fn warning(&mut self, line: usize, msg: String) {
        if self.warnings.len() < MAX_LISTED {
            self.warnings.push(Problem { line, msg });
        } else {
            self.warnings_not_listed += 1;
        }
    }

    /// Every problem and warning as "file:line: message" lines, then a summary line.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let p = self.path.display();
        for pr in &self.problems {
            s.push_str(&format!("{p}:{}: {}\n", pr.line, pr.msg));
        }
        if self.problems_not_listed > 0 {
            s.push_str(&format!("{p}: ... and {} more problems, not listed\n", self.problems_not_listed));
        }
        for w in &self.warnings {
            s.push_str(&format!("{p}:{}: warning: {}\n", w.line, w.msg));
        }
        if self.warnings_not_listed > 0 {
            s.push_str(&format!("{p}: ... and {} more warnings, not listed\n", self.warnings_not_listed));
        }
        if self.is_valid() {
            s.push_str(&format!(
                "{p}: OK, {} conversations ({} with a system prompt), {} messages, {} warnings\n",
                self.conversations,
                self.with_system,
                self.messages,
                self.warning_count()
            ));
        } else {
            s.push_str(&format!(
                "{p}: INVALID, {} problems in {} lines ({} valid conversations), {} warnings\n",
                self.problem_count(),
                self.lines,
                self.conversations,
                self.warning_count()
            ));
        }
        s
    }
}

/// Reads a chat dataset; the first problem is returned as `Error::Data` with its line.
pub fn read_chat_dataset(path: &Path) -> Result<Vec<Conversation>> {
    Ok(read_chat_dataset_with_lines(path)?.0)
}

/// Like [`read_chat_dataset`], with the line of each conversation (for later errors).
pub fn read_chat_dataset_with_lines(path: &Path) -> Result<(Vec<Conversation>, Vec<usize>)> {
    let (mut out, mut lines) = (Vec::new(), Vec::new());
    scan(path, &mut |line, parsed| match parsed {
        Parsed::Conversation(c) => {
            out.push(c);
            lines.push(line);
            Ok(())
        }
        Parsed::Problems(mut p) => Err(Error::data(path, line, p.remove(0))),
        Parsed::Blank => Ok(()),
    })?;
    if out.is_empty() {
        return Err(Error::data(path, 1, "the file is empty: no conversation"));
    }
    Ok((out, lines))
}

/// Checks a chat dataset and reports every problem (the first [`MAX_LISTED`]
/// with their line); `Err` only when the file cannot be read to its end (it
/// cannot be opened, a line or the file is beyond the limits).
pub fn validate_chat_dataset(path: &Path) -> Result<ValidationReport> {
    let mut rep = ValidationReport {
        path: path.to_path_buf(),
        lines: 0,
        conversations: 0,
        with_system: 0,
        messages: 0,
        problems: vec![],
        warnings: vec![],
        problems_not_listed: 0,
        warnings_not_listed: 0,
    };
    // A hash of each distinct conversation's text, not the text: memory stays
    // small whatever the dataset. Two different conversations with the same
    // 64-bit hash would only make a false "same conversation" warning.
    let mut first_seen: HashMap<u64, usize> = HashMap::new();
    let mut lines = 0;
    scan(path, &mut |line, parsed| {
        lines = line;
        match parsed {
            Parsed::Conversation(c) => {
                rep.conversations += 1;
                rep.messages += c.messages.len();
                if c.messages.first().is_some_and(|m| m.role == "system") {
                    rep.with_system += 1;
                }
                let mut h = std::collections::hash_map::DefaultHasher::new();
                for role in ["user", "assistant"] {
                    role.hash(&mut h);
                    for m in c.messages.iter().filter(|m| m.role == role) {
                        m.content.hash(&mut h);
                    }
                }
                let key = h.finish();
                if let Some(first) = first_seen.get(&key) {
                    rep.warning(line, format!("same conversation as line {first}"));
                } else {
                    first_seen.insert(key, line);
                }
            }
            Parsed::Problems(ps) => ps.into_iter().for_each(|msg| rep.problem(line, msg)),
            Parsed::Blank => rep.warning(line, "blank line (skipped)".into()),
        }
        Ok(())
    })?;
    rep.lines = lines;
    if rep.conversations == 0 && rep.problems.is_empty() {
        rep.problems.push(Problem { line: 1, msg: "the file is empty: no conversation".into() });
    }
    Ok(rep)
}

enum Parsed {
    Conversation(Conversation),
    Problems(Vec<String>),
    Blank,
}

/// Reads `path` one line at a time and calls `f` for each line (1-based) with what it holds.
fn scan(path: &Path, f: &mut dyn FnMut(usize, Parsed) -> Result<()>) -> Result<()> {
    let mut lines = Lines::open(path, LIMITS)?;
    while let Some(line) = lines.next_line()? {
        let parsed = match line.problem {
            Some(p) => Parsed::Problems(vec![p]),
            None => parse_line(line.bytes),
        };
        f(line.number, parsed)?;
    }
    Ok(())
}

fn parse_line(raw: &[u8]) -> Parsed {
    let text = match std::str::from_utf8(raw) {
        Ok(t) => t,
        Err(e) => {
            let at = e.valid_up_to();
            return Parsed::Problems(vec![format!(
                "invalid UTF-8 byte 0x{:02X} at byte {} of the line: the file must be UTF-8 text",
                raw[at],
                at + 1
            )]);
        }
    };
    if text.trim().is_empty() {
        return Parsed::Blank;
    }
    let v: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            let full = e.to_string();
            let msg = full.rfind(" at line ").map_or(full.as_str(), |i| &full[..i]);
            return Parsed::Problems(vec![format!("invalid JSON: {msg} at column {}", e.column())]);
        }
    };
    // Before the checks: a repeated "content" would hide an empty one.
    if let Ok(Some(d)) = crate::formats::json::find_duplicate_key(text) {
        return Parsed::Problems(vec![d.to_string()]);
    }
    match check_conversation(&v) {
        Ok(c) => Parsed::Conversation(c),
        Err(p) => Parsed::Problems(p),
    }
}

fn check_conversation(v: &Value) -> std::result::Result<Conversation, Vec<String>> {
    let Some(obj) = v.as_object() else {
        return Err(vec![format!("expected a JSON object {{\"messages\": [...]}}, found {}", kind_of(v))]);
    };
    let msgs = match obj.get("messages") {
        None => return Err(vec!["missing \"messages\" (each line must be {\"messages\": [...]})".into()]),
        Some(Value::Array(a)) => a,
        Some(other) => return Err(vec![format!("\"messages\" must be an array, found {}", kind_of(other))]),
    };
    if msgs.is_empty() {
        return Err(vec!["\"messages\" is empty".into()]);
    }
    let mut problems = Vec::new();
    let mut messages = Vec::with_capacity(msgs.len());
    for (i, m) in msgs.iter().enumerate() {
        let n = i + 1;
        let Some(mo) = m.as_object() else {
            problems.push(format!("message {n}: expected an object {{\"role\", \"content\"}}, found {}", kind_of(m)));
            continue;
        };
        let role = match mo.get("role") {
            Some(Value::String(r)) if matches!(r.as_str(), "system" | "user" | "assistant") => Some(r.clone()),
            Some(Value::String(r)) => {
                problems.push(format!("message {n}: unknown role \"{r}\" (expected system, user or assistant)"));
                None
            }
            Some(other) => {
                problems.push(format!("message {n}: \"role\" must be a string, found {}", kind_of(other)));
                None
            }
            None => {
                problems.push(format!("message {n}: missing \"role\""));
                None
            }
        };
        let content = match mo.get("content") {
            Some(Value::String(c)) if c.trim().is_empty() => {
                problems.push(format!("message {n}{}: empty content", role.as_ref().map(|r| format!(" ({r})")).unwrap_or_default()));
                None
            }
            Some(Value::String(c)) => Some(c.clone()),
            Some(other) => {
                problems.push(format!("message {n}: \"content\" must be a string, found {}", kind_of(other)));
                None
            }
            None => {
                problems.push(format!("message {n}: missing \"content\""));
                None
            }
        };
        if let (Some(role), Some(content)) = (role, content) {
            messages.push((n, ChatMessage { role, content }));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    check_order(&messages)?;
    Ok(Conversation { messages: messages.into_iter().map(|(_, m)| m).collect() })
}

/// Optional system first, then user/assistant alternating, ending with assistant.
fn check_order(messages: &[(usize, ChatMessage)]) -> std::result::Result<(), Vec<String>> {
    let mut problems = Vec::new();
    let start = usize::from(messages.first().is_some_and(|(_, m)| m.role == "system"));
    let mut expected = "user";
    for (n, m) in &messages[start..] {
        if m.role == "system" {
            problems.push(format!("message {n}: a system message may only come first"));
            continue;
        }
        if m.role != expected {
            let what = if m.role == "assistant" && *n == start + 1 {
                "the conversation must start with a user message (after an optional system message)".to_string()
            } else {
                format!("two {} messages in a row (user and assistant must alternate)", m.role)
            };
            problems.push(format!("message {n}: {what}"));
        }
        expected = if m.role == "user" { "assistant" } else { "user" };
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    if !messages.iter().any(|(_, m)| m.role == "assistant") {
        return Err(vec!["no assistant message: nothing to learn from this line".into()]);
    }
    if messages.last().is_some_and(|(_, m)| m.role != "assistant") {
        return Err(vec!["the last message must be the assistant's answer".into()]);
    }
    Ok(())
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems_of(line: &str) -> Vec<String> {
        match parse_line(line.as_bytes()) {
            Parsed::Problems(p) => p,
            Parsed::Conversation(_) => vec![],
            Parsed::Blank => vec!["<blank>".into()],
        }
    }

    #[test]
    fn line_checks() {
        let ok = r#"{"messages":[{"role":"system","content":"S"},{"role":"user","content":"Q"},{"role":"assistant","content":"A"}]}"#;
        assert!(problems_of(ok).is_empty());
        assert!(problems_of(r#"{"messages":[{"role":"user","content":"Q"},{"role":"assistant","content":"A"},{"role":"user","content":"Q2"},{"role":"assistant","content":"A2"}]}"#).is_empty());
        assert!(problems_of(r#"{"messages":[{"role":"user","content":"Q"}]}"#)[0].contains("no assistant message"));
        assert!(problems_of(r#"{"messages":[{"role":"bot","content":"Q"}]}"#)[0].contains("unknown role \"bot\""));
        assert!(problems_of(r#"{"messages":[{"role":"user","content":"  "},{"role":"assistant","content":"A"}]}"#)[0]
            .contains("message 1 (user): empty content"));
        assert!(problems_of(r#"{"messages":[{"role":"assistant","content":"A"},{"role":"user","content":"Q"}]}"#)[0]
            .contains("must start with a user message"));
        assert!(problems_of(
            r#"{"messages":[{"role":"user","content":"Q"},{"role":"user","content":"Q"},{"role":"assistant","content":"A"}]}"#
        )[0]
        .contains("message 2: two user messages in a row"));
        assert!(problems_of(
            r#"{"messages":[{"role":"user","content":"Q"},{"role":"assistant","content":"A"},{"role":"system","content":"S"}]}"#
        )[0]
        .contains("system message may only come first"));
        assert!(problems_of(
            r#"{"messages":[{"role":"user","content":"Q"},{"role":"assistant","content":"A"},{"role":"user","content":"Q"}]}"#
        )[0]
        .contains("last message must be"));
        assert!(problems_of(r#"{"messages":[]}"#)[0].contains("\"messages\" is empty"));
        assert!(problems_of(r#"{"msgs":[]}"#)[0].contains("missing \"messages\""));
        assert!(problems_of(r#"[1]"#)[0].contains("expected a JSON object"));
        assert!(problems_of(r#"{"messages":[{"role":"user","content":5},{"content":"A"}]}"#).len() == 2);
        assert!(problems_of("{\"messages\": [").first().unwrap().starts_with("invalid JSON"));
        assert_eq!(problems_of("   "), ["<blank>"]);
        // A repeated key is refused before anything else: the last "content"
        // would otherwise pass for the message's text (finding 11).
        let dup = problems_of(r#"{"messages":[{"role":"user","content":"","content":"Q"},{"role":"assistant","content":"A"}]}"#);
        assert_eq!(dup.len(), 1);
        assert!(dup[0].starts_with("duplicate key \"content\" in messages[0] (column"), "{dup:?}");
        assert!(problems_of(r#"{"messages":[],"messages":[{"role":"user","content":"Q"},{"role":"assistant","content":"A"}]}"#)[0]
            .starts_with("duplicate key \"messages\" (column"));
        assert!(problems_of(r#"{"messages":[{"role":"user","role":"assistant","content":"Q"},{"role":"assistant","content":"A"}]}"#)[0]
            .starts_with("duplicate key \"role\" in messages[0]"));
        let bad = b"{\"messages\":\"\xFF\"}";
        assert!(matches!(parse_line(bad), Parsed::Problems(p) if p[0].contains("invalid UTF-8 byte 0xFF at byte 14")));
    }

    /// Finding 8: a file of blank lines (or of bad ones) keeps a bounded
    /// report; the rest is counted.
    #[test]
    fn validation_lists_a_bounded_number_of_problems() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("blank.jsonl");
        let ok = r#"{"messages":[{"role":"user","content":"Q"},{"role":"assistant","content":"A"}]}"#;
        let text = format!("{}{}{ok}\n", "\n".repeat(MAX_LISTED + 500), "[]\n".repeat(MAX_LISTED + 7));
        std::fs::write(&p, text).unwrap();
        let rep = validate_chat_dataset(&p).unwrap();
        assert_eq!((rep.warnings.len(), rep.warnings_not_listed, rep.warning_count()), (MAX_LISTED, 500, MAX_LISTED + 500));
        assert_eq!((rep.problems.len(), rep.problems_not_listed, rep.problem_count()), (MAX_LISTED, 7, MAX_LISTED + 7));
        assert_eq!(rep.conversations, 1);
        let text = rep.render();
        assert!(text.contains("blank.jsonl: ... and 500 more warnings, not listed"), "{}", &text[text.len() - 300..]);
        assert!(text.contains("INVALID, 1007 problems"));
    }
}
