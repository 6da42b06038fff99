//! LoRA adapters in memory: which projections are adapted, their matrices,
//! and PEFT's initialisation (A kaiming-uniform with a = √5, B zeros).

use super::{Model, Proj};
use crate::ops::lora::LoraWeights;
use crate::util::rng::Rng;
use crate::{Error, Result};
use std::collections::BTreeMap;

/// Largest `lora_alpha` accepted: scale = alpha/r (or alpha/√r) far beyond
/// any recipe (PEFT's examples use 8–128), still exact in f32.
pub const MAX_ALPHA: f64 = 1e6;

/// PEFT's LoRA hyper-parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct LoraConfig {
    pub r: usize,
    pub alpha: f32,
    pub dropout: f32,
    pub use_rslora: bool,
    /// Projections to adapt (module names such as `q_proj`).
    pub targets: Vec<Proj>,
}

impl LoraConfig {
    /// The multiplier of B·A: α/r, or α/√r with rsLoRA.
    pub fn scale(&self) -> f32 {
        if self.use_rslora {
            self.alpha / (self.r as f32).sqrt()
        } else {
            self.alpha / self.r as f32
        }
    }

    /// Every linear layer of the block for this model (PEFT's "all-linear").
    pub fn all_linear(model: &Model) -> Vec<Proj> {
        model.blocks.first().map(|b| b.linears().into_iter().map(|(p, _)| p).collect()).unwrap_or_default()
    }

    /// Checks rank, alpha and dropout (what needs no model).
    pub fn validate_values(&self) -> Result<()> {
        if self.r == 0 || self.r > 4096 {
            return Err(Error::invalid(format!("LoRA rank {} is out of range (1..=4096)", self.r)));
        }
        if !(self.alpha.is_finite() && self.alpha > 0.0 && self.alpha as f64 <= MAX_ALPHA) {
            return Err(Error::invalid(format!("LoRA alpha {} is out of range (0, {}]", self.alpha, MAX_ALPHA)));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(Error::invalid(format!("LoRA dropout {} must be in [0, 1)", self.dropout)));
        }
        Ok(())
    }

    /// [`validate_values`](Self::validate_values), and the targets exist in `model`.
    pub fn validate(&self, model: &Model) -> Result<()> {
        self.validate_values()?;
        let available = Self::all_linear(model);
        for t in &self.targets {
            if !available.contains(t) {
                let names: Vec<_> = available.iter().map(|p| p.module_name()).collect();
                return Err(Error::invalid(format!(
                    "target module '{}' does not exist in a {} model (available: {})",
                    t.module_name(),
                    model.config.family.name(),
                    names.join(", ")
                )));
            }
        }
        if self.targets.is_empty() {
            return Err(Error::invalid("no LoRA target modules"));
        }
        Ok(())
    }
}

/// An adapter: per layer, the adapted projections.
#[derive(Clone, Debug)]
pub struct LoraAdapter {
    pub config: LoraConfig,
    pub layers: Vec<BTreeMap<Proj, LoraWeights>>,
}

impl LoraAdapter {
    /// A fresh adapter as PEFT initialises it: A ~ U(−1/√in, 1/√in)
    /// (kaiming-uniform with a = √5), B = 0, so training starts from the base model.
    pub fn init(model: &Model, config: LoraConfig, rng: &mut Rng) -> Result<Self> {
        config.validate(model)?;
        let scale = config.scale();
        let layers = model
            .blocks
            .iter()
            .map(|b| {
                b.linears()
                    .into_iter()
                    .filter(|(p, _)| config.targets.contains(p))
                    .map(|(p, lin)| {
                        let (inp, out) = (lin.in_features(), lin.out_features());
                        let bound = 1.0 / (inp as f32).sqrt();
                        let a = (0..config.r * inp).map(|_| (rng.next_f32() * 2.0 - 1.0) * bound).collect();
                        (p, LoraWeights { r: config.r, in_features: inp, out_features: out, a, b: vec![0.0; out * config.r], scale })
                    })
                    .collect()
            })
            .collect();
        Ok(LoraAdapter { config, layers })
    }

    pub fn get(&self, layer: usize, proj: Proj) -> Option<&LoraWeights> {
        self.layers.get(layer).and_then(|m| m.get(&proj))
    }

    pub fn num_params(&self) -> usize {
        self.layers.iter().flat_map(|m| m.values()).map(|w| w.a.len() + w.b.len()).sum()
    }

    /// Every adapted projection in a fixed order (layer, then projection).
    pub fn iter(&self) -> impl Iterator<Item = (usize, Proj, &LoraWeights)> {
        self.layers.iter().enumerate().flat_map(|(i, m)| m.iter().map(move |(p, w)| (i, *p, w)))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (usize, Proj, &mut LoraWeights)> {
        self.layers.iter_mut().enumerate().flat_map(|(i, m)| m.iter_mut().map(move |(p, w)| (i, *p, w)))
    }
}
