//! Model names: the shortcuts of the original tool (`tinyllama`,
//! `llama3.2:1b`...) mapped to their Hugging Face repositories, and the
//! resolution of any `--base-model` value to files on disk.
//!
//! Order of resolution: an existing local path (a `.gguf` file, a
//! `.safetensors` file, or a folder with `config.json`); for `gemma3:270m`,
//! the GGUF fetched by `scripts/fetch-model.sh`; then the local Hugging Face
//! cache; then a download with hf-hub. Offline, the error says how to pass a
//! local path instead.

use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// A shortcut of the original tool and the repository it stands for.
pub struct Shortcut {
    pub name: &'static str,
    pub repo: &'static str,
    /// A GGUF file name looked for in the models folder before the hub.
    pub local_gguf: Option<&'static str>,
}

pub const SHORTCUTS: &[Shortcut] = &[
    Shortcut { name: "gemma3:270m", repo: "google/gemma-3-270m", local_gguf: Some("gemma-3-270m-q4_k_m.gguf") },
    Shortcut { name: "tinyllama", repo: "TinyLlama/TinyLlama-1.1B-Chat-v1.0", local_gguf: None },
    Shortcut { name: "qwen2.5:0.5b", repo: "Qwen/Qwen2.5-0.5B-Instruct", local_gguf: None },
    Shortcut { name: "qwen2.5:1.5b", repo: "Qwen/Qwen2.5-1.5B-Instruct", local_gguf: None },
    Shortcut { name: "llama3.2:1b", repo: "meta-llama/Llama-3.2-1B-Instruct", local_gguf: None },
    Shortcut { name: "llama3.1:8b", repo: "meta-llama/Llama-3.1-8B-Instruct", local_gguf: None },
    Shortcut { name: "phi3", repo: "microsoft/Phi-3-mini-4k-instruct", local_gguf: None },
];

/// The model dyag uses when none is named.
pub const DEFAULT_MODEL: &str = "gemma3:270m";

/// What a model name resolved to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelLocation {
    Gguf(PathBuf),
    /// A folder with config.json, safetensors weights and tokenizer files.
    HfFolder(PathBuf),
}

impl ModelLocation {
    pub fn path(&self) -> &Path {
        match self {
            ModelLocation::Gguf(p) | ModelLocation::HfFolder(p) => p,
        }
    }
}

/// Folders searched for locally fetched GGUF files, in order.
pub fn models_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(d) = std::env::var_os("DYAG_MODELS_DIR") {
        dirs.push(PathBuf::from(d));
    }
    dirs.push(PathBuf::from("models"));
    // Next to a binary built in this repository: <repo>/target/<profile>/dyag.
    if let Ok(exe) = std::env::current_exe() {
        if let Some(repo) = exe.parent().and_then(Path::parent).and_then(Path::parent) {
            dirs.push(repo.join("models"));
        }
    }
    dirs.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models"));
    dirs
}

/// Resolves a `--base-model` value to model files.
pub fn resolve(spec: &str) -> Result<ModelLocation> {
    let path = Path::new(spec);
    if path.exists() {
        return classify_path(path);
    }
    let shortcut = SHORTCUTS.iter().find(|s| s.name.eq_ignore_ascii_case(spec) || s.repo == spec);
    if let Some(file) = shortcut.and_then(|s| s.local_gguf) {
        if let Some(p) = models_dirs().into_iter().map(|d| d.join(file)).find(|p| p.is_file()) {
            return Ok(ModelLocation::Gguf(p));
        }
    }
    let repo = match shortcut {
        Some(s) => s.repo.to_string(),
        // "owner/name" is a hub repository id.
        None if spec.split('/').count() == 2 && !spec.starts_with('.') && !spec.contains('\\') => spec.to_string(),
        None => {
            let names: Vec<_> = SHORTCUTS.iter().map(|s| s.name).collect();
            return Err(Error::ModelNotFound {
                name: spec.to_string(),
                msg: format!(
                    "no such file or folder, and not a known shortcut ({}) or a Hugging Face repository id (owner/name)",
                    names.join(", ")
                ),
            });
        }
    };
    from_hub(spec, &repo, shortcut.and_then(|s| s.local_gguf))
}

