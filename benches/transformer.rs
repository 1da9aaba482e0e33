//! Transformer engine throughput beside Python onnxruntime: `cargo bench --bench transformer -- [ARGS]`.
//!
//! The same benchmark as `pulse bench transformer` (src/sentiment/transformer/bench.rs), runnable
//! without the CLI wiring: `cargo bench --bench transformer -- --model models/minilm-sentiment`.
//! Arguments are those of `pulse bench transformer --help`.

use clap::Parser;
use pulse::sentiment::transformer::bench;

#[derive(Debug, Parser)]
#[command(name = "transformer-bench")]
struct Cli {
    #[command(flatten)]
    args: bench::Args,
}

fn main() -> anyhow::Result<()> {
    // `cargo bench` appends `--bench` for libtest-style harnesses; it means nothing here.
    let argv = std::env::args().filter(|a| a != "--bench");
    let cli = Cli::parse_from(argv);
    bench::run_bench(&cli.args)
}
