//! `dyag finetune`: LoRA fine-tuning of a base model on a chat dataset.
//! Output as the original tool documents it: OUTPUT/final/ (PEFT adapter,
//! tokenizer files, training summary) and OUTPUT/checkpoint-STEP/.

use super::common::{apply_threads, resolve_device, train_on_device, DeviceArg, QuantizationArg};
use crate::model::load::load_model;
use crate::model::lora::LoraConfig;
use crate::train::recipe::{check_and_load, defaults, save_final, target_modules, write_summary, RunRecord};
use crate::train::schedule::Schedule;
use crate::train::trainer::{TrainJob, TrainOptions, TrainSummary};
use crate::{Error, Result};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Training set: JSONL, one {"messages": [...]} per line.
    #[arg(long)]
    pub dataset: PathBuf,
    /// Output folder (final/ and checkpoint-N/ are written inside).
    #[arg(long)]
    pub output: PathBuf,
    /// Base model: gemma3:270m, tinyllama, qwen2.5:0.5b, qwen2.5:1.5b, llama3.2:1b, llama3.1:8b, phi3, a hub id or a local path.
    #[arg(long, default_value = crate::model::registry::DEFAULT_MODEL)]
    pub base_model: String,
    #[arg(long, default_value_t = defaults::EPOCHS)]
    pub epochs: usize,
    #[arg(long, default_value_t = defaults::BATCH_SIZE)]
    pub batch_size: usize,
    /// Micro-batches accumulated per optimiser step.
    #[arg(long, default_value_t = defaults::GRADIENT_ACCUMULATION)]
    pub gradient_accumulation: usize,
    #[arg(long, default_value_t = defaults::LORA_RANK)]
    pub lora_rank: usize,
    #[arg(long, default_value_t = defaults::LORA_ALPHA)]
    pub lora_alpha: f32,
    #[arg(long, default_value_t = defaults::LORA_DROPOUT)]
    pub lora_dropout: f32,
    /// Scale LoRA by alpha/√r instead of alpha/r.
    #[arg(long)]
    pub use_rslora: bool,
    /// Comma-separated modules to adapt (default: every linear layer of the block).
    #[arg(long, value_delimiter = ',')]
    pub target_modules: Vec<String>,
    #[arg(long, default_value_t = defaults::LR)]
    pub lr: f64,
    #[arg(long, default_value_t = defaults::WARMUP_RATIO)]
    pub warmup_ratio: f64,
    #[arg(long, value_enum, default_value_t = defaults::LR_SCHEDULER)]
    pub lr_scheduler: Schedule,
    #[arg(long, default_value_t = defaults::WEIGHT_DECAY)]
    pub weight_decay: f64,
    #[arg(long, default_value_t = defaults::MAX_GRAD_NORM)]
    pub max_grad_norm: f64,
    #[arg(long, default_value_t = defaults::MAX_SEQ_LEN)]
    pub max_seq_len: usize,
    #[arg(long, default_value_t = defaults::SEED)]
    pub seed: u64,
    /// Validation set (same format); its loss is reported after each epoch.
    #[arg(long)]
    pub val_dataset: Option<PathBuf>,
    /// Recompute activations in the backward pass to save memory.
    #[arg(long)]
    pub gradient_checkpointing: bool,
    /// Also write a checkpoint every N optimiser steps.
    #[arg(long)]
    pub save_steps: Option<usize>,
    /// Continue from a checkpoint folder (OUTPUT/checkpoint-N), or `latest` for the newest in OUTPUT.
    #[arg(long)]
    pub resume_from_checkpoint: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = DeviceArg::Auto)]
    pub device: DeviceArg,
    /// Base weights on the GPU: nf4 (QLoRA) or bf16.
    #[arg(long, value_enum, default_value_t = QuantizationArg::Nf4)]
    pub quantization: QuantizationArg,
    /// Confirm training on the CPU (silences the no-GPU warning).
    #[arg(long)]
    pub force_cpu: bool,
    /// CPU threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

