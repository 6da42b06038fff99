//! `dyag generate-training` (catalogue → chat dataset) and `dyag validate-dataset`.

use crate::data::generate::{generate, generate_with_llm, GenerateOptions, Method};
use crate::data::llm::LlmOptions;
use crate::data::split::{split, SplitRatios};
use crate::data::templates::{system_prompt, Lang};
use crate::data::{output, read_catalogue, summary, ReadOptions};
use crate::formats::chat_jsonl::validate_chat_dataset;
use crate::infer::ChatGenerator;
use crate::rag::raft::{add_context, RaftOptions};
use crate::rag::ContextLang;
use crate::util::rng::Rng;
use crate::util::{write_atomic, write_json_atomic};
use crate::{Error, Result};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The catalogue: a JSONL, JSON or Markdown file, or a folder of such files.
    pub input: PathBuf,
    /// The dataset to write (JSONL). With --split: OUT_train/_val/_test.jsonl and OUT_test_questions.jsonl beside it.
    /// The default, dataset.jsonl, matches the original tool's quick start (then `finetune --dataset dataset_train.jsonl`).
    #[arg(short, long, default_value = "dataset.jsonl")]
    pub output: PathBuf,
    /// augmented (the default) teaches facts: every fact in many phrasings, fiches, reverse questions, refusals.
    #[arg(long, value_enum, default_value = "augmented")]
    pub method: Method,
    /// Number of examples (exactly, or fewer with the reason printed). Default: augmented, enough for every fact
    /// to be seen about 24 times in finetune's default 3 epochs; rule-based and llm-based, 100.
    #[arg(long)]
    pub count: Option<usize>,
    /// Split into train/validation/test files.
    #[arg(long)]
    pub split: bool,
    /// Train, validation and test shares.
    #[arg(long, default_value = "0.8,0.1,0.1", value_parser = parse_ratios)]
    pub split_ratios: SplitRatios,
    /// Random seed: the same seed gives byte-for-byte the same files.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// System prompt of every example ("" for none); by default the original tool's, adapted to the catalogue's name.
    #[arg(long)]
    pub system_prompt: Option<String>,
    /// Language of the questions and answers.
    #[arg(long, value_enum, default_value = "fr")]
    pub lang: Lang,
    /// The field holding each record's name (default: nom, name, titre, title, application... whichever is present).
    #[arg(long)]
    pub name_field: Option<String>,
    /// The catalogue's name for the system prompt (default: the Markdown title or a shared organisation field).
    #[arg(long)]
    pub catalogue_name: Option<String>,
    /// Share of negative examples about unknown names (augmented), two in three near misses of real names (X-RH, NEO-X).
    #[arg(long, default_value_t = crate::data::generate::DEFAULT_NEGATIVE_RATIO)]
    pub negative_ratio: f64,
    /// Share of the questions written with retrieved catalogue records in the prompt, as
    /// `evaluate-rag --hybrid` puts them (RAFT: the right record 80 % of the time, among
    /// look-alikes), so that the adapter learns to read and to refuse in the hybrid.
    #[arg(long, default_value_t = 0.0)]
    pub context_ratio: f64,
    /// Records per contextual prompt: evaluate-rag's --top-k.
    #[arg(long, default_value_t = 3)]
    pub context_top_k: usize,
    /// Answer to questions about unknown names (augmented); "{X}" is replaced by the name.
    #[arg(long)]
    pub refusal: Option<String>,
    /// OpenAI-compatible endpoint for llm-based, e.g. http://127.0.0.1:8080/v1.
    #[arg(long)]
    pub llm_url: Option<String>,
    /// Model for llm-based: the endpoint's model name, or (without --llm-url) a local model for dyag's engine (gemma3:270m, a GGUF file...).
    #[arg(long)]
    pub llm_model: Option<String>,
    /// Environment variable holding the endpoint's API key (optional).
    #[arg(long, default_value = "OPENAI_API_KEY")]
    pub llm_api_key_env: String,
    /// LoRA adapter for the local model (llm-based without --llm-url).
    #[arg(long)]
    pub llm_adapter: Option<PathBuf>,
    /// Seconds to wait for the endpoint's reply.
    #[arg(long, default_value_t = 300)]
    pub llm_timeout: u64,
    #[arg(long, default_value_t = 0.7)]
    pub llm_temperature: f32,
    #[arg(long, default_value_t = 768)]
    pub llm_max_tokens: usize,
    /// Rounds over the records at most.
    #[arg(long, default_value_t = 3)]
    pub llm_rounds: usize,
    /// Retries of a failed LLM call (exponential back-off from 0.5 s).
    #[arg(long, default_value_t = 3)]
    pub llm_retries: usize,
    /// Also write the run's report (counts, drops and reasons) as JSON.
    #[arg(long)]
    pub report: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct ValidateArgs {
    /// The chat dataset (JSONL) to check.
    pub file: PathBuf,
    /// Print the report as JSON instead of lines.
    #[arg(long)]
    pub json: bool,
}

