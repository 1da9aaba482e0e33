//! `pulse detect --replay FILE.jsonl`: classify and bucket mentions in memory, run the
//! detectors hour by hour as if time were passing, and print the alerts they would raise.
//! For tuning `[detect]` on real history without touching the store or any channel.

use super::{Format, Globals};
use crate::alert::engine::{evidence, human_secs, labels_for};
use crate::alert::{AlertData, MemoryData, MentionLite};
use crate::config::Config;
use crate::matcher::Matcher;
use crate::trend::aspects::AspectTagger;
use crate::trend::detect::{Detector, ProductSeries, Tracker, Transition};
use crate::trend::round4;
use anyhow::Context;
use chrono::{DateTime, Duration as ChronoDuration, SecondsFormat, TimeZone, Utc};
use serde::Serialize;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// JSON-lines file in the import format (source, id, url, author, published_at, text,
    /// optional product); `-` for stdin.
    #[arg(long, value_name = "FILE.jsonl")]
    pub replay: PathBuf,
    /// Only this product.
    #[arg(long)]
    pub product: Option<String>,
    /// Time between evaluations (whole hours).
    #[arg(long, default_value = "1h", value_parser = crate::config::parse_duration)]
    pub step: std::time::Duration,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// One alert the replay raised.
#[derive(Debug, Clone, Serialize)]
pub struct ReplayAlert {
    pub product: String,
    pub signal: String,
    pub direction: String,
    pub aspect: Option<String>,
    pub department: String,
    pub severity: String,
    pub at: String,
    pub resolved_at: Option<String>,
    pub window: String,
    pub launch: bool,
    pub baseline: f64,
    pub observed: f64,
    pub ratio: f64,
    pub mentions: u64,
    pub net_before: Option<f64>,
    pub net_after: Option<f64>,
    pub p_value: f64,
    pub top_aspects: Vec<String>,
}