pub fn run(args: Args) -> Result<()> {
    apply_threads(args.threads)?;
    let device = resolve_device(args.device, args.force_cpu)?;
    let started = Instant::now();
    eprintln!("[INFO] Chargement du modèle de base {} ...", args.base_model);
    let loaded = load_model(&args.base_model)?;
    let model = &loaded.model;
    let opts = TrainOptions {
        epochs: args.epochs,
        batch_size: args.batch_size,
        gradient_accumulation: args.gradient_accumulation,
        lr: args.lr,
        warmup_ratio: args.warmup_ratio,
        schedule: args.lr_scheduler,
        weight_decay: args.weight_decay,
        max_grad_norm: args.max_grad_norm,
        seed: args.seed,
        max_seq_len: args.max_seq_len,
        gradient_checkpointing: args.gradient_checkpointing,
        save_steps: args.save_steps,
        lora: LoraConfig {
            r: args.lora_rank,
            alpha: args.lora_alpha,
            dropout: args.lora_dropout,
            use_rslora: args.use_rslora,
            targets: target_modules(&args.target_modules, model)?,
        },
    };
    let inputs = check_and_load(&loaded, &opts, &args.dataset, args.val_dataset.as_deref())?;
    let (data, val) = (&inputs.data, inputs.val.as_ref());
    eprintln!(
        "[INFO] {} exemples ({} tokens, {} à apprendre), {} tronqués à {} tokens, {} sans réponse ignorés",
        data.examples.len(),
        data.total_tokens(),
        data.total_targets(),
        data.truncated,
        args.max_seq_len,
        data.dropped
    );

    let resume = match &args.resume_from_checkpoint {
        Some(p) if p.as_os_str() == "latest" => Some(latest_checkpoint(&args.output)?),
        Some(p) => Some(p.clone()),
        None => None,
    };
    if let Some(r) = &resume {
        eprintln!("[INFO] Reprise depuis {}", r.display());
    }
    std::fs::create_dir_all(&args.output).map_err(|e| Error::io(&args.output, e))?;
    let n = data.examples.len();
    let total_steps = n.div_ceil(opts.batch_size).div_ceil(opts.gradient_accumulation) * opts.epochs;
    let pb = crate::util::progress::bar(total_steps as u64, "Training", "steps");
    let job = TrainJob { model, base_name: &loaded.base_model_name_or_path, data, val, opts: &opts, output: &args.output, resume: resume.as_deref() };
    let (adapter, summary) = train_on_device(device, args.quantization, &job, &mut |p| {
        pb.set_position(p.step as u64);
        pb.set_message(format!("epoch {} loss {:.4} lr {:.2e} {:.0} tok/s", p.epoch, p.loss, p.lr, p.tokens_per_second));
        if let Some(c) = &p.checkpoint {
            pb.println(format!("[INFO] checkpoint: {}", c.display()));
        }
        true
    })?;
    pb.finish_and_clear();

    let final_dir = args.output.join("final");
    save_final(&final_dir, &adapter, &loaded)?;
    let duration = started.elapsed();
    write_summary(
        &final_dir,
        &RunRecord {
            base_model: &args.base_model,
            dataset: &args.dataset,
            opts: &opts,
            metrics: &summary,
            total_seconds: duration.as_secs_f64(),
            threads: rayon::current_num_threads(),
            system_prompt: inputs.system_prompt.as_deref(),
        },
    )?;
    print_results(&args.output, &final_dir, &summary, duration);
    Ok(())
}

/// The checkpoint-N folder of `output` with the largest N.
fn latest_checkpoint(output: &Path) -> Result<PathBuf> {
    let best = std::fs::read_dir(output)
        .map_err(|e| Error::io(output, e))?
        .filter_map(|e| {
            let e = e.ok()?;
            let n: usize = e.file_name().to_str()?.strip_prefix("checkpoint-")?.parse().ok()?;
            Some((n, e.path()))
        })
        .max_by_key(|(n, _)| *n);
    best.map(|(_, p)| p).ok_or_else(|| Error::invalid(format!("--resume-from-checkpoint latest: no checkpoint-N folder in {}", output.display())))
}

fn format_duration(d: std::time::Duration) -> String {
    let s = d.as_secs_f64();
    format!("{}:{:02}:{:09.6}", (s / 3600.0) as u64, ((s % 3600.0) / 60.0) as u64, s % 60.0)
}

fn print_results(output: &Path, final_dir: &Path, s: &TrainSummary, d: std::time::Duration) {
    let dur = format_duration(d);
    eprintln!("[OK] Training terminé en {dur}");
    eprintln!("Modèle sauvegardé: {}", final_dir.display());
    eprintln!();
    eprintln!("{}", "=".repeat(70));
    eprintln!("TRAINING TERMINÉ");
    eprintln!("{}", "=".repeat(70));
    eprintln!("Modèle sauvegardé: {}", output.display());
    eprintln!();
    println!("Résultats:");
    println!("  duration: {dur}");
    println!("  output_path: {}", final_dir.display());
    println!("  epochs: {}", s.epochs);
    println!("  train_loss: {:.4}", s.train_loss);
    println!("  mean_token_accuracy: {:.4}", s.mean_token_accuracy);
    println!("  train_samples_per_second: {:.3}", s.train_samples_per_second);
    println!("  train_tokens_per_second: {:.1}", s.train_tokens_per_second);
    println!("  num_tokens: {}", s.num_tokens);
    if !s.val_losses.is_empty() {
        let v: Vec<String> = s.val_losses.iter().map(|l| format!("{l:.4}")).collect();
        println!("  val_loss (par epoch): {}", v.join(", "));
    }
}