fn parse_ratios(s: &str) -> std::result::Result<SplitRatios, String> {
    s.parse::<SplitRatios>().map_err(|e| e.to_string())
}

pub fn run(args: Args) -> Result<()> {
    if args.method != Method::LlmBased && (args.llm_url.is_some() || args.llm_model.is_some()) {
        return Err(Error::invalid("--llm-url and --llm-model are only used with --method llm-based"));
    }
    if same_file(&args.input, &args.output) {
        return Err(Error::invalid(format!("--output {} is the input catalogue: choose another file", args.output.display())));
    }
    let mut cat = read_catalogue(&args.input, &ReadOptions { name_field: args.name_field.clone() })?;
    if let Some(n) = &args.catalogue_name {
        cat.name = Some(n.clone());
    }
    let system = args.system_prompt.clone().unwrap_or_else(|| system_prompt(args.lang, cat.name.as_deref()));
    let opts = GenerateOptions {
        method: args.method,
        count: args.count.unwrap_or_else(|| match args.method {
            Method::Augmented => crate::data::knowledge::auto_count(&cat, args.lang, args.negative_ratio),
            _ => 100,
        }),
        seed: args.seed,
        lang: args.lang,
        negative_ratio: args.negative_ratio,
        refusal: args.refusal.clone(),
    };
    let generated = if args.method == Method::LlmBased {
        let mut gen = llm_generator(&args)?;
        let llm_opts = LlmOptions {
            max_rounds: args.llm_rounds.max(1),
            retries: args.llm_retries,
            temperature: args.llm_temperature,
            max_tokens: args.llm_max_tokens,
            seed: args.seed,
            ..Default::default()
        };
        generate_with_llm(&cat, &opts, gen.as_mut(), &llm_opts)?
    } else {
        generate(&cat, &opts)?
    };
    let mut report = generated.report;
    let mut examples = generated.examples;
    let raft = RaftOptions {
        ratio: args.context_ratio,
        top_k: args.context_top_k,
        lang: if args.lang == Lang::En { ContextLang::English } else { ContextLang::French },
    };
    report.with_context = add_context(&mut examples, &cat, &raft, &mut Rng::new(args.seed ^ 0x5AF7))?;
    if examples.is_empty() {
        if let Some(p) = &args.report {
            write_json_atomic(p, &report)?;
        }
        eprint!("{}", summary::render(&report));
        return Err(Error::msg(format!(
            "no example could be generated{}; nothing written",
            report.shortfall.as_ref().map(|s| format!(": {s}")).unwrap_or_default()
        )));
    }
    let written = if args.split {
        let mut rng = Rng::new(args.seed ^ 0x5_9117);
        let parts = split(examples, args.split_ratios, &mut rng);
        report.split = Some(
            [("train", parts.train.len()), ("val", parts.val.len()), ("test", parts.test.len())]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        );
        output::write_split(&args.output, &parts, &system, &cat.records.iter().map(|r| r.name.clone()).collect::<Vec<_>>())?
    } else {
        write_atomic(&args.output, &output::dataset_jsonl(&examples, &system)?)?;
        vec![args.output.clone()]
    };
    report.outputs = written.iter().map(|p| p.display().to_string()).collect();
    if let Some(p) = &args.report {
        write_json_atomic(p, &report)?;
    }
    eprint!("{}", summary::render(&report));
    Ok(())
}

/// The LLM behind llm-based: a server when --llm-url is given, else dyag's engine.
fn llm_generator(args: &Args) -> Result<Box<dyn ChatGenerator>> {
    let model = args.llm_model.as_deref().ok_or_else(|| {
        Error::invalid("--method llm-based needs --llm-model (a model name for --llm-url, or a local model: gemma3:270m, a GGUF file...)")
    })?;
    match &args.llm_url {
        Some(url) => {
            let key = std::env::var(&args.llm_api_key_env).ok();
            let gen = crate::infer::openai::OpenAiChat::new(url, model, key, Duration::from_secs(args.llm_timeout.max(1)))?;
            Ok(Box::new(gen))
        }
        None => local_generator(model, args.llm_adapter.as_deref()),
    }
}

/// dyag's own engine on a local model (shortcut such as gemma3:270m, a GGUF
/// file or an HF folder), with an optional LoRA adapter.
fn local_generator(model: &str, adapter: Option<&Path>) -> Result<Box<dyn ChatGenerator>> {
    crate::infer::engine::load_chat_generator(model, adapter)
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

pub fn run_validate(args: ValidateArgs) -> Result<()> {
    let rep = validate_chat_dataset(&args.file)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rep).map_err(|e| Error::msg(e.to_string()))?);
    } else {
        print!("{}", rep.render());
    }
    if rep.is_valid() {
        Ok(())
    } else {
        Err(Error::data(&args.file, rep.problems[0].line, format!("{} problems (see above)", rep.problem_count())))
    }
}
