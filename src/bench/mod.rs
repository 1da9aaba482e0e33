//! Benchmarks that print figures: ingest throughput against raw sled inserts, query
//! latency, store size, all on generated data from [`generate`].

pub mod footprint;
pub mod generate;

use crate::api::{self, MentionParams, TrendParams};
use crate::config::Config;
use crate::pipeline::Pipeline;
use crate::store::Store;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

/// A config for `products` generated products and nothing else.
pub fn bench_config(products: usize, seed: u64, store: &Path) -> Config {
    let mut config = Config::parse(
        "[[products]]\nname = \"placeholder\"\n",
        Path::new("bench.toml"),
    )
    .expect("static config parses");
    config.products = generate::products(products, seed);
    config.store.path = store.to_path_buf();
    config
}

/// One row of the ingest benchmark.
#[derive(Debug, Clone, Serialize)]
pub struct IngestRow {
    pub batch: usize,
    pub mentions: usize,
    /// Wall-clock throughput.
    pub mentions_per_second: f64,
    /// Throughput per CPU second of the whole process (all threads, incl. sled's): stable
    /// on a busy machine, where wall time is not.
    pub mentions_per_cpu_second: f64,
    /// The same key/value bytes inserted into sled directly, same batch size, flushed alike.
    pub raw_sled_per_second: f64,
    pub raw_sled_per_cpu_second: f64,
    /// Ours ÷ raw, by CPU time.
    pub ratio_vs_raw: f64,
}

/// CPU seconds used by this process so far (user + system, all threads).
pub fn process_cpu_seconds() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// Ingest `n` generated mentions per batch size through match → classify → store
/// (durable), and insert the resulting bytes into a fresh sled as the reference.
#[allow(clippy::too_many_arguments)]
pub fn ingest(
    dir: &Path,
    n: usize,
    batch_sizes: &[usize],
    products: usize,
    seed: u64,
    end: DateTime<Utc>,
    days: i64,
    cache_mb: u64,
) -> anyhow::Result<Vec<IngestRow>> {
    let mut rows = Vec::new();
    for (i, &batch) in batch_sizes.iter().enumerate() {
        // Small batches are fsync-bound: fewer mentions keep the run short.
        let count = if batch == 1 { n.min(2_000) } else { n };
        let path = dir.join(format!("ingest-{i}"));
        let config = bench_config(products, seed, &path);
        let store = Store::open_with(&path, cache_mb)?;
        let classifier = crate::sentiment::build(&config.classifier)?;
        let pipeline = Pipeline::new(&config, store.clone(), classifier);
        let mentions =
            generate::Generator::new(&config.products, seed + i as u64, end, days).take(count);
        let start = Instant::now();
        let cpu0 = process_cpu_seconds();
        let mut stored = 0;
        for chunk in mentions.chunks(batch) {
            stored += pipeline.ingest(chunk.to_vec(), true)?.stored;
        }
        // Bucket deltas still pending are part of the cost: write them out, durably.
        store.flush()?;
        let ours = start.elapsed().as_secs_f64();
        let ours_cpu = process_cpu_seconds() - cpu0;
        anyhow::ensure!(
            stored == count,
            "stored {stored} of {count} generated mentions"
        );

        // Reference: the same mention bytes, straight into sled, in the order they were
        // ingested (keys end with the store-wide uid, which is handed out in arrival
        // order). Key order would flatter the reference: sorted inserts only ever touch
        // the rightmost leaf.
        let mut pairs: Vec<(sled::IVec, sled::IVec)> = store
            .db()
            .open_tree("data")?
            .scan_prefix(b"m")
            .collect::<Result<_, _>>()?;
        pairs.sort_by_key(|(k, _)| k[k.len().saturating_sub(8)..].to_vec());
        drop(pipeline);
        drop(store);
        let raw_path = dir.join(format!("raw-{i}"));
        let raw = sled::Config::new()
            .path(&raw_path)
            .cache_capacity(cache_mb.max(1) * 1024 * 1024)
            .open()?;
        let tree = raw.open_tree("mentions")?;
        let start = Instant::now();
        let cpu0 = process_cpu_seconds();
        for chunk in pairs.chunks(batch) {
            let mut b = sled::Batch::default();
            for (k, v) in chunk {
                b.insert(k.clone(), v.clone());
            }
            tree.apply_batch(b)?;
            raw.flush()?;
        }
        let raw_secs = start.elapsed().as_secs_f64();
        let raw_cpu = process_cpu_seconds() - cpu0;
        let ours_cpu_rate = count as f64 / ours_cpu;
        let raw_cpu_rate = pairs.len() as f64 / raw_cpu;
        rows.push(IngestRow {
            batch,
            mentions: count,
            mentions_per_second: (count as f64 / ours).round(),
            mentions_per_cpu_second: ours_cpu_rate.round(),
            raw_sled_per_second: (pairs.len() as f64 / raw_secs).round(),
            raw_sled_per_cpu_second: raw_cpu_rate.round(),
            ratio_vs_raw: (ours_cpu_rate / raw_cpu_rate * 1000.0).round() / 1000.0,
        });
        let _ = std::fs::remove_dir_all(&path);
        let _ = std::fs::remove_dir_all(&raw_path);
    }
    Ok(rows)
}