fn classify_path(path: &Path) -> Result<ModelLocation> {
    if path.is_dir() {
        if path.join("config.json").is_file() {
            return Ok(ModelLocation::HfFolder(path.to_path_buf()));
        }
        if path.join("adapter_config.json").is_file() {
            return Err(Error::ModelNotFound {
                name: path.display().to_string(),
                msg: "this folder is a LoRA adapter, not a base model: pass it with --model and the base with --base-model".into(),
            });
        }
        return Err(Error::ModelNotFound {
            name: path.display().to_string(),
            msg: "folder has no config.json (expected a Hugging Face model folder)".into(),
        });
    }
    match path.extension().and_then(|e| e.to_str()) {
        Some("gguf") => Ok(ModelLocation::Gguf(path.to_path_buf())),
        Some("safetensors") | Some("json") => match path.parent() {
            Some(dir) if dir.join("config.json").is_file() => Ok(ModelLocation::HfFolder(dir.to_path_buf())),
            _ => Err(Error::ModelNotFound { name: path.display().to_string(), msg: "no config.json beside this file".into() }),
        },
        _ => Err(Error::ModelNotFound {
            name: path.display().to_string(),
            msg: "expected a .gguf file or a Hugging Face model folder".into(),
        }),
    }
}

/// Files a Hugging Face model folder needs (weights are listed separately).
const HF_FILES: &[&str] = &["config.json", "tokenizer.json"];
const HF_OPTIONAL: &[&str] = &["tokenizer_config.json", "generation_config.json", "special_tokens_map.json"];

fn from_hub(spec: &str, repo: &str, local_gguf: Option<&str>) -> Result<ModelLocation> {
    let offline_hint = |why: String| {
        let fetch = if local_gguf.is_some() { " or run scripts/fetch-model.sh to fetch its GGUF into models/," } else { "" };
        Error::ModelNotFound {
            name: spec.to_string(),
            msg: format!(
                "not in the local Hugging Face cache and it cannot be downloaded from {repo} ({why}). Pass a local path instead: \
                 --base-model /path/to/model.gguf or /path/to/hf-model-folder (with config.json, *.safetensors, tokenizer.json),{fetch} \
                 or set DYAG_MODELS_DIR"
            ),
        }
    };
    // 1. The local cache (HF_HOME), no network.
    let cache = hf_hub::Cache::from_env();
    let cached = cache.model(repo.to_string());
    if let Some(config) = cached.get("config.json") {
        let dir = config.parent().map(Path::to_path_buf).unwrap_or_default();
        if weights_present(&dir) && dir.join("tokenizer.json").is_file() {
            return Ok(ModelLocation::HfFolder(dir));
        }
    }
    if std::env::var("HF_HUB_OFFLINE").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true")) {
        return Err(offline_hint("HF_HUB_OFFLINE is set".into()));
    }
    // 2. Download.
    let api = hf_hub::api::sync::ApiBuilder::from_env().with_retries(1).build().map_err(|e| offline_hint(e.to_string()))?;
    let remote = api.model(repo.to_string());
    let mut dir = None;
    for f in HF_FILES {
        let p = remote.get(f).map_err(|e| offline_hint(e.to_string()))?;
        dir = p.parent().map(Path::to_path_buf);
    }
    for f in HF_OPTIONAL {
        let _ = remote.get(f);
    }
    let dir = dir.ok_or_else(|| offline_hint("empty download".into()))?;
    match remote.get("model.safetensors.index.json") {
        Ok(index) => {
            let text = std::fs::read_to_string(&index).map_err(|e| Error::io(&index, e))?;
            let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| Error::format(&index, e.to_string()))?;
            let mut shards: Vec<&str> = v
                .get("weight_map")
                .and_then(|m| m.as_object())
                .map(|m| m.values().filter_map(|s| s.as_str()).collect())
                .unwrap_or_default();
            shards.sort_unstable();
            shards.dedup();
            for s in shards {
                remote.get(s).map_err(|e| offline_hint(e.to_string()))?;
            }
        }
        Err(_) => {
            remote.get("model.safetensors").map_err(|e| offline_hint(e.to_string()))?;
        }
    }
    Ok(ModelLocation::HfFolder(dir))
}

fn weights_present(dir: &Path) -> bool {
    dir.join("model.safetensors").is_file() || dir.join("model.safetensors.index.json").is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_names_are_explained() {
        let e = resolve("not-a-model-xyz").unwrap_err().to_string();
        assert!(e.contains("not-a-model-xyz") && e.contains("tinyllama"), "{e}");
    }

    #[test]
    fn local_paths_are_classified() {
        let dir = format!("{}/tests/data/fixtures/llama/model", env!("CARGO_MANIFEST_DIR"));
        assert_eq!(resolve(&dir).unwrap(), ModelLocation::HfFolder(PathBuf::from(&dir)));
        let adapter = format!("{}/tests/data/fixtures/llama/peft_adapter", env!("CARGO_MANIFEST_DIR"));
        let e = resolve(&adapter).unwrap_err().to_string();
        assert!(e.contains("--model"), "{e}");
    }
}
