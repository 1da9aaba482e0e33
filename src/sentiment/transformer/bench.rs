//! `pulse bench transformer`: texts/s of the transformer engine at several batch sizes, beside Python
//! `onnxruntime` running the same model on the same token tensors in the same run.
//!
//! Figures per model and batch size (texts/s), each the best of `--rounds` passes after a warm-up:
//! - `rust_tokenize`: tokenising and padding alone;
//! - `rust_e2e`: tokenise + pad + infer, what `classify_batch` / `embed_batch` cost;
//! - `rust_infer`: inference alone on the pre-tokenised batches;
//! - `python_e2e`: `scripts/ort_reference_bench.py` tokenising the same texts with the Python
//!   `tokenizers` package and the same tokenizer.json, then running (only if that package is installed);
//! - `python_infer`: the Python script on exactly the Rust side's batches.
//!
//! - `rust_classify`: for a folder with a trained head (`head.json`), the whole classifier: text
//!   preparation + tokenise + encode + mean-pool + head, through `Classifier::classify_batch`.
//!
//! `e2e_vs_python` = rust_e2e / python_e2e and `infer_vs_python` = rust_infer / python_infer.
//! The outputs of both sides are compared too (`max_abs_diff`), so a fast but wrong engine shows.

use super::{mean_pool, EncodedBatch, Engine, EngineOptions, OutputKind};
use crate::cli::output::{print_rows, Format};
use anyhow::{bail, Context};
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// The Python side, embedded so the benchmark runs from any directory.
const ORT_REFERENCE_PY: &str = include_str!("../../../scripts/ort_reference_bench.py");

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Model folders to measure (default: tests/fixtures/tiny-bert and every folder under models/
    /// that holds a model).
    #[arg(long = "model", value_name = "DIR")]
    pub models: Vec<PathBuf>,
    /// Texts, one per line (default: <data>/tweeteval-sentiment/val_text.txt).
    #[arg(long, value_name = "FILE")]
    pub texts: Option<PathBuf>,
    /// Data folder holding the default texts.
    #[arg(
        long,
        value_name = "DIR",
        env = "PULSE_SHARED_DATA",
        default_value = "../shared/data"
    )]
    pub data: PathBuf,
    /// Texts per measurement (the first N lines).
    #[arg(long, default_value_t = 256)]
    pub limit: usize,
    /// Batch sizes to measure.
    #[arg(long, value_delimiter = ',', default_value = "1,8,32")]
    pub batch_sizes: Vec<usize>,
    /// Intra-op threads for both sides (0 = ONNX Runtime's default, one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Passes over the texts per figure (the best is kept).
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// ONNX Runtime library (default: ORT_DYLIB_PATH, else the one in Python's onnxruntime package).
    #[arg(long, value_name = "PATH")]
    pub runtime: Option<PathBuf>,
    /// Python interpreter with onnxruntime (scripts/ci-deps.d/transformer.sh).
    #[arg(long, env = "PULSE_PYTHON", default_value = "python3")]
    pub python: String,
    /// Measure only the Rust side.
    #[arg(long)]
    pub no_python: bool,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Serialize)]
pub struct BenchRow {
    pub model: String,
    pub kind: String,
    pub batch: usize,
    pub texts: usize,
    pub rust_tokenize: f64,
    pub rust_e2e: f64,
    pub rust_infer: f64,
    pub rust_classify: Option<f64>,
    pub python_e2e: Option<f64>,
    pub python_infer: Option<f64>,
    pub e2e_vs_python: Option<f64>,
    pub infer_vs_python: Option<f64>,
    pub max_abs_diff: Option<f64>,
}

#[derive(Debug, serde::Deserialize)]
struct PyReport {
    onnxruntime: String,
    results: std::collections::BTreeMap<String, PyResult>,
    check: Vec<Vec<f32>>,
}

#[derive(Debug, serde::Deserialize)]
struct PyResult {
    texts_per_second: f64,
    e2e_texts_per_second: Option<f64>,
}

/// Runs the benchmark and prints one row per model and batch size.
pub fn run_bench(args: &Args) -> anyhow::Result<()> {
    let rows = measure(args)?;
    let footer = format!(
        "texts/s, best of {} rounds; threads {}; e2e = tokenise + pad + infer; classify = e2e + pooling + trained head; *_vs_python = rust / python",
        args.rounds,
        if args.threads == 0 {
            "default".to_string()
        } else {
            args.threads.to_string()
        }
    );
    print_rows(
        &mut std::io::stdout().lock(),
        &rows,
        args.format,
        Some(&footer),
    )
}

