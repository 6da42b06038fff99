//! Folding text for comparison: one definition of "the same letters" for the
//! catalogue readers, the generators, the grounding check and the metrics.
//!
//! Unicode compatibility decomposition (NFKD) separates accents and cedillas
//! from their letters and maps typographic variants (non-breaking spaces,
//! ligatures such as "ﬁ", superscripts) to plain ones; the combining marks
//! are then dropped. Ligatures that no decomposition splits and that French
//! uses (œ, æ) and ß are spelled out, and typographic apostrophes become the
//! ASCII one.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Lowercases and removes accents (é → e, œ → oe, ß → ss, ﬁ → fi, ’ → '),
/// so that "Hébergé" and "heberge" compare equal. Other characters are kept.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.nfkd().filter(|c| !is_combining_mark(*c)) {
        // Lower-casing can itself produce combining marks ("İ" → "i" + U+0307).
        for lc in c.to_lowercase().filter(|c| !is_combining_mark(*c)) {
            push_plain(lc, &mut out);
        }
    }
    out
}

/// Removes accents but keeps the case ("Hébergé À" → "Heberge A", "Œuvre" → "OEuvre").
pub fn strip_accents(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.nfkd().filter(|c| !is_combining_mark(*c)) {
        if c.is_uppercase() {
            let mut plain = String::new();
            c.to_lowercase().for_each(|lc| push_plain(lc, &mut plain));
            out.extend(plain.chars().flat_map(char::to_uppercase));
        } else {
            push_plain(c, &mut out);
        }
    }
    out
}

/// Spells out the ligatures that NFKD keeps and makes apostrophes ASCII.
fn push_plain(c: char, out: &mut String) {
    match c {
        'œ' => out.push_str("oe"),
        'æ' => out.push_str("ae"),
        'ß' => out.push_str("ss"),
        '\u{2019}' | '\u{2018}' => out.push('\''),
        c => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_case_accents_ligatures_and_apostrophes() {
        assert_eq!(fold("Hébergé par l’ÉTAT, Œuvre"), "heberge par l'etat, oeuvre");
        assert_eq!(fold("ﬁchier\u{a0}Straße İ"), "fichier strasse i");
        assert_eq!(strip_accents("Hébergé À"), "Heberge A");
        assert_eq!(strip_accents("Œuvre d’État"), "OEuvre d'Etat");
    }
}
