//! The `dyag` command line: parsing and printing only, one file per command.
//! Results go to stdout or files; messages and progress go to stderr.

use clap::{Parser, Subcommand};

pub mod bench;
pub mod common;
pub mod compare;
pub mod evaluate;
pub mod finetune;
pub mod generate_training;
pub mod query;

#[derive(Parser, Debug)]
#[command(name = "dyag", version, about = "Turn your documents into a small fine-tuned LLM, query it, measure it, compare it with RAG.")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Build a chat fine-tuning dataset (JSONL) from a catalogue (JSONL, JSON or Markdown).
    GenerateTraining(generate_training::Args),
    /// Check a chat dataset (JSONL) and report every problem with file:line.
    ValidateDataset(generate_training::ValidateArgs),
    /// Fine-tune a base model with LoRA on a chat dataset.
    Finetune(finetune::Args),
    /// Ask a (fine-tuned) model a question, or chat with it interactively.
    QueryFinetuned(query::Args),
    /// Answer a questions file with a fine-tuned model and measure the answers.
    EvaluateFinetuned(evaluate::FinetunedArgs),
    /// Answer a questions file with retrieval-augmented generation over a catalogue.
    EvaluateRag(evaluate::RagArgs),
    /// Compare RAG, fine-tuned (and hybrid) results side by side.
    CompareModels(compare::Args),
    /// Measure generation (prefill, decode) and training speed on a real model.
    Bench(bench::Args),
}

/// Runs the command line and returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::GenerateTraining(a) => generate_training::run(a),
        Command::ValidateDataset(a) => generate_training::run_validate(a),
        Command::Finetune(a) => finetune::run(a),
        Command::QueryFinetuned(a) => query::run(a),
        Command::EvaluateFinetuned(a) => evaluate::run_finetuned(a),
        Command::EvaluateRag(a) => evaluate::run_rag(a),
        Command::CompareModels(a) => compare::run(a),
        Command::Bench(a) => bench::run(a),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("[ERREUR] {e}");
            1
        }
    }
}