/// The figures, without printing them.
pub fn measure(args: &Args) -> anyhow::Result<Vec<BenchRow>> {
    if args.batch_sizes.contains(&0) || args.batch_sizes.is_empty() {
        bail!("--batch-sizes must be positive numbers, e.g. 1,8,32");
    }
    let texts = load_texts(args)?;
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let models = if args.models.is_empty() {
        default_models()
    } else {
        args.models.clone()
    };
    if models.is_empty() {
        bail!("no model to measure: pass --model DIR");
    }
    let runtime = match &args.runtime {
        Some(p) => p.clone(),
        None => super::runtime::discover(&args.python).context(
            "no onnx runtime library: pass --runtime, set ORT_DYLIB_PATH or `pip install onnxruntime==1.31.1`",
        )?,
    };
    let mut rows = Vec::new();
    for folder in &models {
        let opts = EngineOptions {
            runtime: Some(runtime.clone()),
            threads: args.threads,
            batch_size: 1,
            max_length: None,
        };
        let engine = Engine::load(folder, &opts)
            .with_context(|| format!("cannot load {}", folder.display()))?;
        let mut model_rows = measure_model(args, &engine, &refs)?;
        if folder.join(crate::sentiment::head::HEAD_FILE).is_file() {
            drop(engine);
            measure_head(args, folder, &opts, &refs, &mut model_rows)?;
        }
        rows.extend(model_rows);
    }
    Ok(rows)
}

fn load_texts(args: &Args) -> anyhow::Result<Vec<String>> {
    let path = args
        .texts
        .clone()
        .unwrap_or_else(|| args.data.join("tweeteval-sentiment/val_text.txt"));
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read texts from {}", path.display()))?;
    let texts: Vec<String> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(args.limit.max(1))
        .map(str::to_string)
        .collect();
    if texts.is_empty() {
        bail!("{} has no texts", path.display());
    }
    Ok(texts)
}

/// The committed fixture plus every model folder under `models/`.
fn default_models() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let fixture = Path::new("tests/fixtures/tiny-bert");
    if fixture.join("model.onnx").is_file() {
        out.push(fixture.to_path_buf());
    }
    if let Ok(dir) = std::fs::read_dir("models") {
        let mut found: Vec<PathBuf> = dir
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| super::ModelFiles::locate(p).is_ok())
            .collect();
        found.sort();
        out.extend(found);
    }
    out
}

