//! Retrieval: catalogue records as documents, a BM25 index over them, and the
//! context block that puts the best ones before a question. Evaluation uses
//! it for RAG and the hybrid (`eval::rag_prompt`); `raft` uses the same block
//! to write training examples with records in the prompt, so that the hybrid
//! adapter is trained on exactly what it reads at query time.

pub mod context;
pub mod documents;
pub mod index;
pub mod raft;

pub use context::{context_message, ContextLang};
pub use documents::{load_catalogue, Document};
pub use index::Bm25Index;
