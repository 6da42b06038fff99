//! One generated question/answer pair, with what it is about and the facts
//! its answer must contain (the keywords of the test-questions file).

use crate::data::catalogue::{Field, FieldKind, Record};
use crate::data::text::{fold, is_stop_word, words};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Example {
    /// Index of the record in the catalogue; `None` for a negative example.
    pub record: Option<usize>,
    /// "description", "hosting", "multi", "negative", "llm"...
    pub intent: String,
    pub question: String,
    pub answer: String,
    /// Key facts a correct answer must contain; each occurs in `answer`.
    pub facts: Vec<String>,
    /// The user turn when it is more than the question: retrieved records,
    /// then the question (`crate::rag::raft`). `None`: the question alone.
    pub prompt: Option<String>,
}

impl Example {
    /// The benchmark kind of the question (see `eval::questions`): `negative`
    /// for unknown names, `multi` for several facts, `paraphrase` for reverse
    /// lookups and LLM-written questions, `direct` for a template about one field.
    pub fn kind(&self) -> &'static str {
        match self.intent.as_str() {
            "negative" | "missing" => "negative",
            "multi" => "multi",
            i if i == "llm" || i.starts_with("reverse") => "paraphrase",
            _ => "direct",
        }
    }
}

/// Facts of one field worth checking in an answer: the items of a list; the
/// value when it is short; a few distinctive words of a long text.
pub fn field_facts(f: &Field) -> Vec<String> {
    if f.kind.is_list() && f.items.len() > 1 {
        return f.items.clone();
    }
    let value = crate::data::text::strip_final_period(&f.value);
    let n_words = value.split_whitespace().count();
    if n_words <= 6 || matches!(f.kind, FieldKind::Url | FieldKind::ServiceDate | FieldKind::Version) {
        return vec![value.to_string()];
    }
    // A long text: its first few content words (not stop words, 4+ letters).
    let mut out: Vec<String> = Vec::new();
    for w in value.split(|c: char| !c.is_alphanumeric() && c != '-').filter(|w| !w.is_empty()) {
        let f = fold(w);
        let content = !is_stop_word(&f) && (w.chars().count() >= 4 || w.chars().any(|c| c.is_ascii_digit()));
        if content && !out.iter().any(|o| fold(o) == f) {
            out.push(w.to_string());
        }
        if out.len() == 4 {
            break;
        }
    }
    out
}

/// Keeps the facts that the answer really contains (folded comparison), in order, without repeats.
pub fn facts_in_answer(answer: &str, candidates: impl IntoIterator<Item = String>) -> Vec<String> {
    let folded_answer = words(answer).join(" ");
    let mut out: Vec<String> = Vec::new();
    for c in candidates {
        let key = words(&c).join(" ");
        if !key.is_empty() && contains_padded(&folded_answer, &key) && !out.iter().any(|o| words(o).join(" ") == key) {
            out.push(c);
        }
    }
    out
}

fn contains_padded(hay: &str, needle: &str) -> bool {
    format!(" {hay} ").contains(&format!(" {needle} "))
}

/// Every fact of a record (for LLM answers, which may use any field).
pub fn record_facts(r: &Record) -> Vec<String> {
    r.fields.iter().flat_map(field_facts).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts() {
        let f = Field::new("technologies", "Java, PostgreSQL et Angular", None);
        assert_eq!(field_facts(&f), ["Java", "PostgreSQL", "Angular"]);
        let f = Field::new("description", "Application de gestion des dossiers administratifs et financiers des établissements.", None);
        assert_eq!(field_facts(&f), ["Application", "gestion", "dossiers", "administratifs"]);
        let f = Field::new("statut", "En production.", None);
        assert_eq!(field_facts(&f), ["En production"]);
        let got = facts_in_answer(
            "GIDAF est en production depuis 2019.",
            vec!["En production".into(), "2019".into(), "Java".into(), "2019".into()],
        );
        assert_eq!(got, ["En production", "2019"]);
    }
}
