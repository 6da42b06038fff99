//! Model hyper-parameters and the per-family switches of the one forward
//! pass: everything that differs between llama, qwen2, gemma3 and phi3 is a
//! field here, read from a Hugging Face `config.json` or from GGUF metadata.

use crate::{Error, Result};
use serde_json::Value;

/// The architecture families dyag implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// TinyLlama, Llama 3.x, Mistral.
    Llama,
    /// Qwen2 / Qwen2.5: llama with q/k/v biases.
    Qwen2,
    /// Gemma 3 (text): sandwich norms, q/k norms, GeGLU, sliding window.
    Gemma3,
    /// Phi-3: fused qkv and gate_up projections.
    Phi3,
}

impl Family {
    pub fn name(self) -> &'static str {
        match self {
            Family::Llama => "llama",
            Family::Qwen2 => "qwen2",
            Family::Gemma3 => "gemma3",
            Family::Phi3 => "phi3",
        }
    }
}

pub use crate::ops::activation::Activation;
pub use crate::ops::rope::{Rope, RopeScaling};

/// Which keys a layer's queries see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttnKind {
    /// Every earlier position (causal).
    Full,
    /// Only the last `window` positions, the query's own included.
    Sliding { window: usize },
}

impl AttnKind {
    /// Gemma 3's layout: every `pattern`-th layer global, the others sliding
    /// (`n_layers` range-checked by the caller: this allocates from it).
    pub fn interleaved(n_layers: usize, pattern: usize, window: usize) -> Vec<AttnKind> {
        let pattern = pattern.max(1);
        (0..n_layers).map(|i| if (i + 1) % pattern == 0 { AttnKind::Full } else { AttnKind::Sliding { window } }).collect()
    }
}

/// Upper bounds on the sizes a config may declare, checked as each is read,
/// before anything is allocated from it (a per-layer table of 2^40 entries
/// is an abort that no error handling can catch). Far above every model dyag
/// targets (Llama 3.1 405B: 126 layers, 128 heads, hidden 16384; Gemma 3: a
/// vocabulary of 262144, head_dim 256; contexts of 1M positions).
pub mod limits {
    /// Layers.
    pub const LAYERS: usize = 1024;
    /// Attention heads, query or key/value.
    pub const HEADS: usize = 1024;
    /// Widths: hidden, head_dim, intermediate, vocabulary, windows and contexts.
    pub const WIDTH: usize = 1 << 24;
}

/// `v` as a size in `1..=max`, or an error naming `field`.
pub fn bounded(field: &str, v: u64, max: usize) -> Result<usize> {
    match usize::try_from(v) {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(Error::config(field, format!("{v} is out of range (1..={max})"))),
    }
}

#[derive(Clone, Debug)]
pub struct ModelConfig {
    pub family: Family,
    pub hidden: usize,
    pub n_layers: usize,
    pub n_heads: usize,
    pub n_kv_heads: usize,
    pub head_dim: usize,
    pub intermediate: usize,
    pub vocab: usize,
    pub rms_eps: f32,
    /// Rope of full-attention layers (every layer outside gemma3).
    pub rope_global: Rope,
    /// Rope of sliding-window layers (gemma3's local base).
    pub rope_local: Rope,
    pub layer_kinds: Vec<AttnKind>,
    /// Multiplies q·k (gemma3: query_pre_attn_scalar^-½; others head_dim^-½).
    pub attn_scale: f32,
    /// Multiplies the embedding rows (gemma3: √hidden).
    pub embed_scale: Option<f32>,
    /// RMS-normalise each head of q and k before rope (gemma3).
    pub qk_norm: bool,
    /// Norms after attention and after the MLP too (gemma3's four norms per block).
    pub sandwich_norms: bool,
    pub activation: Activation,
    /// q/k/v projections have biases (qwen2).
    pub qkv_bias: bool,
    /// q, k and v in one matrix; gate and up in one matrix (phi3).
    pub fused_projections: bool,
    pub tied_embeddings: bool,
    pub max_position: usize,
}

