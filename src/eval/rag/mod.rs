//! The RAG baseline: catalogue records indexed with BM25 (tantivy, in RAM),
//! the best ones placed in the prompt, their ids recorded as sources.

pub mod documents;
pub mod index;
pub mod prompt;

pub use documents::{load_catalogue, Document};
pub use index::Bm25Index;
pub use prompt::{PromptLang, RagPrompt};
