//! `dyag` command: generate_training (in progress).

use crate::Result;

#[derive(clap::Args, Debug)]
pub struct Args {}

#[derive(clap::Args, Debug)]
pub struct ValidateArgs {}

pub fn run(_args: Args) -> Result<()> {
    Err(crate::Error::msg("this command is not built yet"))
}

pub fn run_validate(_args: ValidateArgs) -> Result<()> {
    Err(crate::Error::msg("this command is not built yet"))
}