impl ModelConfig {
    pub fn q_dim(&self) -> usize {
        self.n_heads * self.head_dim
    }
    pub fn kv_dim(&self) -> usize {
        self.n_kv_heads * self.head_dim
    }
    pub fn rope_for(&self, layer: usize) -> &Rope {
        match self.layer_kinds[layer] {
            AttnKind::Full => &self.rope_global,
            AttnKind::Sliding { .. } => &self.rope_local,
        }
    }

    /// Checks the invariants the kernels rely on, naming the offending field.
    pub fn validate(&self) -> Result<()> {
        use limits::{HEADS, LAYERS, WIDTH};
        let sizes = [
            ("hidden_size", self.hidden, WIDTH),
            ("num_hidden_layers", self.n_layers, LAYERS),
            ("num_attention_heads", self.n_heads, HEADS),
            ("num_key_value_heads", self.n_kv_heads, HEADS),
            ("head_dim", self.head_dim, WIDTH),
            ("intermediate_size", self.intermediate, WIDTH),
            ("vocab_size", self.vocab, WIDTH),
            ("max_position_embeddings", self.max_position, WIDTH),
        ];
        for (field, v, max) in sizes {
            bounded(field, v as u64, max)?;
        }
        for kind in &self.layer_kinds {
            if let AttnKind::Sliding { window } = *kind {
                // A window of 0 would let a query see no key at all.
                bounded("sliding_window", window as u64, WIDTH)?;
            }
        }
        for (field, rope) in [("rope_theta", &self.rope_global), ("rope_local_base_freq", &self.rope_local)] {
            rope.validate(field)?;
        }
        if !(self.attn_scale.is_finite() && self.attn_scale > 0.0) {
            return Err(Error::config("query_pre_attn_scalar", format!("gives an attention scale of {}", self.attn_scale)));
        }
        if !self.n_heads.is_multiple_of(self.n_kv_heads) {
            return Err(Error::config(
                "num_key_value_heads",
                format!("{} does not divide num_attention_heads {}", self.n_kv_heads, self.n_heads),
            ));
        }
        if !self.head_dim.is_multiple_of(2) {
            return Err(Error::config("head_dim", format!("{} must be even for rotary embeddings", self.head_dim)));
        }
        if self.layer_kinds.len() != self.n_layers {
            return Err(Error::config("layer_types", format!("{} entries for {} layers", self.layer_kinds.len(), self.n_layers)));
        }
        if !(self.rms_eps > 0.0 && self.rms_eps < 1.0) {
            return Err(Error::config("rms_norm_eps", format!("{} is out of range", self.rms_eps)));
        }
        Ok(())
    }

    /// Reads a Hugging Face `config.json` (transformers 4 and 5 forms).
    pub fn from_hf_json(v: &Value) -> Result<Self> {
        let model_type = v.get("model_type").and_then(Value::as_str).unwrap_or("");
        let arch = v.get("architectures").and_then(|a| a.get(0)).and_then(Value::as_str).unwrap_or("");
        let family = match (model_type, arch) {
            ("llama" | "mistral", _) | (_, "LlamaForCausalLM" | "MistralForCausalLM") => Family::Llama,
            ("qwen2", _) | (_, "Qwen2ForCausalLM") => Family::Qwen2,
            ("gemma3_text" | "gemma3", _) | (_, "Gemma3ForCausalLM") => Family::Gemma3,
            ("phi3", _) | (_, "Phi3ForCausalLM") => Family::Phi3,
            _ => {
                return Err(Error::config(
                    "model_type",
                    format!(
                        "unsupported architecture '{model_type}' ({arch}); dyag supports llama, mistral, qwen2, gemma3 (text) and phi3"
                    ),
                ))
            }
        };
        // Gemma 3 multimodal checkpoints nest the language model config.
        let v = if model_type == "gemma3" { v.get("text_config").unwrap_or(v) } else { v };
        // Every size is range-checked as it is read: nothing is allocated
        // from an unchecked one (see `limits`).
        let opt_usize = |name: &str, max: usize| -> Result<Option<usize>> {
            match v.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(x) => match x.as_u64() {
                    Some(n) => bounded(name, n, max).map(Some),
                    None => Err(Error::config(name, format!("{x} is not a positive integer"))),
                },
            }
        };
        let usize_field = |name: &str, max: usize| -> Result<usize> { opt_usize(name, max)?.ok_or_else(|| Error::config(name, "missing")) };
        let opt_f64 = |name: &str| v.get(name).and_then(Value::as_f64);
        use limits::{HEADS, LAYERS, WIDTH};

