//! Text normalisation for exact match, key facts and token F1.
//!
//! Two answers that differ only by case, accents, punctuation or spacing
//! should count as the same answer: "L'hébergeur est « DSI »." and
//! "l hebergeur est dsi" normalise to the same string. Compatibility
//! decomposition (NFKD, in [`crate::util::fold`]) is used rather than plain NFD
//! so that typographic variants (non-breaking spaces, ligatures such as "ﬁ",
//! superscripts) fold too; the combining marks it separates (accents, cedillas)
//! are then dropped.

use crate::util::fold::fold;

/// Lower-cased, accent-free text ([`fold`]) where every run of characters
/// that are not letters or digits (punctuation such as `« » ’ – …`, symbols,
/// whitespace) becomes one space, with no leading or trailing space.
pub fn normalize(text: &str) -> String {
    let folded = fold(text);
    let words = folded.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty());
    words.collect::<Vec<_>>().join(" ")
}

/// The words of the normalised text.
pub fn normalized_tokens(text: &str) -> Vec<String> {
    normalize(text).split(' ').filter(|t| !t.is_empty()).map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_case_accents_and_french_punctuation() {
        assert_eq!(normalize("L’hébergeur est « DSI »."), "l hebergeur est dsi");
        assert_eq!(normalize("  Élève\u{00A0}:  ÇA  va ?! "), "eleve ca va");
        assert_eq!(normalize("Qu'est-ce que GIDAF\u{202F}?"), "qu est ce que gidaf");
        assert_eq!(normalize("Cœur – Æther… straße"), "coeur aether strasse");
        assert_eq!(normalize("ﬁchier n°2 — 3,5 %"), "fichier n 2 3 5");
        assert_eq!(normalize("nº2"), "no2");
    }

    #[test]
    fn decomposed_and_precomposed_accents_agree() {
        // "é" as one code point and as "e" + COMBINING ACUTE ACCENT.
        assert_eq!(normalize("Caf\u{00E9}"), normalize("Cafe\u{0301}"));
        assert_eq!(normalize("İstanbul"), "istanbul");
    }

    #[test]
    fn empty_and_punctuation_only() {
        assert_eq!(normalize(""), "");
        assert_eq!(normalize(" ?! « » "), "");
        assert!(normalized_tokens("...").is_empty());
        assert_eq!(normalized_tokens("Le  chat, le chien"), vec!["le", "chat", "le", "chien"]);
    }
}
