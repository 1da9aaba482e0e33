//! `pulse import FILE.jsonl`: backfill mentions. Bad lines are reported by number and
//! skipped; good ones are matched, classified and stored in durable batches.

use super::Globals;
use crate::model::RawMention;
use crate::pipeline::{IngestReport, Pipeline};
use anyhow::Context;
use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Deserialize;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// JSON-lines file (`-` for stdin): one object per line with source, id, url, author,
    /// published_at (RFC 3339), text and optional product.
    pub file: PathBuf,
    /// Mentions per durable batch.
    #[arg(long, default_value_t = 1000)]
    pub batch: usize,
}

/// One line of an import file.
#[derive(Debug, Deserialize)]
pub struct ImportLine {
    pub source: String,
    pub id: serde_json::Value,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub author: Option<String>,
    pub published_at: DateTime<Utc>,
    pub text: String,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub engagement: Option<i64>,
    /// A product name (or alias); when absent the text is matched against all products.
    #[serde(default)]
    pub product: Option<String>,
    #[serde(default)]
    pub products: Vec<String>,
}

impl ImportLine {
    /// Validate and turn into a raw mention.
    pub fn into_raw(self) -> Result<RawMention, String> {
        let id = match self.id {
            serde_json::Value::String(s) if !s.is_empty() => s,
            serde_json::Value::Number(n) => n.to_string(),
            _ => return Err("`id` must be a non-empty string or a number".into()),
        };
        if self.source.trim().is_empty() {
            return Err("`source` is empty".into());
        }
        let text = crate::sources::text::normalize_whitespace(&self.text);
        if text.is_empty() {
            return Err("`text` is empty".into());
        }
        let mut products = self.products;
        if let Some(p) = self.product {
            products.push(p);
        }
        Ok(RawMention {
            source: self.source,
            id,
            url: self.url,
            author: self.author,
            published_at: self.published_at,
            text,
            language: self.language,
            engagement: self.engagement,
            products,
        })
    }
}

/// Parse one line; the error says what is wrong with it.
pub fn parse_line(line: &str) -> Result<RawMention, String> {
    let parsed: ImportLine = serde_json::from_str(line).map_err(|e| e.to_string())?;
    parsed.into_raw()
}

pub async fn run(args: &Args, g: &Globals) -> anyhow::Result<()> {
    let config = g.load_config()?;
    let store = crate::daemon::open_store(&config)?;
    let classifier = crate::sentiment::build(&config.classifier)?;
    let pipeline = Pipeline::new(&config, store.clone(), classifier);
    let args_file = args.file.clone();
    let batch_size = args.batch.max(1);
    tokio::task::spawn_blocking(move || import_file(&pipeline, &args_file, batch_size)).await?
}

fn import_file(pipeline: &Pipeline, file: &PathBuf, batch_size: usize) -> anyhow::Result<()> {
    let (reader, total): (Box<dyn BufRead>, u64) = if file.as_os_str() == "-" {
        (Box::new(BufReader::new(std::io::stdin())), 0)
    } else {
        let f =
            std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        (Box::new(BufReader::new(f)), len)
    };
    let bar = if total > 0 {
        ProgressBar::new(total)
    } else {
        ProgressBar::new_spinner()
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg}",
        )
        .expect("valid template"),
    );
    let mut totals = IngestReport::default();
    let mut bad = 0usize;
    let mut batch = Vec::with_capacity(batch_size);
    let mut last_line = 0usize;
    let flush = |batch: &mut Vec<RawMention>,
                 totals: &mut IngestReport,
                 line: usize|
     -> anyhow::Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut batch_ok = Vec::with_capacity(batch.len());
        for raw in batch.drain(..) {
            match pipeline.products_for(&raw) {
                Err(e) => {
                    bar.suspend(|| {
                        eprintln!("{}: mention {}: {e}; skipped", file.display(), raw.id)
                    });
                    totals.received += 1;
                    totals.unmatched += 1;
                }
                Ok(_) => batch_ok.push(raw),
            }
        }
        let r = pipeline.ingest(batch_ok, true)?;
        totals.received += r.received;
        totals.stored += r.stored;
        totals.duplicates += r.duplicates;
        totals.unmatched += r.unmatched;
        // Logged only after the batch is durable: what this line acknowledges survives a crash.
        tracing::info!(
            through_line = line,
            stored = r.stored,
            duplicates = r.duplicates,
            "import batch stored"
        );
        Ok(())
    };
    for (i, line) in reader.lines().enumerate() {
        let n = i + 1;
        let line = line.with_context(|| format!("cannot read line {n} of {}", file.display()))?;
        bar.inc(line.len() as u64 + 1);
        last_line = n;
        if line.trim().is_empty() {
            continue;
        }
        match parse_line(&line) {
            Ok(raw) => batch.push(raw),
            Err(e) => {
                bad += 1;
                bar.suspend(|| eprintln!("{}:{n}: {e}; line skipped", file.display()));
            }
        }
        if batch.len() >= batch_size {
            flush(&mut batch, &mut totals, n)?;
        }
    }
    flush(&mut batch, &mut totals, last_line)?;
    bar.finish_and_clear();
    println!(
        "imported {} mentions from {} lines: {} stored, {} duplicates, {} matching no product, {} bad lines skipped",
        totals.received, last_line, totals.stored, totals.duplicates, totals.unmatched, bad
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_good_and_rejects_bad_lines() {
        let ok = parse_line(r#"{"source":"hn","id":123,"url":null,"author":"a","published_at":"2026-01-01T00:00:00Z","text":" hi  there ","product":"Widget"}"#).unwrap();
        assert_eq!(ok.id, "123");
        assert_eq!(ok.text, "hi there");
        assert_eq!(ok.products, vec!["Widget"]);
        assert!(parse_line("{not json").is_err());
        assert!(
            parse_line(r#"{"source":"hn","id":"1","published_at":"yesterday","text":"x"}"#)
                .is_err()
        );
        assert!(parse_line(
            r#"{"source":"hn","id":"1","published_at":"2026-01-01T00:00:00Z","text":"  "}"#
        )
        .is_err());
    }
}
