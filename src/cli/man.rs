//! `pulse man`: roff man pages generated from the CLI definition, so they never drift
//! from `--help`.

use super::{Cli, Globals};
use anyhow::Context;
use clap::CommandFactory;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write `pulse.1` and one `pulse-<command>.1` per subcommand into this directory
    /// instead of printing `pulse.1` to stdout.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

pub async fn run(args: &Args, _g: &Globals) -> anyhow::Result<()> {
    let cmd = Cli::command();
    match &args.dir {
        None => {
            let mut out = std::io::stdout().lock();
            clap_mangen::Man::new(cmd).render(&mut out)?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            clap_mangen::generate_to(cmd, dir)
                .with_context(|| format!("cannot write man pages to {}", dir.display()))?;
            eprintln!("man pages written to {}", dir.display());
        }
    }
    Ok(())
}
