//! `pulse bench ingest|query|store|growth`: store-side benchmarks on generated data
//! (see `crate::bench`). Each prints a table (or JSON) with absolute figures and ratios.

use super::{output, Format};
use crate::bench::{self, IngestRow, QueryRow};
use crate::pipeline::Pipeline;
use crate::store::Store;
use chrono::Utc;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Debug, clap::Args)]
pub struct IngestArgs {
    /// sled page cache in MiB, for the store and the raw reference alike.
    #[arg(long, default_value_t = crate::store::DEFAULT_CACHE_MB)]
    pub cache_mb: u64,

    /// Mentions per batch size (batch 1 is capped at 2,000: it is fsync-bound).
    #[arg(long, default_value_t = 100_000)]
    pub mentions: usize,
    /// Batch sizes to measure.
    #[arg(long, value_delimiter = ',', default_value = "1,100,10000")]
    pub batches: Vec<usize>,
    #[arg(long, default_value_t = 200)]
    pub products: usize,
    /// Days the mentions are spread over: 1 is live polling, 90 a backfill.
    #[arg(long, default_value_t = 1)]
    pub days: i64,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Scratch directory (default: a temp dir, removed afterwards).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, clap::Args)]
pub struct QueryArgs {
    /// sled page cache in MiB, for the store and the raw reference alike.
    #[arg(long, default_value_t = crate::store::DEFAULT_CACHE_MB)]
    pub cache_mb: u64,

    /// Mentions in the store queried.
    #[arg(long, default_value_t = 1_000_000)]
    pub mentions: usize,
    #[arg(long, default_value_t = 200)]
    pub products: usize,
    /// Queries of each kind.
    #[arg(long, default_value_t = 1_000)]
    pub runs: usize,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Reuse (or create) the store here instead of a temp dir, to skip refilling.
    #[arg(long)]
    pub store: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, clap::Args)]
pub struct GrowthArgs {
    /// sled page cache in MiB, for the store and the raw reference alike.
    #[arg(long, default_value_t = crate::store::DEFAULT_CACHE_MB)]
    pub cache_mb: u64,

    /// Store sizes to measure, in mentions.
    #[arg(long, value_delimiter = ',', default_value = "100000,1000000,10000000")]
    pub sizes: Vec<usize>,
    #[arg(long, default_value_t = 200)]
    pub products: usize,
    #[arg(long, default_value_t = 300)]
    pub runs: usize,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    #[arg(long)]
    pub dir: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

fn scratch(dir: &Option<PathBuf>) -> anyhow::Result<(PathBuf, Option<tempfile::TempDir>)> {
    match dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            Ok((d.clone(), None))
        }
        None => {
            let t = tempfile::Builder::new().prefix("pulse-bench").tempdir()?;
            Ok((t.path().to_path_buf(), Some(t)))
        }
    }
}

fn bar(n: usize, what: &str) -> ProgressBar {
    let b = ProgressBar::new(n as u64);
    b.set_style(
        ProgressStyle::with_template("{msg} {wide_bar} {pos}/{len} ({per_sec}, eta {eta})")
            .expect("valid template"),
    );
    b.set_message(what.to_string());
    b
}

pub fn ingest(a: &IngestArgs) -> anyhow::Result<()> {
    let (dir, _keep) = scratch(&a.dir)?;
    let rows: Vec<IngestRow> = bench::ingest(
        &dir,
        a.mentions,
        &a.batches,
        a.products,
        a.seed,
        Utc::now(),
        a.days,
        a.cache_mb,
    )?;
    let footer = format!("mentions_per_second: match → classify (lexicon) → store (dedup + journalled bucket deltas, one atomic batch flushed per batch; pending buckets checkpointed and flushed before the clock stops), one thread.\nraw_sled_per_second: the same mention key/value bytes inserted into a fresh sled tree in the same batches, flushed alike. sled cache: {} MiB for both.", a.cache_mb);
    output::print_rows(
        &mut std::io::stdout().lock(),
        &rows,
        a.format,
        Some(&footer),
    )
}

