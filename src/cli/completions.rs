//! `pulse completions SHELL`: shell completion script generated from the CLI definition.

use super::{Cli, Globals};
use clap::CommandFactory;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Shell to generate completions for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

pub async fn run(args: &Args, _g: &Globals) -> anyhow::Result<()> {
    let mut cmd = Cli::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut cmd, "pulse", &mut out);
    Ok(())
}
