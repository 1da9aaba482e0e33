//! `pulse trend PRODUCT`: the product's time buckets, ending with a sparkline of volume.

use super::{backend::Backend, output, Format, Globals};
use crate::api::TrendParams;
use crate::trend::sparkline;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Product name or alias.
    pub product: String,
    /// How far back: a duration (7d, 36h) or a date (2026-11-01).
    #[arg(long, default_value = "7d")]
    pub since: String,
    /// Bucket width: 1h or 1d (default: 1h up to 3 days back, else 1d).
    #[arg(long)]
    pub bucket: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

pub async fn run(args: &Args, g: &Globals) -> anyhow::Result<()> {
    let backend = Backend::connect(g).await?;
    let params = TrendParams {
        since: Some(args.since.clone()),
        bucket: args.bucket.clone(),
    };
    let rows = backend.trend(&args.product, &params).await?;
    let counts: Vec<f64> = rows.iter().map(|r| r.count as f64).collect();
    let total: u64 = rows.iter().map(|r| r.count).sum();
    let footer = format!(
        "volume {}  ({} mentions in {} buckets)",
        sparkline(&counts),
        total,
        rows.len()
    );
    output::print_rows(
        &mut std::io::stdout().lock(),
        &rows,
        args.format,
        Some(&footer),
    )
}