fn rfc(t: i64) -> String {
    Utc.timestamp_opt(t, 0)
        .single()
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Read, match, classify and tag an import file into memory.
pub fn load(config: &Config, file: &PathBuf) -> anyhow::Result<(MemoryData, usize)> {
    let reader: Box<dyn BufRead> = if file.as_os_str() == "-" {
        Box::new(BufReader::new(std::io::stdin()))
    } else {
        Box::new(BufReader::new(
            std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?,
        ))
    };
    let matcher = Matcher::new(&config.products);
    let tagger = AspectTagger::new(&config.detect);
    let classifier = crate::sentiment::build(&config.classifier)?;
    let mut raws = Vec::new();
    let mut skipped = 0;
    for (n, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("cannot read {}", file.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        match crate::cli::import::parse_line(&line) {
            Ok(raw) => raws.push(raw),
            Err(e) => {
                skipped += 1;
                tracing::warn!(line = n + 1, error = %e, "skipping bad line");
            }
        }
    }
    let data = MemoryData::new();
    for chunk in raws.chunks(config.classifier.batch_size.max(1) * 8) {
        let texts: Vec<&str> = chunk.iter().map(|r| r.text.as_str()).collect();
        let sentiments = classifier.classify_batch(&texts)?;
        for (raw, s) in chunk.iter().zip(sentiments) {
            let products: Vec<String> = if raw.products.is_empty() {
                matcher.products_in(&raw.text)
            } else {
                raw.products
                    .iter()
                    .filter_map(|p| matcher.canonical(&config.products, p))
                    .collect()
            };
            let aspects = tagger.tag(&raw.text);
            for p in products {
                data.add(
                    &p,
                    MentionLite {
                        source: raw.source.clone(),
                        id: raw.id.clone(),
                        url: raw.url.clone(),
                        author: raw.author.clone(),
                        published_at: raw.published_at,
                        text: raw.text.clone(),
                        label: s.label,
                        score: s.score,
                        aspects: aspects.clone(),
                        engagement: raw.engagement,
                    },
                );
            }
        }
    }
    Ok((data, skipped))
}

/// Run the detectors over in-memory data from `from` to `to`, every `step` hours.
pub fn replay(
    config: &Config,
    data: &MemoryData,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    step_hours: i64,
    only: Option<&str>,
) -> anyhow::Result<Vec<ReplayAlert>> {
    let detector = Detector::new(&config.detect);
    let mut out = Vec::new();
    let start = from.timestamp() - from.timestamp().rem_euclid(3600);
    let end = to.timestamp() - to.timestamp().rem_euclid(3600) + 3600;
    for product in &config.products {
        if only.is_some_and(|o| !product.names().any(|n| n.eq_ignore_ascii_case(o))) {
            continue;
        }
        let params = config.detect.params(product);
        let lo = Utc.timestamp_opt(start, 0).single().unwrap_or_default();
        let hi = Utc.timestamp_opt(end, 0).single().unwrap_or_default();
        let sparse = data.hourly(&product.name, lo, hi)?;
        let mut series = ProductSeries::from_sparse(start, end, &sparse);
        for m in data.mentions(&product.name, lo, hi, true, usize::MAX)? {
            if !m.aspects.is_empty() {
                series.add_aspects(m.published_at.timestamp(), &m.aspects);
            }
        }
        let mut tracker = Tracker::default();
        let mut open: std::collections::BTreeMap<String, usize> = Default::default();
        // Evaluating at hour boundaries only reads complete buckets, so the whole series
        // can be built once without leaking the future into a window.
        let mut t = start + 3600;
        while t <= end {
            let findings = detector.evaluate(&params, &series, t);
            for tr in tracker.step(&config.detect, &findings, t) {
                match tr {
                    Transition::Fired(f) => {
                        let labels = labels_for(&f);
                        let now = Utc.timestamp_opt(t, 0).single().unwrap_or_default();
                        let window = data.mentions(
                            &product.name,
                            now - ChronoDuration::seconds(f.window_secs.max(3600)),
                            now,
                            false,
                            5000,
                        )?;
                        let (_, top_aspects) = evidence(&f, &window, 0);
                        open.insert(f.key(), out.len());
                        out.push(ReplayAlert {
                            product: f.product.clone(),
                            signal: f.signal.as_str().into(),
                            direction: f.direction.as_str().into(),
                            aspect: f.aspect.clone(),
                            department: f.department.as_str().into(),
                            severity: labels.severity,
                            at: rfc(t),
                            resolved_at: None,
                            window: human_secs(f.window_secs),
                            launch: f.launch,
                            baseline: round4(f.baseline),
                            observed: round4(f.observed),
                            ratio: round4(f.ratio),
                            mentions: f.mentions,
                            net_before: f.net_before.map(round4),
                            net_after: f.net_after.map(round4),
                            p_value: f.p_value,
                            top_aspects,
                        });
                    }
                    Transition::Resolved(f) => {
                        if let Some(i) = open.remove(&f.key()) {
                            out[i].resolved_at = Some(rfc(t));
                        }
                    }
                }
            }
            t += 3600 * step_hours.max(1);
        }
    }
    out.sort_by(|a, b| a.at.cmp(&b.at).then(a.product.cmp(&b.product)));
    Ok(out)
}

pub async fn run(args: &Args, g: &Globals) -> anyhow::Result<()> {
    let config = g.load_config()?;
    if args.step.as_secs() % 3600 != 0 || args.step.as_secs() == 0 {
        anyhow::bail!("--step must be a whole number of hours, like 1h or 6h");
    }
    let file = args.replay.clone();
    let cfg = config.clone();
    let (data, skipped) = tokio::task::spawn_blocking(move || load(&cfg, &file)).await??;
    let Some((from, to)) = data.span() else {
        anyhow::bail!(
            "{} has no mentions of the configured products; check the file and [[products]]",
            args.replay.display()
        );
    };
    let rows = replay(
        &config,
        &data,
        from,
        to,
        (args.step.as_secs() / 3600) as i64,
        args.product.as_deref(),
    )?;
    let footer = format!(
        "{} alert(s) from {} mention(s) between {} and {}{}",
        rows.len(),
        data.len(),
        from.to_rfc3339_opts(SecondsFormat::Secs, true),
        to.to_rfc3339_opts(SecondsFormat::Secs, true),
        if skipped > 0 {
            format!("; {skipped} bad line(s) skipped")
        } else {
            String::new()
        }
    );
    let mut out = std::io::stdout().lock();
    super::output::print_rows(&mut out, &rows, args.format, Some(&footer))
}
