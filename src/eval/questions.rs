//! The questions file: JSONL, one `{"question", "expected"?, "keywords"?, "id"?,
//! "kind"?, "apps"?}` per line. Blank lines are skipped, other fields are ignored, a UTF-8 BOM
//! and CRLF line ends are accepted. Every problem names the file and line: a
//! key twice in one object, a BOM further on, CR-only line ends, a line longer
//! than [`MAX_LINE_BYTES`] or a file larger than [`MAX_FILE_BYTES`] (the file is
//! read one line at a time, never whole) are refused.

use crate::eval::metrics::normalize;
use crate::formats::bounded::{Limits, Lines};
use crate::{Error, Result};
use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

/// A line longer than this is refused: one question is a few hundred bytes.
pub const MAX_LINE_BYTES: usize = 16 << 20;
/// A questions file larger than this is refused: every question is held in memory.
pub const MAX_FILE_BYTES: u64 = 256 << 20;

const LIMITS: Limits = Limits { max_line: MAX_LINE_BYTES, max_total: MAX_FILE_BYTES };

/// One question to ask.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    /// The line's `id`, or "q<N>" for the N-th question when there is none.
    pub id: String,
    pub question: String,
    pub expected: Option<String>,
    /// Key facts the answer should contain.
    pub keywords: Vec<String>,
    /// The kind of question (`direct`, `paraphrase`, `multi`, `negative`, or
    /// any other label): every metric is also reported per kind. A `negative`
    /// question is about something absent from the catalogue: its right answer
    /// is a refusal (see [`crate::eval::judge`]).
    pub kind: Option<String>,
    /// Names of the catalogue records that hold the answer (empty for a
    /// negative question); retrieval is scored against them.
    pub apps: Vec<String>,
}

impl Question {
    pub fn is_negative(&self) -> bool {
        self.kind.as_deref() == Some(crate::eval::judge::NEGATIVE_KIND)
    }
}

/// The fields of one line that matter; the others are ignored.
struct Line {
    question: Option<serde_json::Value>,
    expected: Option<serde_json::Value>,
    keywords: Option<serde_json::Value>,
    id: Option<serde_json::Value>,
    kind: Option<serde_json::Value>,
    apps: Option<serde_json::Value>,
}

/// Reads and checks a questions file, one line at a time.
pub fn read_questions(path: &Path) -> Result<Vec<Question>> {
    parse_lines(path, Lines::open(path, LIMITS)?)
}

/// Parses questions JSONL; `path` is only used in error messages.
pub fn parse_questions(path: &Path, bytes: &[u8]) -> Result<Vec<Question>> {
    parse_lines(path, Lines::new(path, bytes, LIMITS))
}

