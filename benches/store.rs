//! Store benchmark: ingest (match → classify → store, durable) against raw sled inserts of
//! the same bytes in the same run, then trend and mentions query latency on the filled
//! store. `cargo bench --bench store` (set `PULSE_BENCH_QUICK=1` for a short run);
//! `pulse bench ingest|query|growth` are the same code with more knobs.

use chrono::Utc;
use pulse::bench;
use pulse::pipeline::Pipeline;
use pulse::store::Store;

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this as a smoke test.
    let quick = std::env::var_os("PULSE_BENCH_QUICK").is_some()
        || !std::env::args().any(|a| a == "--bench");
    let (n, runs) = if quick { (2_000, 20) } else { (100_000, 300) };
    let dir = tempfile::tempdir()?;
    let end = Utc::now();

    let rows = bench::ingest(dir.path(), n, &[1, 100, 10_000], 200, 42, end, 1, 32)?;
    println!(
        "ingest, {n} generated mentions per batch size, 200 products, one thread, cache 32 MiB"
    );
    println!("  batch   mentions/CPU-s   raw sled/CPU-s   ratio");
    for r in &rows {
        println!(
            "  {:>5}   {:>14.0}   {:>14.0}   {:>5.3}",
            r.batch, r.mentions_per_cpu_second, r.raw_sled_per_cpu_second, r.ratio_vs_raw
        );
    }

    let path = dir.path().join("query");
    let config = bench::bench_config(200, 42, &path);
    let store = Store::open(&path)?;
    let classifier = pulse::sentiment::build(&config.classifier)?;
    let pipeline = Pipeline::new(&config, store.clone(), classifier);
    bench::fill(&pipeline, n, 42, end, 90, |_| {})?;
    store.flush()?;
    println!(
        "query, store of {} mention records over 90 days",
        store.mention_count()
    );
    println!("  query                  p50 ms   p99 ms");
    for q in bench::query(&store, &config, runs, end)? {
        println!("  {:<20} {:>8.3} {:>8.3}", q.query, q.p50_ms, q.p99_ms);
    }
    Ok(())
}
