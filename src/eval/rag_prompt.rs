//! Retrieval-augmented prompts for evaluation: the best records for the
//! question in the context block of [`crate::rag::context`] (or as fiches
//! for a base model), and the records kept as the answer's sources.

use crate::eval::prompt::{with_system, BuiltPrompt, PromptBuilder};
use crate::eval::questions::Question;
use crate::eval::results::Source;
use crate::rag::context::{context_message, header_and_instruction, truncate_chars, MAX_CHARS_PER_DOCUMENT};
use crate::rag::{Bm25Index, ContextLang, Document};
use crate::Result;

/// How the records and the question are put to the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum PromptStyle {
    /// A chat turn through the model's template: for instruct models and
    /// adapters trained on chat data (the hybrid).
    Chat,
    /// Raw text to continue: the records as fiches, one worked example, then
    /// "Question : ... / Réponse :", cut at the end of the line. A base model
    /// has never seen a chat template; it can continue a document.
    Completion,
}

pub struct RagPrompt {
    pub documents: Vec<Document>,
    pub index: Bm25Index,
    pub top_k: usize,
    pub system_prompt: Option<String>,
    /// Longer record texts are cut (at a character boundary) to keep prompts bounded.
    pub max_chars_per_document: usize,
    pub lang: ContextLang,
    pub style: PromptStyle,
    /// Put the question's own records (`apps`) in the prompt instead of the
    /// retrieved ones (filled up to `top_k` with retrieved records): the
    /// reading score, which tells a reading failure from a retrieval failure.
    /// Questions without `apps` (negatives) get the retrieved records.
    pub oracle: bool,
}

impl RagPrompt {
    pub fn new(documents: Vec<Document>, top_k: usize, system_prompt: Option<String>, lang: ContextLang) -> Result<Self> {
        let index = Bm25Index::build(&documents)?;
        Ok(RagPrompt {
            documents,
            index,
            top_k,
            system_prompt,
            max_chars_per_document: MAX_CHARS_PER_DOCUMENT,
            lang,
            style: PromptStyle::Chat,
            oracle: false,
        })
    }

    /// The records of `question` (retrieved, or its own with `oracle`), with their scores.
    pub fn records(&self, question: &Question) -> Result<Vec<(&Document, Option<f32>)>> {
        let hits = self.index.search(&question.question, self.top_k)?;
        let mut out: Vec<(&Document, Option<f32>)> = Vec::new();
        if self.oracle {
            let norm = crate::eval::metrics::normalize;
            for app in &question.apps {
                if let Some(d) = self.documents.iter().find(|d| norm(&d.title) == norm(app) || norm(&d.id) == norm(app)) {
                    if !out.iter().any(|(o, _)| o.id == d.id) {
                        out.push((d, None));
                    }
                }
            }
        }
        for h in &hits {
            if out.len() >= self.top_k {
                break;
            }
            if let Some(d) = self.documents.get(h.doc).filter(|d| !out.iter().any(|(o, _)| o.id == d.id)) {
                out.push((d, Some(h.score)));
            }
        }
        Ok(out)
    }

    /// The completion-style prompt: fiches, a worked example, the question.
    pub fn completion_text(&self, question: &str, docs: &[&Document]) -> String {
        let (intro, example, fiches, q, a) = self.completion_parts();
        let mut text = format!(
            "{intro}

{example}

{fiches}
"
        );
        for (i, d) in docs.iter().enumerate() {
            text.push_str(&format!(
                "[{}] {}
{}
",
                i + 1,
                d.title,
                truncate_chars(&d.text, self.max_chars_per_document)
            ));
        }
        text.push_str(&format!(
            "
{q}{question}
{a}"
        ));
        text
    }

    /// Intro, worked example, fiches header, question and answer labels.
    fn completion_parts(&self) -> (&'static str, &'static str, &'static str, &'static str, &'static str) {
        match self.lang {
            ContextLang::French => (
                "Les fiches ci-dessous décrivent des applications. Chaque réponse est une phrase courte qui reprend l'information demandée de la bonne fiche. Si aucune fiche ne parle de l'application demandée, la réponse est : Je ne connais pas cette application.",
                "Exemple.
[0] ORION
hébergement : DSI, site de Lyon
responsable : Jean Petit (pôle RH)
Question : Qui est responsable d'ORION ?
Réponse : Le responsable d'ORION est Jean Petit (pôle RH).",
                "Fiches :",
                "Question : ",
                "Réponse :",
            ),
            ContextLang::English => (
                "The records below describe applications. Each answer is a short sentence that gives the requested information from the right record. If no record is about the application asked for, the answer is: I don't know this application.",
                "Example.
[0] ORION
hosting: IT department, Lyon site
owner: Jean Petit (HR)
Question: Who is responsible for ORION?
Answer: ORION's owner is Jean Petit (HR).",
                "Records:",
                "Question: ",
                "Answer:",
            ),
        }
    }

