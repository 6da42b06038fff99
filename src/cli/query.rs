//! `dyag` command: query (in progress).

use crate::Result;

#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_args: Args) -> Result<()> {
    Err(crate::Error::msg("this command is not built yet"))
}

