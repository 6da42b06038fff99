//! Loading a base model: name → files (registry) → config, weights and
//! tokenizer, from a GGUF file or a Hugging Face folder.

use super::config::{bounded, limits, Activation, AttnKind, Family, ModelConfig, Rope};
use super::registry::{self, ModelLocation};
use super::weights::{bind_model, gguf_name, WeightSource};
use super::Model;
use crate::formats::gguf::GgufFile;
use crate::formats::safetensors::SafetensorsSet;
use crate::quant::tensor::QTensor;
use crate::tokenizer::chat_template::ChatTemplate;
use crate::tokenizer::{GgufVocab, Tokenizer};
use crate::{Error, Result};
use std::path::Path;

/// A base model ready for inference or training.
pub struct LoadedModel {
    pub model: Model,
    pub tokenizer: Tokenizer,
    pub template: ChatTemplate,
    pub location: ModelLocation,
    /// What the user asked for (`gemma3:270m`, a path...).
    pub spec: String,
    /// What PEFT's `base_model_name_or_path` should say: the hub repository
    /// for shortcuts, the absolute path for local files.
    pub base_model_name_or_path: String,
}

/// Resolves `spec` (shortcut, repository id or path) and loads it.
pub fn load_model(spec: &str) -> Result<LoadedModel> {
    let location = registry::resolve(spec)?;
    let (model, tokenizer) = match &location {
        ModelLocation::Gguf(p) => load_gguf(p)?,
        ModelLocation::HfFolder(p) => load_hf_folder(p)?,
    };
    let template =
        tokenizer.chat_template_or_builtin(model.config.family.name(), spec).map_err(|e| Error::format(location.path(), e.to_string()))?;
    let base_model_name_or_path = match registry::SHORTCUTS.iter().find(|s| s.name.eq_ignore_ascii_case(spec) || s.repo == spec) {
        Some(s) => s.repo.to_string(),
        None => std::fs::canonicalize(location.path()).map(|p| p.display().to_string()).unwrap_or_else(|_| spec.to_string()),
    };
    Ok(LoadedModel { model, tokenizer, template, location, spec: spec.to_string(), base_model_name_or_path })
}

// ------------------------------------------------------------------ GGUF

struct GgufSource<'a> {
    file: &'a GgufFile,
    family: Family,
}

impl WeightSource for GgufSource<'_> {
    fn get(&self, hf_name: &str) -> Result<Option<QTensor>> {
        match gguf_name(hf_name, self.family) {
            Some(g) if self.file.tensor_info(&g).is_some() => self.file.tensor(&g).map(|mut t| {
                t.name = g;
                Some(t)
            }),
            _ => Ok(None),
        }
    }
    fn gemma_norms_need_plus_one(&self) -> bool {
        false // llama.cpp's converter stores Gemma norms as 1 + w already
    }
    fn qk_rows_interleaved(&self) -> bool {
        self.family == Family::Llama
    }
    fn describe(&self) -> String {
        self.file.path.display().to_string()
    }
}

pub fn load_gguf(path: &Path) -> Result<(Model, Tokenizer)> {
    let file = GgufFile::open(path)?;
    let cfg = config_from_gguf(&file)?;
    let model = bind_model(cfg, &GgufSource { file: &file, family: cfg_family(&file)? }).map_err(|e| match e {
        Error::Tensor { name, msg } => Error::format(path, format!("tensor '{name}': {msg}")),
        other => other,
    })?;
    let tokenizer = Tokenizer::from_gguf_vocab(vocab_from_gguf(&file)?)?;
    // As llama.cpp: one embedding row per token, no more, no fewer.
    if tokenizer.vocab_size() != model.config.vocab {
        return Err(Error::format(
            path,
            format!("tokenizer.ggml.tokens has {} tokens but token_embd.weight {} rows", tokenizer.vocab_size(), model.config.vocab),
        ));
    }
    Ok((model, tokenizer))
}

fn cfg_family(f: &GgufFile) -> Result<Family> {
    let arch = f.get_str("general.architecture")?.ok_or_else(|| Error::format(&f.path, "missing general.architecture"))?;
    Ok(match arch {
        "llama" | "mistral" => Family::Llama,
        "qwen2" => Family::Qwen2,
        "gemma3" => Family::Gemma3,
        "phi3" => Family::Phi3,
        other => {
            return Err(Error::format(
                &f.path,
                format!("unsupported architecture '{other}' (general.architecture); dyag supports llama, qwen2, gemma3 and phi3"),
            ))
        }
    })
}

