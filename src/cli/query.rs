//! `dyag query-finetuned`: ask a question (or chat interactively) with a base
//! model and, optionally, a LoRA adapter.

use super::common::apply_threads;
use crate::device;
use crate::device::DeviceChoice;
use crate::formats::chat::ChatMessage;
use crate::infer::engine::{load_engine, Engine};
use crate::infer::{Generation, SamplingParams};
use crate::quant::Quantization;
use crate::Result;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The question; without it, an interactive prompt opens.
    pub question: Option<String>,
    /// LoRA adapter folder (e.g. models/X/final); its base model is read from adapter_config.json.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Base model: gemma3:270m, tinyllama, qwen2.5:0.5b, qwen2.5:1.5b, llama3.2:1b, llama3.1:8b, phi3, a hub id or a local path.
    #[arg(long)]
    pub base_model: Option<String>,
    /// Sampling temperature (0 = greedy).
    #[arg(long, default_value_t = 0.7)]
    pub temperature: f32,
    /// Maximum number of tokens in the answer.
    #[arg(long, default_value_t = 500)]
    pub max_tokens: usize,
    /// Keep only the k most likely tokens (0 = off).
    #[arg(long, default_value_t = 0)]
    pub top_k: usize,
    /// Nucleus sampling: keep the smallest set of tokens holding this probability (1 = off).
    #[arg(long, default_value_t = 0.95)]
    pub top_p: f32,
    /// Random seed for sampling.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// System prompt ("" for none). Default: the one the adapter was trained with, else a generic one.
    #[arg(long)]
    pub system_prompt: Option<String>,
    /// Send the question as raw text, without the chat template (for base models).
    #[arg(long)]
    pub raw: bool,
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    pub device: DeviceChoice,
    /// Base weights on the GPU: nf4 (QLoRA) or bf16.
    #[arg(long, value_enum, default_value_t = Quantization::Nf4)]
    pub quantization: Quantization,
    /// CPU threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Show token counts, speed and timings.
    #[arg(short, long)]
    pub verbose: bool,
    /// Print the answer as one JSON line instead of streaming it: {"answer",
    /// "tokens" (generated token ids), "prompt_tokens", "completion_tokens",
    /// "stop"}; "answer" is the generated text exactly (no trimming).
    #[arg(long, requires = "question")]
    pub json: bool,
}

pub fn run(args: Args) -> Result<()> {
    apply_threads(args.threads)?;
    let device = device::resolve(args.device, false)?;
    let load_start = Instant::now();
    let mut engine = load_engine(args.base_model.as_deref(), args.model.as_deref())?;
    device::attach(&mut engine, device, args.quantization)?;
    if args.verbose {
        let m = &engine.base.model;
        eprintln!(
            "[INFO] {} loaded in {:.2}s: {} ({} layers, {:.0}M parameters), {}, SIMD {}",
            crate::infer::ChatGenerator::describe(&engine),
            load_start.elapsed().as_secs_f64(),
            m.config.family.name(),
            m.config.n_layers,
            m.num_params() as f64 / 1e6,
            engine.device(),
            crate::cpu::simd::level().name()
        );
    }
    let params = SamplingParams {
        temperature: args.temperature,
        top_k: args.top_k,
        top_p: args.top_p,
        max_tokens: args.max_tokens,
        seed: args.seed,
        ..SamplingParams::default()
    };
    match &args.question {
        Some(q) if args.json => {
            let g = answer_json(&engine, &args, q, &params)?;
            if args.verbose {
                print_stats(&g);
            }
            Ok(())
        }
        Some(q) => {
            let g = answer(&engine, &args, q, &params)?;
            if args.verbose {
                print_stats(&g);
            }
            Ok(())
        }
        None => interactive(&engine, &args, &params),
    }
}

