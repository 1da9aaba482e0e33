//! `pulse poll --once`: one round of every source, then exit (for cron and tests).

use super::{output, Format, Globals};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Poll every source once and exit (the only mode; the daemon polls on a schedule).
    #[arg(long, required = true)]
    pub once: bool,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

pub async fn run(args: &Args, g: &Globals) -> anyhow::Result<()> {
    let config = g.load_config()?;
    let summaries = crate::daemon::poll_once(&config).await?;
    output::print_rows(&mut std::io::stdout().lock(), &summaries, args.format, None)?;
    if !summaries.is_empty() && summaries.iter().all(|s| s.error.is_some() && s.stored == 0) {
        anyhow::bail!("every source failed; see the errors above");
    }
    Ok(())
}