    /// The user message: numbered records, then the question and the instruction.
    pub fn user_message(&self, question: &str, docs: &[&Document]) -> String {
        context_message(question, docs, self.lang, self.max_chars_per_document)
    }
}

impl RagPrompt {
    /// What an answer must not repeat: the context header, the instruction,
    /// and every line of the records placed in the prompt.
    pub fn echo_markers(&self, docs: &[&Document]) -> Vec<String> {
        // The header without its colon, the instruction's first sentence.
        let (header, instruction) = header_and_instruction(self.lang);
        let header = header.trim_end_matches([' ', ':']);
        let instruction = instruction.split(". ").next().unwrap_or(instruction);
        let mut m = vec![header.to_string(), instruction.to_string()];
        for d in docs {
            m.extend(truncate_chars(&d.text, self.max_chars_per_document).lines().filter(|l| !l.trim().is_empty()).map(str::to_string));
        }
        m
    }
}

impl PromptBuilder for RagPrompt {
    fn build(&self, question: &Question) -> Result<BuiltPrompt> {
        let records = self.records(question)?;
        let docs: Vec<&Document> = records.iter().map(|(d, _)| *d).collect();
        let sources = records
            .iter()
            .map(|(d, score)| Source { id: d.id.clone(), title: Some(d.title.clone()), score: score.map(f64::from) })
            .collect();
        let user = self.user_message(&question.question, &docs);
        let mut echo_markers = self.echo_markers(&docs);
        let completion = (self.style == PromptStyle::Completion).then(|| {
            let (intro, example, ..) = self.completion_parts();
            echo_markers.push(intro.split(". ").next().unwrap_or(intro).to_string());
            echo_markers.extend(example.lines().skip(1).map(str::to_string));
            self.completion_text(&question.question, &docs)
        });
        Ok(BuiltPrompt { messages: with_system(self.system_prompt.as_deref(), user), sources: Some(sources), completion, echo_markers })
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
        let rag = RagPrompt::new(docs, 1, Some("Tu es un assistant.".into()), ContextLang::French).unwrap();
        let q = Question {
            id: "q1".into(),
            question: "Qui héberge GIDAF ?".into(),
            expected: None,
            keywords: vec![],
            kind: None,
            apps: vec![],
        };
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
    fn oracle_puts_the_question_s_records_first_and_completion_is_raw_text() {
        let docs = vec![
            Document { id: "GIDAF".into(), title: "GIDAF".into(), text: "hébergement : DSI Toulouse".into() },
            Document { id: "SIRH".into(), title: "SIRH".into(), text: "hébergement : prestataire Toulouse".into() },
        ];
        let mut rag = RagPrompt::new(docs, 1, None, ContextLang::French).unwrap();
        let q = Question {
            id: "q".into(),
            question: "Qui héberge GIDAF à Toulouse ?".into(),
            expected: None,
            keywords: vec![],
            kind: None,
            apps: vec!["sirh".into()],
        };
        assert_eq!(rag.build(&q).unwrap().sources.unwrap()[0].id, "GIDAF");
        rag.oracle = true;
        let p = rag.build(&q).unwrap();
        let s = p.sources.unwrap();
        assert_eq!((s.len(), s[0].id.as_str(), s[0].score), (1, "SIRH", None));
        assert!(p.completion.is_none());
        rag.style = PromptStyle::Completion;
        let p = rag.build(&q).unwrap();
        let text = p.completion.unwrap();
        assert!(
            text.contains("[1] SIRH\nhébergement : prestataire Toulouse\n")
                && text.ends_with("Question : Qui héberge GIDAF à Toulouse ?\nRéponse :"),
            "{text}"
        );
        // The worked example and the intro are echoes if repeated.
        assert!(crate::eval::judge::is_echo("Réponse : Le responsable d'ORION est Jean Petit (pôle RH).", &p.echo_markers, &[]));
    }
}
