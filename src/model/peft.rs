//! PEFT LoRA adapter folders: `adapter_config.json` and
//! `adapter_model.safetensors` with PEFT's key names
//! (`base_model.model.<module path>.lora_A.weight`, A `[r, in]`, B `[out, r]`),
//! read and written so that Python PEFT and dyag can exchange adapters.

use crate::formats::safetensors::SafetensorsSet;
use crate::model::load::{load_model, LoadedModel};
use crate::model::lora::{LoraAdapter, LoraConfig};
use crate::model::{Model, Proj};
use crate::ops::lora::LoraWeights;
use crate::util::atomic::write_atomic;
use crate::{Error, Result};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const CONFIG_FILE: &str = "adapter_config.json";
pub const WEIGHTS_FILE: &str = "adapter_model.safetensors";

/// What `adapter_config.json` says that dyag needs.
#[derive(Clone, Debug)]
pub struct AdapterConfig {
    pub lora: LoraConfig,
    pub base_model_name_or_path: Option<String>,
}

/// Reads and checks `adapter_config.json`.
pub fn read_adapter_config(dir: &Path) -> Result<AdapterConfig> {
    let path = dir.join(CONFIG_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| Error::format(&path, format!("invalid JSON: {e}")))?;
    crate::formats::json::reject_duplicate_keys(&path, 1, &text)?;
    let field = |name: &str| v.get(name).filter(|x| !x.is_null());
    match field("peft_type").and_then(Value::as_str) {
        Some("LORA") | None => {}
        Some(other) => return Err(Error::format(&path, format!("peft_type '{other}' is not supported (only LORA)"))),
    }
    for flag in ["use_dora", "use_qalora"] {
        if field(flag).and_then(Value::as_bool) == Some(true) {
            return Err(Error::format(&path, format!("{flag} adapters are not supported")));
        }
    }
    if field("fan_in_fan_out").and_then(Value::as_bool) == Some(true) {
        return Err(Error::format(&path, "fan_in_fan_out adapters are not supported"));
    }
    if field("rank_pattern").and_then(Value::as_object).is_some_and(|m| !m.is_empty())
        || field("alpha_pattern").and_then(Value::as_object).is_some_and(|m| !m.is_empty())
    {
        return Err(Error::format(&path, "per-module rank_pattern/alpha_pattern is not supported"));
    }
    // Fields that change what the adapter computes: ignoring them would
    // silently give other answers than PEFT does.
    if let Some(t) = field("task_type").and_then(Value::as_str).filter(|t| *t != "CAUSAL_LM") {
        return Err(Error::format(&path, format!("task_type '{t}' is not supported (only CAUSAL_LM)")));
    }
    for list in ["layer_replication", "modules_to_save", "layers_to_transform"] {
        if field(list).is_some_and(|x| x.as_array().is_none_or(|a| !a.is_empty())) {
            return Err(Error::format(&path, format!("{list} is not supported")));
        }
    }
    if let Some(b) = field("bias").and_then(Value::as_str).filter(|b| *b != "none") {
        return Err(Error::format(&path, format!("bias '{b}' is not supported (only none)")));
    }
    let r = field("r").and_then(Value::as_u64).ok_or_else(|| Error::format(&path, "missing or invalid field 'r'"))?;
    let r = usize::try_from(r).unwrap_or(usize::MAX);
    // PEFT's default when the key is absent; null (what a NaN becomes in
    // JSON) or a non-number is an error, as is a value no f32 holds.
    let alpha = match v.get("lora_alpha") {
        None => 8.0,
        Some(x) => match x.as_f64() {
            Some(a) if a.is_finite() && a > 0.0 && a <= super::lora::MAX_ALPHA => a as f32,
            _ => return Err(Error::format(&path, format!("lora_alpha {x} is not a number in (0, {}]", super::lora::MAX_ALPHA))),
        },
    };
    let targets = match field("target_modules") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|t| {
                let name = t.as_str().unwrap_or_default();
                Proj::from_module_name(name)
                    .ok_or_else(|| Error::format(&path, format!("target module '{name}' is not a projection dyag knows")))
            })
            .collect::<Result<Vec<_>>>()?,
        Some(Value::String(s)) => {
            return Err(Error::format(&path, format!("target_modules as a pattern ('{s}') is not supported; list the module names")))
        }
        _ => Vec::new(),
    };
    Ok(AdapterConfig {
        lora: LoraConfig {
            r,
            alpha,
            dropout: field("lora_dropout").and_then(Value::as_f64).unwrap_or(0.0) as f32,
            use_rslora: field("use_rslora").and_then(Value::as_bool).unwrap_or(false),
            targets,
        },
        base_model_name_or_path: field("base_model_name_or_path").and_then(Value::as_str).map(str::to_string),
    })
}

