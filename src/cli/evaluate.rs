//! `dyag evaluate-finetuned` and `dyag evaluate-rag`: answer a questions file,
//! measure and score every answer, write a results file (schema in
//! docs/results-schema.md) and print a summary table on stderr.

use crate::cli::common::apply_threads;
use crate::device::DeviceChoice;
use crate::device::{self, Device};
use crate::eval::prompt::{DirectPrompt, PromptBuilder, DEFAULT_SYSTEM_PROMPT};
use crate::eval::questions::read_questions;
use crate::eval::rag_prompt::{PromptStyle, RagPrompt};
use crate::eval::results::{Metadata, Retrieval};
use crate::eval::runner::run_evaluation;
use crate::eval::summary::summary_table;
use crate::infer::{ChatGenerator, SamplingParams};
use crate::quant::Quantization;
use crate::rag::{load_catalogue, ContextLang};
use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// Generation settings shared by both commands.
#[derive(clap::Args, Debug, Clone)]
pub struct GenerationArgs {
    /// Largest number of tokens per answer.
    #[arg(long, default_value_t = 256)]
    pub max_tokens: usize,
    /// Sampling temperature; 0 is greedy (reproducible, the default for evaluation).
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f32,
    /// Sample only among the k most likely tokens (0: off).
    // Not `--top-k`: evaluate-rag uses that for retrieval.
    #[arg(long = "sampling-top-k", default_value_t = 0)]
    pub sampling_top_k: usize,
    /// Nucleus sampling threshold (1: off).
    #[arg(long, default_value_t = 1.0)]
    pub top_p: f32,
    /// Sampling seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Device to run on.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    pub device: DeviceChoice,
    /// CPU threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// System prompt (use "" for none). Default: the one the adapter was
    /// trained with (recorded by `dyag finetune`), else generate-training's generic prompt.
    #[arg(long)]
    pub system_prompt: Option<String>,
    /// Take the system prompt from a chat dataset's first example (e.g. the
    /// training set), so the model is asked the way it was trained.
    #[arg(long, conflicts_with = "system_prompt")]
    pub system_prompt_from: Option<PathBuf>,
    /// Base weights on the GPU (with --device cuda): 4-bit NF4 or bf16.
    #[arg(long, value_enum, default_value_t = Quantization::Nf4)]
    pub quantization: Quantization,
    /// Hide the progress bar.
    #[arg(long)]
    pub no_progress: bool,
}

impl GenerationArgs {
    fn sampling(&self) -> Result<SamplingParams> {
        if !(self.temperature >= 0.0 && self.temperature.is_finite()) {
            return Err(Error::invalid(format!("--temperature must be ≥ 0, got {}", self.temperature)));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(Error::invalid(format!("--top-p must be in (0, 1], got {}", self.top_p)));
        }
        if self.max_tokens == 0 {
            return Err(Error::invalid("--max-tokens must be at least 1"));
        }
        Ok(SamplingParams {
            temperature: self.temperature,
            top_k: self.sampling_top_k,
            top_p: self.top_p,
            max_tokens: self.max_tokens,
            seed: self.seed,
            ..SamplingParams::default()
        })
    }

    fn system_prompt(&self, adapter: Option<&std::path::Path>) -> Result<Option<String>> {
        if let Some(path) = &self.system_prompt_from {
            return crate::eval::prompt::system_prompt_from_dataset(path);
        }
        let trained = || adapter.and_then(crate::train::export::trained_system_prompt);
        let p = self.system_prompt.clone().or_else(trained).unwrap_or_else(|| DEFAULT_SYSTEM_PROMPT.to_string());
        Ok((!p.trim().is_empty()).then_some(p))
    }
}

#[derive(clap::Args, Debug)]
pub struct FinetunedArgs {
    /// Questions file (JSONL: {"question", "expected"?, "keywords"?, "id"?} per line).
    pub questions: PathBuf,
    /// The LoRA adapter folder written by `dyag finetune`.
    #[arg(long)]
    pub model: PathBuf,
    /// Base model (name, GGUF file or folder); by default the one named in the
    /// adapter's adapter_config.json.
    #[arg(long)]
    pub base_model: Option<String>,
    /// Results file to write (JSON).
    #[arg(long, short)]
    pub output: PathBuf,
    #[command(flatten)]
    pub generation: GenerationArgs,
}

