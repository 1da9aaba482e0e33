//! Smoke runs of the store benchmarks so they never rot: tiny sizes, no assertion on time,
//! only that each prints its figures.

mod common;
use common::bin;
use std::process::Command;

fn bench_json(args: &[&str]) -> serde_json::Value {
    let out = Command::new(bin())
        .arg("bench")
        .args(args)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pulse bench {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn ingest_and_query_benchmarks_print_figures() {
    let rows = bench_json(&[
        "ingest",
        "--mentions",
        "2000",
        "--batches",
        "1,500",
        "--products",
        "20",
    ]);
    assert_eq!(rows.as_array().unwrap().len(), 2);
    for r in rows.as_array().unwrap() {
        assert!(r["mentions_per_second"].as_f64().unwrap() > 0.0);
        assert!(r["raw_sled_per_second"].as_f64().unwrap() > 0.0);
        assert!(r["ratio_vs_raw"].as_f64().unwrap() > 0.0);
    }
    let rows = bench_json(&[
        "query",
        "--mentions",
        "5000",
        "--products",
        "20",
        "--runs",
        "20",
    ]);
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["store_mentions"], 5000);
    assert!(rows[0]["p99_ms"].as_f64().unwrap() >= rows[0]["p50_ms"].as_f64().unwrap());
}

#[test]
fn growth_benchmark_prints_bytes_per_mention() {
    let rows = bench_json(&[
        "growth",
        "--sizes",
        "1000,3000",
        "--products",
        "10",
        "--runs",
        "10",
    ]);
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows[1]["bytes_per_mention"].as_f64().unwrap() > 0.0);
}

#[test]
fn footprint_benchmark_runs_the_daemon() {
    let rows = bench_json(&[
        "footprint",
        "--duration",
        "12s",
        "--products",
        "10",
        "--sources",
        "2",
    ]);
    let r = &rows[0];
    assert!(r["peak_rss_mb"].as_f64().unwrap() > 1.0, "{r}");
    assert!(
        r["mentions_stored"].as_u64().unwrap() > 0,
        "the daemon stored nothing: {r}"
    );
}
