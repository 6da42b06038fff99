//! Checkpoints: `OUTPUT/checkpoint-STEP/` holds the adapter (PEFT files), the
//! AdamW moments, and the trainer's counters and RNG state, so that a run
//! resumed from it ends bit-identical to an uninterrupted one. The folder is
//! written under a temporary name and renamed, so a killed run never leaves
//! a half-written checkpoint behind.

use crate::formats::safetensors::{serialize_f32, SafetensorsSet};
use crate::model::lora::LoraAdapter;
use crate::model::peft::{load_adapter_weights, peft_key, read_adapter_config, save_adapter};
use crate::model::Model;
use crate::util::rng::Rng;
use crate::util::{write_atomic, write_json_atomic};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const STATE_FILE: &str = "trainer_state.json";
pub const OPTIMIZER_FILE: &str = "optimizer.safetensors";

/// AdamW moments of every LoRA matrix, in `LoraAdapter::iter()` order (A then B).
#[derive(Clone, Debug, PartialEq)]
pub struct Moments {
    pub m: Vec<Vec<f32>>,
    pub v: Vec<Vec<f32>>,
}

impl Moments {
    pub fn zeros(adapter: &LoraAdapter) -> Self {
        let sizes: Vec<usize> = adapter.iter().flat_map(|(_, _, w)| [w.a.len(), w.b.len()]).collect();
        Moments { m: sizes.iter().map(|&n| vec![0.0; n]).collect(), v: sizes.iter().map(|&n| vec![0.0; n]).collect() }
    }
}

/// Where the training loop stands.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TrainerState {
    pub global_step: usize,
    pub total_steps: usize,
    pub epoch: usize,
    /// Micro-batches of `epoch` already consumed.
    pub micro_in_epoch: usize,
    pub micro_steps: u64,
    /// Loss of every optimiser step so far.
    pub step_losses: Vec<f64>,
    /// Σ and count of per-micro-batch token accuracies.
    pub accuracy_sum: f64,
    pub accuracy_count: usize,
    pub tokens_seen: u64,
    pub samples_seen: u64,
    pub train_seconds: f64,
    pub rng: [u64; 4],
    /// Validation loss at the end of each epoch so far.
    pub val_losses: Vec<f64>,
    /// The options the run was started with (resuming with others is refused).
    pub fingerprint: String,
}

impl TrainerState {
    pub fn rng(&self) -> Rng {
        Rng::from_state(self.rng)
    }
}

/// An exclusive lock on a training output folder, held for the whole run:
/// two runs into one folder would delete each other's checkpoints. An
/// advisory `flock` on `.dyag-train.lock`, released by the kernel when the
/// process ends, so a run killed with -9 leaves no stale lock; the file keeps
/// the holder's PID for the error message.
pub struct OutputLock {
    _file: std::fs::File,
}

/// The lock file inside an output folder.
pub const LOCK_FILE: &str = ".dyag-train.lock";

impl OutputLock {
    /// Creates `output` if needed and locks it, or fails naming the process
    /// that holds it.
    pub fn acquire(output: &Path) -> Result<OutputLock> {
        use std::io::{Read, Seek, Write};
        std::fs::create_dir_all(output).map_err(|e| Error::io(output, e))?;
        let path = output.join(LOCK_FILE);
        let mut file =
            std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(|e| Error::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let who = if holder.is_empty() { "another process".to_string() } else { format!("process {holder}") };
                return Err(Error::invalid(format!(
                    "{} is in use by another training run ({who}): wait for it to finish or choose another --output",
                    output.display()
                )));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(&path, e)),
        }
        let pid = std::process::id().to_string();
        let write = file.set_len(0).and_then(|_| file.rewind()).and_then(|_| file.write_all(pid.as_bytes()));
        write.map_err(|e| Error::io(&path, e))?;
        Ok(OutputLock { _file: file })
    }
}

/// Writes `checkpoint-STEP` atomically and returns its path.
pub fn save_checkpoint(output: &Path, adapter: &LoraAdapter, moments: &Moments, state: &TrainerState, base: &str) -> Result<PathBuf> {
    let final_dir = output.join(format!("checkpoint-{}", state.global_step));
    let tmp = output.join(format!(".checkpoint-{}.tmp", state.global_step));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    save_adapter(&tmp, adapter, base)?;
    let mut tensors: Vec<(String, Vec<usize>, &[f32])> = Vec::new();
    for (i, (layer, proj, w)) in adapter.iter().enumerate() {
        for (j, a) in [true, false].into_iter().enumerate() {
            let key = peft_key(layer, proj, a);
            let shape = if a { vec![w.r, w.in_features] } else { vec![w.out_features, w.r] };
            tensors.push((format!("exp_avg.{key}"), shape.clone(), &moments.m[2 * i + j]));
            tensors.push((format!("exp_avg_sq.{key}"), shape, &moments.v[2 * i + j]));
        }
    }
    write_atomic(&tmp.join(OPTIMIZER_FILE), &serialize_f32(&tensors, &[("format", "dyag-adamw")])?)?;
    write_json_atomic(&tmp.join(STATE_FILE), state)?;
    if final_dir.exists() {
        std::fs::remove_dir_all(&final_dir).map_err(|e| Error::io(&final_dir, e))?;
    }
    std::fs::rename(&tmp, &final_dir).map_err(|e| Error::io(&final_dir, e))?;
    Ok(final_dir)
}

/// Reads a checkpoint written by [`save_checkpoint`] for `model`.
pub fn load_checkpoint(dir: &Path, model: &Model) -> Result<(LoraAdapter, Moments, TrainerState)> {
    let state_path = dir.join(STATE_FILE);
    let text = std::fs::read_to_string(&state_path).map_err(|e| Error::io(&state_path, e))?;
    let state: TrainerState = serde_json::from_str(&text).map_err(|e| Error::format(&state_path, format!("invalid trainer state: {e}")))?;
    let cfg = read_adapter_config(dir)?;
    let adapter = load_adapter_weights(dir, &cfg, model)?;
    let opt_path = dir.join(OPTIMIZER_FILE);
    let set = SafetensorsSet::open(&opt_path)?;
    let mut moments = Moments::zeros(&adapter);
    for (i, (layer, proj, _)) in adapter.iter().enumerate() {
        for (j, a) in [true, false].into_iter().enumerate() {
            let key = peft_key(layer, proj, a);
            for (prefix, dst) in [("exp_avg", &mut moments.m[2 * i + j]), ("exp_avg_sq", &mut moments.v[2 * i + j])] {
                let t = set.tensor(&format!("{prefix}.{key}"))?;
                let values = t.to_f32()?;
                if values.len() != dst.len() {
                    return Err(Error::format(&opt_path, format!("{prefix}.{key}: {} values, expected {}", values.len(), dst.len())));
                }
                *dst = values;
            }
        }
    }
    Ok((adapter, moments, state))
}