fn parse_lines<R: BufRead>(path: &Path, mut lines: Lines<R>) -> Result<Vec<Question>> {
    let mut questions = Vec::new();
    let mut ids: HashMap<String, usize> = HashMap::new();
    while let Some(raw) = lines.next_line()? {
        let line_no = raw.number;
        let err = |msg: String| Error::data(path, line_no, msg);
        if let Some(p) = raw.problem {
            return Err(err(p));
        }
        let line =
            std::str::from_utf8(raw.bytes).map_err(|e| err(format!("not UTF-8 text (invalid byte at column {})", e.valid_up_to() + 1)))?;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let value: serde_json::Value = serde_json::from_str(line).map_err(|e| err(format!("invalid JSON: {}", json_msg_in_line(&e))))?;
        crate::formats::json::reject_duplicate_keys(path, line_no, line)?;
        let serde_json::Value::Object(mut fields) = value else {
            return Err(err(format!("expected a JSON object with a \"question\" field, found {}", json_kind(&value))));
        };
        let parsed = Line {
            question: fields.remove("question"),
            expected: fields.remove("expected"),
            keywords: fields.remove("keywords"),
            id: fields.remove("id"),
            kind: fields.remove("kind"),
            apps: fields.remove("apps"),
        };
        let question = match parsed.question {
            Some(serde_json::Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
            Some(serde_json::Value::String(_)) => return Err(err("\"question\" is empty".into())),
            Some(other) => return Err(err(format!("\"question\" must be a string, found {}", json_kind(&other)))),
            None => return Err(err("missing field \"question\"".into())),
        };
        let expected = match parsed.expected {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) => Some(s.trim().to_string()),
            Some(other) => return Err(err(format!("\"expected\" must be a string, found {}", json_kind(&other)))),
        };
        let keywords = string_list(parsed.keywords, "keywords", |s| !normalize(s).is_empty(), "has no letter or digit to look for", &err)?;
        let apps = string_list(parsed.apps, "apps", |s| !s.trim().is_empty(), "is empty", &err)?;
        let kind = match parsed.kind {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_lowercase()),
            Some(other) => return Err(err(format!("\"kind\" must be a non-empty string, found {}", json_kind(&other)))),
        };
        if kind.as_deref() == Some(crate::eval::judge::NEGATIVE_KIND) && !(keywords.is_empty() && apps.is_empty()) {
            return Err(err(
                "a \"negative\" question (about something not in the catalogue) has no keywords and no apps: its right answer is a refusal"
                    .into(),
            ));
        }
        let id = match parsed.id {
            None | Some(serde_json::Value::Null) => format!("q{}", questions.len() + 1),
            Some(serde_json::Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
            Some(serde_json::Value::Number(n)) => n.to_string(),
            Some(other) => return Err(err(format!("\"id\" must be a non-empty string or a number, found {}", json_kind(&other)))),
        };
        if let Some(first) = ids.insert(id.clone(), line_no) {
            return Err(err(format!("duplicate id \"{id}\" (first used on line {first})")));
        }
        questions.push(Question { id, question, expected, keywords, kind, apps });
    }
    if questions.is_empty() {
        return Err(Error::format(path, "no questions: the file has no non-blank line"));
    }
    Ok(questions)
}

/// An optional list of strings, each passing `ok` (else `err("NAME[k] (..) WHY")`).
fn string_list(
    value: Option<serde_json::Value>,
    name: &str,
    ok: impl Fn(&str) -> bool,
    why: &str,
    err: &dyn Fn(String) -> Error,
) -> Result<Vec<String>> {
    match value {
        None | Some(serde_json::Value::Null) => Ok(Vec::new()),
        Some(serde_json::Value::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for (k, item) in items.into_iter().enumerate() {
                match item {
                    serde_json::Value::String(s) if ok(&s) => out.push(s.trim().to_string()),
                    serde_json::Value::String(s) => return Err(err(format!("{name}[{k}] ({s:?}) {why}"))),
                    other => return Err(err(format!("{name}[{k}] must be a string, found {}", json_kind(&other)))),
                }
            }
            Ok(out)
        }
        Some(other) => Err(err(format!("\"{name}\" must be a list of strings, found {}", json_kind(&other)))),
    }
}