        let hidden = usize_field("hidden_size", WIDTH)?;
        let n_layers = usize_field("num_hidden_layers", LAYERS)?;
        let n_heads = usize_field("num_attention_heads", HEADS)?;
        let n_kv_heads = opt_usize("num_key_value_heads", HEADS)?.unwrap_or(n_heads);
        let head_dim = opt_usize("head_dim", WIDTH)?.unwrap_or(hidden / n_heads);
        let gemma = family == Family::Gemma3;

        for field in ["final_logit_softcapping", "attn_logit_softcapping"] {
            if v.get(field).is_some_and(|x| !x.is_null()) {
                return Err(Error::config(field, "logit soft-capping is not supported"));
            }
        }
        let activation = match v.get("hidden_activation").or_else(|| v.get("hidden_act")).and_then(Value::as_str) {
            Some("silu" | "swish") => Activation::Silu,
            Some("gelu_pytorch_tanh" | "gelu_tanh" | "gelu_new") => Activation::GeluTanh,
            None if gemma => Activation::GeluTanh,
            None => Activation::Silu,
            Some(other) => return Err(Error::config("hidden_act", format!("unsupported activation '{other}'"))),
        };

        let (rope_global, rope_local) = parse_rope(v, gemma)?;
        let sliding_window = opt_usize("sliding_window", WIDTH)?;
        let layer_kinds = match v.get("layer_types").and_then(Value::as_array) {
            Some(types) => types
                .iter()
                .enumerate()
                .map(|(i, t)| match t.as_str() {
                    Some("full_attention") => Ok(AttnKind::Full),
                    Some("sliding_attention") => {
                        let window = sliding_window.ok_or_else(|| Error::config("sliding_window", "needed by sliding_attention layers"))?;
                        Ok(AttnKind::Sliding { window })
                    }
                    _ => Err(Error::config(format!("layer_types[{i}]"), format!("unsupported layer type {t}"))),
                })
                .collect::<Result<Vec<_>>>()?,
            None if gemma => {
                // Older Gemma 3 configs: every `sliding_window_pattern`-th layer is global.
                let pattern = match opt_usize("sliding_window_pattern", LAYERS)? {
                    Some(p) => p,
                    None => opt_usize("_sliding_window_pattern", LAYERS)?.unwrap_or(6),
                };
                let window = sliding_window.ok_or_else(|| Error::config("sliding_window", "missing"))?;
                AttnKind::interleaved(n_layers, pattern, window)
            }
            // Mistral-style models may set a window on every layer; Qwen2 only with use_sliding_window.
            None => {
                let use_window = match family {
                    Family::Qwen2 => v.get("use_sliding_window").and_then(Value::as_bool).unwrap_or(false),
                    _ => true,
                };
                let kind = match sliding_window {
                    Some(w) if use_window && w > 0 => AttnKind::Sliding { window: w },
                    _ => AttnKind::Full,
                };
                vec![kind; n_layers]
            }
        };

        let attn_scale = match (gemma, opt_f64("query_pre_attn_scalar")) {
            (true, Some(s)) if s.is_finite() && s > 0.0 => (1.0 / s.sqrt()) as f32,
            (true, Some(s)) => return Err(Error::config("query_pre_attn_scalar", format!("{s} is not a positive number"))),
            _ => (1.0 / (head_dim as f64).sqrt()) as f32,
        };
        let tied_default = gemma;
        let cfg = ModelConfig {
            family,
            hidden,
            n_layers,
            n_heads,
            n_kv_heads,
            head_dim,
            intermediate: usize_field("intermediate_size", WIDTH)?,
            vocab: usize_field("vocab_size", WIDTH)?,
            rms_eps: opt_f64("rms_norm_eps").unwrap_or(1e-6) as f32,
            rope_global,
            rope_local,
            layer_kinds,
            attn_scale,
            embed_scale: gemma.then(|| (hidden as f32).sqrt()),
            qk_norm: gemma,
            sandwich_norms: gemma,
            activation,
            qkv_bias: family == Family::Qwen2 || v.get("attention_bias").and_then(Value::as_bool).unwrap_or(false),
            fused_projections: family == Family::Phi3,
            tied_embeddings: v.get("tie_word_embeddings").and_then(Value::as_bool).unwrap_or(tied_default),
            max_position: opt_usize("max_position_embeddings", WIDTH)?.unwrap_or(4096),
        };
        if family == Family::Phi3 {
            if let Some(f) = v.get("rope_parameters").and_then(|r| r.get("partial_rotary_factor")).and_then(Value::as_f64) {
                if f != 1.0 {
                    return Err(Error::config("partial_rotary_factor", format!("{f} is not supported (only 1.0)")));
                }
            }
        }
        cfg.validate()?;
        Ok(cfg)
    }
}

