//! `dyag finetune`: LoRA fine-tuning of a base model on a chat dataset.
//! Output as the original tool documents it: OUTPUT/final/ (PEFT adapter,
//! tokenizer files, training summary) and OUTPUT/checkpoint-STEP/.

use super::common::apply_threads;
use crate::device;
use crate::device::DeviceChoice;
use crate::model::load::load_model;
use crate::model::lora::LoraConfig;
use crate::quant::Quantization;
use crate::train::checkpoint::OutputLock;
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
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    pub device: DeviceChoice,
    /// Base weights on the GPU: nf4 (QLoRA) or bf16.
    #[arg(long, value_enum, default_value_t = Quantization::Nf4)]
    pub quantization: Quantization,
    /// Confirm training on the CPU (silences the no-GPU warning).
    #[arg(long)]
    pub force_cpu: bool,
    /// CPU threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Questions (evaluate-finetuned's format, e.g. generate-training's OUT_val_questions.jsonl) scored with
    /// greedy answers at the end of each epoch; final/ is then the best epoch's checkpoint, as transformers'
    /// load_best_model_at_end. Never pass the benchmark's questions: these choose the model.
    #[arg(long)]
    pub eval_questions: Option<PathBuf>,
    /// At most this many of --eval-questions are asked each epoch (the first ones).
    #[arg(long, default_value_t = 80)]
    pub eval_max_questions: usize,
}

/// One epoch's in-loop evaluation.
#[derive(Clone, Debug, serde::Serialize)]
struct EpochEval {
    epoch: usize,
    checkpoint: PathBuf,
    /// Share of right answers (every key fact, no echo; refusals for negatives).
    correct_rate: Option<f64>,
    mean_keyword_recall: Option<f64>,
    seconds: f64,
}

impl EpochEval {
    /// What the best epoch maximises: the share of right answers, then key-fact recall.
    fn score(&self) -> (f64, f64) {
        (self.correct_rate.unwrap_or(0.0), self.mean_keyword_recall.unwrap_or(0.0))
    }
}

/// Asks `questions` to the adapter saved in `checkpoint` (greedy, 64 tokens).
fn evaluate_checkpoint(
    base_model: &str,
    checkpoint: &Path,
    questions: &[crate::eval::questions::Question],
    system_prompt: Option<&str>,
    epoch: usize,
) -> Result<EpochEval> {
    let started = Instant::now();
    let mut engine = crate::infer::engine::load_engine(Some(base_model), Some(checkpoint))?;
    let prompts = crate::eval::prompt::DirectPrompt { system_prompt: system_prompt.map(str::to_string) };
    let meta = crate::eval::results::Metadata { system: "finetuned".into(), ..Default::default() };
    let results =
        crate::eval::runner::run_evaluation(&mut engine, questions, &prompts, &crate::infer::SamplingParams::greedy(64), meta, false)?;
    let a = results.aggregates_or_computed();
    Ok(EpochEval {
        epoch,
        checkpoint: checkpoint.to_path_buf(),
        correct_rate: a.correct_rate,
        mean_keyword_recall: a.mean_keyword_recall,
        seconds: started.elapsed().as_secs_f64(),
    })
}