/// One row of the query benchmark.
#[derive(Debug, Clone, Serialize)]
pub struct QueryRow {
    pub query: String,
    pub store_mentions: usize,
    pub runs: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Fill a store with `n` mentions over `days` days, oldest day first, in large batches.
pub fn fill(
    pipeline: &Pipeline,
    n: usize,
    seed: u64,
    end: DateTime<Utc>,
    days: i64,
    mut progress: impl FnMut(usize),
) -> anyhow::Result<usize> {
    // Ids continue after what the store holds, so a refill stores new mentions.
    let have = pipeline.store.mention_count() as u64;
    // Day by day, oldest first, as a store fills in real life (and as content dedup, which
    // keeps the days around the newest in memory, expects).
    let mut gen = generate::Generator::new(&pipeline.products, seed, end, days)
        .starting_after(have)
        .in_time_order(n);
    let mut done = 0;
    while done < n {
        let take = (n - done).min(10_000);
        pipeline.ingest(gen.take(take), false)?;
        done += take;
        progress(done);
    }
    pipeline.store.flush()?;
    Ok(done)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// Latency of `trend` (90 days hourly) and `mentions --limit 50` through the same code the
/// CLI runs against a local store, over the most and least popular products.
pub fn query(
    store: &Store,
    config: &Config,
    runs: usize,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<QueryRow>> {
    let mentions = store.mention_count();
    let names: Vec<String> = config.products.iter().map(|p| p.name.clone()).collect();
    let mut out = Vec::new();
    type QueryFn<'a> = Box<dyn Fn(&str) -> anyhow::Result<usize> + 'a>;
    let trend: QueryFn = Box::new(|p: &str| {
        let params = TrendParams {
            since: Some("90d".into()),
            bucket: Some("1h".into()),
        };
        Ok(api::trend_rows(store, config, p, &params, now)
            .map_err(|e| anyhow::anyhow!(e.1))?
            .len())
    });
    let recent: QueryFn = Box::new(|p: &str| {
        let params = MentionParams {
            since: None,
            sentiment: None,
            source: None,
            limit: Some(50),
        };
        Ok(api::mention_rows(store, config, p, &params, now)
            .map_err(|e| anyhow::anyhow!(e.1))?
            .len())
    });
    for (label, f) in [("trend 90d 1h", trend), ("mentions --limit 50", recent)] {
        let mut times = Vec::with_capacity(runs);
        for i in 0..runs {
            // Alternate between popular and rare products so both paths are measured.
            let p = &names[(i * 7919) % names.len()];
            let start = Instant::now();
            let n = f(p)?;
            times.push(start.elapsed().as_secs_f64() * 1000.0);
            std::hint::black_box(n);
        }
        times.sort_by(|a, b| a.total_cmp(b));
        out.push(QueryRow {
            query: label.to_string(),
            store_mentions: mentions,
            runs,
            p50_ms: (percentile(&times, 0.5) * 1000.0).round() / 1000.0,
            p99_ms: (percentile(&times, 0.99) * 1000.0).round() / 1000.0,
            max_ms: (times.last().copied().unwrap_or(0.0) * 1000.0).round() / 1000.0,
        });
    }
    Ok(out)
}
