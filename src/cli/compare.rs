//! `dyag compare-models`: RAG, fine-tuned (and hybrid) results side by side,
//! written as JSON, Markdown and/or a self-contained HTML page.

use crate::eval::compare::{compare, write_reports, CorrectnessRule, Format, Input, Lang};
use crate::eval::validate::read_results;
use crate::{Error, Result};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Results of the RAG run (evaluate-rag, or another tool in the same schema).
    #[arg(long)]
    pub rag_results: PathBuf,
    /// Results of the fine-tuned run (evaluate-finetuned).
    #[arg(long)]
    pub finetuned_results: PathBuf,
    /// Results of a hybrid run (evaluate-rag --hybrid).
    #[arg(long)]
    pub hybrid_results: Option<PathBuf>,
    /// Folder for the reports (comparison.json, comparison.md, comparison.html).
    #[arg(long, short)]
    pub output: PathBuf,
    /// Reports to write: both = JSON + Markdown, all = JSON + Markdown + HTML.
    #[arg(long, value_enum, default_value = "all")]
    pub format: Format,
    /// Language of the reports.
    #[arg(long, value_enum, default_value = "fr")]
    pub lang: Lang,
    /// An answer with at least this share of key facts counts as right.
    #[arg(long, default_value_t = 1.0)]
    pub keyword_threshold: f64,
    /// Without key facts, an answer with at least this token F1 counts as right.
    #[arg(long, default_value_t = 0.5)]
    pub f1_threshold: f64,
}

pub fn run(args: Args) -> Result<()> {
    for (name, v) in [("--keyword-threshold", args.keyword_threshold), ("--f1-threshold", args.f1_threshold)] {
        if !(0.0..=1.0).contains(&v) {
            return Err(Error::invalid(format!("{name} must be in [0, 1], got {v}")));
        }
    }
    if args.output.is_file() {
        return Err(Error::invalid(format!("--output {} is a file; give a folder", args.output.display())));
    }
    let mut inputs = Vec::new();
    let files = [("rag", Some(args.rag_results)), ("finetuned", Some(args.finetuned_results)), ("hybrid", args.hybrid_results)];
    for (label, path) in files {
        let Some(path) = path else { continue };
        let results = read_results(&path)?;
        if results.metadata.system != label {
            eprintln!("[warning] {} was given as the {label} run but says system \"{}\"", path.display(), results.metadata.system);
        }
        inputs.push(Input { label: label.to_string(), path, results });
    }
    let rule = CorrectnessRule { keyword_threshold: args.keyword_threshold, f1_threshold: args.f1_threshold };
    let comparison = compare(&inputs, rule, args.lang)?;
    let written = write_reports(&comparison, &args.output, args.format)?;
    for m in &comparison.metrics {
        let winner = crate::eval::compare::markdown::winner_text(&comparison, &m.winners, m.status);
        eprintln!("  {:<34} {}", m.name, winner);
    }
    for r in comparison.recommendations.iter().filter(|r| r.criterion == "overall") {
        let label = crate::eval::compare::markdown::criterion_name(&r.criterion, args.lang);
        eprintln!("{label}{} {}", args.lang.pick(" :", ":"), r.text);
    }
    for p in written {
        println!("{}", p.display());
    }
    Ok(())
}
