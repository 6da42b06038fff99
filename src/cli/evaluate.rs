//! `dyag` command: evaluate (in progress).

use crate::Result;

#[derive(clap::Args, Debug)]
pub struct FinetunedArgs {}

#[derive(clap::Args, Debug)]
pub struct RagArgs {}

pub fn run_finetuned(_args: FinetunedArgs) -> Result<()> {
    Err(crate::Error::msg("this command is not built yet"))
}

pub fn run_rag(_args: RagArgs) -> Result<()> {
    Err(crate::Error::msg("this command is not built yet"))
}

