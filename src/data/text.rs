//! Text normalisation shared by the catalogue readers, the generators, the
//! grounding check and the de-duplication: folding case and accents, splitting
//! words, French/English stop words.

pub use crate::util::fold::{fold, strip_accents};

/// Folded words: maximal runs of letters and digits, apostrophes and hyphens
/// splitting words ("l'application" → "l", "application").
pub fn words(s: &str) -> Vec<String> {
    fold(s).split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_string).collect()
}

/// A key for "the same question": folded, punctuation removed, spaces collapsed.
/// "Qu'est-ce que GIDAF ?" and "qu'est ce que gidaf" share a key.
pub fn question_key(s: &str) -> String {
    words(s).join(" ")
}

/// Trims and collapses runs of whitespace into one space.
pub fn collapse_spaces(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// True when `needle` occurs in `haystack` as a sequence of whole folded words.
pub fn contains_words(haystack: &[String], needle: &[String]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Lowercases the first letter, unless the first word looks like an acronym or
/// a proper noun written in capitals ("SAP", "PostgreSQL").
pub fn lower_first(s: &str) -> String {
    let first_word: String = s.chars().take_while(|c| c.is_alphanumeric()).collect();
    let caps = first_word.chars().filter(|c| c.is_uppercase()).count();
    if caps > 1 || first_word.chars().count() <= 1 {
        return s.to_string();
    }
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Uppercases the first letter.
pub fn upper_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Removes a final period (and spaces) so a value can sit inside a sentence.
pub fn strip_final_period(s: &str) -> &str {
    let t = s.trim_end();
    let t = t.strip_suffix('.').filter(|r| !r.ends_with('.')).unwrap_or(t);
    t.trim_end()
}

/// French and English function words: they carry no fact, so the grounding
/// check ignores them and keywords never use them.
pub fn is_stop_word(folded: &str) -> bool {
    STOP_WORDS.binary_search(&folded).is_ok()
}

// Sorted (binary search). Folded forms (no accents).
const STOP_WORDS: &[&str] = &[
    "a", "about", "after", "ai", "aie", "ainsi", "all", "also", "an", "and", "any", "are", "as", "at", "au", "aucun", "aucune", "aupres",
    "aussi", "autre", "autres", "aux", "avant", "avec", "avez", "avoir", "be", "been", "but", "by", "c", "ca", "can", "ce", "cela",
    "celle", "celui", "ces", "cet", "cette", "chaque", "chez", "comme", "comment", "d", "dans", "de", "depuis", "des", "do", "does",
    "donc", "dont", "du", "elle", "elles", "en", "entre", "est", "et", "etait", "ete", "etre", "eux", "for", "from", "had", "has", "have",
    "he", "her", "his", "how", "i", "if", "il", "ils", "in", "into", "is", "it", "its", "j", "je", "l", "la", "le", "les", "leur", "leurs",
    "lui", "m", "ma", "mais", "me", "mes", "moi", "mon", "my", "n", "ne", "ni", "no", "nos", "not", "notre", "nous", "of", "on", "or",
    "ou", "our", "par", "pas", "peut", "plus", "pour", "qu", "quand", "que", "quel", "quelle", "quelles", "quels", "qui", "s", "sa",
    "sans", "se", "ses", "she", "si", "son", "sont", "sous", "sur", "t", "ta", "te", "tes", "than", "that", "the", "their", "them", "then",
    "there", "these", "they", "this", "those", "to", "ton", "tous", "tout", "toute", "toutes", "tu", "un", "une", "us", "vos", "votre",
    "vous", "was", "we", "were", "what", "when", "where", "which", "who", "whom", "why", "will", "with", "y", "you", "your",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_words_sorted() {
        assert!(STOP_WORDS.windows(2).all(|w| w[0] < w[1]), "STOP_WORDS must stay sorted");
    }

    #[test]
    fn folding() {
        assert_eq!(words("Qu'est-ce que GIDAF ?"), ["qu", "est", "ce", "que", "gidaf"]);
        assert_eq!(question_key("Qu'est-ce que  GIDAF ?"), question_key("qu est ce que gidaf"));
    }

    #[test]
    fn first_letters() {
        assert_eq!(lower_first("Application de gestion"), "application de gestion");
        assert_eq!(lower_first("SAP Business"), "SAP Business");
        assert_eq!(lower_first("PostgreSQL"), "PostgreSQL");
        assert_eq!(upper_first("éditeur"), "Éditeur");
        assert_eq!(strip_final_period("Une phrase. "), "Une phrase");
        assert_eq!(strip_final_period("Etc..."), "Etc...");
    }
}
