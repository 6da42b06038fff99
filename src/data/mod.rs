//! Training-data generation from catalogues (generate-training).

/// The original tool's system prompt, used when the catalogue has no name.
pub const DEFAULT_SYSTEM_PROMPT: &str = "Tu es un assistant qui répond aux questions sur les applications de l'organisation.";