/// The config of a GGUF model from its metadata, with llama.cpp's
/// conventions where the file is silent (Gemma 3: every 6th layer global,
/// local rope base 10000 unless `rope.freq_base_swa` says otherwise, and the
/// attention scale of [`gemma3_attn_scale`]).
pub fn config_from_gguf(f: &GgufFile) -> Result<ModelConfig> {
    let family = cfg_family(f)?;
    let arch = f.get_str("general.architecture")?.unwrap_or_default().to_string();
    let key = |k: &str| format!("{arch}.{k}");
    // Every size is range-checked as it is read, before anything is
    // allocated from it (config::limits).
    let opt = |k: &str, max: usize| -> Result<Option<usize>> {
        let k = key(k);
        match f.get_u64(&k)? {
            Some(v) => bounded(&k, v, max).map(Some).map_err(|e| Error::format(&f.path, e.to_string())),
            None => Ok(None),
        }
    };
    let req = |k: &str, max: usize| -> Result<usize> {
        opt(k, max)?.ok_or_else(|| Error::format(&f.path, format!("missing metadata {}", key(k))))
    };
    let hidden = req("embedding_length", limits::WIDTH)?;
    let n_layers = req("block_count", limits::LAYERS)?;
    let n_heads = req("attention.head_count", limits::HEADS)?;
    let n_kv_heads = opt("attention.head_count_kv", limits::HEADS)?.unwrap_or(n_heads);
    let head_dim = opt("attention.key_length", limits::WIDTH)?.unwrap_or(hidden / n_heads);
    let vocab =
        f.tensor_info("token_embd.weight").map(|t| t.shape[0]).ok_or_else(|| Error::format(&f.path, "missing tensor token_embd.weight"))?;
    let theta = f.get_f32(&key("rope.freq_base"))?.map(|v| v as f64).unwrap_or(if family == Family::Gemma3 { 1e6 } else { 1e4 });
    let mut scaling = None;
    if let (Some("linear"), Some(factor)) = (f.get_str(&key("rope.scaling.type"))?, f.get_f32(&key("rope.scaling.factor"))?) {
        scaling = Some(super::config::RopeScaling::Linear { factor: factor as f64 });
    }
    if f.tensor_info("rope_freqs.weight").is_some() {
        return Err(Error::format(&f.path, "per-dimension rope frequency factors (rope_freqs.weight, Llama 3.1+ GGUF) are not supported yet; use the Hugging Face folder of this model"));
    }
    let gemma = family == Family::Gemma3;
    let window = opt("attention.sliding_window", limits::WIDTH)?;
    let layer_kinds = match (gemma, window) {
        (true, Some(w)) => {
            let pattern = opt("attention.sliding_window_pattern", limits::LAYERS)?.unwrap_or(6);
            AttnKind::interleaved(n_layers, pattern, w)
        }
        (false, Some(w)) if w > 0 && family != Family::Qwen2 => vec![AttnKind::Sliding { window: w }; n_layers],
        _ => vec![AttnKind::Full; n_layers],
    };
    let global = Rope { theta, scaling };
    let local = match gemma {
        true => Rope { theta: f.get_f32(&key("rope.freq_base_swa"))?.map_or(1e4, |v| v as f64), scaling: None },
        false => global.clone(),
    };
    let cfg = ModelConfig {
        family,
        hidden,
        n_layers,
        n_heads,
        n_kv_heads,
        head_dim,
        intermediate: req("feed_forward_length", limits::WIDTH)?,
        vocab,
        rms_eps: f.get_f32(&key("attention.layer_norm_rms_epsilon"))?.unwrap_or(1e-6),
        rope_global: global,
        rope_local: local,
        layer_kinds,
        attn_scale: if gemma { gemma3_attn_scale(n_layers, hidden, n_heads, head_dim) } else { (1.0 / (head_dim as f64).sqrt()) as f32 },
        embed_scale: gemma.then(|| (hidden as f32).sqrt()),
        qk_norm: gemma,
        sandwich_norms: gemma,
        activation: if gemma { Activation::GeluTanh } else { Activation::Silu },
        qkv_bias: f.tensor_info("blk.0.attn_q.bias").is_some(),
        fused_projections: family == Family::Phi3,
        tied_embeddings: f.tensor_info("output.weight").is_none(),
        max_position: opt("context_length", limits::WIDTH)?.unwrap_or(4096),
    };
    cfg.validate().map_err(|e| Error::format(&f.path, e.to_string()))?;
    Ok(cfg)
}

