//! `pulse bench <what>`: benchmarks that print figures. Each benchmark is a sub-subcommand
//! (`pulse bench lexicon`, more can be added as further [`Bench`] variants).

use super::{output, Format, Globals};
use crate::sentiment::eval;
use crate::sentiment::lexicon::{Lexicon, Scratch};
use crate::sentiment::{Classifier, ClassifierConfig};
use anyhow::Context;
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

/// The Python reference, embedded so the benchmark runs from any directory.
const VADER_REFERENCE_PY: &str = include_str!("../../scripts/vader_reference.py");

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub bench: Bench,
}

#[derive(Debug, clap::Subcommand)]
pub enum Bench {
    /// The lexicon classifier against Python vaderSentiment 3.3.2 on the same texts, one core each.
    Lexicon(LexiconArgs),
    /// Ingest throughput (match → classify → store) against raw sled inserts of the same bytes.
    Ingest(super::bench_store::IngestArgs),
    /// p50/p99 latency of `trend` and `mentions` on a large generated store.
    Query(super::bench_store::QueryArgs),
    /// Ingest, query and store-size figures as the store grows (100k, 1M, 10M mentions).
    Growth(super::bench_store::GrowthArgs),
    /// False alerts on stationary series and detection delay for injected shifts.
    Detect(DetectArgs),
    /// Peak RSS and CPU per 1,000 mentions of `pulse run` polling local feed servers.
    Footprint(super::bench_store::FootprintArgs),
    /// The transformer engine beside Python onnxruntime on the same model and token batches.
    Transformer(crate::sentiment::transformer::bench::Args),
}

#[derive(Debug, clap::Args)]
pub struct LexiconArgs {
    /// VADER ground-truth files (`ID<TAB>MEAN<TAB>TEXT`) to take texts from.
    #[arg(long, value_name = "FILE")]
    pub vader: Vec<PathBuf>,
    /// Files with one text per line.
    #[arg(long, value_name = "FILE")]
    pub lines: Vec<PathBuf>,
    /// Data folder used when no file is given: its `vader/*_GroundTruth.txt` and
    /// `tweeteval-sentiment/val_text.txt`.
    #[arg(long, value_name = "DIR", default_value = "../shared/data")]
    pub data: PathBuf,
    /// Passes over the texts for each implementation (after one warm-up pass).
    #[arg(long, default_value_t = 5)]
    pub rounds: usize,
    /// Python interpreter with vaderSentiment==3.3.2 (scripts/ci-deps.d/lexicon.sh).
    #[arg(long, env = "PULSE_PYTHON", default_value = "python3")]
    pub python: String,
    /// Measure only the Rust scorer.
    #[arg(long)]
    pub no_python: bool,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Serialize)]
struct BenchRow {
    implementation: String,
    texts: usize,
    /// Wall-clock seconds.
    seconds: f64,
    /// CPU seconds of the measuring thread (what "one core" means on a shared machine);
    /// `None` where the platform does not tell.
    cpu_seconds: Option<f64>,
    /// Texts per CPU second (per wall second where CPU time is unknown).
    texts_per_second: f64,
    /// Throughput relative to the Python reference (1.0 for the reference itself).
    vs_python: Option<f64>,
}

pub async fn run(args: &Args, _g: &Globals) -> anyhow::Result<()> {
    match &args.bench {
        Bench::Lexicon(a) => lexicon(a).await,
        Bench::Ingest(a) => super::bench_store::ingest(a),
        Bench::Query(a) => super::bench_store::query(a),
        Bench::Growth(a) => super::bench_store::growth(a),
        Bench::Detect(a) => detect(a, _g),
        Bench::Footprint(a) => super::bench_store::footprint(a).await,
        Bench::Transformer(a) => crate::sentiment::transformer::bench::run_bench(a),
    }
}

fn texts_of(a: &LexiconArgs) -> anyhow::Result<Vec<String>> {
    let (mut vader, mut lines) = (a.vader.clone(), a.lines.clone());
    if vader.is_empty() && lines.is_empty() {
        vader = vec![
            a.data.join("vader/tweets_GroundTruth.txt"),
            a.data.join("vader/amazonReviewSnippets_GroundTruth.txt"),
        ];
        lines = vec![a.data.join("tweeteval-sentiment/val_text.txt")];
    }
    let mut texts = Vec::new();
    for p in &vader {
        texts.extend(eval::read_vader(p)?.into_iter().map(|e| e.text));
    }
    for p in &lines {
        let data = std::fs::read_to_string(p)
            .with_context(|| format!("cannot read texts from {}", p.display()))?;
        texts.extend(eval::split_lines(&data).into_iter().map(str::to_string));
    }
    anyhow::ensure!(!texts.is_empty(), "no texts to benchmark");
    Ok(texts)
}