/// Rope settings: transformers 5 `rope_parameters` (flat, or one entry per
/// layer type), or the older `rope_theta` / `rope_local_base_freq` /
/// `rope_scaling` fields.
fn parse_rope(v: &Value, gemma: bool) -> Result<(Rope, Rope)> {
    fn one(p: &Value, default_theta: f64, field: &str) -> Result<Rope> {
        let theta = p.get("rope_theta").and_then(Value::as_f64).unwrap_or(default_theta);
        let scaling = parse_scaling(p, field)?;
        Ok(Rope { theta, scaling })
    }
    if let Some(p) = v.get("rope_parameters").filter(|p| p.is_object()) {
        if let (Some(full), Some(sliding)) = (p.get("full_attention"), p.get("sliding_attention")) {
            return Ok((one(full, 1e6, "rope_parameters.full_attention")?, one(sliding, 1e4, "rope_parameters.sliding_attention")?));
        }
        let r = one(p, 1e4, "rope_parameters")?;
        return Ok((r.clone(), r));
    }
    let theta = v.get("rope_theta").and_then(Value::as_f64).unwrap_or(if gemma { 1e6 } else { 1e4 });
    let scaling = match v.get("rope_scaling") {
        Some(s) if s.is_object() => parse_scaling(s, "rope_scaling")?,
        _ => None,
    };
    let global = Rope { theta, scaling };
    let local = if gemma {
        // Gemma 3 scales only its global layers' rope; local layers use their own base.
        Rope { theta: v.get("rope_local_base_freq").and_then(Value::as_f64).unwrap_or(1e4), scaling: None }
    } else {
        global.clone()
    };
    Ok((global, local))
}