/// Loads an adapter folder and its base model: `base_override` if given,
/// else the config's `base_model_name_or_path` (relative paths are taken
/// from the adapter folder, as PEFT's fixtures use them).
pub fn load_adapter_with_base(dir: &Path, base_override: Option<&str>) -> Result<(LoadedModel, LoraAdapter)> {
    let cfg = read_adapter_config(dir)?;
    let spec = match (base_override, &cfg.base_model_name_or_path) {
        (Some(b), _) => b.to_string(),
        (None, Some(b)) => {
            let rel = dir.join(b);
            if Path::new(b).is_relative() && rel.exists() {
                rel.display().to_string()
            } else {
                b.clone()
            }
        }
        (None, None) => {
            return Err(Error::format(dir.join(CONFIG_FILE), "no base_model_name_or_path: pass the base model with --base-model"));
        }
    };
    let base = load_model(&spec)?;
    let adapter = load_adapter_weights(dir, &cfg, &base.model)?;
    Ok((base, adapter))
}

/// Reads `adapter_model.safetensors` for `model`, checking every key and shape.
pub fn load_adapter_weights(dir: &Path, cfg: &AdapterConfig, model: &Model) -> Result<LoraAdapter> {
    let path = dir.join(WEIGHTS_FILE);
    let set = SafetensorsSet::open(&path)?;
    let scale = cfg.lora.scale();
    let mut layers: Vec<BTreeMap<Proj, LoraWeights>> = vec![BTreeMap::new(); model.blocks.len()];
    // (layer, projection) → (lora_A, lora_B) values, paired once both are read.
    type Halves = (Option<Vec<f32>>, Option<Vec<f32>>);
    let mut halves: BTreeMap<(usize, Proj), Halves> = BTreeMap::new();
    for key in set.names().map(str::to_string).collect::<Vec<_>>() {
        let (layer, proj, is_a) =
            parse_key(&key).ok_or_else(|| Error::format(&path, format!("tensor '{key}' is not a LoRA weight dyag understands")))?;
        if layer >= model.blocks.len() {
            return Err(Error::format(&path, format!("tensor '{key}': layer {layer} but the base model has {}", model.blocks.len())));
        }
        let lin = model.blocks[layer].linears().into_iter().find(|(p, _)| *p == proj).map(|(_, l)| l).ok_or_else(|| {
            Error::format(&path, format!("tensor '{key}': the {} base model has no {}", model.config.family.name(), proj.module_name()))
        })?;
        let t = set.tensor(&key)?;
        let (r, inp, out) = (cfg.lora.r, lin.in_features(), lin.out_features());
        let want = if is_a { [r, inp] } else { [out, r] };
        t.expect_shape(&want).map_err(|e| Error::format(&path, e.to_string()))?;
        let values = t.to_f32().map_err(|e| Error::format(&path, e.to_string()))?;
        let entry = halves.entry((layer, proj)).or_default();
        if is_a {
            entry.0 = Some(values);
        } else {
            entry.1 = Some(values);
        }
    }
    for ((layer, proj), (a, b)) in halves {
        let lin = model.blocks[layer].linears().into_iter().find(|(p, _)| *p == proj).map(|(_, l)| l).expect("checked above");
        let (a, b) = match (a, b) {
            (Some(a), Some(b)) => (a, b),
            _ => return Err(Error::format(&path, format!("layer {layer} {}: lora_A and lora_B must both be present", proj.module_name()))),
        };
        layers[layer]
            .insert(proj, LoraWeights { r: cfg.lora.r, in_features: lin.in_features(), out_features: lin.out_features(), a, b, scale });
    }
    if layers.iter().all(BTreeMap::is_empty) {
        return Err(Error::format(&path, "no LoRA weights"));
    }
    let mut config = cfg.lora.clone();
    if config.targets.is_empty() {
        config.targets = layers.iter().flat_map(|m| m.keys().copied()).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    }
    Ok(LoraAdapter { config, layers })
}

