//! `pulse eval`: measure a classifier against human-labelled data (VADER ground truth or
//! TweetEval) and print accuracy, macro-F1, macro-recall, Pearson r, a confusion matrix and
//! throughput.

use super::{output, Format, Globals};
use crate::sentiment::eval::{self, Example, Report};
use crate::sentiment::{ClassifierConfig, ClassifierKind};
use anyhow::Context;
use clap::ArgGroup;
use comfy_table::{presets::UTF8_BORDERS_ONLY, Table};
use serde::Serialize;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(group(ArgGroup::new("data").required(true).args(["vader", "tweeteval_text"])))]
pub struct Args {
    /// VADER ground-truth file (`ID<TAB>MEAN<TAB>TEXT`, mean rating −4…+4). Gold label: mean
    /// above +0.05 positive, below −0.05 negative, otherwise neutral.
    #[arg(long, value_name = "FILE", conflicts_with = "tweeteval_text")]
    pub vader: Option<PathBuf>,
    /// TweetEval texts, one per line (e.g. `val_text.txt`).
    #[arg(long, value_name = "FILE", requires = "tweeteval_labels")]
    pub tweeteval_text: Option<PathBuf>,
    /// TweetEval labels, one per line: 0 negative, 1 neutral, 2 positive.
    #[arg(long, value_name = "FILE", requires = "tweeteval_text")]
    pub tweeteval_labels: Option<PathBuf>,
    /// Classifier to evaluate (default: the configured one); the rest of `[classifier]` applies.
    #[arg(long, value_enum)]
    pub classifier: Option<Choice>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Choice {
    Lexicon,
    Transformer,
}

pub async fn run(args: &Args, g: &Globals) -> anyhow::Result<()> {
    // Like `classify`, evaluation works without a config file (embedded lexicon).
    let mut config: ClassifierConfig = if g.config_path.exists() {
        g.load_config()?.classifier
    } else {
        ClassifierConfig::default()
    };
    if let Some(choice) = args.classifier {
        config.kind = match choice {
            Choice::Lexicon => ClassifierKind::Lexicon,
            Choice::Transformer => ClassifierKind::Transformer,
        };
    }
    // The override can make a valid config invalid (transformer without a model folder).
    let problems = config.validate();
    if !problems.is_empty() {
        let list: Vec<String> = problems
            .iter()
            .map(|(key, msg)| format!("classifier.{key}: {msg}"))
            .collect();
        anyhow::bail!("cannot evaluate with this classifier: {}", list.join("; "));
    }
    let (examples, source) = load(args)?;
    let classifier =
        crate::sentiment::build(&config).context("cannot build the classifier to evaluate")?;
    let batch_size = config.batch_size;

    let bar = indicatif::ProgressBar::new(examples.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} classifying [{bar:40}] {pos}/{len} texts ({per_sec}, eta {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let worker_bar = bar.clone();
    // Classification is CPU-bound: keep it off the async workers.
    let report = tokio::task::spawn_blocking(move || {
        eval::evaluate(classifier.as_ref(), &examples, batch_size, |n| {
            worker_bar.inc(n as u64)
        })
    })
    .await
    .context("evaluation task failed")??;
    bar.finish_and_clear();

    print_report(&report, &source, args.format)
}

fn load(args: &Args) -> anyhow::Result<(Vec<Example>, String)> {
    if let Some(path) = &args.vader {
        let ex = eval::read_vader(path)?;
        return Ok((ex, path.display().to_string()));
    }
    match (&args.tweeteval_text, &args.tweeteval_labels) {
        (Some(t), Some(l)) => Ok((eval::read_tweeteval(t, l)?, t.display().to_string())),
        _ => anyhow::bail!("give --vader FILE or --tweeteval-text FILE --tweeteval-labels FILE"),
    }
}

fn round(x: f64, digits: i32) -> f64 {
    let m = 10f64.powi(digits);
    (x * m).round() / m
}

/// The JSON object: the report with figures rounded for reading.
fn rounded(r: &Report) -> Report {
    Report {
        accuracy: round(r.accuracy, 4),
        macro_f1: round(r.macro_f1, 4),
        macro_recall: round(r.macro_recall, 4),
        pearson_r: r.pearson_r.map(|x| round(x, 4)),
        texts_per_second: round(r.texts_per_second, 1),
        ..r.clone()
    }
}

#[derive(Serialize)]
struct CsvRow {
    classifier: String,
    n: usize,
    accuracy: f64,
    macro_f1: f64,
    macro_recall: f64,
    pearson_r: Option<f64>,
    texts_per_second: f64,
    /// `gold>predicted=count` cells, negative/neutral/positive order.
    confusion: String,
}

fn print_report(report: &Report, source: &str, format: Format) -> anyhow::Result<()> {
    let r = rounded(report);
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json => {
            use std::io::Write;
            serde_json::to_writer_pretty(&mut out, &r)?;
            writeln!(out)?;
            Ok(())
        }
        Format::Csv => {
            let mut cells = Vec::new();
            for (gi, g) in r.confusion.labels.iter().enumerate() {
                for (pi, p) in r.confusion.labels.iter().enumerate() {
                    cells.push(format!("{g}>{p}={}", r.confusion.matrix[gi][pi]));
                }
            }
            let row = CsvRow {
                classifier: r.classifier.clone(),
                n: r.n,
                accuracy: r.accuracy,
                macro_f1: r.macro_f1,
                macro_recall: r.macro_recall,
                pearson_r: r.pearson_r,
                texts_per_second: r.texts_per_second,
                confusion: cells.join(" "),
            };
            output::print_rows(&mut out, &[row], Format::Csv, None)
        }
        Format::Table => {
            use std::io::Write;
            let mut t = Table::new();
            t.load_preset(UTF8_BORDERS_ONLY);
            t.set_header(["metric", "value"]);
            t.add_row(["data".to_string(), source.to_string()]);
            t.add_row(["classifier".to_string(), r.classifier.clone()]);
            t.add_row(["texts".to_string(), r.n.to_string()]);
            t.add_row(["accuracy".to_string(), format!("{:.4}", r.accuracy)]);
            t.add_row(["macro-F1".to_string(), format!("{:.4}", r.macro_f1)]);
            t.add_row(["macro-recall".to_string(), format!("{:.4}", r.macro_recall)]);
            t.add_row([
                "Pearson r (vs human mean)".to_string(),
                r.pearson_r
                    .map(|x| format!("{x:.4}"))
                    .unwrap_or_else(|| "n/a (no mean ratings)".into()),
            ]);
            t.add_row(["texts/s".to_string(), format!("{:.0}", r.texts_per_second)]);
            writeln!(out, "{t}")?;
            let mut c = Table::new();
            c.load_preset(UTF8_BORDERS_ONLY);
            let mut header = vec!["gold \\ predicted".to_string()];
            header.extend(r.confusion.labels.iter().map(|l| l.to_string()));
            c.set_header(header);
            for (gi, g) in r.confusion.labels.iter().enumerate() {
                let mut row = vec![g.to_string()];
                row.extend(r.confusion.matrix[gi].iter().map(|n| n.to_string()));
                c.add_row(row);
            }
            writeln!(
                out,
                "confusion matrix (rows: gold, columns: predicted)\n{c}"
            )?;
            Ok(())
        }
    }
}
