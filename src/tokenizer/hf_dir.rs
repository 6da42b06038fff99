//! Loading a tokenizer from an HF model folder.
//!
//! `tokenizer.json` holds the tokenizer itself; the special tokens, BOS policy and
//! chat template are spread over `tokenizer_config.json`, `special_tokens_map.json`,
//! `generation_config.json`, `config.json` and `chat_template.jinja`, read here in
//! the order transformers gives them precedence.

use super::{hf, Backend, SpecialTokens, Tokenizer};
use crate::{Error, Result};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Conventional names, used only when no config file names the special tokens
/// (a folder holding nothing but `tokenizer.json`).
const BOS_NAMES: &[&str] = &["<bos>", "<s>", "<|begin_of_text|>"];
const EOS_NAMES: &[&str] = &["<eos>", "</s>", "<|end_of_text|>", "<|endoftext|>"];
const PAD_NAMES: &[&str] = &["<pad>", "<|pad|>"];
const UNK_NAMES: &[&str] = &["<unk>"];

pub(super) fn load(dir: &Path) -> Result<Tokenizer> {
    let tokenizer_path = dir.join("tokenizer.json");
    if !tokenizer_path.is_file() {
        return Err(Error::format(&tokenizer_path, "not found: an HF model folder needs tokenizer.json"));
    }
    let tk = tokenizers::Tokenizer::from_file(&tokenizer_path)
        .map_err(|e| Error::format(&tokenizer_path, format!("cannot load the tokenizer: {e}")))?;

    let tok_config = JsonFile::read_optional(dir.join("tokenizer_config.json"))?;
    let special_map = JsonFile::read_optional(dir.join("special_tokens_map.json"))?;
    let gen_config = JsonFile::read_optional(dir.join("generation_config.json"))?;
    let model_config = JsonFile::read_optional(dir.join("config.json"))?;
    let configs = [&tok_config, &special_map];
    let id_configs = [&gen_config, &model_config];

    // A token named by text in the tokenizer configs: the first file that has the key
    // decides, and an explicit null means "none" (Qwen's "bos_token": null).
    let token_entry = |key: &str| -> Result<Option<Option<String>>> {
        for file in configs.iter().copied().flatten() {
            if let Some(entry) = file.token_text(key)? {
                return Ok(Some(entry));
            }
        }
        Ok(None)
    };
    let token_text = |key: &str| -> Result<Option<String>> { Ok(token_entry(key)?.flatten()) };
    // Else by id in the model configs, else (no config at all) by conventional name.
    let resolve = |key: &str, id_key: &str, names: &[&str]| -> Result<Option<u32>> {
        match token_entry(key)? {
            Some(None) => return Ok(None),
            Some(Some(text)) => {
                if let Some(id) = tk.token_to_id(&text) {
                    return Ok(Some(id));
                }
            }
            None => {}
        }
        for file in id_configs.iter().copied().flatten() {
            if let Some(ids) = file.token_ids(id_key)? {
                if let Some(&first) = ids.first() {
                    return Ok(Some(first));
                }
            }
        }
        if configs.iter().chain(id_configs.iter()).all(|f| f.is_none()) {
            return Ok(names.iter().find_map(|n| tk.token_to_id(n)));
        }
        Ok(None)
    };
    let bos = resolve("bos_token", "bos_token_id", BOS_NAMES)?;
    let eos = resolve("eos_token", "eos_token_id", EOS_NAMES)?;
    let pad = resolve("pad_token", "pad_token_id", PAD_NAMES)?;
    let unk = resolve("unk_token", "unk_token_id", UNK_NAMES)?;

    // generation_config's eos_token_id may list several ids (Llama 3: end_of_text,
    // eom, eot); every one of them stops generation.
    let mut extra_stops = Vec::new();
    for file in id_configs.iter().copied().flatten() {
        extra_stops.extend(file.token_ids("eos_token_id")?.unwrap_or_default());
    }

    let add_bos = match tok_config.as_ref().map(|f| f.bool_field("add_bos_token")).transpose()?.flatten() {
        Some(flag) => flag,
        // No explicit flag: the post-processor says (Llama 3's TemplateProcessing adds
        // <|begin_of_text|>, Qwen's tokenizer adds nothing).
        None => match (bos, tk.encode_fast("", true)) {
            (Some(bos), Ok(enc)) => enc.get_ids().first() == Some(&bos),
            _ => false,
        },
    };

    let unk_piece = unk.and_then(|id| tk.id_to_token(id));
    let vocab = hf::vocab_of(&tk, unk_piece.as_deref());
    let special = SpecialTokens { bos, eos, pad, unk, stop: Vec::new(), add_bos };

    let template = chat_template_source(dir, tok_config.as_ref())?.map(|(source, origin)| {
        let text_of = |key: &str, id: Option<u32>| {
            token_text(key).ok().flatten().or_else(|| id.and_then(|id| tk.id_to_token(id))).unwrap_or_default()
        };
        (source, text_of("bos_token", bos), text_of("eos_token", eos), origin)
    });
    let backend = Backend::Hf(Box::new(hf::HfBackend::new(tk)));
    Tokenizer::assemble(vocab, backend, special, &extra_stops, template)
}

