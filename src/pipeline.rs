//! The ingest pipeline shared by the daemon, `pulse poll` and `pulse import`:
//! raw mentions → product matching → classification → store (dedup + buckets, one transaction).

use crate::config::{Config, ProductConfig};
use crate::matcher::Matcher;
use crate::model::RawMention;
use crate::sentiment::Classifier;
use crate::store::{InsertReport, MentionRecord, Store, StoreError};
use chrono::Utc;
use std::sync::Arc;

/// Errors from ingesting a batch.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("cannot classify mentions: {0}")]
    Classify(#[from] crate::sentiment::SentimentError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Outcome of one ingest call.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct IngestReport {
    pub received: usize,
    /// Naming no configured product (or excluded).
    pub unmatched: usize,
    pub stored: usize,
    pub duplicates: usize,
    /// Too old for retention (`[store] keep_mentions`): they would be pruned at once.
    pub rejected: usize,
}

/// Everything needed to turn raw mentions into stored records.
#[derive(Clone)]
pub struct Pipeline {
    pub store: Store,
    pub matcher: Arc<Matcher>,
    pub classifier: Arc<dyn Classifier>,
    pub products: Arc<Vec<ProductConfig>>,
    pub tagger: Arc<crate::trend::aspects::AspectTagger>,
    /// Counters for `/metrics` (the daemon shares this handle with its API).
    pub metrics: crate::metrics::Metrics,
    /// `[store] keep_mentions`: mentions published before `now −` this are rejected.
    pub keep_mentions: Option<std::time::Duration>,
}

impl Pipeline {
    pub fn new(config: &Config, store: Store, classifier: Arc<dyn Classifier>) -> Pipeline {
        Pipeline {
            store,
            matcher: Arc::new(Matcher::new(&config.products)),
            classifier,
            products: Arc::new(config.products.clone()),
            tagger: Arc::new(crate::trend::aspects::AspectTagger::new(&config.detect)),
            metrics: crate::metrics::Metrics::new(),
            keep_mentions: config.store.keep_mentions,
        }
    }

    /// Products a raw mention belongs to: the ones it names explicitly (imports), else
    /// the ones its text mentions.
    pub fn products_for(&self, raw: &RawMention) -> Result<Vec<String>, String> {
        if raw.products.is_empty() {
            return Ok(self.matcher.products_in(&raw.text));
        }
        raw.products
            .iter()
            .map(|p| {
                self.matcher.canonical(&self.products, p).ok_or_else(|| {
                    format!("unknown product `{p}`: add it to [[products]] in the config")
                })
            })
            .collect()
    }

    /// Match, classify and store a batch. Blocking (classification is CPU work): call it
    /// from `spawn_blocking` inside async code. `durable` flushes before returning.
    pub fn ingest(
        &self,
        raws: Vec<RawMention>,
        durable: bool,
    ) -> Result<IngestReport, PipelineError> {
        let mut report = IngestReport {
            received: raws.len(),
            ..Default::default()
        };
        let mut matched = Vec::with_capacity(raws.len());
        let now = Utc::now();
        let oldest = self
            .keep_mentions
            .and_then(|k| chrono::Duration::from_std(k).ok())
            .map(|k| now - k);
        for raw in raws {
            // What a poll's overlap reads again is known by id: a duplicate before it costs
            // a classification.
            if self.store.is_known(&raw.source, &raw.id)? {
                report.duplicates += 1;
                continue;
            }
            if oldest.is_some_and(|o| raw.published_at < o) {
                tracing::debug!(source = %raw.source, id = %raw.id, "mention older than retention, rejected");
                report.rejected += 1;
                continue;
            }
            let products = match self.products_for(&raw) {
                Ok(p) if !p.is_empty() => p,
                _ => {
                    report.unmatched += 1;
                    continue;
                }
            };
            matched.push((raw, products));
        }
        if matched.is_empty() {
            return Ok(report);
        }
        let texts: Vec<&str> = matched.iter().map(|(r, _)| r.text.as_str()).collect();
        let classify_started = std::time::Instant::now();
        let sentiments = self.classifier.classify_batch(&texts)?;
        self.metrics.observe_classify(
            self.classifier.name(),
            texts.len(),
            classify_started.elapsed(),
        );
        let records: Vec<MentionRecord> = matched
            .into_iter()
            .zip(sentiments)
            .map(|((raw, products), s)| MentionRecord {
                uid: 0,
                aspects: self.tagger.tag(&raw.text),
                source: raw.source,
                id: raw.id,
                url: raw.url,
                author: raw.author,
                published_at: raw.published_at,
                text: raw.text,
                language: raw.language,
                engagement: raw.engagement,
                products,
                label: s.label,
                score: s.score,
                confidence: s.confidence,
                classifier: self.classifier.name().to_string(),
                fetched_at: now,
            })
            .collect();
        let InsertReport {
            stored,
            duplicate_ids,
            duplicate_texts,
        } = self.store.insert_batch(&records, durable)?;
        self.metrics
            .observe_ingested(&self.store, &records, stored, now);
        report.stored = stored;
        report.duplicates += duplicate_ids + duplicate_texts;
        Ok(report)
    }
}