#[derive(clap::Args, Debug)]
pub struct RagArgs {
    /// Questions file (JSONL: {"question", "expected"?, "keywords"?, "id"?} per line).
    pub questions: PathBuf,
    /// The catalogue to retrieve from: JSONL, JSON array, Markdown (## sections) or a folder of them.
    #[arg(long)]
    pub corpus: PathBuf,
    /// Base model that answers (name, GGUF file or folder).
    #[arg(long)]
    pub base_model: String,
    /// Results file to write (JSON).
    #[arg(long, short)]
    pub output: PathBuf,
    /// Number of records placed in each prompt.
    #[arg(long, default_value_t = 3)]
    pub top_k: usize,
    /// Answer with the fine-tuned adapter given by --model (retrieval + fine-tuning).
    #[arg(long, requires = "model")]
    pub hybrid: bool,
    /// LoRA adapter folder, for --hybrid.
    #[arg(long, requires = "hybrid")]
    pub model: Option<PathBuf>,
    /// Longest record text put in a prompt, in characters.
    #[arg(long, default_value_t = 2000)]
    pub max_context_chars: usize,
    /// Language of the context block's wording.
    #[arg(long, value_enum, default_value = "fr")]
    pub lang: crate::eval::compare::Lang,
    /// The reading score: put each question's own records (its "apps") in the prompt instead of the retrieved
    /// ones, to tell a reading failure from a retrieval failure.
    #[arg(long)]
    pub oracle: bool,
    /// chat (the model's template) or completion (fiches, a worked example, "Réponse :", for base models).
    /// Default: chat with --hybrid or an instruct model, completion for a base model.
    #[arg(long, value_enum)]
    pub prompt_style: Option<PromptStyle>,
    #[command(flatten)]
    pub generation: GenerationArgs,
}

/// True for a model name that says it follows instructions (chat-tuned).
fn is_instruct_name(name: &str) -> bool {
    let n = name.to_lowercase();
    ["instruct", "-it", ":it", "_it", "chat"].iter().any(|w| n.contains(w))
}

/// The one place where evaluation meets the inference engine: threads and
/// device first (as every command does), then the model. `base_model` may be
/// empty when the adapter names its base. Returns the device's name for the
/// results metadata.
fn load_generator(base_model: &str, adapter: Option<&Path>, generation: &GenerationArgs) -> Result<(Box<dyn ChatGenerator>, String)> {
    apply_threads(generation.threads)?;
    let device = device::resolve(generation.device, false)?;
    let what = match adapter {
        Some(a) if base_model.is_empty() => format!("adapter {}", a.display()),
        Some(a) => format!("{base_model} + adapter {}", a.display()),
        None => base_model.to_string(),
    };
    let spinner = crate::util::progress::spinner(&format!("loading {what}"));
    let base = if base_model.is_empty() { None } else { Some(base_model) };
    let loaded = crate::infer::engine::load_engine(base, adapter);
    spinner.finish_and_clear();
    let mut engine = loaded?;
    device::attach(&mut engine, device, generation.quantization)?;
    let name = match device {
        Device::Cpu => "cpu",
        Device::Cuda => "cuda",
    };
    Ok((Box::new(engine), name.to_string()))
}

