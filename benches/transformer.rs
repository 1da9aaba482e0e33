//! Transformer engine throughput beside Python onnxruntime: `cargo bench --bench transformer -- [ARGS]`.
//!
//! The same benchmark as `pulse bench transformer` (src/sentiment/transformer/bench.rs), runnable
//! without the CLI: `cargo bench --bench transformer -- --model models/minilm-sentiment`. Arguments
//! are those of `pulse bench transformer --help`.
//!
//! Under `cargo test --all-targets` (no `--bench` flag, libtest flags instead) it does a smoke run:
//! the fixture model on 16 texts, one round, and fails if Rust and Python disagree.

use clap::Parser;
use pulse::sentiment::transformer::bench;

#[derive(Debug, Parser)]
#[command(name = "transformer-bench")]
struct Cli {
    #[command(flatten)]
    args: bench::Args,
}

fn main() -> anyhow::Result<()> {
    let argv: Vec<String> = std::env::args().collect();
    if !argv.iter().any(|a| a == "--bench") {
        return smoke();
    }
    // `cargo bench` appends `--bench` for libtest-style harnesses; it means nothing here.
    let cli = Cli::parse_from(argv.into_iter().filter(|a| a != "--bench"));
    bench::run_bench(&cli.args)
}

fn smoke() -> anyhow::Result<()> {
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tiny-bert");
    // the fixture's own reference texts, so the smoke run needs no data set
    let reference: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(format!(
        "{fixture}/reference.json"
    ))?)?;
    let texts: Vec<String> = reference["texts"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t["text"].as_str())
                .map(|t| t.replace(['\n', '\r'], " "))
                .collect()
        })
        .unwrap_or_default();
    let texts_file = std::env::temp_dir().join(format!(
        "pulse-transformer-smoke-{}.txt",
        std::process::id()
    ));
    std::fs::write(&texts_file, texts.join("\n"))?;
    let texts_arg = texts_file.display().to_string();
    let cli = Cli::parse_from([
        "transformer-bench",
        "--model",
        fixture,
        "--texts",
        &texts_arg,
        "--limit",
        "16",
        "--batch-sizes",
        "1,8",
        "--rounds",
        "1",
    ]);
    let rows = bench::measure(&cli.args);
    let _ = std::fs::remove_file(&texts_file);
    let rows = rows?;
    for row in &rows {
        let diff = row
            .max_abs_diff
            .ok_or_else(|| anyhow::anyhow!("no python comparison"))?;
        anyhow::ensure!(
            diff <= 1e-4,
            "rust and python onnxruntime disagree by {diff} on {}",
            row.model
        );
        anyhow::ensure!(row.rust_e2e > 0.0 && row.python_infer.unwrap_or(0.0) > 0.0);
    }
    println!(
        "transformer bench smoke run: {} rows, outputs agree",
        rows.len()
    );
    Ok(())
}
