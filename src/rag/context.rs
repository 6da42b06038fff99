//! The context block of a retrieval-augmented chat turn: numbered records,
//! then the question and the instruction to answer from them. One function,
//! so that training (`raft`) and querying (`eval::rag_prompt`) put records to
//! the model in the same words.

use crate::rag::documents::Document;

/// Wording of the context block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContextLang {
    French,
    English,
}

/// Longer record texts are cut (at a character boundary) to keep prompts bounded.
pub const MAX_CHARS_PER_DOCUMENT: usize = 2000;

/// The header and the instruction of the block (also what an answer must not repeat).
pub fn header_and_instruction(lang: ContextLang) -> (&'static str, &'static str) {
    match lang {
        ContextLang::French => (
            "Contexte (extraits du catalogue) :",
            "Réponds à la question en t'appuyant uniquement sur le contexte ci-dessus. Si le contexte ne contient pas la réponse, dis-le.",
        ),
        ContextLang::English => (
            "Context (catalogue excerpts):",
            "Answer the question using only the context above. If the context does not contain the answer, say so.",
        ),
    }
}

/// The user message: numbered records, then the question and the instruction.
pub fn context_message(question: &str, docs: &[&Document], lang: ContextLang, max_chars_per_document: usize) -> String {
    let (header, instruction) = header_and_instruction(lang);
    let (none, q_label, sep) = match lang {
        ContextLang::French => ("(aucun extrait trouvé)", "Question", " : "),
        ContextLang::English => ("(no excerpt found)", "Question", ": "),
    };
    let mut msg = String::new();
    msg.push_str(header);
    msg.push('\n');
    if docs.is_empty() {
        msg.push_str(none);
        msg.push('\n');
    }
    for (i, d) in docs.iter().enumerate() {
        msg.push_str(&format!("\n[{}] {}\n", i + 1, d.title));
        let text = truncate_chars(&d.text, max_chars_per_document);
        if !text.is_empty() {
            msg.push_str(text);
            msg.push('\n');
        }
    }
    msg.push_str(&format!("\n{q_label}{sep}{question}\n{instruction}"));
    msg
}

/// `s` cut to `max` characters (never inside a character).
pub fn truncate_chars(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_then_question_then_instruction() {
        let d = Document { id: "GIDAF".into(), title: "GIDAF".into(), text: "hébergement : DSI Toulouse".into() };
        let m = context_message("Qui héberge GIDAF ?", &[&d], ContextLang::French, 100);
        assert_eq!(
            m,
            "Contexte (extraits du catalogue) :\n\n[1] GIDAF\nhébergement : DSI Toulouse\n\nQuestion : Qui héberge GIDAF ?\nRéponds à la question en t'appuyant uniquement sur le contexte ci-dessus. Si le contexte ne contient pas la réponse, dis-le."
        );
        assert!(context_message("Q ?", &[], ContextLang::English, 100).contains("(no excerpt found)"));
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate_chars("éléphant", 3), "élé");
        assert_eq!(truncate_chars("abc", 10), "abc");
    }
}