/// The base model named in a PEFT adapter's adapter_config.json, for the
/// results metadata; `None` when it cannot be read (the engine then reports
/// the problem when it loads the adapter).
fn base_model_from_adapter(adapter: &Path) -> Option<String> {
    let text = std::fs::read_to_string(adapter.join("adapter_config.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.get("base_model_name_or_path")?.as_str().filter(|b| !b.trim().is_empty()).map(str::to_string)
}

/// Fails before any model is loaded if the output cannot be a file.
fn check_output(path: &Path) -> Result<()> {
    if path.is_dir() {
        return Err(Error::invalid(format!("--output {} is a folder; give a file name such as results.json", path.display())));
    }
    Ok(())
}

/// Writes the results and the summary. A run where every question failed is
/// still written (it is a measurement) but ends in an error, so that scripts
/// do not carry on as if the model had answered.
fn finish(results: crate::eval::results::ResultsFile, output: &Path) -> Result<()> {
    results.write(output)?;
    eprint!("{}", summary_table(&results));
    eprintln!("results written to {}", output.display());
    let first_error = results.questions.iter().find_map(|q| q.error.as_deref());
    if let Some(e) = first_error.filter(|_| results.questions.iter().all(|q| q.error.is_some())) {
        return Err(Error::msg(format!("every question failed (first error: {e}); see {}", output.display())));
    }
    Ok(())
}

fn evaluate(
    generator: &mut dyn ChatGenerator,
    questions: &[crate::eval::questions::Question],
    prompts: &dyn PromptBuilder,
    sampling: &SamplingParams,
    metadata: Metadata,
    progress: bool,
) -> Result<crate::eval::results::ResultsFile> {
    eprintln!("evaluating {} questions with {}", questions.len(), generator.describe());
    run_evaluation(generator, questions, prompts, sampling, metadata, progress)
}

pub fn run_finetuned(args: FinetunedArgs) -> Result<()> {
    let questions = read_questions(&args.questions)?;
    check_output(&args.output)?;
    let sampling = args.generation.sampling()?;
    if !args.model.is_dir() {
        return Err(Error::invalid(format!(
            "--model {}: not a folder (give the LoRA adapter folder written by dyag finetune)",
            args.model.display()
        )));
    }
    let system_prompt = args.generation.system_prompt(Some(&args.model))?;
    let (mut generator, device) = load_generator(args.base_model.as_deref().unwrap_or(""), Some(&args.model), &args.generation)?;
    let metadata = Metadata {
        system: "finetuned".into(),
        base_model: args.base_model.clone().or_else(|| base_model_from_adapter(&args.model)),
        adapter: Some(args.model.display().to_string()),
        device: Some(device),
        system_prompt: system_prompt.clone(),
        questions_file: Some(args.questions.display().to_string()),
        ..Default::default()
    };
    let prompts = DirectPrompt { system_prompt };
    let results = evaluate(generator.as_mut(), &questions, &prompts, &sampling, metadata, !args.generation.no_progress)?;
    finish(results, &args.output)
}

pub fn run_rag(args: RagArgs) -> Result<()> {
    let questions = read_questions(&args.questions)?;
    check_output(&args.output)?;
    let sampling = args.generation.sampling()?;
    if args.top_k == 0 {
        return Err(Error::invalid("--top-k must be at least 1"));
    }
    let documents = load_catalogue(&args.corpus)?;
    let n_docs = documents.len();
    let system_prompt = args.generation.system_prompt(if args.hybrid { args.model.as_deref() } else { None })?;
    let lang = match args.lang {
        crate::eval::compare::Lang::Fr => ContextLang::French,
        crate::eval::compare::Lang::En => ContextLang::English,
    };
    let mut prompts = RagPrompt::new(documents, args.top_k, system_prompt.clone(), lang)?;
    prompts.max_chars_per_document = args.max_context_chars;
    prompts.oracle = args.oracle;
    prompts.style = args.prompt_style.unwrap_or(if args.hybrid || is_instruct_name(&args.base_model) {
        PromptStyle::Chat
    } else {
        PromptStyle::Completion
    });
    let mut sampling = sampling;
    if prompts.style == PromptStyle::Completion {
        // The answer is one line of the document being continued.
        sampling.stop.push("\n".into());
    }
    eprintln!("indexed {n_docs} records from {}", args.corpus.display());

    let adapter = if args.hybrid { args.model.as_deref() } else { None };
    let (mut generator, device) = load_generator(&args.base_model, adapter, &args.generation)?;
    let metadata = Metadata {
        system: match (args.hybrid, args.oracle) {
            (true, false) => "hybrid",
            (true, true) => "hybrid-reading",
            (false, false) => "rag",
            (false, true) => "rag-reading",
        }
        .into(),
        base_model: Some(args.base_model.clone()),
        adapter: adapter.map(|a| a.display().to_string()),
        device: Some(device),
        system_prompt,
        questions_file: Some(args.questions.display().to_string()),
        retrieval: Some(Retrieval {
            method: if args.oracle { "oracle: the question's own records, then bm25" } else { "bm25" }.into(),
            library: Some("tantivy 0.25".into()),
            analyzer: Some(crate::rag::index::ANALYZER_DESCRIPTION.into()),
            top_k: args.top_k as u64,
            corpus: Some(args.corpus.display().to_string()),
            documents: Some(n_docs as u64),
        }),
        ..Default::default()
    };
    let results = evaluate(generator.as_mut(), &questions, &prompts, &sampling, metadata, !args.generation.no_progress)?;
    finish(results, &args.output)
}
