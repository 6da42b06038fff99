//! Surface noise for augmented questions, as real users type: missing
//! accents, lowercase, a small typo, sloppy punctuation. The entity's name is
//! never misspelt (only its case may change), so the fact being asked about
//! stays identifiable.

use crate::data::text::{fold, strip_accents};
use crate::util::rng::Rng;

/// Probabilities of each kind of noise (independent).
const P_NO_ACCENTS: f32 = 0.2;
const P_LOWERCASE: f32 = 0.2;
const P_TYPO: f32 = 0.15;
const P_PUNCTUATION: f32 = 0.15;

/// Applies random noise to `question` (about `name`); returns the new text.
pub fn perturb(question: &str, name: &str, rng: &mut Rng) -> String {
    let mut q = question.to_string();
    if rng.next_f32() < P_NO_ACCENTS {
        q = strip_accents(&q);
    }
    if rng.next_f32() < P_LOWERCASE {
        q = q.to_lowercase();
    }
    if rng.next_f32() < P_TYPO {
        q = typo(&q, name, rng);
    }
    if rng.next_f32() < P_PUNCTUATION {
        q = sloppy_punctuation(&q, rng);
    }
    q
}

/// One typo in one word of 5+ letters that is not part of the name: two
/// letters swapped, one dropped, or one doubled.
pub fn typo(q: &str, name: &str, rng: &mut Rng) -> String {
    let name_words: Vec<String> = crate::data::text::words(name);
    let tokens: Vec<&str> = q.split(' ').collect();
    let candidates: Vec<usize> = tokens
        .iter()
        .enumerate()
        .filter(|(_, t)| {
            let letters = t.chars().filter(|c| c.is_alphabetic()).count();
            letters >= 5 && t.chars().all(|c| c.is_alphabetic()) && !name_words.contains(&fold(t))
        })
        .map(|(i, _)| i)
        .collect();
    if candidates.is_empty() {
        return q.to_string();
    }
    let ti = candidates[rng.below(candidates.len() as u64) as usize];
    let mut chars: Vec<char> = tokens[ti].chars().collect();
    // Interior position, never the first letter.
    let pos = 1 + rng.below((chars.len() - 2) as u64) as usize;
    match rng.below(3) {
        // Swapping two equal letters would change nothing: drop one instead.
        0 if chars[pos] != chars[pos + 1] => chars.swap(pos, pos + 1),
        0 | 1 => {
            chars.remove(pos);
        }
        _ => {
            let c = chars[pos];
            chars.insert(pos, c);
        }
    }
    let new_token: String = chars.into_iter().collect();
    let mut out: Vec<String> = tokens.iter().map(|t| t.to_string()).collect();
    out[ti] = new_token;
    out.join(" ")
}

/// Drops the final "?"/"." or the space before it.
fn sloppy_punctuation(q: &str, rng: &mut Rng) -> String {
    let t = q.trim_end();
    if let Some(stripped) = t.strip_suffix(" ?") {
        return if rng.below(2) == 0 { stripped.to_string() } else { format!("{stripped}?") };
    }
    if let Some(stripped) = t.strip_suffix('?').or_else(|| t.strip_suffix('.')) {
        return stripped.to_string();
    }
    t.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typo_spares_the_name_and_changes_one_word() {
        let mut rng = Rng::new(3);
        for _ in 0..50 {
            let q = typo("Quelles technologies utilise KORRIGAN ?", "KORRIGAN", &mut rng);
            assert!(q.contains("KORRIGAN"), "{q}");
            assert_ne!(q, "Quelles technologies utilise KORRIGAN ?");
            let changed = q.split(' ').zip("Quelles technologies utilise KORRIGAN ?".split(' ')).filter(|(a, b)| a != b).count();
            assert_eq!(changed, 1, "{q}");
        }
        // Nothing to misspell: unchanged.
        assert_eq!(typo("Qui est GIDAF ?", "GIDAF", &mut rng), "Qui est GIDAF ?");
    }

    #[test]
    fn punctuation() {
        let mut rng = Rng::new(1);
        let outs: std::collections::HashSet<String> = (0..20).map(|_| sloppy_punctuation("Qui héberge X ?", &mut rng)).collect();
        assert!(outs.iter().all(|o| o == "Qui héberge X" || o == "Qui héberge X?"), "{outs:?}");
    }
}
