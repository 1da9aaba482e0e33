//! `pulse store ...`: offline maintenance of the store (`check` recounts every bucket).

use super::{output, Format, Globals};
use serde::Serialize;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: StoreCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum StoreCommand {
    /// Recount every trend bucket from the stored mentions and report disagreements.
    Check {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

#[derive(Debug, Serialize)]
pub struct CheckReport {
    pub mention_records: u64,
    pub buckets: u64,
    pub mismatched_buckets: u64,
    pub ok: bool,
}

pub async fn run(args: &Args, g: &Globals) -> anyhow::Result<()> {
    let config = g.load_config()?;
    let store = crate::daemon::open_store(&config)?;
    match &args.command {
        StoreCommand::Check { format } => {
            let recount = store.recount()?;
            let stored = store.all_buckets()?;
            let mut mismatched = 0u64;
            for (k, v) in &stored {
                let expected = recount.get(k).copied().unwrap_or_default();
                if expected.count != v.count
                    || expected.positive != v.positive
                    || expected.negative != v.negative
                    || expected.neutral != v.neutral
                    || (expected.score_sum - v.score_sum).abs()
                        > 1e-6 * expected.count.max(1) as f64
                {
                    mismatched += 1;
                }
            }
            mismatched += recount.keys().filter(|k| !stored.contains_key(*k)).count() as u64;
            let report = CheckReport {
                mention_records: store.mention_count() as u64,
                buckets: stored.len() as u64,
                mismatched_buckets: mismatched,
                ok: mismatched == 0,
            };
            output::print_rows(&mut std::io::stdout().lock(), &[&report], *format, None)?;
            if !report.ok {
                anyhow::bail!("{mismatched} bucket(s) disagree with the stored mentions");
            }
            Ok(())
        }
    }
}
