//! Is an answer right? The per-answer verdict behind the `correct`, `echo` and
//! `refusal` scores, shared by every evaluation (fine-tuned, RAG, hybrid).
//!
//! - An **echo** is an answer that repeats its prompt instead of answering: it
//!   contains the system prompt's first sentence, the question itself, the RAG
//!   context's header or instruction, or a whole retrieved record line that
//!   does not hold one of the question's key facts. An echo is always wrong,
//!   whatever facts it happens to contain (a pasted record contains them all).
//! - A **refusal** contains one of [`REFUSAL_PHRASES`] (normalised).
//! - A question of kind `negative` (about something absent from the catalogue)
//!   is answered right by a refusal that invents nothing: no URL, no date, no
//!   hosting and no owner statement ([`invents_facts`]).
//! - Any other question is answered right when every key fact is in the answer
//!   (or, without key facts, when it matches the expected answer exactly) and
//!   the answer is neither an echo nor a refusal ("I don't know X. The answer
//!   is X, Y, Z..." names the facts without giving them).

use crate::eval::metrics::normalize;

/// The `kind` of a question about something absent from the catalogue.
pub const NEGATIVE_KIND: &str = "negative";

/// Phrases that make an answer a refusal, normalised (lower case, no accents,
/// punctuation as spaces). French first, then English. Documented in
/// docs/results-schema.md.
pub const REFUSAL_PHRASES: &[&str] = &[
    "je ne connais pas",
    "je ne sais pas",
    "je n ai pas d information",
    "je n ai aucune information",
    "je ne dispose pas",
    "aucune information",
    "n existe pas",
    "ne figure pas",
    "n apparait pas",
    "pas dans le catalogue",
    "absente du catalogue",
    "absent du catalogue",
    "ne contient pas",
    "n indique pas",
    "ne precise pas",
    "does not give",
    "i don t know",
    "i do not know",
    "no information",
    "not in the catalogue",
    "not in the catalog",
    "does not contain",
];

/// Words that state a hosting or an owner: a refusal that goes on with them
/// has invented a fact about an application it does not know.
const FACT_CUES: &[&str] =
    &["heberge", "hebergee", "hebergement", "hebergeur", "responsable", "gere par", "geree par", "hosted", "owner", "managed by"];

const MONTHS: &[&str] = &[
    "janvier",
    "fevrier",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "aout",
    "septembre",
    "octobre",
    "novembre",
    "decembre",
    "january",
    "february",
    "march",
    "april",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// What the judge needs besides the answer.
pub struct Case<'a> {
    pub negative: bool,
    pub keywords: &'a [String],
    pub expected: Option<&'a str>,
    /// Texts whose presence in the answer makes it an echo (see [`echo_markers`]).
    pub echo_markers: &'a [String],
}

/// The verdict on one answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// `None` when nothing says what a right answer is (no key facts, no
    /// expected answer, not a negative question).
    pub correct: Option<bool>,
    pub echo: bool,
    pub refusal: bool,
}

/// Wraps normalised text in spaces so that `contains(" x ")` matches whole words.
fn padded(text: &str) -> String {
    format!(" {} ", normalize(text))
}

fn has_phrase(padded_text: &str, phrase: &str) -> bool {
    let n = normalize(phrase);
    !n.is_empty() && padded_text.contains(&format!(" {n} "))
}

pub fn is_refusal(answer: &str) -> bool {
    let a = padded(answer);
    REFUSAL_PHRASES.iter().any(|p| has_phrase(&a, p))
}

/// True when the answer gives a URL, a date (a year 1900–2099 or a month
/// name) or a hosting/owner statement.
pub fn invents_facts(answer: &str) -> bool {
    let lower = answer.to_lowercase();
    if lower.contains("://") || lower.contains("www.") {
        return true;
    }
    let a = padded(answer);
    let year = a.split(' ').any(|w| w.len() == 4 && (w.starts_with("19") || w.starts_with("20")) && w.bytes().all(|b| b.is_ascii_digit()));
    year || MONTHS.iter().chain(FACT_CUES).any(|w| has_phrase(&a, w))
}

/// The echo markers of a prompt: the system prompt's first sentence and the
/// question, plus whatever the prompt builder adds (context header,
/// instruction, record lines). Markers shorter than three words are dropped:
/// they could be part of any right answer.
pub fn echo_markers(system_prompt: Option<&str>, question: &str, extra: impl IntoIterator<Item = String>) -> Vec<String> {
    let first_sentence = system_prompt.map(|s| {
        let s = s.trim();
        match s.find(['.', '!', '?', '\n']) {
            Some(i) => s[..i].to_string(),
            None => s.to_string(),
        }
    });
    first_sentence
        .into_iter()
        .chain(std::iter::once(question.to_string()))
        .chain(extra)
        .filter(|m| normalize(m).split(' ').count() >= 3)
        .collect()
}

/// True when the answer contains a marker that holds none of the key facts
/// (a record line with the asked value is an answer, not an echo).
/// A marker that is a question (it ends with "?") is repeated only when the
/// answer starts with it or asks it again: "C'est Karim Haddouche qui est
/// responsable de FEDRA." restates "Qui est responsable de FEDRA ?" as an
/// answer, and is not an echo.
pub fn is_echo(answer: &str, markers: &[String], keywords: &[String]) -> bool {
    let a = padded(answer);
    markers.iter().any(|m| {
        let pm = padded(m);
        let present =
            if m.trim_end().ends_with('?') { a.starts_with(&pm) || (answer.contains('?') && has_phrase(&a, m)) } else { has_phrase(&a, m) };
        present && !keywords.iter().any(|k| has_phrase(&pm, k))
    })
}

