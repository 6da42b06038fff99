//! dyag: turn a catalogue of facts into a small fine-tuned LLM, query it,
//! measure it and compare it with RAG.
//!
//! The modules follow the data flow:
//! files (`formats`) → blocks (`quant`) → model (`model`) → ops with their
//! backward (`ops`, CPU kernels in `cpu`) → training (`train`) → adapter files;
//! text → tokens (`tokenizer`) → generation (`infer`) → evaluation (`eval`).
//! `data` builds training sets, `rag` retrieves records for a question (RAG,
//! the hybrid and its training data), `cli` is the command-line driver and `ffi` the C ABI.

#[cfg(feature = "cli")]
pub mod cli;
pub mod cpu;
#[cfg(feature = "cuda")]
pub mod cuda;
pub mod data;
pub mod device;
pub mod error;
pub mod eval;
pub mod ffi;
pub mod formats;
pub mod infer;
pub mod model;
pub mod ops;
pub mod quant;
#[cfg(feature = "rag")]
pub mod rag;
pub mod tokenizer;
pub mod train;
pub mod util;

pub use error::{Error, Result};
