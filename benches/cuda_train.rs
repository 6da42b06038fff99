//! End-to-end LoRA training throughput on the GPU (feature `cuda`): Gemma 3
//! 270M (models/gemma-3-270m-q4_k_m.gguf, or $DYAG_MODELS_DIR), base weights
//! in NF4 and in bf16, LoRA r=16 on every linear layer, batches of 8
//! sequences of 512 tokens (all labelled but the first 16), AdamW. Prints
//! training tokens/s with the GPU named, measured over 10 optimiser steps
//! after 2 warm-up steps (each step: forward, backward, norm, fused AdamW,
//! parameters and moments copied back to the host as the trainer does).
//!
//! cargo bench --features cuda --bench cuda_train [-- --seq 512 --batch 8 --steps 10 --checkpointing]
//! Without a usable CUDA device it prints why and exits successfully.

use dyag::cuda::Gpu;
use dyag::model::cuda::PreparedModel;
use dyag::model::load::load_gguf;
use dyag::model::lora::{LoraAdapter, LoraConfig};
use dyag::ops::adamw::{clip_coefficient, AdamW};
use dyag::quant::Quantization;
use dyag::train::backend::StepBackend;
use dyag::train::backend_cuda::GpuStepBackend;
use dyag::train::checkpoint::Moments;
use dyag::train::step::{Batch, StepOptions};
use dyag::util::rng::Rng;
use std::path::PathBuf;
use std::time::Instant;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn model_path() -> Option<PathBuf> {
    let name = "gemma-3-270m-q4_k_m.gguf";
    let mut c = Vec::new();
    if let Some(d) = std::env::var_os("DYAG_MODELS_DIR") {
        c.push(PathBuf::from(d).join(name));
    }
    c.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models").join(name));
    c.into_iter().find(|p| p.is_file())
}

fn main() {
    let gpu = match Gpu::global() {
        Ok(g) => g,
        Err(why) => {
            eprintln!("no CUDA device: {why}\nCUDA training benchmark skipped.");
            return;
        }
    };
    let Some(path) = model_path() else {
        eprintln!("gemma-3-270m-q4_k_m.gguf not found (scripts/fetch-model.sh); CUDA training benchmark skipped.");
        return;
    };
    let (seq, batch, steps) = (arg("--seq", 512), arg("--batch", 8), arg("--steps", 10));
    let checkpointing = std::env::args().any(|a| a == "--checkpointing");
    let (model, _) = load_gguf(&path).expect("model");
    let mut rng = Rng::new(1);
    let batches: Vec<Batch> = (0..steps + 2)
        .map(|_| {
            let mut b = Batch::default();
            for _ in 0..batch {
                let t: Vec<u32> = (0..seq).map(|_| 2 + rng.below(100_000) as u32).collect();
                let l: Vec<i32> = t.iter().enumerate().map(|(i, &x)| if i < 16 { -100 } else { x as i32 }).collect();
                b.push(&t, &l);
            }
            b
        })
        .collect();
    println!("GPU: {}", gpu.describe());
    for quant in [Quantization::Nf4, Quantization::Bf16] {
        let prepared = PreparedModel::prepare(&model, quant).expect("quantisation");
        let mut engine = GpuStepBackend::new(gpu.clone(), &prepared, seq).expect("upload");
        let cfg = LoraConfig { r: 16, alpha: 32.0, dropout: 0.05, use_rslora: false, targets: LoraConfig::all_linear(&model) };
        let mut adapter = LoraAdapter::init(&model, cfg, &mut Rng::new(42)).unwrap();
        let mut moments = Moments::zeros(&adapter);
        let opt = AdamW::default();
        let mut t0 = Instant::now();
        let mut tokens = 0usize;
        for (i, b) in batches.iter().enumerate() {
            if i == 2 {
                gpu.sync().unwrap();
                t0 = Instant::now();
                tokens = 0;
            }
            let opts = StepOptions {
                loss_scale: 1.0 / b.num_targets() as f32,
                dropout: Some((0.05, i as u64)),
                gradient_checkpointing: checkpointing,
                want_embed_grad: false,
            };
            engine.zero_grads(&adapter).unwrap();
            engine.forward_backward(&adapter, b, &opts).unwrap();
            let coef = clip_coefficient(engine.grad_norm().unwrap(), 1.0);
            engine.apply_update(&opt, i as u64 + 1, 2e-4, coef, &mut adapter, &mut moments).unwrap();
            tokens += b.tokens.len();
        }
        gpu.sync().unwrap();
        let secs = t0.elapsed().as_secs_f64();
        println!(
            "gemma3-270m LoRA r=16 all-linear, {} base weights ({:.0} MiB), {batch}x{seq} tokens/step{}: {:.0} training tokens/s on {}",
            quant.name(),
            engine.model().weight_bytes() as f64 / (1 << 20) as f64,
            if checkpointing { ", gradient checkpointing" } else { "" },
            tokens as f64 / secs,
            gpu.name()
        );
    }
}
