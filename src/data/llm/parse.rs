//! Reading question/answer pairs out of an LLM's reply, whatever its shape:
//! a JSON array, JSON objects one per line, JSON inside a ```json fence,
//! text before or after it, an array cut short (the complete objects are kept),
//! an object holding the list ({"paires": [...]}), or plain "Q: ... / R: ..." lines.

use serde_json::Value;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QaPair {
    pub question: String,
    pub answer: String,
}

const QUESTION_KEYS: &[&str] = &["question", "q", "questions", "user", "prompt"];
const ANSWER_KEYS: &[&str] = &["answer", "reponse", "réponse", "a", "r", "response", "assistant", "reply"];

/// Every pair found in `text`, in order.
pub fn parse_pairs(text: &str) -> Vec<QaPair> {
    let mut out = Vec::new();
    for obj in balanced_objects(text) {
        if let Ok(v) = serde_json::from_str::<Value>(obj) {
            collect(&v, &mut out);
        }
    }
    if out.is_empty() {
        out = line_pairs(text);
    }
    out
}

/// The outermost `{...}` spans of `text`, skipping braces inside JSON strings.
/// An object still open at the end (a reply cut short) is left out.
fn balanced_objects(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let (mut depth, mut start, mut in_str, mut escaped) = (0usize, 0usize, false, false);
    for (i, &b) in bytes.iter().enumerate() {
        if in_str {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' if depth > 0 => in_str = true,
            b'{' => {
                if depth == 0 {
                    start = i;
                }
                depth += 1;
            }
            b'}' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    out.push(&text[start..=i]);
                }
            }
            _ => {}
        }
    }
    out
}

fn field<'a>(m: &'a serde_json::Map<String, Value>, keys: &[&str]) -> Option<&'a str> {
    m.iter()
        .find(|(k, _)| keys.contains(&k.trim().to_lowercase().as_str()))
        .and_then(|(_, v)| v.as_str())
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn collect(v: &Value, out: &mut Vec<QaPair>) {
    match v {
        Value::Object(m) => match (field(m, QUESTION_KEYS), field(m, ANSWER_KEYS)) {
            (Some(q), Some(a)) => out.push(QaPair { question: q.to_string(), answer: a.to_string() }),
            _ => m.values().for_each(|x| collect(x, out)),
        },
        Value::Array(a) => a.iter().for_each(|x| collect(x, out)),
        _ => {}
    }
}

/// "Q: ...\nR: ..." / "Question : ...\nRéponse : ..." / "1. Question: ... Answer: ..." lines.
fn line_pairs(text: &str) -> Vec<QaPair> {
    let mut out = Vec::new();
    let mut pending: Option<String> = None;
    for line in text.lines() {
        let l = line.trim().trim_start_matches(|c: char| c.is_ascii_digit() || c == '.' || c == ')' || c == '-' || c == '*').trim();
        let l = l.replace("**", "");
        if let Some(q) = after_label(&l, &["question", "q"]) {
            pending = Some(q.to_string());
        } else if let Some(a) = after_label(&l, &["réponse", "reponse", "answer", "r", "a"]) {
            if let Some(q) = pending.take() {
                out.push(QaPair { question: q, answer: a.to_string() });
            }
        }
    }
    out
}

fn after_label<'a>(line: &'a str, labels: &[&str]) -> Option<&'a str> {
    let (head, tail) = line.split_once(':')?;
    let head = head.trim().to_lowercase();
    let tail = tail.trim();
    (labels.contains(&head.as_str()) && !tail.is_empty()).then_some(tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qs(v: &[QaPair]) -> Vec<(&str, &str)> {
        v.iter().map(|p| (p.question.as_str(), p.answer.as_str())).collect()
    }

    #[test]
    fn shapes() {
        let fenced =
            "Voici :\n```json\n[{\"question\": \"Qui ?\", \"reponse\": \"Lui.\"}, {\"q\": \"Où { ?\", \"a\": \"Là }.\"}]\n```\nFin.";
        assert_eq!(qs(&parse_pairs(fenced)), [("Qui ?", "Lui."), ("Où { ?", "Là }.")]);
        let cut = "[{\"question\": \"A ?\", \"answer\": \"B.\"}, {\"question\": \"C ?\", \"ans";
        assert_eq!(qs(&parse_pairs(cut)), [("A ?", "B.")]);
        let wrapped = "{\"paires\": [{\"Question\": \"A ?\", \"Réponse\": \"B.\"}]}";
        assert_eq!(qs(&parse_pairs(wrapped)), [("A ?", "B.")]);
        let lines = "1. **Question** : Qui héberge X ?\n**Réponse** : La DSI.\nQ: Et Y ?\nR: Non.";
        assert_eq!(qs(&parse_pairs(lines)), [("Qui héberge X ?", "La DSI."), ("Et Y ?", "Non.")]);
        assert!(parse_pairs("rien d'utile").is_empty());
        assert!(parse_pairs("{\"question\": \"\", \"answer\": \"x\"}").is_empty());
    }
}
