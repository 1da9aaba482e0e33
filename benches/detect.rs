//! Detection benchmark: prints false alerts per product-month on stationary Poisson series
//! and detection delays for injected shifts, at the default `[detect]` thresholds.
//! `cargo bench --bench detect` (set `PULSE_BENCH_QUICK=1` for a short run).

use pulse::trend::detect::bench::{markdown, run, BenchOptions};
use pulse::trend::DetectConfig;
use std::time::Instant;

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this as a smoke test.
    let quick = std::env::var_os("PULSE_BENCH_QUICK").is_some()
        || !std::env::args().any(|a| a == "--bench");
    let opts = if quick {
        BenchOptions {
            months: 2,
            trials: 10,
            ..BenchOptions::default()
        }
    } else {
        BenchOptions::default()
    };
    // Thresholds can be overridden to explore the trade-off, e.g. PULSE_DETECT_SHIFT_P=5e-4.
    let mut cfg = DetectConfig::default();
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<f64>().ok());
    if let Some(v) = env("PULSE_DETECT_SHIFT_P") {
        cfg.shift_p = v;
    }
    if let Some(v) = env("PULSE_DETECT_SPIKE_P") {
        cfg.spike_p = v;
    }
    if let Some(v) = env("PULSE_DETECT_SHIFT_MIN_DELTA") {
        cfg.shift_min_delta = v;
    }
    if let Some(v) = env("PULSE_DETECT_SHIFT_DESIGN_DELTA") {
        cfg.shift_design_delta = v;
    }
    if let Some(v) = env("PULSE_DETECT_KEEP_P") {
        cfg.keep_p = v;
    }
    println!(
        "spike_p {:e}, shift_p {:e}, shift_min_delta {}, keep_p {}",
        cfg.spike_p, cfg.shift_p, cfg.shift_min_delta, cfg.keep_p
    );
    let t = Instant::now();
    let rows = run(&cfg, &opts);
    println!("{}", markdown(&rows));
    println!(
        "seed {}, {} product-months per stationary rate, {} trials per shift, evaluated every {}; {:.1}s",
        opts.seed,
        opts.months,
        opts.trials,
        humantime::format_duration(cfg.every),
        t.elapsed().as_secs_f64()
    );
}