/// The prompt's token ids: the question alone (`--raw`) or the chat.
fn prompt_ids(engine: &Engine, args: &Args, question: &str) -> Result<Vec<u32>> {
    if args.raw {
        engine.base.tokenizer.encode_prompt(question)
    } else {
        let system = args.system_prompt.clone().or_else(|| args.model.as_deref().and_then(crate::train::export::trained_system_prompt));
        let system = system.unwrap_or_else(|| crate::data::DEFAULT_SYSTEM_PROMPT.to_string());
        let mut messages = Vec::new();
        if !system.trim().is_empty() {
            messages.push(ChatMessage::system(system));
        }
        messages.push(ChatMessage::user(question));
        engine.chat_prompt(&messages)
    }
}

/// Prints one answer as a JSON line (for scripts and the bindings' tests,
/// which compare token ids with the C API's).
fn answer_json(engine: &Engine, args: &Args, question: &str, params: &SamplingParams) -> Result<Generation> {
    let tg = engine.generate_tokens(&prompt_ids(engine, args, question)?, params, &mut |_| true)?;
    let g = tg.generation;
    let line = serde_json::json!({
        "answer": g.text,
        "tokens": tg.tokens,
        "prompt_tokens": g.prompt_tokens,
        "completion_tokens": g.completion_tokens,
        "stop": g.stop,
    });
    println!("{line}");
    Ok(g)
}

/// Streams one answer to stdout.
fn answer(engine: &Engine, args: &Args, question: &str, params: &SamplingParams) -> Result<Generation> {
    let prompt = prompt_ids(engine, args, question)?;
    let mut out = std::io::stdout().lock();
    let _ = write!(out, "[ANSWER] ");
    let mut first = true;
    let tg = engine.generate_tokens(&prompt, params, &mut |piece| {
        // Leading whitespace of the answer is noise before "[ANSWER] ".
        let piece = if first { piece.trim_start() } else { piece };
        if !piece.is_empty() {
            first = false;
        }
        let _ = out.write_all(piece.as_bytes());
        let _ = out.flush();
        true
    })?;
    let _ = writeln!(out);
    Ok(tg.generation)
}

fn print_stats(g: &Generation) {
    eprintln!(
        "[INFO] prompt tokens: {}, completion tokens: {}, time to first token: {:.0} ms, total: {:.2} s, decode: {:.1} tokens/s, prefill: {:.1} tokens/s, stop: {:?}",
        g.prompt_tokens,
        g.completion_tokens,
        g.time_to_first_token.as_secs_f64() * 1e3,
        g.total_time.as_secs_f64(),
        g.decode_tokens_per_second(),
        g.prompt_tokens as f64 / g.time_to_first_token.as_secs_f64().max(1e-9),
        g.stop
    );
}

fn interactive(engine: &Engine, args: &Args, params: &SamplingParams) -> Result<()> {
    use rustyline::error::ReadlineError;
    let mut rl = rustyline::DefaultEditor::new().map_err(|e| crate::Error::msg(format!("cannot open the interactive prompt: {e}")))?;
    let history = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".dyag_history"));
    if let Some(h) = &history {
        let _ = rl.load_history(h);
    }
    eprintln!("Mode interactif — tapez votre question, ou 'exit' / 'quit' / Ctrl-D pour quitter.");
    loop {
        match rl.readline("❯ Question: ") {
            Ok(line) => {
                let q = line.trim();
                if q.is_empty() {
                    continue;
                }
                if matches!(q.to_lowercase().as_str(), "exit" | "quit" | "q") {
                    break;
                }
                let _ = rl.add_history_entry(q);
                match answer(engine, args, q, params) {
                    Ok(g) if args.verbose => print_stats(&g),
                    Ok(_) => {}
                    Err(e) => eprintln!("[ERREUR] {e}"),
                }
                println!();
            }
            Err(ReadlineError::Interrupted) => continue,
            // One bad line (not UTF-8) is reported; the session goes on.
            Err(ReadlineError::Io(e)) if e.kind() == std::io::ErrorKind::InvalidData => {
                eprintln!("[ERREUR] cette ligne n'est pas de l'UTF-8 valide ({e}) : ignorée");
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(crate::Error::msg(format!("interactive prompt: {e}"))),
        }
    }
    if let Some(h) = &history {
        let _ = rl.save_history(h);
    }
    Ok(())
}
