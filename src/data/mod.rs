//! Building chat fine-tuning datasets from a catalogue of facts
//! (`generate-training`): catalogue readers, the rule-based, augmented and
//! llm-based generators, de-duplication and exact counts, the split, the
//! grounding check and the written outputs.

pub mod augmented;
pub mod catalogue;
pub mod example;
pub mod generate;
pub mod grounding;
pub mod knowledge;
pub mod llm;
pub mod noise;
pub mod output;
pub mod rule_based;
pub mod select;
pub mod split;
pub mod summary;
pub mod templates;
pub mod text;

pub use catalogue::{read_catalogue, Catalogue, Field, FieldKind, ReadOptions, Record};
pub use example::Example;
pub use generate::{generate, generate_with_llm, GenerateOptions, Generated, Method, Report};
pub use templates::Lang;

/// The original tool's system prompt, used when the catalogue has no name
/// (the same text as `templates::system_prompt(Lang::Fr, None)`).
pub const DEFAULT_SYSTEM_PROMPT: &str = "Tu es un assistant qui répond aux questions sur les applications de l'organisation.";