pub fn run(args: Args) -> Result<()> {
    apply_threads(args.threads)?;
    let device = device::resolve(args.device, args.force_cpu)?;
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
    let eval_questions = match &args.eval_questions {
        Some(p) => {
            let mut q = crate::eval::questions::read_questions(p)?;
            q.truncate(args.eval_max_questions.max(1));
            Some(q)
        }
        None => None,
    };
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
    if data.truncated > 0 {
        // Cut examples lose their end (the answer first); dropped ones are not trained on at all.
        eprintln!(
            "[WARN] {} exemples dépassent --max-seq-len {} ({} perdus entièrement) ; le plus long fait {} tokens : relancez avec --max-seq-len {}",
            data.truncated,
            args.max_seq_len,
            data.dropped,
            data.longest,
            data.longest.next_power_of_two()
        );
    }

    // Held until the run ends (final/ written): one training per folder.
    let _lock = OutputLock::acquire(&args.output)?;
    let resume = match &args.resume_from_checkpoint {
        Some(p) if p.as_os_str() == "latest" => Some(latest_checkpoint(&args.output)?),
        Some(p) => Some(p.clone()),
        None => None,
    };
    if let Some(r) = &resume {
        eprintln!("[INFO] Reprise depuis {}", r.display());
    }
    let n = data.examples.len();
    let total_steps = n.div_ceil(opts.batch_size).div_ceil(opts.gradient_accumulation) * opts.epochs;
    let steps_per_epoch = total_steps / opts.epochs.max(1);
    let pb = crate::util::progress::bar(total_steps as u64, "Training", "steps");
    let job = TrainJob {
        model,
        base_name: &loaded.base_model_name_or_path,
        data,
        val,
        opts: &opts,
        output: &args.output,
        resume: resume.as_deref(),
    };
    let mut evals: Vec<EpochEval> = Vec::new();
    let mut eval_error: Option<Error> = None;
    let trained = device::train(device, args.quantization, &job, &mut |p| {
        pb.set_position(p.step as u64);
        pb.set_message(format!("epoch {} loss {:.4} lr {:.2e} {:.0} tok/s", p.epoch, p.loss, p.lr, p.tokens_per_second));
        if let Some(c) = &p.checkpoint {
            pb.println(format!("[INFO] checkpoint: {}", c.display()));
            let epoch_end = steps_per_epoch > 0 && p.step % steps_per_epoch == 0;
            if let (Some(qs), true) = (&eval_questions, epoch_end) {
                let epoch = p.step / steps_per_epoch;
                match pb.suspend(|| evaluate_checkpoint(&args.base_model, c, qs, inputs.system_prompt.as_deref(), epoch)) {
                    Ok(e) => {
                        // suspend, not println: println is dropped when the bar is hidden (not a terminal).
                        pb.suspend(|| {
                            eprintln!(
                                "[INFO] epoch {epoch}: {} right, key-fact recall {} on {} eval questions ({:.0} s)",
                                e.correct_rate.map_or("—".into(), |r| format!("{:.0} %", r * 100.0)),
                                e.mean_keyword_recall.map_or("—".into(), |r| format!("{r:.3}")),
                                qs.len(),
                                e.seconds
                            )
                        });
                        evals.push(e);
                    }
                    Err(e) => {
                        eval_error = Some(e);
                        return false;
                    }
                }
            }
        }
        true
    });
    pb.finish_and_clear();
    if let Some(e) = eval_error {
        return Err(Error::msg(format!("in-loop evaluation ({}): {e}", args.eval_questions.as_deref().unwrap_or(Path::new("")).display())));
    }
    let (adapter, summary) = trained?;

    // final/ is the best epoch's adapter when there was an in-loop evaluation
    // (on a tie, the later epoch: it has seen the data more).
    let best =
        evals.iter().max_by(|a, b| a.score().partial_cmp(&b.score()).unwrap_or(std::cmp::Ordering::Equal).then(a.epoch.cmp(&b.epoch)));
    let final_dir = args.output.join("final");
    match best {
        Some(b) if b.epoch != opts.epochs => {
            eprintln!("[INFO] final/ = the best epoch by the in-loop evaluation: epoch {} ({})", b.epoch, b.checkpoint.display());
            let cfg = crate::model::peft::read_adapter_config(&b.checkpoint)?;
            let best_adapter = crate::model::peft::load_adapter_weights(&b.checkpoint, &cfg, model)?;
            save_final(&final_dir, &best_adapter, &loaded)?;
        }
        _ => save_final(&final_dir, &adapter, &loaded)?,
    }
    let eval_record = best.map(|b| serde_json::json!({"questions": args.eval_questions, "best_epoch": b.epoch, "epochs": evals}));
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
            eval: eval_record,
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
    best.map(|(_, p)| p)
        .ok_or_else(|| Error::invalid(format!("--resume-from-checkpoint latest: no checkpoint-N folder in {}", output.display())))
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
