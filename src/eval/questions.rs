//! The questions file: JSONL, one `{"question", "expected"?, "keywords"?, "id"?}`
//! per line. Blank lines are skipped, other fields are ignored, a UTF-8 BOM
//! and CRLF line ends are accepted. Every problem names the file and line.

use crate::eval::metrics::normalize;
use crate::{Error, Result};
use std::collections::HashMap;
use std::path::Path;

/// One question to ask.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    /// The line's `id`, or "q<N>" for the N-th question when there is none.
    pub id: String,
    pub question: String,
    pub expected: Option<String>,
    /// Key facts the answer should contain.
    pub keywords: Vec<String>,
}

/// The fields of one line that matter; the others are ignored.
struct Line {
    question: Option<serde_json::Value>,
    expected: Option<serde_json::Value>,
    keywords: Option<serde_json::Value>,
    id: Option<serde_json::Value>,
}

/// Reads and checks a questions file.
pub fn read_questions(path: &Path) -> Result<Vec<Question>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse_questions(path, &bytes)
}

/// Parses questions JSONL; `path` is only used in error messages.
pub fn parse_questions(path: &Path, bytes: &[u8]) -> Result<Vec<Question>> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut questions = Vec::new();
    let mut ids: HashMap<String, usize> = HashMap::new();
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line_no = i + 1;
        let err = |msg: String| Error::data(path, line_no, msg);
        let line = std::str::from_utf8(raw).map_err(|e| err(format!("not UTF-8 text (invalid byte at column {})", e.valid_up_to() + 1)))?;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let value: serde_json::Value = serde_json::from_str(line).map_err(|e| err(format!("invalid JSON: {}", json_msg_in_line(&e))))?;
        let serde_json::Value::Object(mut fields) = value else {
            return Err(err(format!("expected a JSON object with a \"question\" field, found {}", json_kind(&value))));
        };
        let parsed = Line {
            question: fields.remove("question"),
            expected: fields.remove("expected"),
            keywords: fields.remove("keywords"),
            id: fields.remove("id"),
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
        let keywords = match parsed.keywords {
            None | Some(serde_json::Value::Null) => Vec::new(),
            Some(serde_json::Value::Array(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for (k, item) in items.into_iter().enumerate() {
                    match item {
                        serde_json::Value::String(s) if !normalize(&s).is_empty() => out.push(s.trim().to_string()),
                        serde_json::Value::String(s) => {
                            return Err(err(format!("keywords[{k}] ({s:?}) has no letter or digit to look for")))
                        }
                        other => return Err(err(format!("keywords[{k}] must be a string, found {}", json_kind(&other)))),
                    }
                }
                out
            }
            Some(other) => return Err(err(format!("\"keywords\" must be a list of strings, found {}", json_kind(&other)))),
        };
        let id = match parsed.id {
            None | Some(serde_json::Value::Null) => format!("q{}", questions.len() + 1),
            Some(serde_json::Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
            Some(serde_json::Value::Number(n)) => n.to_string(),
            Some(other) => return Err(err(format!("\"id\" must be a non-empty string or a number, found {}", json_kind(&other)))),
        };
        if let Some(first) = ids.insert(id.clone(), line_no) {
            return Err(err(format!("duplicate id \"{id}\" (first used on line {first})")));
        }
        questions.push(Question { id, question, expected, keywords });
    }
    if questions.is_empty() {
        return Err(Error::format(path, "no questions: the file has no non-blank line"));
    }
    Ok(questions)
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
        assert_eq!(qs[1], Question { id: "q2".into(), question: "Qui ?".into(), expected: None, keywords: vec![] });
        assert_eq!(qs[2].id, "7");
    }

    #[test]
    fn bad_lines_name_file_and_line() {
        let cases = [
            ("{\"question\": \"a\"}\n{\"question\": \"b\"\n", "qs.jsonl:2: invalid JSON"),
            ("{\"question\": \"a\"}\n\n{\"expected\": \"b\"}\n", "qs.jsonl:3: missing field \"question\""),
            ("{\"question\": 3}\n", "qs.jsonl:1: \"question\" must be a string, found a number"),
            ("{\"question\": \"a\", \"keywords\": \"x\"}\n", "qs.jsonl:1: \"keywords\" must be a list of strings"),
            ("{\"question\": \"a\", \"keywords\": [\"ok\", \"«»\"]}\n", "qs.jsonl:1: keywords[1]"),
            ("{\"question\": \"a\", \"id\": \"x\"}\n{\"question\": \"b\", \"id\": \"x\"}\n", "qs.jsonl:2: duplicate id \"x\" (first used on line 1)"),
            ("[1, 2]\n", "qs.jsonl:1: expected a JSON object"),
            ("\n  \n", "qs.jsonl: no questions"),
        ];
        for (text, want) in cases {
            let got = parse(text).unwrap_err().to_string();
            assert!(got.starts_with(want), "for {text:?}: got {got:?}, want prefix {want:?}");
        }
        let got = parse_questions(Path::new("qs.jsonl"), b"{\"question\": \"a\"}\n{\"question\": \"\xff\"}\n").unwrap_err().to_string();
        assert!(got.starts_with("qs.jsonl:2: not UTF-8"), "{got}");
    }
}