fn open_filled(
    path: &std::path::Path,
    mentions: usize,
    products: usize,
    seed: u64,
    cache_mb: u64,
) -> anyhow::Result<(Store, crate::config::Config, f64)> {
    let config = bench::bench_config(products, seed, path);
    let store = Store::open_with(path, cache_mb)?;
    let have = store.mention_count();
    let mut fill_rate = 0.0;
    if have < mentions {
        let classifier = crate::sentiment::build(&config.classifier)?;
        let pipeline = Pipeline::new(&config, store.clone(), classifier);
        let b = bar(mentions - have, "filling store");
        let start = Instant::now();
        // Different seed per refill so resumed fills do not collide with stored ids.
        let n = bench::fill(
            &pipeline,
            mentions - have,
            seed + have as u64,
            Utc::now(),
            90,
            |d| b.set_position(d as u64),
        )?;
        fill_rate = n as f64 / start.elapsed().as_secs_f64();
        b.finish_and_clear();
    }
    Ok((store, config, fill_rate))
}

pub fn query(a: &QueryArgs) -> anyhow::Result<()> {
    let (dir, _keep) = scratch(
        &a.store
            .as_ref()
            .and_then(|p| p.parent().map(|x| x.to_path_buf())),
    )?;
    let path = a.store.clone().unwrap_or_else(|| dir.join("query.db"));
    let (store, config, _) = open_filled(&path, a.mentions, a.products, a.seed, a.cache_mb)?;
    let rows: Vec<QueryRow> = bench::query(&store, &config, a.runs, Utc::now())?;
    output::print_rows(&mut std::io::stdout().lock(), &rows, a.format, Some("Latency through the code path the CLI runs on a local store (api::trend_rows / api::mention_rows)."))
}

#[derive(Debug, Serialize)]
struct GrowthRow {
    store_mentions: usize,
    fill_mentions_per_second: f64,
    bytes_on_disk: u64,
    bytes_per_mention: f64,
    bytes_per_mention_after_restart: f64,
    trend_p50_ms: f64,
    trend_p99_ms: f64,
    mentions_p50_ms: f64,
    mentions_p99_ms: f64,
}

pub fn growth(a: &GrowthArgs) -> anyhow::Result<()> {
    let (dir, _keep) = scratch(&a.dir)?;
    let path = dir.join("growth.db");
    let mut rows = Vec::new();
    let mut sizes = a.sizes.clone();
    sizes.sort_unstable();
    for &n in &sizes {
        // One store grows through every size, as a real one does.
        let (store, config, fill_rate) = open_filled(&path, n, a.products, a.seed, a.cache_mb)?;
        store.flush()?;
        let bytes = store.size_on_disk();
        let q = bench::query(&store, &config, a.runs, Utc::now())?;
        drop(store);
        let reopened = Store::open_with(&path, a.cache_mb)?;
        let after = reopened.size_on_disk();
        drop(reopened);
        let n = q[0].store_mentions;
        rows.push(GrowthRow {
            store_mentions: n,
            fill_mentions_per_second: fill_rate.round(),
            bytes_on_disk: bytes,
            bytes_per_mention: (bytes as f64 / n as f64).round(),
            bytes_per_mention_after_restart: (after as f64 / n as f64).round(),
            trend_p50_ms: q[0].p50_ms,
            trend_p99_ms: q[0].p99_ms,
            mentions_p50_ms: q[1].p50_ms,
            mentions_p99_ms: q[1].p99_ms,
        });
    }
    output::print_rows(&mut std::io::stdout().lock(), &rows, a.format, Some("fill: batches of 10,000, flushed at the end of each size step; bytes from sled's size_on_disk()."))
}

#[derive(Debug, clap::Args)]
pub struct FootprintArgs {
    /// sled page cache in MiB, for the store and the raw reference alike.
    #[arg(long, default_value_t = crate::store::DEFAULT_CACHE_MB)]
    pub cache_mb: u64,

    #[arg(long, default_value_t = 100)]
    pub products: usize,
    /// RSS sources, each served by the local feed server and polled every 10 s.
    #[arg(long, default_value_t = 5)]
    pub sources: usize,
    /// How long the daemon runs.
    #[arg(long, default_value = "10m")]
    pub duration: String,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

pub async fn footprint(a: &FootprintArgs) -> anyhow::Result<()> {
    let duration = crate::config::parse_duration(&a.duration).map_err(anyhow::Error::msg)?;
    let dir = tempfile::Builder::new()
        .prefix("pulse-footprint")
        .tempdir()?;
    let row = crate::bench::footprint::run(
        dir.path(),
        a.products,
        a.sources,
        duration,
        a.seed,
        a.cache_mb,
    )
    .await?;
    output::print_rows(
        &mut std::io::stdout().lock(),
        &[row],
        a.format,
        Some("peak_rss_mb: VmHWM of the daemon process; cpu: its user+system time; lexicon classifier."),
    )
}