fn parse_scaling(p: &Value, field: &str) -> Result<Option<RopeScaling>> {
    let kind = p.get("rope_type").or_else(|| p.get("type")).and_then(Value::as_str).unwrap_or("default");
    let f = |name: &str| -> Result<f64> {
        p.get(name).and_then(Value::as_f64).ok_or_else(|| Error::config(format!("{field}.{name}"), "missing"))
    };
    Ok(match kind {
        "default" => None,
        "linear" => Some(RopeScaling::Linear { factor: f("factor")? }),
        "llama3" => Some(RopeScaling::Llama3 {
            factor: f("factor")?,
            low_freq_factor: f("low_freq_factor")?,
            high_freq_factor: f("high_freq_factor")?,
            original_max_position: f("original_max_position_embeddings")?,
        }),
        other => return Err(Error::config(format!("{field}.rope_type"), format!("unsupported rope scaling '{other}'"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(family: &str) -> Value {
        let path = format!("{}/tests/data/fixtures/{family}/model/config.json", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(&path).expect(&path)).unwrap()
    }

    #[test]
    fn gemma3_fixture_config() {
        let c = ModelConfig::from_hf_json(&fixture("gemma3")).unwrap();
        assert_eq!(c.family, Family::Gemma3);
        assert_eq!(c.layer_kinds, vec![AttnKind::Sliding { window: 8 }, AttnKind::Full]);
        assert_eq!(c.rope_global.theta, 1e6);
        assert_eq!(c.rope_local.theta, 1e4);
        assert_eq!(c.attn_scale, 0.25);
        assert_eq!(c.embed_scale, Some(8.0));
        assert!(c.tied_embeddings && c.qk_norm && c.sandwich_norms);
        assert_eq!(c.activation, Activation::GeluTanh);
    }

    #[test]
    fn old_style_gemma_fields() {
        let v = serde_json::json!({
            "model_type": "gemma3_text", "hidden_size": 640, "num_hidden_layers": 18, "num_attention_heads": 4,
            "num_key_value_heads": 1, "head_dim": 256, "intermediate_size": 2048, "vocab_size": 262144,
            "rope_theta": 1000000.0, "rope_local_base_freq": 10000.0, "sliding_window": 512,
            "sliding_window_pattern": 6, "query_pre_attn_scalar": 256, "rope_scaling": null
        });
        let c = ModelConfig::from_hf_json(&v).unwrap();
        let globals: Vec<usize> = (0..18).filter(|&i| c.layer_kinds[i] == AttnKind::Full).collect();
        assert_eq!(globals, vec![5, 11, 17]);
        assert_eq!(c.attn_scale, 1.0 / 16.0);
        assert_eq!(c.rope_local.theta, 1e4);
    }

    #[test]
    fn other_families() {
        assert!(ModelConfig::from_hf_json(&fixture("qwen2")).unwrap().qkv_bias);
        assert!(ModelConfig::from_hf_json(&fixture("phi3")).unwrap().fused_projections);
        let l = ModelConfig::from_hf_json(&fixture("llama")).unwrap();
        assert_eq!((l.family, l.tied_embeddings, l.attn_scale), (Family::Llama, false, 0.25));
    }

    #[test]
    fn errors_name_the_field() {
        let e = ModelConfig::from_hf_json(&serde_json::json!({"model_type": "gpt_neox"})).unwrap_err().to_string();
        assert!(e.contains("model_type") && e.contains("gpt_neox"), "{e}");
        let mut v = fixture("llama");
        v.as_object_mut().unwrap().remove("hidden_size");
        let e = ModelConfig::from_hf_json(&v).unwrap_err().to_string();
        assert!(e.contains("hidden_size"), "{e}");
        let mut v = fixture("llama");
        v["num_key_value_heads"] = 3.into();
        let e = ModelConfig::from_hf_json(&v).unwrap_err().to_string();
        assert!(e.contains("num_key_value_heads"), "{e}");
    }

    /// Hardening findings 1, 3, 12 on the Hugging Face path: sizes checked as
    /// read (2^40 layers used to be allocated first), window 0, bad rope.
    #[test]
    fn hostile_sizes_and_values_are_refused() {
        let err = |edit: &dyn Fn(&mut Value)| {
            let mut v = fixture("gemma3");
            edit(&mut v);
            ModelConfig::from_hf_json(&v).unwrap_err().to_string()
        };
        let e = err(&|v| v["num_hidden_layers"] = (1u64 << 40).into());
        assert!(e.contains("num_hidden_layers") && e.contains("out of range"), "{e}");
        let e = err(&|v| v["sliding_window"] = 0.into());
        assert!(e.contains("sliding_window") && e.contains("out of range"), "{e}");
        let e = err(&|v| v["num_attention_heads"] = (-3).into());
        assert!(e.contains("num_attention_heads") && e.contains("not a positive integer"), "{e}");
        let e = err(&|v| v["rope_parameters"]["full_attention"]["rope_theta"] = 0.0.into());
        assert!(e.contains("rope_theta"), "{e}");
        let e = err(&|v| v["query_pre_attn_scalar"] = (-1.0).into());
        assert!(e.contains("query_pre_attn_scalar"), "{e}");
        let e = err(&|v| v["max_position_embeddings"] = u64::MAX.into());
        assert!(e.contains("max_position_embeddings"), "{e}");
    }

    #[test]
    fn llama3_rope_scaling() {
        let r = Rope {
            theta: 500000.0,
            scaling: Some(RopeScaling::Llama3 { factor: 32.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position: 8192.0 }),
        };
        let f = r.inv_freq(64);
        assert_eq!(f[0], 1.0); // highest frequency untouched
        let plain = Rope { theta: 500000.0, scaling: None }.inv_freq(64);
        assert!((f[31] - plain[31] / 32.0).abs() < 1e-15); // lowest frequency divided by factor
    }
}
