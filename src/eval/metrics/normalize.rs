//! Text normalisation for exact match, key facts and token F1.
//!
//! Two answers that differ only by case, accents, punctuation or spacing
//! should count as the same answer: "L'hébergeur est « DSI »." and
//! "l hebergeur est dsi" normalise to the same string. Compatibility
//! decomposition (NFKD) is used rather than plain NFD so that typographic
//! variants (non-breaking spaces, ligatures such as "ﬁ", superscripts) fold too;
//! the combining marks it separates (accents, cedillas) are then dropped.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Lower-cased, accent-free text where every run of characters that are not
/// letters or digits (punctuation such as `« » ’ – …`, symbols, whitespace)
/// becomes one space, with no leading or trailing space.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // A separator is only written once a following word starts, which both
    // collapses runs of separators and trims the ends.
    let mut pending_space = false;
    let push_word_char = |out: &mut String, pending: &mut bool, c: char| {
        if *pending && !out.is_empty() {
            out.push(' ');
        }
        *pending = false;
        out.push(c);
    };
    for c in text.nfkd() {
        if is_combining_mark(c) {
            continue;
        }
        // Lower-casing can itself produce combining marks ("İ" → "i" + U+0307).
        for lc in c.to_lowercase() {
            if is_combining_mark(lc) {
                continue;
            }
            match lc {
                // Ligatures that no Unicode decomposition splits, common in French.
                'œ' => "oe".chars().for_each(|x| push_word_char(&mut out, &mut pending_space, x)),
                'æ' => "ae".chars().for_each(|x| push_word_char(&mut out, &mut pending_space, x)),
                'ß' => "ss".chars().for_each(|x| push_word_char(&mut out, &mut pending_space, x)),
                x if x.is_alphanumeric() => push_word_char(&mut out, &mut pending_space, x),
                _ => pending_space = true,
            }
        }
    }
    out
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