/// Gemma 3's attention scale from GGUF metadata, which has no
/// `query_pre_attn_scalar` key: as llama.cpp does (models/gemma3.cpp, after
/// Google's gemma_pytorch config), 1/√(hidden/heads) for the 27B model (the
/// one with 62 layers, whose query_pre_attn_scalar is 5376/32 = 168, not its
/// head_dim 128), 1/√head_dim for every other size. The division is integral,
/// as in llama.cpp.
pub fn gemma3_attn_scale(n_layers: usize, hidden: usize, n_heads: usize, head_dim: usize) -> f32 {
    let d = if n_layers == 62 { hidden / n_heads } else { head_dim };
    (1.0 / (d as f64).sqrt()) as f32
}

fn vocab_from_gguf(f: &GgufFile) -> Result<GgufVocab> {
    let s = |k: &str| -> Result<Option<String>> { Ok(f.get_str(k)?.map(str::to_string)) };
    let id = |k: &str| -> Result<Option<u32>> {
        f.get_u64(k)?.map(|v| u32::try_from(v).map_err(|_| Error::format(&f.path, format!("{k} = {v} is not a token id")))).transpose()
    };
    Ok(GgufVocab {
        model: s("tokenizer.ggml.model")?.ok_or_else(|| Error::format(&f.path, "missing tokenizer.ggml.model"))?,
        pre: s("tokenizer.ggml.pre")?,
        tokens: f
            .get_string_array("tokenizer.ggml.tokens")?
            .ok_or_else(|| Error::format(&f.path, "missing tokenizer.ggml.tokens"))?
            .to_vec(),
        scores: f.get_f32_array("tokenizer.ggml.scores")?.map(|c| c.into_owned()),
        token_types: f.get_i32_array("tokenizer.ggml.token_type")?.map(|c| c.into_owned()),
        merges: f.get_string_array("tokenizer.ggml.merges")?.map(|s| s.to_vec()),
        bos: id("tokenizer.ggml.bos_token_id")?,
        eos: id("tokenizer.ggml.eos_token_id")?,
        unk: id("tokenizer.ggml.unknown_token_id")?,
        pad: id("tokenizer.ggml.padding_token_id")?,
        eot: id("tokenizer.ggml.eot_token_id")?,
        add_bos: f.get_bool("tokenizer.ggml.add_bos_token")?,
        add_space_prefix: f.get_bool("tokenizer.ggml.add_space_prefix")?,
        chat_template: s("tokenizer.chat_template")?,
        architecture: f.get_str("general.architecture")?.unwrap_or_default().to_string(),
    })
}

// ------------------------------------------------------- Hugging Face folder

struct SafetensorsSource {
    set: SafetensorsSet,
    dir: std::path::PathBuf,
}

impl WeightSource for SafetensorsSource {
    fn get(&self, hf_name: &str) -> Result<Option<QTensor>> {
        // Multimodal Gemma 3 checkpoints nest the text model.
        for name in [hf_name.to_string(), hf_name.replacen("model.", "model.language_model.", 1), format!("language_model.{hf_name}")] {
            if self.set.contains(&name) {
                return self.set.tensor(&name).map(Some);
            }
        }
        Ok(None)
    }
    fn gemma_norms_need_plus_one(&self) -> bool {
        true
    }
    fn qk_rows_interleaved(&self) -> bool {
        false
    }
    fn describe(&self) -> String {
        self.dir.display().to_string()
    }
}

pub fn load_hf_folder(dir: &Path) -> Result<(Model, Tokenizer)> {
    let model = load_hf_weights(dir)?;
    let tokenizer = Tokenizer::from_hf_dir(dir)?;
    // Embeddings padded beyond the tokenizer are common (Qwen2.5: 151936 rows
    // for 151665 tokens; decoding skips the extra ids); a token without an
    // embedding row is not.
    if tokenizer.vocab_size() > model.config.vocab {
        return Err(Error::format(
            dir,
            format!("the tokenizer has {} tokens but the embedding only {} rows (vocab_size)", tokenizer.vocab_size(), model.config.vocab),
        ));
    }
    Ok((model, tokenizer))
}

/// Config and weights of a Hugging Face folder (no tokenizer).
pub fn load_hf_weights(dir: &Path) -> Result<Model> {
    let cfg_path = dir.join("config.json");
    let text = std::fs::read_to_string(&cfg_path).map_err(|e| Error::io(&cfg_path, e))?;
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| Error::format(&cfg_path, format!("invalid JSON: {e}")))?;
    crate::formats::json::reject_duplicate_keys(&cfg_path, 1, &text)?;
    let cfg = ModelConfig::from_hf_json(&json).map_err(|e| Error::format(&cfg_path, e.to_string()))?;
    let set = SafetensorsSet::open(dir)?;
    bind_model(cfg, &SafetensorsSource { set, dir: dir.to_path_buf() })
}