/// The template text and where it came from. `chat_template.jinja` (written by
/// recent transformers) wins over the `chat_template` field of tokenizer_config.json;
/// that field may be a string or a list of `{name, template}` (the "default" one is used).
fn chat_template_source(dir: &Path, tok_config: Option<&JsonFile>) -> Result<Option<(String, &'static str)>> {
    let jinja = dir.join("chat_template.jinja");
    if jinja.is_file() {
        let text = std::fs::read_to_string(&jinja).map_err(|e| Error::io(&jinja, e))?;
        return Ok(Some((text, "chat_template.jinja")));
    }
    let Some(config) = tok_config else { return Ok(None) };
    match config.value.get("chat_template") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some((s.clone(), "tokenizer_config.json chat_template"))),
        Some(Value::Array(list)) => {
            let mut first = None;
            for (i, entry) in list.iter().enumerate() {
                let (Some(name), Some(template)) =
                    (entry.get("name").and_then(Value::as_str), entry.get("template").and_then(Value::as_str))
                else {
                    return Err(Error::format(
                        &config.path,
                        format!("chat_template[{i}]: expected an object with string fields 'name' and 'template'"),
                    ));
                };
                if name == "default" {
                    return Ok(Some((template.to_string(), "tokenizer_config.json chat_template")));
                }
                first.get_or_insert_with(|| template.to_string());
            }
            Ok(first.map(|t| (t, "tokenizer_config.json chat_template")))
        }
        Some(_) => Err(Error::format(&config.path, "chat_template: expected a string or a list of {name, template}")),
    }
}

/// A parsed JSON config file, with typed accessors that name the file and field on error.
struct JsonFile {
    path: PathBuf,
    value: Value,
}

impl JsonFile {
    fn read_optional(path: PathBuf) -> Result<Option<JsonFile>> {
        if !path.is_file() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let value: Value = serde_json::from_str(&text).map_err(|e| Error::format(&path, format!("invalid JSON: {e}")))?;
        if !value.is_object() {
            return Err(Error::format(&path, "expected a JSON object at the top level"));
        }
        Ok(Some(JsonFile { path, value }))
    }

    /// A token given as `"<s>"` or as an AddedToken object `{"content": "<s>", ...}`;
    /// `Some(None)` for an explicit null, `None` when the key is absent.
    fn token_text(&self, key: &str) -> Result<Option<Option<String>>> {
        match self.value.get(key) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(Value::String(s)) => Ok(Some(Some(s.clone()))),
            Some(Value::Object(o)) => match o.get("content") {
                Some(Value::String(s)) => Ok(Some(Some(s.clone()))),
                _ => Err(Error::format(&self.path, format!("field '{key}': the token object has no string 'content'"))),
            },
            Some(_) => Err(Error::format(&self.path, format!("field '{key}': expected a string or a token object"))),
        }
    }

    /// A token id given as a number or a list of numbers.
    fn token_ids(&self, key: &str) -> Result<Option<Vec<u32>>> {
        let as_id = |v: &Value| v.as_u64().and_then(|n| u32::try_from(n).ok());
        match self.value.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(list)) => list
                .iter()
                .map(|v| as_id(v).ok_or_else(|| self.bad(key, "expected token ids (non-negative integers)")))
                .collect::<Result<Vec<u32>>>()
                .map(Some),
            Some(v) => as_id(v).map(|id| Some(vec![id])).ok_or_else(|| self.bad(key, "expected a token id or a list of ids")),
        }
    }

    fn bool_field(&self, key: &str) -> Result<Option<bool>> {
        match self.value.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(self.bad(key, "expected true or false")),
        }
    }

    fn bad(&self, key: &str, msg: &str) -> Error {
        Error::format(&self.path, format!("field '{key}': {msg}"))
    }
}
