//! Evaluation: score answers, run a questions file through a model (directly
//! or with retrieval), write versioned results, and compare systems.
//!
//! - [`metrics`]: exact match, key-fact recall, token F1, ROUGE-L, BLEU.
//! - [`questions`]: the questions JSONL reader.
//! - [`results`], [`validate`], [`aggregate`]: the results schema, its checked
//!   reader and the whole-run figures.
//! - [`prompt`], [`runner`], [`summary`]: prompts, the evaluation loop, the
//!   stderr summary.
//! - [`rag_prompt`]: RAG and hybrid prompts over [`crate::rag`]'s retrieval.
//! - [`compare`]: side-by-side comparison and its JSON, Markdown and HTML reports.

pub mod aggregate;
#[cfg(feature = "reports")]
pub mod compare;
pub mod judge;
pub mod metrics;
pub mod prompt;
pub mod questions;
#[cfg(feature = "rag")]
pub mod rag_prompt;
pub mod results;
pub mod runner;
pub mod summary;
pub mod validate;
