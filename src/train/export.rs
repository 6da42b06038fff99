//! Tokenizer files beside the adapter, as PEFT/transformers save them, so the
//! `final/` folder is self-describing: the base model's own files when it is
//! a Hugging Face folder, otherwise a `tokenizer_config.json` carrying the
//! chat template and special tokens dyag used.

use crate::model::load::LoadedModel;
use crate::model::registry::ModelLocation;
use crate::util::{write_atomic, write_json_atomic};
use crate::{Error, Result};
use std::path::Path;

const HF_TOKENIZER_FILES: &[&str] =
    &["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja", "tokenizer.model"];

pub fn write_tokenizer_files(base: &LoadedModel, dir: &Path) -> Result<()> {
    match &base.location {
        ModelLocation::HfFolder(src) => {
            for f in HF_TOKENIZER_FILES {
                let p = src.join(f);
                if p.is_file() {
                    let bytes = std::fs::read(&p).map_err(|e| Error::io(&p, e))?;
                    write_atomic(&dir.join(f), &bytes)?;
                }
            }
            Ok(())
        }
        ModelLocation::Gguf(_) => {
            let tok = &base.tokenizer;
            let piece = |id: Option<u32>| id.and_then(|i| tok.token_to_piece(i)).map(str::to_string);
            let class = match base.model.config.family {
                crate::model::Family::Gemma3 => "GemmaTokenizer",
                crate::model::Family::Qwen2 => "Qwen2Tokenizer",
                crate::model::Family::Llama | crate::model::Family::Phi3 => "LlamaTokenizer",
            };
            let cfg = serde_json::json!({
                "tokenizer_class": class,
                "bos_token": piece(tok.special().bos),
                "eos_token": piece(tok.special().eos),
                "pad_token": piece(tok.special().pad),
                "unk_token": piece(tok.special().unk),
                "add_bos_token": tok.special().add_bos,
                "add_eos_token": false,
                "chat_template": base.template.source(),
                "model_max_length": base.model.config.max_position,
                "dyag_note": "the vocabulary is embedded in the base GGUF file",
            });
            write_json_atomic(&dir.join("tokenizer_config.json"), &cfg)
        }
    }
}

/// The file beside the adapter where `dyag finetune` records the run.
pub const SUMMARY_FILE: &str = "training_summary.json";

/// The system prompt the adapter was trained with, as recorded by `dyag
/// finetune` (None if the adapter has no such record or used none).
pub fn trained_system_prompt(adapter_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(adapter_dir.join(SUMMARY_FILE)).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.get("system_prompt")?.as_str().map(str::to_string)
}

/// The most common system prompt of a dataset (the first one on ties).
pub fn dominant_system_prompt(convs: &[crate::formats::chat::Conversation]) -> Option<String> {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for c in convs {
        if let Some(m) = c.messages.first().filter(|m| m.role == "system") {
            match counts.iter_mut().find(|(p, _)| *p == m.content) {
                Some(e) => e.1 += 1,
                None => counts.push((&m.content, 1)),
            }
        }
    }
    let best = counts.iter().map(|(_, n)| *n).max()?;
    counts.into_iter().find(|(_, n)| *n == best).map(|(p, _)| p.to_string())
}