/// `base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight` → (3, Q, true).
fn parse_key(key: &str) -> Option<(usize, Proj, bool)> {
    let rest = key.strip_prefix("base_model.model.")?;
    let (module, is_a) =
        if let Some(m) = rest.strip_suffix(".lora_A.weight") { (m, true) } else { (rest.strip_suffix(".lora_B.weight")?, false) };
    let after = module.strip_prefix("model.layers.").or_else(|| module.strip_prefix("model.language_model.layers."))?;
    let (layer, path) = after.split_once('.')?;
    let (parent, name) = path.split_once('.')?;
    let proj = Proj::from_module_name(name)?;
    if proj.parent() != parent {
        return None;
    }
    Some((layer.parse().ok()?, proj, is_a))
}

/// The PEFT key of one matrix.
pub fn peft_key(layer: usize, proj: Proj, a: bool) -> String {
    format!("base_model.model.model.layers.{layer}.{}.{}.lora_{}.weight", proj.parent(), proj.module_name(), if a { "A" } else { "B" })
}

/// Writes `adapter_config.json` and `adapter_model.safetensors` atomically.
pub fn save_adapter(dir: &Path, adapter: &LoraAdapter, base_model_name_or_path: &str) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let c = &adapter.config;
    let targets: Vec<&str> = c.targets.iter().map(|p| p.module_name()).collect();
    let config = json!({
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "base_model_name_or_path": base_model_name_or_path,
        "r": c.r,
        // Through their shortest decimal form, so 0.05f32 is written 0.05.
        "lora_alpha": shortest(c.alpha),
        "lora_dropout": shortest(c.dropout),
        "target_modules": targets,
        "bias": "none",
        "use_rslora": c.use_rslora,
        "use_dora": false,
        "fan_in_fan_out": false,
        "init_lora_weights": true,
        "inference_mode": true,
        "modules_to_save": null,
        "layers_to_transform": null,
        "layers_pattern": null,
        "rank_pattern": {},
        "alpha_pattern": {},
        "revision": null,
        "auto_mapping": null,
        "peft_version": "0.21.2",
    });
    let config_path = dir.join(CONFIG_FILE);
    crate::util::write_json_atomic(&config_path, &config)?;
    let weights_path = dir.join(WEIGHTS_FILE);
    write_atomic(&weights_path, &adapter_safetensors_bytes(adapter)?)?;
    Ok(vec![config_path, weights_path])
}

/// An f32 as the f64 of its shortest decimal representation.
fn shortest(x: f32) -> f64 {
    x.to_string().parse().unwrap_or(x as f64)
}

/// The safetensors bytes of an adapter (f32, PEFT keys, "format": "pt").
pub fn adapter_safetensors_bytes(adapter: &LoraAdapter) -> Result<Vec<u8>> {
    let mut tensors: Vec<(String, Vec<usize>, &[f32])> = Vec::new();
    for (layer, proj, w) in adapter.iter() {
        tensors.push((peft_key(layer, proj, true), vec![w.r, w.in_features], &w.a));
        tensors.push((peft_key(layer, proj, false), vec![w.out_features, w.r], &w.b));
    }
    crate::formats::safetensors::serialize_f32(&tensors, &[("format", "pt")])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        for proj in Proj::ALL {
            for a in [true, false] {
                assert_eq!(parse_key(&peft_key(7, proj, a)), Some((7, proj, a)));
            }
        }
        assert_eq!(parse_key("base_model.model.model.layers.0.mlp.q_proj.lora_A.weight"), None);
        assert_eq!(parse_key("base_model.model.lm_head.lora_A.weight"), None);
    }
}