fn best_of(rounds: usize, mut pass: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<f64> {
    pass()?; // warm-up: first-run allocations and lazy kernels
    let mut best = f64::INFINITY;
    for _ in 0..rounds.max(1) {
        let start = Instant::now();
        pass()?;
        best = best.min(start.elapsed().as_secs_f64());
    }
    Ok(best)
}

/// Per-text rows comparable with the Python side: logits, or the masked mean of the token states.
fn summarise(engine: &Engine, batch: &EncodedBatch) -> anyhow::Result<Vec<Vec<f32>>> {
    let out = engine.run(batch)?;
    Ok(match engine.output_kind {
        OutputKind::Logits => {
            let width = out.shape.get(1).copied().unwrap_or(1).max(1);
            out.data.chunks(width).map(<[f32]>::to_vec).collect()
        }
        OutputKind::Hidden => {
            let hidden = out.shape.get(2).copied().unwrap_or(1).max(1);
            (0..batch.rows)
                .map(|r| {
                    mean_pool(
                        &out.data[r * batch.seq * hidden..(r + 1) * batch.seq * hidden],
                        &batch.mask[r * batch.seq..(r + 1) * batch.seq],
                        hidden,
                        false,
                    )
                })
                .collect()
        }
    })
}

fn measure_model(args: &Args, engine: &Engine, texts: &[&str]) -> anyhow::Result<Vec<BenchRow>> {
    let name = engine
        .folder()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| engine.folder().display().to_string());
    let kind = match engine.output_kind {
        OutputKind::Logits => "classifier",
        OutputKind::Hidden => "encoder",
    };
    let mut encoded: Vec<(usize, Vec<EncodedBatch>)> = Vec::new();
    let mut rows = Vec::new();
    for &size in &args.batch_sizes {
        let batches: Vec<EncodedBatch> = texts
            .chunks(size)
            .map(|c| engine.encode(c))
            .collect::<Result<_, _>>()?;
        let tokenize = best_of(args.rounds, || {
            for chunk in texts.chunks(size) {
                engine.encode(chunk)?;
            }
            Ok(())
        })?;
        let e2e = best_of(args.rounds, || {
            for chunk in texts.chunks(size) {
                let b = engine.encode(chunk)?;
                engine.run(&b)?;
            }
            Ok(())
        })?;
        let infer = best_of(args.rounds, || {
            for b in &batches {
                engine.run(b)?;
            }
            Ok(())
        })?;
        rows.push(BenchRow {
            model: name.clone(),
            kind: kind.to_string(),
            batch: size,
            texts: texts.len(),
            rust_tokenize: round1(texts.len() as f64 / tokenize),
            rust_e2e: round1(texts.len() as f64 / e2e),
            rust_infer: round1(texts.len() as f64 / infer),
            rust_classify: None,
            python_e2e: None,
            python_infer: None,
            e2e_vs_python: None,
            infer_vs_python: None,
            max_abs_diff: None,
        });
        encoded.push((size, batches));
    }
    if args.no_python {
        return Ok(rows);
    }

    // Python on the same batches; its outputs at the largest batch size are checked against ours.
    let check_size = *args.batch_sizes.iter().max().unwrap_or(&1);
    let ours: Vec<Vec<f32>> = encoded
        .iter()
        .find(|(s, _)| *s == check_size)
        .map(|(_, bs)| {
            bs.iter()
                .map(|b| summarise(engine, b))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .collect();
    let extra = serde_json::json!({
        "texts": texts,
        "tokenizer": engine.folder().join("tokenizer.json"),
        "max_length": engine.max_length,
        "pad_id": engine.pad_id,
    });
    let report = run_python(args, engine.model_file(), &encoded, check_size, extra)?;
    if ours.len() != texts.len() || report.check.len() != ours.len() {
        bail!(
            "python returned {} outputs and rust {} for {} texts",
            report.check.len(),
            ours.len(),
            texts.len()
        );
    }
    let diff = ours
        .iter()
        .zip(&report.check)
        .flat_map(|(a, b)| a.iter().zip(b).map(|(x, y)| f64::from((x - y).abs())))
        .fold(0.0, f64::max);
    tracing::info!(model = %name, onnxruntime = %report.onnxruntime, "python reference measured");
    for row in &mut rows {
        let py = report.results.get(&row.batch.to_string());
        row.python_infer = py.map(|r| round1(r.texts_per_second));
        row.python_e2e = py.and_then(|r| r.e2e_texts_per_second).map(round1);
        row.infer_vs_python = row.python_infer.map(|p| ratio(row.rust_infer, p));
        row.e2e_vs_python = row.python_e2e.map(|p| ratio(row.rust_e2e, p));
        row.max_abs_diff = Some(diff);
    }
    Ok(rows)
}

/// The whole trained classifier (encoder + head) at each batch size.
fn measure_head(
    args: &Args,
    folder: &Path,
    opts: &EngineOptions,
    texts: &[&str],
    rows: &mut [BenchRow],
) -> anyhow::Result<()> {
    use crate::sentiment::Classifier;
    let opts = EngineOptions {
        batch_size: args.batch_sizes.iter().copied().max().unwrap_or(1),
        ..opts.clone()
    };
    let classifier = crate::sentiment::head::HeadClassifier::load(folder, &opts)
        .with_context(|| format!("cannot load the trained head in {}", folder.display()))?;
    for row in rows.iter_mut() {
        let size = row.batch;
        let secs = best_of(args.rounds, || {
            for chunk in texts.chunks(size) {
                classifier.classify_batch(chunk)?;
            }
            Ok(())
        })?;
        row.rust_classify = Some(round1(texts.len() as f64 / secs));
    }
    Ok(())
}

fn run_python(
    args: &Args,
    model: &Path,
    encoded: &[(usize, Vec<EncodedBatch>)],
    check_size: usize,
    extra: serde_json::Value,
) -> anyhow::Result<PyReport> {
    let batches: serde_json::Map<String, serde_json::Value> = encoded
        .iter()
        .map(|(size, bs)| {
            let list: Vec<serde_json::Value> = bs
                .iter()
                .map(|b| {
                    serde_json::json!({
                        "rows": b.rows, "seq": b.seq, "ids": b.ids, "mask": b.mask, "types": b.types
                    })
                })
                .collect();
            (size.to_string(), serde_json::Value::Array(list))
        })
        .collect();
    let mut input = tempfile_in_temp()?;
    let mut payload = serde_json::json!({ "batches": batches, "check": check_size.to_string() });
    if let (Some(p), serde_json::Value::Object(e)) = (payload.as_object_mut(), extra) {
        p.extend(e);
    }
    serde_json::to_writer(&mut input.1, &payload)?;
    input.1.flush()?;
    let out = Command::new(&args.python)
        .arg("-c")
        .arg(ORT_REFERENCE_PY)
        .arg("--model")
        .arg(model)
        .arg("--input")
        .arg(&input.0)
        .arg("--threads")
        .arg(args.threads.to_string())
        .arg("--rounds")
        .arg(args.rounds.to_string())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("cannot run {}", args.python))?;
    let _ = std::fs::remove_file(&input.0);
    if !out.status.success() {
        bail!(
            "the python reference failed ({}); install it with `pip install onnxruntime==1.31.1` or pass --no-python",
            out.status
        );
    }
    serde_json::from_slice(&out.stdout).context("cannot parse the python reference's output")
}

/// A scratch file for the batches handed to Python.
fn tempfile_in_temp() -> anyhow::Result<(PathBuf, std::io::BufWriter<std::fs::File>)> {
    let path = std::env::temp_dir().join(format!(
        "pulse-ort-bench-{}-{}.json",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    let file = std::fs::File::create(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    Ok((path, std::io::BufWriter::new(file)))
}

fn ratio(a: f64, b: f64) -> f64 {
    (a / b * 100.0).round() / 100.0
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}
