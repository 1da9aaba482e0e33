//! Query results shared by the CLI and the HTTP API: the same rows, the same fields.

use crate::config::Config;
use crate::model::Label;
use crate::store::{MentionQuery, MentionRecord, SourceStatus, Store, StoreError};
use crate::trend::{dense_series, round4, BucketCounts, Granularity, TrendRow};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// One row of `pulse products`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductRow {
    pub product: String,
    /// All stored mentions.
    pub mentions: u64,
    pub positive: u64,
    pub negative: u64,
    pub neutral: u64,
    /// (positive - negative) / mentions over all stored mentions.
    pub net_sentiment: Option<f64>,
    /// Mentions in the last 7 days.
    pub mentions_7d: u64,
    /// Net sentiment over the last 7 days: the current mood.
    pub net_sentiment_7d: Option<f64>,
    pub last_mention_at: Option<DateTime<Utc>>,
}

/// One row of `pulse mentions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MentionRow {
    pub id: String,
    pub source: String,
    pub url: Option<String>,
    pub author: Option<String>,
    pub published_at: DateTime<Utc>,
    pub label: Label,
    pub score: f64,
    pub text: String,
    pub aspects: Vec<String>,
    pub classifier: String,
}

impl From<MentionRecord> for MentionRow {
    fn from(r: MentionRecord) -> Self {
        MentionRow {
            id: r.id,
            source: r.source,
            url: r.url,
            author: r.author,
            published_at: r.published_at,
            label: r.label,
            score: round4(f64::from(r.score)),
            text: r.text,
            aspects: r.aspects,
            classifier: r.classifier,
        }
    }
}

/// `pulse status` / `GET /api/status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusReport {
    /// `daemon` when answered by a running daemon, `store` when read from the store directly.
    pub mode: String,
    pub daemon_pid: Option<u32>,
    pub api: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub store_path: String,
    pub store_bytes: u64,
    pub mentions_stored: u64,
    pub sources: Vec<SourceStatusRow>,
    /// What is wrong with Pulse itself (empty when healthy); see [`crate::health`].
    #[serde(default)]
    pub health: Vec<crate::health::HealthFinding>,
}

/// Per-source line of the status report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceStatusRow {
    pub source: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub interval: String,
    pub last_poll: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
    pub polls: u64,
    pub errors: u64,
    pub last_fetched: u64,
    pub fetched_total: u64,
    pub stored_total: u64,
    /// The last poll's accounting: last_fetched = last_stored + last_duplicates +
    /// last_unmatched + last_rejected.
    #[serde(default)]
    pub last_stored: u64,
    #[serde(default)]
    pub last_duplicates: u64,
    #[serde(default)]
    pub last_unmatched: u64,
    #[serde(default)]
    pub last_rejected: u64,
    #[serde(default)]
    pub duplicates_total: u64,
    #[serde(default)]
    pub unmatched_total: u64,
    #[serde(default)]
    pub rejected_total: u64,
    /// Scopes the last poll left at the page limit (the next poll goes on from there).
    #[serde(default)]
    pub truncated: Vec<String>,
    #[serde(default)]
    pub truncated_polls: u64,
    pub last_error: Option<String>,
    pub warnings: Vec<String>,
    pub quota_remaining: Option<i64>,
}

/// Products in config order, then any stored product no longer configured.
pub fn products(
    store: &Store,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<Vec<ProductRow>, StoreError> {
    let mut names: Vec<String> = config.products.iter().map(|p| p.name.clone()).collect();
    for n in store.product_names()? {
        if !names.contains(&n) {
            names.push(n);
        }
    }
    let mut rows = Vec::new();
    for name in names {
        let total = store.totals(&name, Granularity::Day)?;
        let mut recent = BucketCounts::default();
        for (_, c) in store.buckets(&name, None, Granularity::Hour, now - Duration::days(7), now)? {
            recent.merge(&c);
        }
        let last = store
            .mentions(&MentionQuery {
                product: name.clone(),
                limit: 1,
                ..Default::default()
            })?
            .first()
            .map(|m| m.published_at);
        rows.push(ProductRow {
            product: name,
            mentions: total.count,
            positive: total.positive,
            negative: total.negative,
            neutral: total.neutral,
            net_sentiment: total.net_sentiment().map(round4),
            mentions_7d: recent.count,
            net_sentiment_7d: recent.net_sentiment().map(round4),
            last_mention_at: last,
        });
    }
    Ok(rows)
}

/// Dense trend rows from `since` to `now`.
pub fn trend(
    store: &Store,
    product: &str,
    since: DateTime<Utc>,
    bucket: Granularity,
    now: DateTime<Utc>,
) -> Result<Vec<TrendRow>, StoreError> {
    let sparse = store.buckets(product, None, bucket, since, now)?;
    Ok(dense_series(&sparse, since, now, bucket))
}

pub fn mentions(store: &Store, q: &MentionQuery) -> Result<Vec<MentionRow>, StoreError> {
    Ok(store
        .mentions(q)?
        .into_iter()
        .map(MentionRow::from)
        .collect())
}

/// Status read from the store (the daemon fills in its own pid and address).
pub fn status(store: &Store, config: &Config) -> Result<StatusReport, StoreError> {
    let stored = store.all_source_status()?;
    let mut sources = Vec::new();
    for s in &config.sources {
        let st = stored
            .iter()
            .find(|x| x.source == s.name)
            .cloned()
            .unwrap_or_else(|| SourceStatus {
                source: s.name.clone(),
                ..Default::default()
            });
        sources.push(SourceStatusRow {
            source: s.name.clone(),
            kind: s.kind.type_name().to_string(),
            interval: humantime::format_duration(s.interval).to_string(),
            last_poll: st.last_poll,
            last_success: st.last_success,
            polls: st.polls,
            errors: st.errors,
            last_fetched: st.last_fetched,
            fetched_total: st.fetched_total,
            stored_total: st.stored_total,
            last_stored: st.last.stored,
            last_duplicates: st.last.duplicates,
            last_unmatched: st.last.unmatched,
            last_rejected: st.last.rejected,
            duplicates_total: st.duplicates_total,
            unmatched_total: st.unmatched_total,
            rejected_total: st.rejected_total,
            truncated: st.truncated,
            truncated_polls: st.truncated_polls,
            last_error: st.last_error,
            warnings: st.warnings,
            quota_remaining: st.quota_remaining,
        });
    }
    let health = crate::health::check_config(store, config, Utc::now());
    Ok(StatusReport {
        health,
        mode: "store".into(),
        daemon_pid: None,
        api: None,
        started_at: None,
        store_path: store.path().display().to_string(),
        store_bytes: store.size_on_disk(),
        mentions_stored: store.mention_count() as u64,
        sources,
    })
}