pub fn judge(answer: &str, case: &Case) -> Verdict {
    let echo = is_echo(answer, case.echo_markers, case.keywords);
    let refusal = is_refusal(answer);
    let correct = if case.negative {
        Some(refusal && !echo && !invents_facts(answer))
    } else if !case.keywords.is_empty() {
        let all = crate::eval::metrics::overlap::keyword_recall(answer, case.keywords) == Some(1.0);
        Some(all && !echo && !refusal)
    } else {
        case.expected.map(|e| crate::eval::metrics::overlap::exact_match(answer, e) && !echo)
    };
    Verdict { correct, echo, refusal }
}

/// Wilson score interval at 95 % for `k` successes in `n` trials; `None` for n = 0.
/// Chosen over the normal approximation because it stays inside [0, 1] and
/// behaves at 0 % and 100 %, which small per-kind samples reach.
pub fn wilson95(k: u64, n: u64) -> Option<(f64, f64)> {
    if n == 0 {
        return None;
    }
    let (k, n) = (k as f64, n as f64);
    let z = 1.959_963_984_540_054_f64;
    let p = k / n;
    let denom = 1.0 + z * z / n;
    let centre = (p + z * z / (2.0 * n)) / denom;
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / denom;
    Some(((centre - half).max(0.0), (centre + half).min(1.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kw(k: &[&str]) -> Vec<String> {
        k.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn negative_needs_a_refusal_that_invents_nothing() {
        let markers = echo_markers(Some("Tu es un assistant qui répond aux questions. Sois bref."), "Qui héberge ZORGA ?", []);
        let case = Case { negative: true, keywords: &[], expected: None, echo_markers: &markers };
        assert_eq!(judge("Je ne connais pas cette application.", &case).correct, Some(true));
        assert_eq!(judge("Je n’ai pas d’information sur ZORGA.", &case).correct, Some(true));
        assert_eq!(judge("ZORGA est hébergé chez OVHcloud.", &case).correct, Some(false));
        // A refusal followed by invented facts is wrong.
        assert_eq!(judge("Je ne connais pas ZORGA. Elle est hébergée à Rennes.", &case).correct, Some(false));
        assert_eq!(judge("Je ne sais pas, voir https://zorga.example", &case).correct, Some(false));
        assert_eq!(judge("Je ne connais pas ZORGA, mise en service en 2019.", &case).correct, Some(false));
        let v = judge("Tu es un assistant qui répond aux questions. Je ne connais pas ZORGA.", &case);
        assert!(v.echo && v.refusal && v.correct == Some(false));
    }

    #[test]
    fn positive_needs_every_key_fact_and_no_echo() {
        let k = kw(&["OVHcloud", "Gravelines"]);
        let markers = echo_markers(
            None,
            "Qui héberge KORRIGAN ?",
            ["Contexte (extraits du catalogue) :".to_string(), "responsable : Yann Le Goff".to_string()],
        );
        let case = Case { negative: false, keywords: &k, expected: None, echo_markers: &markers };
        assert_eq!(
            judge("KORRIGAN est hébergé chez OVHcloud, à Gravelines.", &case),
            Verdict { correct: Some(true), echo: false, refusal: false }
        );
        assert_eq!(judge("KORRIGAN est hébergé chez OVHcloud.", &case).correct, Some(false));
        // A refusal that then names the facts is not an answer.
        assert_eq!(judge("Je ne connais pas cette application. OVHcloud Gravelines.", &case).correct, Some(false));
        // The context pasted back contains the facts but is an echo.
        let v = judge("Contexte (extraits du catalogue) : hébergement : OVHcloud, région Gravelines", &case);
        assert!(v.echo && v.correct == Some(false));
        // A record line of another field is an echo; the question repeated too.
        assert!(judge("OVHcloud Gravelines. Responsable : Yann Le Goff", &case).echo);
        assert!(judge("Qui héberge KORRIGAN ? OVHcloud Gravelines", &case).echo);
        assert!(judge("OVHcloud Gravelines. Qui héberge KORRIGAN ?", &case).echo);
        // Restating the question as an answer is not repeating it.
        assert!(!judge("C'est OVHcloud à Gravelines qui héberge KORRIGAN.", &case).echo);
        // Without key facts, the expected answer decides; with neither, no verdict.
        let case = Case { negative: false, keywords: &[], expected: Some("En production."), echo_markers: &[] };
        assert_eq!(judge("en production", &case).correct, Some(true));
        let case = Case { negative: false, keywords: &[], expected: None, echo_markers: &[] };
        assert_eq!(judge("oui", &case).correct, None);
    }

    #[test]
    fn record_line_holding_the_asked_fact_is_not_an_echo() {
        let k = kw(&["Gravelines"]);
        let markers = vec!["hébergement : OVHcloud, région Gravelines".to_string()];
        assert!(!is_echo("hébergement : OVHcloud, région Gravelines", &markers, &k));
        assert!(is_echo("hébergement : OVHcloud, région Gravelines", &markers, &kw(&["Yann"])));
    }

    #[test]
    fn short_markers_are_dropped() {
        let m = echo_markers(Some("Assistant."), "Et GIDAF ?", ["[1] GIDAF".to_string()]);
        assert!(m.is_empty(), "{m:?}");
    }

    #[test]
    fn wilson_interval_matches_reference_values() {
        // statsmodels proportion_confint(8, 10, method="wilson") = (0.4902, 0.9433).
        let (lo, hi) = wilson95(8, 10).unwrap();
        assert!((lo - 0.4902).abs() < 1e-4 && (hi - 0.9433).abs() < 1e-4, "{lo} {hi}");
        let (lo, hi) = wilson95(0, 20).unwrap();
        assert_eq!(lo, 0.0);
        assert!((hi - 0.1611).abs() < 1e-4, "{hi}");
        assert!(wilson95(0, 0).is_none());
    }
}
