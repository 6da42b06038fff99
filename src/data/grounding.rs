//! Is an answer grounded in its record? Every fact-bearing token of the answer
//! — URLs, numbers and dates, names, content words — must come from the record
//! (compared with case and accents folded, content words by stem), and the
//! answer must state at least one of the record's facts. Function words and
//! the generic wording of the templates ("est hébergé par", "uses") carry no
//! fact and are accepted.

use crate::data::catalogue::Record;
use crate::data::templates::template_vocabulary;
use crate::data::text::{fold, is_stop_word, words};
use std::collections::HashSet;

/// Everyday words that an answer may use around the facts without stating one.
const GENERIC_WORDS: &[&str] = &[
    "application",
    "applications",
    "app",
    "apps",
    "outil",
    "outils",
    "logiciel",
    "systeme",
    "service",
    "services",
    "plateforme",
    "solution",
    "permet",
    "permettent",
    "permettre",
    "sert",
    "servir",
    "utilise",
    "utilisee",
    "utilises",
    "utilisees",
    "utiliser",
    "gere",
    "gerer",
    "geree",
    "assure",
    "assuree",
    "fournit",
    "propose",
    "concerne",
    "actuellement",
    "egalement",
    "notamment",
    "principalement",
    "aussi",
    "nom",
    "appelle",
    "appelee",
    "nommee",
    "nomme",
    "agit",
    "oui",
    "non",
    "tool",
    "tools",
    "used",
    "uses",
    "use",
    "using",
    "allows",
    "provides",
    "called",
    "named",
    "yes",
    "currently",
    "also",
    "mainly",
    "which",
    "system",
    "software",
    "platform",
    "sais",
    "connais",
    "information",
    "informations",
    "know",
];

/// The record's folded words and text, ready for look-ups.
pub struct RecordVocabulary {
    words: HashSet<String>,
    name_words: HashSet<String>,
    /// Values that are one word ("aucune", "haute"): facts even when they are stop words.
    one_word_values: HashSet<String>,
    text: String,
}

impl RecordVocabulary {
    pub fn new(rec: &Record) -> Self {
        let text = rec.text();
        let one_word_values = rec.fields.iter().map(|f| words(&f.value)).filter(|w| w.len() == 1).flatten().collect();
        RecordVocabulary {
            words: words(&text).into_iter().collect(),
            name_words: words(&rec.name).into_iter().collect(),
            one_word_values,
            text: fold(&text),
        }
    }

    /// A word of the record, exactly or by a shared stem ("hébergé" ~ "hébergement").
    fn has_word(&self, w: &str) -> bool {
        if self.words.contains(w) {
            return true;
        }
        let wl = w.chars().count();
        self.words.iter().any(|r| {
            let rl = r.chars().count();
            let common = w.chars().zip(r.chars()).take_while(|(a, b)| a == b).count();
            // Same stem: a long common prefix, or one word is the other plus a short ending (plural, feminine).
            common >= 5 || (common == wl.min(rl) && wl.min(rl) >= 4 && wl.abs_diff(rl) <= 3)
        })
    }
}

/// The verdict on one answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Grounding {
    /// Every fact-bearing token is in the record; `facts` of them are record facts.
    Grounded { facts: usize },
    /// These tokens of the answer are not in the record.
    Ungrounded(Vec<String>),
    /// The answer states no fact of the record (e.g. "I don't know", or only the name).
    NoFact,
}

/// Checks `answer` against the record's vocabulary.
pub fn check(answer: &str, vocab: &RecordVocabulary) -> Grounding {
    let template_words = template_vocabulary();
    let mut missing: Vec<String> = Vec::new();
    let mut facts = 0;
    let mut rest = String::with_capacity(answer.len());
    // URLs and e-mail addresses must appear whole in the record.
    for token in answer.split_whitespace() {
        let t =
            token.trim_matches(|c: char| matches!(c, '.' | ',' | ';' | ':' | '!' | '?' | ')' | '(' | '«' | '»' | '"' | '\'' | '<' | '>'));
        if t.contains("://") || t.starts_with("www.") || (t.contains('@') && t.contains('.')) {
            if vocab.text.contains(&fold(t)) {
                facts += 1;
            } else {
                missing.push(t.to_string());
            }
        } else {
            rest.push_str(token);
            rest.push(' ');
        }
    }
    for w in words(&rest) {
        let has_digit = w.chars().any(|c| c.is_ascii_digit());
        if has_digit {
            // Numbers and dates: as a token of the record.
            if vocab.words.contains(&w) {
                facts += 1;
            } else {
                missing.push(w);
            }
            continue;
        }
        if vocab.one_word_values.contains(&w) {
            facts += 1;
            continue;
        }
        if w.chars().count() < 3 || is_stop_word(&w) {
            continue;
        }
        if vocab.name_words.contains(&w) {
            continue; // the name is not a fact by itself
        }
        let in_record = vocab.has_word(&w);
        if in_record && !template_words.contains(&w) && !GENERIC_WORDS.contains(&w.as_str()) {
            facts += 1;
        } else if !in_record && !template_words.contains(&w) && !GENERIC_WORDS.contains(&w.as_str()) {
            missing.push(w);
        }
    }
    if !missing.is_empty() {
        missing.dedup();
        return Grounding::Ungrounded(missing);
    }
    if facts == 0 {
        return Grounding::NoFact;
    }
    Grounding::Grounded { facts }
}

/// True when the question names the record (its folded words appear in order).
pub fn names_record(question: &str, rec: &Record) -> bool {
    let q = words(question);
    let n = words(&rec.name);
    crate::data::text::contains_words(&q, &n) || fold(question).contains(&fold(&rec.name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::catalogue::Field;

    fn rec() -> Record {
        Record {
            name: "GIDAF".into(),
            fields: vec![
                Field::new("description", "Application de gestion des dossiers administratifs et financiers.", None),
                Field::new("hébergement", "DSI NOVATERRE, datacenter de Rennes", None),
                Field::new("date_mise_en_service", "15 mars 2019", None),
                Field::new("url", "https://gidaf.novaterre.example", None),
            ],
            source: "x".into(),
            line: 1,
        }
    }

    #[test]
    fn grounded_and_not() {
        let v = RecordVocabulary::new(&rec());
        assert!(matches!(check("GIDAF est une application de gestion des dossiers administratifs.", &v), Grounding::Grounded { .. }));
        assert!(matches!(check("GIDAF est hébergé au datacenter de Rennes depuis 2019.", &v), Grounding::Grounded { .. }));
        assert!(matches!(check("On y accède via https://gidaf.novaterre.example.", &v), Grounding::Grounded { .. }));
        assert_eq!(check("GIDAF est hébergé à Lyon.", &v), Grounding::Ungrounded(vec!["lyon".into()]));
        assert_eq!(check("GIDAF a été mis en service en 2020.", &v), Grounding::Ungrounded(vec!["2020".into()]));
        assert_eq!(check("Accessible via https://autre.example", &v), Grounding::Ungrounded(vec!["https://autre.example".into()]));
        assert_eq!(check("Je ne sais pas.", &v), Grounding::NoFact);
        assert_eq!(check("GIDAF est une application.", &v), Grounding::NoFact);
        assert!(names_record("Qu'est-ce que gidaf ?", &rec()));
        assert!(!names_record("Qu'est-ce que c'est ?", &rec()));
    }
}
