//! Retrieval-augmented prompts: the best records for the question, in a clear
//! context block before it, and the records kept as the answer's sources.

use crate::eval::prompt::{with_system, BuiltPrompt, PromptBuilder};
use crate::eval::questions::Question;
use crate::eval::rag::documents::Document;
use crate::eval::rag::index::Bm25Index;
use crate::eval::results::Source;
use crate::Result;

/// Wording of the context block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PromptLang {
    French,
    English,
}

pub struct RagPrompt {
    pub documents: Vec<Document>,
    pub index: Bm25Index,
    pub top_k: usize,
    pub system_prompt: Option<String>,
    /// Longer record texts are cut (at a character boundary) to keep prompts bounded.
    pub max_chars_per_document: usize,
    pub lang: PromptLang,
}

impl RagPrompt {
    pub fn new(documents: Vec<Document>, top_k: usize, system_prompt: Option<String>, lang: PromptLang) -> Result<Self> {
        let index = Bm25Index::build(&documents)?;
        Ok(RagPrompt { documents, index, top_k, system_prompt, max_chars_per_document: 2000, lang })
    }

    /// The user message: numbered records, then the question and the instruction.
    pub fn user_message(&self, question: &str, docs: &[&Document]) -> String {
        let (context, none, q_label, instruction) = match self.lang {
            PromptLang::French => (
                "Contexte (extraits du catalogue) :",
                "(aucun extrait trouvé)",
                "Question",
                "Réponds à la question en t'appuyant uniquement sur le contexte ci-dessus. Si le contexte ne contient pas la réponse, dis-le.",
            ),
            PromptLang::English => (
                "Context (catalogue excerpts):",
                "(no excerpt found)",
                "Question",
                "Answer the question using only the context above. If the context does not contain the answer, say so.",
            ),
        };
        let mut msg = String::new();
        msg.push_str(context);
        msg.push('\n');
        if docs.is_empty() {
            msg.push_str(none);
            msg.push('\n');
        }
        for (i, d) in docs.iter().enumerate() {
            msg.push_str(&format!("\n[{}] {}\n", i + 1, d.title));
            let text = truncate_chars(&d.text, self.max_chars_per_document);
            if !text.is_empty() {
                msg.push_str(text);
                msg.push('\n');
            }
        }
        let sep = if self.lang == PromptLang::French { " : " } else { ": " };
        msg.push_str(&format!("\n{q_label}{sep}{question}\n{instruction}"));
        msg
    }
}

fn truncate_chars(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

impl PromptBuilder for RagPrompt {
    fn build(&self, question: &Question) -> Result<BuiltPrompt> {
        let hits = self.index.search(&question.question, self.top_k)?;
        let docs: Vec<&Document> = hits.iter().filter_map(|h| self.documents.get(h.doc)).collect();
        let sources = hits
            .iter()
            .filter_map(|h| {
                let d = self.documents.get(h.doc)?;
                Some(Source { id: d.id.clone(), title: Some(d.title.clone()), score: Some(f64::from(h.score)) })
            })
            .collect();
        let user = self.user_message(&question.question, &docs);
        Ok(BuiltPrompt { messages: with_system(self.system_prompt.as_deref(), user), sources: Some(sources) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_holds_retrieved_records_and_sources() {
        let docs = vec![
            Document { id: "gidaf".into(), title: "GIDAF".into(), text: "hébergement : DSI Toulouse".into() },
            Document { id: "sirh".into(), title: "SIRH".into(), text: "hébergement : prestataire".into() },
        ];
        let rag = RagPrompt::new(docs, 1, Some("Tu es un assistant.".into()), PromptLang::French).unwrap();
        let q = Question { id: "q1".into(), question: "Qui héberge GIDAF ?".into(), expected: None, keywords: vec![] };
        let p = rag.build(&q).unwrap();
        assert_eq!(p.messages.len(), 2);
        assert_eq!(p.messages[0].role, "system");
        let user = &p.messages[1].content;
        assert!(user.starts_with("Contexte (extraits du catalogue) :\n\n[1] GIDAF\nhébergement : DSI Toulouse\n"), "{user}");
        assert!(user.contains("Question : Qui héberge GIDAF ?"));
        assert!(!user.contains("SIRH"));
        let sources = p.sources.unwrap();
        assert_eq!(sources.len(), 1);
        assert_eq!(sources[0].id, "gidaf");
        assert!(sources[0].score.unwrap() > 0.0);
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate_chars("éléphant", 3), "élé");
        assert_eq!(truncate_chars("abc", 10), "abc");
    }
}
