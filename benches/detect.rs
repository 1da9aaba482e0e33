//! Detection benchmark: prints false alerts per product-month on stationary Poisson series
//! and detection delays for injected shifts, at the default `[detect]` thresholds.
//! `cargo bench --bench detect` (set `PULSE_BENCH_QUICK=1` for a short run).

use pulse::trend::detect::bench::{markdown, run, BenchOptions};
use pulse::trend::DetectConfig;
use std::time::Instant;

fn main() {
    let quick = std::env::var_os("PULSE_BENCH_QUICK").is_some();
    let opts = if quick {
        BenchOptions {
            months: 2,
            trials: 10,
            ..BenchOptions::default()
        }
    } else {
        BenchOptions::default()
    };
    let cfg = DetectConfig::default();
    let t = Instant::now();
    let rows = run(&cfg, &opts);
    println!("{}", markdown(&rows));
    println!(
        "seed {}, {} product-months per stationary rate, {} trials per shift, evaluated every 15 min; {:.1}s",
        opts.seed,
        opts.months,
        opts.trials,
        t.elapsed().as_secs_f64()
    );
}