async fn lexicon(a: &LexiconArgs) -> anyhow::Result<()> {
    let texts = texts_of(a)?;
    let rounds = a.rounds.max(1);
    let n = texts.len() * rounds;

    // Python first, so the Rust figures are not taken while the interpreter starts up.
    let python = if a.no_python {
        None
    } else {
        Some(python_reference(&a.python, &texts, rounds)?)
    };

    let (scorer_s, batch_s) = tokio::task::spawn_blocking(move || rust_timings(&texts, rounds))
        .await
        .context("benchmark task failed")?;

    let py_tps = python.map(|t| n as f64 / t.best());
    let row = |name: &str, t: Timing| {
        let tps = n as f64 / t.best();
        BenchRow {
            implementation: name.to_string(),
            texts: n,
            seconds: crate::trend::round4(t.seconds),
            cpu_seconds: t.cpu_seconds.map(crate::trend::round4),
            texts_per_second: tps.round(),
            vs_python: py_tps.map(|p| (tps / p * 10.0).round() / 10.0),
        }
    };
    let mut rows = Vec::new();
    if let Some(s) = python {
        rows.push(row("python vaderSentiment 3.3.2", s));
    }
    rows.push(row("pulse lexicon (Vader::scores_with)", scorer_s));
    rows.push(row("pulse lexicon (Classifier::classify_batch)", batch_s));
    let footer = "one thread each; texts/s per CPU second of the measuring thread; \
                  vs_python = texts/s ÷ Python's texts/s on the same texts in this run";
    output::print_rows(&mut std::io::stdout().lock(), &rows, a.format, Some(footer))
}

/// Wall and CPU seconds of one measured piece of work.
#[derive(Debug, Clone, Copy, serde::Deserialize)]
struct Timing {
    seconds: f64,
    cpu_seconds: Option<f64>,
}

impl Timing {
    fn measure(f: impl FnOnce()) -> Timing {
        let (start, cpu_start) = (Instant::now(), thread_cpu_seconds());
        f();
        let seconds = start.elapsed().as_secs_f64();
        let cpu_seconds = thread_cpu_seconds().zip(cpu_start).map(|(b, a)| b - a);
        Timing {
            seconds,
            cpu_seconds,
        }
    }

    fn best(self) -> f64 {
        self.cpu_seconds
            .filter(|&c| c > 0.0)
            .unwrap_or(self.seconds)
    }
}

/// CPU time of the calling thread from `/proc/thread-self/schedstat` (nanoseconds on CPU);
/// `None` off Linux. Avoids `unsafe` FFI for `clock_gettime`.
fn thread_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(ns as f64 / 1e9)
}

/// Timings of `rounds` passes of the bare scorer and of the classifier API (batches of 256).
fn rust_timings(texts: &[String], rounds: usize) -> (Timing, Timing) {
    let lexicon = Lexicon::new(&ClassifierConfig::default());
    let vader = lexicon.vader();
    let mut scratch = Scratch::default();
    // Warm-up pass: page in the map and the texts.
    for t in texts {
        std::hint::black_box(vader.scores_with(t, &mut scratch));
    }
    let scorer = Timing::measure(|| {
        for _ in 0..rounds {
            for t in texts {
                std::hint::black_box(vader.scores_with(std::hint::black_box(t), &mut scratch));
            }
        }
    });

    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let batch = Timing::measure(|| {
        for _ in 0..rounds {
            for chunk in refs.chunks(256) {
                // The lexicon never fails; a failure would be a bug worth seeing in the figures.
                let out = lexicon.classify_batch(chunk).map(|v| v.len()).unwrap_or(0);
                std::hint::black_box(out);
            }
        }
    });
    (scorer, batch)
}

/// Run the embedded reference script's `--bench` mode; the texts go in on stdin.
fn python_reference(python: &str, texts: &[String], rounds: usize) -> anyhow::Result<Timing> {
    let mut child = Command::new(python)
        .args(["-c", VADER_REFERENCE_PY, "--format", "lines", "--bench"])
        .arg(rounds.to_string())
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| {
            format!("cannot run `{python}` for the Python reference; install python3 or pass --no-python")
        })?;
    let mut input = texts.join("\n");
    input.push('\n');
    let mut stdin = child
        .stdin
        .take()
        .context("cannot open the reference's stdin")?;
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child
        .wait_with_output()
        .context("cannot read the Python reference's output")?;
    writer
        .join()
        .map_err(|_| anyhow::anyhow!("writing texts to the Python reference panicked"))?
        .context("cannot write texts to the Python reference")?;
    if !out.status.success() {
        anyhow::bail!(
            "the Python reference failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    #[derive(serde::Deserialize)]
    struct PyBench {
        texts: usize,
        #[serde(flatten)]
        timing: Timing,
    }
    let parsed: PyBench = serde_json::from_slice(&out.stdout)
        .context("cannot parse the Python reference's benchmark output")?;
    anyhow::ensure!(
        parsed.texts == texts.len() * rounds,
        "the Python reference scored {} texts, expected {}",
        parsed.texts,
        texts.len() * rounds
    );
    Ok(parsed.timing)
}

#[derive(Debug, clap::Args)]
pub struct DetectArgs {
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Product-months simulated per stationary rate.
    #[arg(long, default_value_t = 12)]
    pub months: usize,
    /// Trials per injected shift.
    #[arg(long, default_value_t = 40)]
    pub trials: usize,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// The detection benchmark with the configured `[detect]` thresholds (defaults without a config).
fn detect(a: &DetectArgs, g: &Globals) -> anyhow::Result<()> {
    use crate::trend::detect::bench;
    let cfg = if g.config_path.exists() {
        g.load_config()?.detect
    } else {
        Default::default()
    };
    let opts = bench::BenchOptions {
        seed: a.seed,
        months: a.months,
        trials: a.trials,
    };
    let rows = bench::run(&cfg, &opts);
    output::print_rows(
        &mut std::io::stdout().lock(),
        &rows,
        a.format,
        Some("Seeded Poisson traffic (40% positive, 20% negative), evaluated every `detect.every` (5 min by default). Targets: <= 1 false alert per product-month; shifts found within 2 h at 20 mentions/h."),
    )
}