/// A serde_json error on a single line, as "message (column N)": the line
/// number is already in the caller's prefix.
pub fn json_msg_in_line(e: &serde_json::Error) -> String {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    match full.strip_suffix(&suffix) {
        Some(msg) => format!("{msg} (column {})", e.column()),
        None => full,
    }
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<Question>> {
        parse_questions(Path::new("qs.jsonl"), text.as_bytes())
    }

    #[test]
    fn reads_all_forms() {
        let text = "\u{feff}{\"question\": \"Qu'est-ce que GIDAF ?\", \"expected\": \"Une application.\", \"keywords\": [\"application\"], \"id\": \"gidaf-1\"}\r\n\n{\"question\": \" Qui ? \", \"category\": \"x\"}\n{\"question\": \"Où ?\", \"id\": 7}\n";
        let qs = parse(text).unwrap();
        assert_eq!(qs.len(), 3);
        assert_eq!(qs[0].id, "gidaf-1");
        assert_eq!(qs[0].keywords, vec!["application"]);
        assert_eq!(
            qs[1],
            Question { id: "q2".into(), question: "Qui ?".into(), expected: None, keywords: vec![], kind: None, apps: vec![] }
        );
        assert_eq!(qs[2].id, "7");
        let qs = parse("{\"question\": \"Qui héberge X ?\", \"kind\": \"Paraphrase\", \"apps\": [\"X\"], \"keywords\": [\"OVH\"]}\n{\"question\": \"Et ZORG ?\", \"kind\": \"negative\"}").unwrap();
        assert_eq!(qs[0].kind.as_deref(), Some("paraphrase"));
        assert_eq!(qs[0].apps, vec!["X"]);
        assert!(qs[1].is_negative() && !qs[0].is_negative());
    }

    #[test]
    fn bad_lines_name_file_and_line() {
        let cases = [
            ("{\"question\": \"a\"}\n{\"question\": \"b\"\n", "qs.jsonl:2: invalid JSON"),
            ("{\"question\": \"a\"}\n\n{\"expected\": \"b\"}\n", "qs.jsonl:3: missing field \"question\""),
            ("{\"question\": 3}\n", "qs.jsonl:1: \"question\" must be a string, found a number"),
            ("{\"question\": \"a\", \"keywords\": \"x\"}\n", "qs.jsonl:1: \"keywords\" must be a list of strings"),
            ("{\"question\": \"a\", \"keywords\": [\"ok\", \"«»\"]}\n", "qs.jsonl:1: keywords[1]"),
            (
                "{\"question\": \"a\", \"id\": \"x\"}\n{\"question\": \"b\", \"id\": \"x\"}\n",
                "qs.jsonl:2: duplicate id \"x\" (first used on line 1)",
            ),
            ("[1, 2]\n", "qs.jsonl:1: expected a JSON object"),
            ("{\"question\": \"a\", \"kind\": 3}\n", "qs.jsonl:1: \"kind\" must be a non-empty string"),
            ("{\"question\": \"a\", \"apps\": [\"X\", \" \"]}\n", "qs.jsonl:1: apps[1] (\" \") is empty"),
            ("{\"question\": \"a\", \"kind\": \"negative\", \"keywords\": [\"x\"]}\n", "qs.jsonl:1: a \"negative\" question"),
            ("\n  \n", "qs.jsonl: no questions"),
        ];
        for (text, want) in cases {
            let got = parse(text).unwrap_err().to_string();
            assert!(got.starts_with(want), "for {text:?}: got {got:?}, want prefix {want:?}");
        }
        let got = parse_questions(Path::new("qs.jsonl"), b"{\"question\": \"a\"}\n{\"question\": \"\xff\"}\n").unwrap_err().to_string();
        assert!(got.starts_with("qs.jsonl:2: not UTF-8"), "{got}");
    }

    /// Findings 11 and 13 of the hardening review: a key twice in one object
    /// (the last would win), a BOM after the start, CR-only line ends.
    #[test]
    fn duplicate_keys_stray_boms_and_cr_line_ends_are_refused() {
        let cases = [
            ("{\"question\": \"a\"}\n{\"question\": \"b\", \"question\": \"c\"}\n", "qs.jsonl:2: duplicate key \"question\" (column"),
            ("{\"question\": \"a\", \"keywords\": [\"x\"], \"keywords\": []}", "qs.jsonl:1: duplicate key \"keywords\""),
            ("{\"question\": \"a\", \"apps\": [{\"n\": 1, \"n\": 2}]}", "qs.jsonl:1: duplicate key \"n\" in apps[0]"),
            ("{\"question\": \"a\"}\n\u{feff}{\"question\": \"b\"}\n", "qs.jsonl:2: byte order mark (U+FEFF)"),
            ("{\"question\": \"a\"}\r{\"question\": \"b\"}\r", "qs.jsonl:1: carriage return (CR) without a line feed"),
        ];
        for (text, want) in cases {
            let got = parse(text).unwrap_err().to_string();
            assert!(got.starts_with(want), "for {text:?}: got {got:?}, want prefix {want:?}");
        }
        // A BOM at the very start and CRLF line ends are fine.
        assert_eq!(parse("\u{feff}{\"question\": \"a\"}\r\n{\"question\": \"b\"}\r\n").unwrap().len(), 2);
    }
}
