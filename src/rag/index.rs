//! BM25 retrieval over catalogue documents with tantivy, in RAM.
//!
//! Analysis is French-aware: words are split on non-alphanumerics, lower-cased,
//! French stop words dropped ("qu'est-ce que" carries no information), accents
//! folded (so "heberge" finds "hébergé") and then stemmed with Snowball's
//! French stemmer ("hébergement" and "héberge" meet). Folding comes before
//! stemming so that accented and unaccented spellings always reach the same
//! stem. Questions go through the same analyzer and become a plain OR of
//! their terms — never through a query parser, whose syntax ("-", ":", quotes)
//! would misread ordinary questions.

use crate::rag::documents::Document;
use crate::{Error, Result};
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, STORED};
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, StopWordFilter, TextAnalyzer,
};
use tantivy::{Index, IndexReader, TantivyDocument, Term};

const ANALYZER: &str = "fr_folded_stemmed";
/// A match in the entity's name counts this many times a match in its text.
const TITLE_BOOST: f32 = 2.0;
/// Interrogative and auxiliary words that Snowball's French list lacks.
const EXTRA_STOP_WORDS: &[&str] = &["est", "a", "quoi", "où", "comment", "combien", "quand", "sert"];

/// One retrieved document.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    /// Index into the documents the index was built from.
    pub doc: usize,
    pub score: f32,
}

/// The analyzer used for both documents and questions.
pub fn french_analyzer() -> Result<TextAnalyzer> {
    let stop = StopWordFilter::new(Language::French).ok_or_else(|| Error::msg("tantivy has no French stop-word list"))?;
    Ok(TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(stop)
        .filter(StopWordFilter::remove(EXTRA_STOP_WORDS.iter().map(|s| s.to_string())))
        .filter(AsciiFoldingFilter)
        .filter(Stemmer::new(Language::French))
        .build())
}

/// A short description of the analysis, recorded in results metadata.
pub const ANALYZER_DESCRIPTION: &str =
    "tantivy simple tokenizer, lower case, French stop words, ASCII folding, Snowball French stemmer; title boost 2";

/// The analysed terms of `text`, in order.
pub fn analyze(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stream = analyzer.token_stream(text);
    while stream.advance() {
        out.push(stream.token().text.clone());
    }
    out
}

/// An in-memory BM25 index of documents.
pub struct Bm25Index {
    reader: IndexReader,
    analyzer: TextAnalyzer,
    title: Field,
    body: Field,
    position: Field,
    len: usize,
}

fn tantivy_err(what: &str, e: tantivy::TantivyError) -> Error {
    Error::msg(format!("search index: {what}: {e}"))
}

impl Bm25Index {
    /// Indexes the documents (title and text) in RAM.
    pub fn build(docs: &[Document]) -> Result<Self> {
        let mut schema = Schema::builder();
        let text_options = TextOptions::default()
            .set_indexing_options(TextFieldIndexing::default().set_tokenizer(ANALYZER).set_index_option(IndexRecordOption::WithFreqs));
        let title = schema.add_text_field("title", text_options.clone());
        let body = schema.add_text_field("body", text_options);
        let position = schema.add_u64_field("position", STORED);
        let index = Index::create_in_ram(schema.build());
        index.tokenizers().register(ANALYZER, french_analyzer()?);
        // One thread keeps indexing deterministic; 15 MB is tantivy's minimum budget.
        let mut writer = index.writer_with_num_threads(1, 15_000_000).map_err(|e| tantivy_err("creating the writer", e))?;
        for (i, d) in docs.iter().enumerate() {
            let mut doc = TantivyDocument::default();
            doc.add_text(title, &d.title);
            doc.add_text(body, &d.text);
            doc.add_u64(position, i as u64);
            writer.add_document(doc).map_err(|e| tantivy_err("adding a document", e))?;
        }
        writer.commit().map_err(|e| tantivy_err("committing", e))?;
        let reader = index.reader().map_err(|e| tantivy_err("opening the reader", e))?;
        Ok(Bm25Index { reader, analyzer: french_analyzer()?, title, body, position, len: docs.len() })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The `k` best documents for `question`, best first. A question whose
    /// words are all stop words finds nothing.
    pub fn search(&self, question: &str, k: usize) -> Result<Vec<Hit>> {
        let mut terms = analyze(&mut self.analyzer.clone(), question);
        terms.sort();
        terms.dedup();
        if terms.is_empty() || k == 0 {
            return Ok(Vec::new());
        }
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::with_capacity(terms.len() * 2);
        for t in &terms {
            let in_title = TermQuery::new(Term::from_field_text(self.title, t), IndexRecordOption::WithFreqs);
            clauses.push((Occur::Should, Box::new(BoostQuery::new(Box::new(in_title), TITLE_BOOST))));
            clauses.push((Occur::Should, Box::new(TermQuery::new(Term::from_field_text(self.body, t), IndexRecordOption::WithFreqs))));
        }
        let query = BooleanQuery::new(clauses);
        let searcher = self.reader.searcher();
        let top = searcher.search(&query, &TopDocs::with_limit(k)).map_err(|e| tantivy_err("searching", e))?;
        let mut hits = Vec::with_capacity(top.len());
        for (score, address) in top {
            let stored: TantivyDocument = searcher.doc(address).map_err(|e| tantivy_err("reading a hit", e))?;
            let doc = stored
                .get_first(self.position)
                .and_then(|v| v.as_u64())
                .ok_or_else(|| Error::msg("search index: a hit has no stored position"))?;
            hits.push(Hit { doc: doc as usize, score });
        }
        Ok(hits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(id: &str, text: &str) -> Document {
        Document { id: id.into(), title: id.into(), text: text.into() }
    }

    #[test]
    fn analyzer_folds_accents_drops_stop_words_and_stems() {
        let mut a = french_analyzer().unwrap();
        assert_eq!(analyze(&mut a, "Qu'est-ce que l'hébergement ?"), analyze(&mut a, "hebergement"));
        assert_eq!(analyze(&mut a, "Qui héberge GIDAF ?"), analyze(&mut a, "heberge gidaf"));
        assert!(analyze(&mut a, "Qu'est-ce que c'est ?").is_empty());
    }

    #[test]
    fn finds_the_right_record_first() {
        let docs = vec![
            doc("GIDAF", "description : gestion des dossiers administratifs et financiers\nhébergement : DSI Toulouse"),
            doc("SIRH", "description : paie et congés des agents\nhébergement : prestataire externe"),
            doc("PORTAIL", "description : portail intranet des agents"),
        ];
        let index = Bm25Index::build(&docs).unwrap();
        let hits = index.search("Qui héberge GIDAF ?", 2).unwrap();
        assert_eq!(hits.len(), 2);
        assert_eq!(hits[0].doc, 0);
        assert!(hits[0].score > hits[1].score);
        let hits = index.search("À quoi sert l'application de PAIE des agents ?", 3).unwrap();
        assert_eq!(hits[0].doc, 1);
        assert!(index.search("qu'est-ce que c'est", 3).unwrap().is_empty());
        assert!(index.search("zzz", 3).unwrap().is_empty());
    }
}
