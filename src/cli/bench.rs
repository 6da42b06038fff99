//! `dyag bench`: speed of the engine on a real model — prefill and decode
//! tokens/s for generation, tokens/s and peak memory for LoRA training — at
//! several thread counts, in one process.

use crate::infer::sampling::argmax;
use crate::infer::session::Session;
use crate::model::backward::zero_grads;
use crate::model::load::load_model;
use crate::model::lora::LoraConfig;
use crate::train::data::{batch_of, Example};
use crate::train::step::{forward_backward_in, StepOptions, StepWorkspace, IGNORE};
use crate::util::rng::Rng;
use crate::{Error, Result};
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Model to measure.
    #[arg(long, default_value = crate::model::registry::DEFAULT_MODEL)]
    pub base_model: String,
    /// Thread counts to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = vec![1usize, 2])]
    pub threads: Vec<usize>,
    /// Prompt length for the prefill measurement.
    #[arg(long, default_value_t = 512)]
    pub prefill_tokens: usize,
    /// Tokens generated for the decode measurement.
    #[arg(long, default_value_t = 64)]
    pub decode_tokens: usize,
    /// Also measure LoRA training (sequences of --train-seq-len tokens, batch --train-batch).
    #[arg(long)]
    pub train: bool,
    #[arg(long, default_value_t = 128)]
    pub train_seq_len: usize,
    #[arg(long, default_value_t = 4)]
    pub train_batch: usize,
    /// Training steps measured (after one warm-up step).
    #[arg(long, default_value_t = 3)]
    pub train_steps: usize,
    /// Skip the generation measurements.
    #[arg(long)]
    pub no_generate: bool,
    /// Repetitions of each generation measurement (the best is kept).
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
    /// Write the results as JSON to this file too.
    #[arg(long)]
    pub json: Option<std::path::PathBuf>,
}

/// Peak resident memory of this process so far (Linux), in bytes.
pub fn peak_rss_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse::<u64>().ok().map(|kb| kb * 1024)
}

/// Resets the peak to the current resident memory (Linux), so that each
/// measurement reports its own peak, not an earlier one's. Memory that an
/// earlier measurement's threads left to the allocator still counts.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

pub fn run(args: Args) -> Result<()> {
    let loaded = load_model(&args.base_model)?;
    let model = &loaded.model;
    let vocab = model.config.vocab as u64;
    let mut rng = Rng::new(1);
    // Ordinary text tokens (not control tokens) for a realistic prompt.
    let mut tokens = Vec::new();
    while tokens.len() < args.prefill_tokens.max(args.train_seq_len) {
        let t = (rng.below(vocab - 1000) + 1000) as u32;
        if !loaded.tokenizer.is_special(t) {
            tokens.push(t);
        }
    }
    eprintln!(
        "model {} ({}), CPU SIMD level {}, quant kernels {}",
        args.base_model,
        model.config.family.name(),
        crate::cpu::simd::level().name(),
        crate::quant::cpu_features()
    );
    let mut results = Vec::new();
    for &threads in &args.threads {
        if threads == 0 {
            return Err(Error::invalid("thread counts must be at least 1"));
        }
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().map_err(|e| Error::msg(e.to_string()))?;
        pool.install(|| -> Result<()> {
            if !args.no_generate {
                let (mut prefill, mut decode) = (0f64, 0f64);
                for _ in 0..args.repeat.max(1) {
                    let mut s = Session::new(model, None, args.prefill_tokens + args.decode_tokens + 1)?;
                    let t0 = Instant::now();
                    let mut logits = s.feed(&tokens[..args.prefill_tokens])?;
                    prefill = prefill.max(args.prefill_tokens as f64 / t0.elapsed().as_secs_f64());
                    let t1 = Instant::now();
                    for _ in 0..args.decode_tokens {
                        logits = s.feed(&[argmax(&logits)])?;
                    }
                    decode = decode.max(args.decode_tokens as f64 / t1.elapsed().as_secs_f64());
                }
                println!("threads {threads}: prefill {prefill:.1} tokens/s ({} tokens), decode {decode:.1} tokens/s ({} tokens)", args.prefill_tokens, args.decode_tokens);
                results.push(serde_json::json!({"threads": threads, "prefill_tokens": args.prefill_tokens, "prefill_tokens_per_second": prefill,
                    "decode_tokens": args.decode_tokens, "decode_tokens_per_second": decode}));
            }
            if args.train {
                let r = bench_train(&loaded, &tokens, &args)?;
                println!(
                    "threads {threads}: training {:.1} tokens/s (batch {} x {} tokens, {} labelled per sequence), {:.2} s/step, peak RSS {:.2} GB",
                    r.0,
                    args.train_batch,
                    args.train_seq_len,
                    args.train_seq_len / 2,
                    r.1,
                    r.2 as f64 / 1e9
                );
                results.push(serde_json::json!({"threads": threads, "train_tokens_per_second": r.0, "seconds_per_step": r.1, "peak_rss_bytes": r.2,
                    "train_batch": args.train_batch, "train_seq_len": args.train_seq_len}));
            }
            Ok(())
        })?;
    }
    if let Some(p) = &args.json {
        crate::util::write_json_atomic(p, &serde_json::json!({"model": args.base_model, "results": results}))?;
    }
    Ok(())
}

/// (tokens/s, seconds per step, peak RSS) of LoRA training steps with the
/// seed's recipe (r 16, alpha 32, all linear layers), the second half of
/// each sequence labelled like an assistant answer.
fn bench_train(loaded: &crate::model::load::LoadedModel, tokens: &[u32], args: &Args) -> Result<(f64, f64, u64)> {
    let model = &loaded.model;
    let lora = LoraConfig { r: 16, alpha: 32.0, dropout: 0.05, use_rslora: false, targets: LoraConfig::all_linear(model) };
    let adapter = crate::model::lora::LoraAdapter::init(model, lora, &mut Rng::new(0))?;
    let n = args.train_seq_len;
    let examples: Vec<Example> = (0..args.train_batch)
        .map(|i| {
            let t: Vec<u32> = tokens.iter().cycle().skip(i * 7).take(n).copied().collect();
            let labels = t.iter().enumerate().map(|(j, &x)| if j >= n / 2 { x as i32 } else { IGNORE }).collect();
            Example { tokens: t, labels }
        })
        .collect();
    let batch = batch_of(&examples);
    let rope = crate::model::forward::RopeTables::new(&model.config, n);
    let opts = StepOptions {
        loss_scale: 1.0 / batch.num_targets() as f32,
        dropout: Some((0.05, 1)),
        gradient_checkpointing: false,
        want_embed_grad: false,
    };
    let mut grads = zero_grads(&adapter);
    let mut ws = StepWorkspace::default();
    reset_peak_rss();
    forward_backward_in(&mut ws, model, &adapter, &batch, &rope, &opts, &mut grads)?; // warm-up
    let t0 = Instant::now();
    for _ in 0..args.train_steps.max(1) {
        forward_backward_in(&mut ws, model, &adapter, &batch, &rope, &opts, &mut grads)?;
    }
    let per_step = t0.elapsed().as_secs_f64() / args.train_steps.max(1) as f64;
    Ok((batch.tokens.len() as f64 / per_step, per_step, peak_rss_bytes().unwrap_or(0)))
}
